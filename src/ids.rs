//! Identifier generation: `msg_…` message ids, `jwt_…` token ids, `sig_…` signing keys and
//! `<unixms>-<seq>` DLQ ids. Random parts are base58 (no 0, O, I, l), like the hosted service.
//! Imports nothing from the rest of the crate.

use rand::Rng;

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// `prefix` and `len` random base58 characters, in one allocation.
fn prefixed(prefix: &str, len: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(prefix.len() + len);
    s.push_str(prefix);
    s.extend((0..len).map(|_| BASE58[rng.gen_range(0..BASE58.len())] as char));
    s
}

/// A random base58 string of `len` characters.
pub fn base58(len: usize) -> String {
    prefixed("", len)
}

/// A new message id: `msg_` and 40 base58 characters (about 234 bits of randomness).
pub fn message_id() -> String {
    prefixed("msg_", 40)
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
        assert!(jwt_id().starts_with("jwt_"));
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
