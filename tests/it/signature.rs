//! The `Upstash-Signature` JWT on deliveries, checked the way receivers check it: HS256 with
//! the user's current signing key, `iss`, `sub` = the exact URL as delivered (percent-encoded
//! as it went on the wire), `body` = base64url SHA-256.

use axum::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{decode, Algorithm, DecodingKey, TokenData, Validation};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use qstash_dev::config::TEST_USERS;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::*;

#[derive(Debug, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    pub body: String,
}

/// Verifies a signature with `key` as the official receivers do (iss, sub, exp, nbf required).
pub fn verify(token: &str, key: &str) -> jsonwebtoken::errors::Result<TokenData<Claims>> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&["Upstash"]);
    v.set_required_spec_claims(&["iss", "sub", "exp", "nbf"]);
    v.validate_nbf = true;
    decode::<Claims>(token, &DecodingKey::from_secret(key.as_bytes()), &v)
}

/// base64url(SHA-256(body)) without padding.
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body))
}

/// Checks every claim of a delivery's signature against what was delivered.
pub fn check_signature(r: &Received, key: &str, url: &str) -> Claims {
    let token = r.header("upstash-signature").expect("Upstash-Signature");
    let data = verify(&token, key).expect("signature verifies with the current key");
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    let c = data.claims;
    assert_eq!(c.iss, "Upstash");
    assert_eq!(c.sub, url, "sub is the exact delivered URL");
    assert_eq!(c.body.trim_end_matches('='), body_hash(&r.body));
    assert_eq!(c.exp, c.iat + 300);
    assert!(c.nbf <= c.iat);
    assert!(c.jti.starts_with("jwt_") && c.jti.len() > 4, "{}", c.jti);
    c
}

#[tokio::test]
async fn the_signature_is_an_hs256_jwt_over_the_exact_url_and_body() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/signed?a=1&b=x%20y");
    let body = "{\"hello\":\"world\"}";
    app.publish_ok(&url, &[("Content-Type", "application/json")], body)
        .await;
    let r = &rx.wait_for(1).await[0];
    let c = check_signature(r, TEST_USERS[0].current_signing_key, &url);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(c.iat.abs_diff(now) <= 5, "iat {} is now ({now})", c.iat);
    assert_eq!(c.body.trim_end_matches('='), body_hash(body.as_bytes()));

    let token = r.header("upstash-signature").unwrap();
    assert!(
        verify(&token, TEST_USERS[0].next_signing_key).is_err(),
        "signed with the current key, not the next"
    );
    assert!(verify(&token, TEST_USERS[1].current_signing_key).is_err());
}

#[tokio::test]
async fn an_empty_body_is_signed_with_the_hash_of_nothing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/empty");
    app.publish_ok(&url, &[], "").await;
    let r = &rx.wait_for(1).await[0];
    let c = check_signature(r, TEST_USERS[0].current_signing_key, &url);
    // SHA-256 of the empty string.
    assert_eq!(
        c.body.trim_end_matches('='),
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    );
}

#[tokio::test]
async fn every_retry_is_signed_afresh_with_a_new_jti() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(1, 500);
    let url = rx.url("/again");
    app.publish_ok(&url, &[("Upstash-Retry-Delay", "10")], "again")
        .await;
    let got = rx.wait_for(2).await;
    let a = check_signature(&got[0], TEST_USERS[0].current_signing_key, &url);
    let b = check_signature(&got[1], TEST_USERS[0].current_signing_key, &url);
    assert_ne!(a.jti, b.jti);
}

#[tokio::test]
async fn another_user_s_deliveries_are_signed_with_that_user_s_key() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/user1?x=1");
    let rb = app
        .as_user(1, Method::POST, &format!("/v2/publish/{url}"))
        .body("from user 1");
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = &rx.wait_for(1).await[0];
    check_signature(got, TEST_USERS[1].current_signing_key, &url);
    let token = got.header("upstash-signature").unwrap();
    assert!(
        verify(&token, TEST_USERS[0].current_signing_key).is_err(),
        "not signed with the default user's key"
    );
}

/// The URL a receiver sees: its `Host` header and request target.
fn as_received(r: &Received) -> String {
    format!("http://{}{}", r.header("host").expect("Host"), r.path)
}

#[tokio::test]
async fn sub_is_the_url_as_delivered_when_characters_go_percent_encoded() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    // Raw `"`, spaces and non-ASCII in path and query, as a JSON body or a header carries them.
    let group = [
        rx.url("/group/say \"hi\"/ä?q=\"a b\"&w=ä"),
        rx.url("/frag/x?y=1#section"),
    ];
    let endpoints: Vec<Value> = group.iter().map(|u| json!({ "url": u })).collect();
    let rb = app
        .req(Method::POST, "/v2/topics/enc/endpoints")
        .json(&json!({ "endpoints": endpoints }));
    assert_eq!(app.send(rb).await.status, 200);
    assert_eq!(app.publish("enc", &[], "to the group").await.status, 200);
    let batch = json!([{ "destination": rx.url("/batch/ä b\"?x=ö \""), "body": "b" }]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&batch))
        .await;
    assert!(r.body[0]["messageId"].is_string(), "{}", r.text);
    let whole = rx.url("/encoded/ä \"x\"?k=ä \"v\"");
    let encoded = utf8_percent_encode(&whole, NON_ALPHANUMERIC).to_string();
    app.publish_ok(&encoded, &[], "encoded").await;
    let cb = ("Upstash-Callback", &*rx.url("/cb/a \"b\"?c=d e"));
    app.publish_ok(&rx.url("/main"), &[cb], "with a callback")
        .await;
    // A bare origin is requested as `/`, and signed so.
    app.publish_ok(&format!("http://{}", rx.addr), &[], "root")
        .await;

    let got = rx.wait_for(7).await;
    let mut seen: Vec<String> = got.iter().map(|r| r.path.clone()).collect();
    seen.sort();
    let expected = [
        "/",
        "/batch/%C3%A4%20b%22?x=%C3%B6%20%22",
        "/cb/a%20%22b%22?c=d%20e",
        "/encoded/%C3%A4%20%22x%22?k=%C3%A4%20%22v%22",
        "/frag/x?y=1",
        "/group/say%20%22hi%22/%C3%A4?q=%22a%20b%22&w=%C3%A4",
        "/main",
    ];
    assert_eq!(seen, expected);
    for r in &got {
        check_signature(r, TEST_USERS[0].current_signing_key, &as_received(r));
    }
}
