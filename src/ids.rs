//! Identifier generation: `msg_…` message ids, `jwt_…` token ids, `sig_…` signing keys and
//! `<unixms>-<seq>` DLQ ids. Random parts are base58 (no 0, O, I, l), like the hosted service.
//! Imports nothing from the rest of the crate.

use rand::RngCore;

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Random bytes below this (4 × 58) map to the alphabet by their remainder, each character
/// equally likely; higher bytes are skipped.
const UNIFORM_BELOW: u8 = 4 * BASE58.len() as u8;

/// Fills `out` with random base58 characters, from random bytes drawn 64 at a time (one
/// draw almost always covers a message id: a byte is skipped with probability 24/256).
fn fill_base58(out: &mut [u8]) {
    let mut rng = rand::thread_rng();
    let mut pool = [0u8; 64];
    let mut i = 0;
    while i < out.len() {
        rng.fill_bytes(&mut pool);
        for b in pool.iter().filter(|b| **b < UNIFORM_BELOW) {
            if i == out.len() {
                break;
            }
            out[i] = BASE58[usize::from(b % BASE58.len() as u8)];
            i += 1;
        }
    }
}

/// `prefix` and `len` random base58 characters, in one allocation.
fn prefixed(prefix: &str, len: usize) -> String {
    let mut s = Vec::with_capacity(prefix.len() + len);
    s.extend_from_slice(prefix.as_bytes());
    s.resize(prefix.len() + len, 0);
    fill_base58(&mut s[prefix.len()..]);
    String::from_utf8(s).expect("the prefix and base58 characters are text")
}

/// A random base58 string of `len` characters.
pub fn base58(len: usize) -> String {
    prefixed("", len)
}

/// A new message id: `msg_` and 40 base58 characters (about 234 bits of randomness).
pub fn message_id() -> String {
    prefixed("msg_", 40)
}

/// [`message_id`] as shared text, made in place: one allocation.
pub fn shared_message_id() -> std::sync::Arc<str> {
    let mut id = *b"msg_0000000000000000000000000000000000000000";
    fill_base58(&mut id[4..]);
    std::str::from_utf8(&id).map_or_else(|_| message_id().into(), std::sync::Arc::from)
}

/// A new JWT id for the `jti` claim.
pub fn jwt_id() -> String {
    prefixed("jwt_", 28)
}

/// A new signing key, for key rotation.
pub fn signing_key() -> String {
    prefixed("sig_", 28)
}

/// A DLQ id in the hosted service's `<unixms>-<seq>` form.
pub fn dlq_id(now_ms: u64, seq: u64) -> String {
    format!("{now_ms}-{seq}")
}

/// Parses a `<unixms>-<seq>` id (DLQ ids and cursors) into its sortable parts.
pub fn parse_stream_id(s: &str) -> Option<(u64, u64)> {
    let (ms, seq) = s.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_alphabet() {
        let id = message_id();
        assert!(id.starts_with("msg_") && id.len() == 44);
        assert!(id[4..].bytes().all(|b| BASE58.contains(&b)));
        assert!(signing_key().starts_with("sig_"));
        let shared = shared_message_id();
        assert!(shared.starts_with("msg_") && shared.len() == 44);
        assert!(shared[4..].bytes().all(|b| BASE58.contains(&b)));
        assert_ne!(&*shared, &*shared_message_id());
        assert!(jwt_id().starts_with("jwt_"));
        let long = base58(150);
        assert!(long.len() == 150 && long.bytes().all(|b| BASE58.contains(&b)));
    }

    #[test]
    fn every_base58_character_is_about_equally_likely() {
        let mut counts = [0u32; 58];
        let mut buf = [0u8; 58 * 200];
        fill_base58(&mut buf);
        for b in buf {
            let at = BASE58
                .iter()
                .position(|c| *c == b)
                .expect("in the alphabet");
            counts[at] += 1;
        }
        // 200 expected per character; a uniform draw stays far inside these bounds.
        assert!(
            counts.iter().all(|&n| (100..300).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn stream_ids_round_trip() {
        assert_eq!(
            parse_stream_id(&dlq_id(1725323658779, 3)),
            Some((1725323658779, 3))
        );
        assert_eq!(parse_stream_id("abc"), None);
        assert_eq!(parse_stream_id("1-x"), None);
    }
}
