//! Each reason a signature fails, on tokens made by the server's own signer (or by hand where
//! the signer cannot make them: another algorithm, another issuer).

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::signature::sign;

const NOW: u64 = 1_800_000_000;
const URL: &str = "http://127.0.0.1:3000/api/hook";
const KEYS: [&str; 2] = ["sig_current", "sig_next"];

fn explained(signature: &str, body: &[u8], url: Option<&str>) -> Explanation {
    explain(&Input {
        signature,
        body,
        url,
        keys: KEYS,
        now_s: NOW,
    })
}

fn failing(e: &Explanation) -> &Check {
    e.checks.iter().find(|c| !c.ok).expect("a failing check")
}

#[test]
fn a_fresh_signature_verifies_with_the_current_or_the_next_key() {
    let token = sign(KEYS[0], URL, b"hi", NOW).unwrap();
    let e = explained(&token, b"hi", Some(URL));
    assert!(e.valid, "{e:?}");
    assert_eq!((e.key, e.reason), (Some("current"), None));
    assert_eq!(e.checks.len(), 7);
    let token = sign(KEYS[1], URL, b"hi", NOW).unwrap();
    assert_eq!(explained(&token, b"hi", None).key, Some("next"));
}

#[test]
fn each_failing_check_is_named_with_what_was_expected_and_found() {
    let good = sign(KEYS[0], URL, b"hi", NOW).unwrap();
    let e = explained("not-a-jwt", b"hi", Some(URL));
    assert_eq!(e.reason, Some("malformed"));
    assert!(
        e.message.contains("three dot-separated parts"),
        "{}",
        e.message
    );

    let e = explained(
        &sign("sig_other", URL, b"hi", NOW).unwrap(),
        b"hi",
        Some(URL),
    );
    assert_eq!((e.valid, e.key, e.reason), (false, None, Some("key")));

    let e = explained(
        &sign(KEYS[0], URL, b"hi", NOW - 600).unwrap(),
        b"hi",
        Some(URL),
    );
    assert_eq!(e.reason, Some("expired"));
    assert_eq!(
        failing(&e).actual.as_deref(),
        Some(&*rfc3339((NOW - 300) * 1000))
    );

    let e = explained(
        &sign(KEYS[0], URL, b"hi", NOW + 600).unwrap(),
        b"hi",
        Some(URL),
    );
    assert_eq!(e.reason, Some("notYetValid"));

    let e = explained(&good, b"tampered", Some(URL));
    assert_eq!(e.reason, Some("body"));
    let c = failing(&e);
    assert_eq!(c.expected.as_deref(), Some(&*body_hash(b"tampered")));
    assert_eq!(c.actual.as_deref(), Some(&*body_hash(b"hi")));

    let e = explained(&good, b"hi", Some("http://127.0.0.1:3000/api/hook/"));
    assert_eq!(e.reason, Some("url"));
    assert_eq!(failing(&e).actual.as_deref(), Some(URL));
    assert!(explained(&good, b"hi", None).valid, "no url, no url check");
}

#[test]
fn another_algorithm_or_issuer_is_named() {
    let claims =
        json!({"iss": "Upstash", "sub": URL, "exp": NOW + 60, "nbf": NOW, "body": body_hash(b"")});
    let key = EncodingKey::from_secret(KEYS[0].as_bytes());
    let hs384 = encode(&Header::new(jsonwebtoken::Algorithm::HS384), &claims, &key).unwrap();
    let e = explained(&hs384, b"", None);
    assert_eq!(e.reason, Some("algorithm"));
    assert!(e.message.contains("HS384"), "{}", e.message);

    let mut other = claims.clone();
    other["iss"] = json!("Someone");
    let e = explained(
        &encode(&Header::default(), &other, &key).unwrap(),
        b"",
        None,
    );
    assert_eq!(e.reason, Some("issuer"));
}
