//! The `Upstash-Signature` JWT: HS256 over the signing key's UTF-8 bytes, with the claims the
//! official receivers check (TypeScript `jose` and Python PyJWT alike): `iss`, `sub` (the exact
//! URL the request goes to, as sent: percent-encoded, a bare origin with its `/`, without a
//! fragment; the hosted docs say only "the url of your endpoint"), `iat`, `nbf`, `exp`
//! (5 minutes), a string `jti`, and `body`, the base64url SHA-256 of the raw body (padded, as
//! the hosted service sends it). [`explain`] checks a signature the way the receivers do and
//! says which check fails (`POST /dev/verify`).

pub(crate) mod explain;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Lifetime of a signature.
pub(crate) const TTL_SECS: u64 = 300;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) exp: u64,
    pub(crate) nbf: u64,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    pub(crate) body: String,
}

/// base64url(SHA-256(body)) with padding.
pub(crate) fn body_hash(body: &[u8]) -> String {
    URL_SAFE.encode(Sha256::digest(body))
}

/// Signs a delivery of `body` to `url` (serialised as it is sent) with `key` at `now_s` (Unix
/// seconds).
pub fn sign(
    key: &str,
    url: &str,
    body: &[u8],
    now_s: u64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        iss: "Upstash".into(),
        sub: url.into(),
        exp: now_s + TTL_SECS,
        nbf: now_s,
        iat: now_s,
        jti: crate::ids::jwt_id(),
        body: body_hash(body),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};

    #[test]
    fn a_signature_verifies_with_the_key_and_carries_every_claim() {
        let token = sign("sig_key", "http://127.0.0.1:1/x", b"hello", 1_700_000_000).unwrap();
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_exp = false;
        v.set_issuer(&["Upstash"]);
        v.set_required_spec_claims(&["iss", "sub", "exp", "nbf"]);
        let got = decode::<Claims>(&token, &DecodingKey::from_secret(b"sig_key"), &v).unwrap();
        assert_eq!(got.header.alg, Algorithm::HS256);
        let c = got.claims;
        assert_eq!(c.sub, "http://127.0.0.1:1/x");
        assert_eq!(c.exp, c.iat + 300);
        assert_eq!(c.nbf, c.iat);
        assert!(c.jti.starts_with("jwt_"));
        // sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
        assert_eq!(c.body, "LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert!(decode::<Claims>(&token, &DecodingKey::from_secret(b"other"), &v).is_err());
    }
}
