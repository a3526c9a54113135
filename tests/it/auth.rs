//! Authentication (§1.2), tenant isolation between the four test users (§9.3), and signing
//! keys with rotation (§4.8, §5.10).

use axum::http::Method;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use qstash_dev::config::TEST_USERS;
use serde_json::{json, Value};

use crate::support::*;

/// One route of every family; ids are unknown, so authenticated calls may 404 but never 401.
const ROUTES: [(&str, &str); 14] = [
    ("POST", "/v2/publish/https://example.com/auth"),
    ("GET", "/v2/messages/msg_unknown"),
    ("DELETE", "/v2/messages/msg_unknown"),
    ("DELETE", "/v2/messages"),
    ("GET", "/v2/events"),
    ("GET", "/v2/logs"),
    ("GET", "/v2/dlq"),
    ("GET", "/v2/dlq/1-0"),
    ("DELETE", "/v2/dlq"),
    ("POST", "/v2/dlq/retry"),
    ("POST", "/v2/dlq/retry/1-0"),
    ("GET", "/v2/keys"),
    ("POST", "/v2/keys/rotate"),
    ("POST", "/v2/rotate"),
];

fn method(m: &str) -> Method {
    m.parse().expect("method")
}

fn with_query(path: &str, pair: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{pair}")
}

fn query_token(token: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    format!("qstash_token={encoded}")
}

fn assert_unauthorized(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: 401 without a JSON error: {}",
        r.text
    );
}

/// Claims of a delivery's signature if it verifies with `key`.
fn verify(signature: &str, key: &str) -> Option<Value> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_issuer(&["Upstash"]);
    v.set_required_spec_claims(&["iss", "sub", "exp", "nbf"]);
    decode::<Value>(signature, &DecodingKey::from_secret(key.as_bytes()), &v)
        .ok()
        .map(|d| d.claims)
}

async fn keys_of(app: &App, user: usize) -> Value {
    let r = app.send(app.as_user(user, Method::GET, "/v2/keys")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[tokio::test]
async fn every_route_family_answers_401_json_without_a_token_or_with_a_wrong_one() {
    let app = spawn_app().await;
    for (m, path) in ROUTES {
        let what = format!("{m} {path}");
        let bare = app.http.request(method(m), app.url(path));
        assert_unauthorized(&app.send(bare).await, &format!("{what} without token"));
        let wrong = app
            .http
            .request(method(m), app.url(path))
            .bearer_auth("nope");
        assert_unauthorized(&app.send(wrong).await, &format!("{what} wrong bearer"));
        let url = app.url(&with_query(path, "qstash_token=nope"));
        let wrong_q = app.http.request(method(m), url);
        assert_unauthorized(&app.send(wrong_q).await, &format!("{what} wrong query"));
    }
    assert_eq!(
        keys_of(&app, 0).await["current"],
        json!(TEST_USERS[0].current_signing_key)
    );
}

#[tokio::test]
async fn every_route_family_accepts_a_bearer_token_and_a_qstash_token_query() {
    let app = spawn_app().await;
    let safe = ROUTES.iter().filter(|(_, p)| !p.contains("rotate"));
    for (m, path) in safe {
        let what = format!("{m} {path}");
        let bearer = app.req(method(m), path).header("Upstash-Delay", "60s");
        let r = app.send(bearer).await;
        assert!(
            r.status < 400 || r.status == 404,
            "{what} bearer: {} {}",
            r.status,
            r.text
        );
        let url = app.url(&with_query(path, &query_token(TEST_USERS[0].token)));
        let query = app
            .http
            .request(method(m), url)
            .header("Upstash-Delay", "60s");
        let r = app.send(query).await;
        assert!(
            r.status < 400 || r.status == 404,
            "{what} query: {} {}",
            r.status,
            r.text
        );
    }
}

#[tokio::test]
async fn a_query_token_selects_its_own_user() {
    let app = spawn_app().await;
    let url = app.url(&with_query("/v2/keys", &query_token(TEST_USERS[2].token)));
    let r = app.send(app.http.get(url)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["current"], json!(TEST_USERS[2].current_signing_key));
    let path = format!(
        "/v2/publish/https://example.com/q?{}",
        query_token(TEST_USERS[2].token)
    );
    let rb = app.http.post(app.url(&path)).header("Upstash-Delay", "60s");
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["url"],
        json!("https://example.com/q"),
        "the token is not forwarded"
    );
    let id = r.body["messageId"].as_str().unwrap();
    let mine = app
        .send(app.as_user(2, Method::GET, &format!("/v2/messages/{id}")))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(app.get(&format!("/v2/messages/{id}")).await.status, 404);
}

#[tokio::test]
async fn a_user_cannot_see_or_cancel_another_users_message() {
    let app = spawn_app().await;
    let id = app
        .publish_ok("https://example.com/mine", &[("Upstash-Delay", "60s")], "x")
        .await;
    let path = format!("/v2/messages/{id}");
    let other = app.send(app.as_user(1, Method::GET, &path)).await;
    assert_eq!(other.status, 404, "{}", other.text);
    let cancel = app.send(app.as_user(1, Method::DELETE, &path)).await;
    assert_eq!(cancel.status, 404, "{}", cancel.text);
    let by_id = format!("/v2/messages?messageIds={id}");
    let bulk = app.send(app.as_user(1, Method::DELETE, &by_id)).await;
    assert_eq!(bulk.body, json!({"cancelled": 0}), "{}", bulk.text);
    let all = app
        .send(app.as_user(1, Method::DELETE, "/v2/messages"))
        .await;
    assert_eq!(all.body, json!({"cancelled": 0}), "{}", all.text);
    assert_eq!(
        app.get(&path).await.status,
        200,
        "still pending for its owner"
    );
    assert_eq!(app.states(&id).await, ["CREATED"]);
}

#[tokio::test]
async fn a_user_sees_no_logs_or_dlq_entries_of_another_user() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let id = app
        .publish_ok(&rx.url("/x"), &[("Upstash-Retries", "0")], "x")
        .await;
    app.wait_for_state(&id, "FAILED").await;
    let dlq = app.get("/v2/dlq").await.body["messages"].clone();
    let dlq_id = dlq[0]["dlqId"].as_str().expect("dlqId").to_string();
    let as1 = |m: Method, p: &str| app.send(app.as_user(1, m, p));
    for (route, key) in [
        ("/v2/events", "events"),
        ("/v2/logs", "logs"),
        ("/v2/dlq", "messages"),
    ] {
        let r = as1(Method::GET, route).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body[key], json!([]), "{route}: {}", r.text);
    }
    let q = as1(Method::GET, &format!("/v2/events?messageId={id}")).await;
    assert_eq!(q.body["events"], json!([]));
    for (m, p) in [
        (Method::GET, format!("/v2/dlq/{dlq_id}")),
        (Method::DELETE, format!("/v2/dlq/{dlq_id}")),
        (Method::POST, format!("/v2/dlq/retry/{dlq_id}")),
    ] {
        assert_eq!(as1(m.clone(), &p).await.status, 404, "{m} {p}");
    }
    let bulk = as1(Method::DELETE, &format!("/v2/dlq?dlqIds={dlq_id}")).await;
    assert_eq!(bulk.body, json!({"deleted": 0}), "{}", bulk.text);
    assert_eq!(app.get(&format!("/v2/dlq/{dlq_id}")).await.status, 200);
}

#[tokio::test]
async fn get_keys_returns_the_fixed_keys_of_each_user() {
    let app = spawn_app().await;
    for (i, u) in TEST_USERS.iter().enumerate() {
        let keys = keys_of(&app, i).await;
        assert_eq!(
            keys,
            json!({"current": u.current_signing_key, "next": u.next_signing_key})
        );
    }
    assert_eq!(
        keys_of(&app, 0).await,
        json!({"current": "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "next": "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"})
    );
}

#[tokio::test]
async fn each_users_deliveries_are_signed_with_its_own_current_key() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    for i in 0..TEST_USERS.len() {
        let path = format!("/v2/publish/{}", rx.url(&format!("/user{i}")));
        let r = app
            .send(app.as_user(i, Method::POST, &path).body("hello"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let got = rx.wait_for(TEST_USERS.len()).await;
    for req in &got {
        let i: usize = req.path.trim_start_matches("/user").parse().unwrap();
        let sig = req.header("upstash-signature").expect("signed");
        let claims = verify(&sig, TEST_USERS[i].current_signing_key)
            .unwrap_or_else(|| panic!("user {i}'s delivery does not verify with its key"));
        assert_eq!(claims["sub"], json!(rx.url(&req.path)));
        for (j, other) in TEST_USERS.iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(
                verify(&sig, other.current_signing_key).is_none(),
                "{i} verifies as {j}"
            );
        }
    }
}

#[tokio::test]
async fn rotating_keys_promotes_next_and_makes_a_fresh_next_for_that_user_only() {
    let app = spawn_app().await;
    let u = &TEST_USERS[1];
    let r = app
        .send(app.as_user(1, Method::POST, "/v2/keys/rotate"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["current"], json!(u.next_signing_key));
    let fresh = r.body["next"].as_str().expect("next").to_string();
    assert!(fresh.starts_with("sig_") && fresh.len() > 10, "{fresh}");
    assert_ne!(fresh, u.current_signing_key);
    assert_ne!(fresh, u.next_signing_key);
    assert_eq!(keys_of(&app, 1).await, r.body);
    let again = app.send(app.as_user(1, Method::POST, "/v2/rotate")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["current"], json!(fresh));
    let newest = again.body["next"].as_str().unwrap();
    assert!(newest.starts_with("sig_") && newest != fresh);
    for (i, other) in TEST_USERS.iter().enumerate().filter(|(i, _)| *i != 1) {
        let keys = keys_of(&app, i).await;
        assert_eq!(
            keys["current"],
            json!(other.current_signing_key),
            "user {i}"
        );
        assert_eq!(keys["next"], json!(other.next_signing_key), "user {i}");
    }
}

#[tokio::test]
async fn after_rotation_deliveries_are_signed_with_the_new_current_key() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let rotated = app
        .send(app.req(Method::POST, "/v2/keys/rotate"))
        .await
        .body;
    let new_current = rotated["current"].as_str().unwrap().to_string();
    assert_eq!(new_current, TEST_USERS[0].next_signing_key);
    app.publish_ok(&rx.url("/user0"), &[], "after").await;
    let path = format!("/v2/publish/{}", rx.url("/user1"));
    let r = app
        .send(app.as_user(1, Method::POST, &path).body("other"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = rx.wait_for(2).await;
    for req in &got {
        let sig = req.header("upstash-signature").expect("signed");
        if req.path == "/user0" {
            assert!(
                verify(&sig, &new_current).is_some(),
                "signed with the new current key"
            );
            assert!(verify(&sig, TEST_USERS[0].current_signing_key).is_none());
        } else {
            assert!(verify(&sig, TEST_USERS[1].current_signing_key).is_some());
        }
    }
}

#[tokio::test]
async fn a_token_matches_only_itself_whole() {
    let app = spawn_app().await;
    let engine = &app.server.engine;
    for (i, user) in TEST_USERS.iter().enumerate() {
        let t = engine
            .authenticate(user.token)
            .expect("a test user's token");
        assert_eq!(t.0, i, "{}", user.token);
        let mut last_changed = user.token.as_bytes().to_vec();
        *last_changed.last_mut().expect("not empty") ^= 1;
        let near_misses = [
            String::from_utf8(last_changed).expect("ascii"),
            user.token[..user.token.len() - 1].to_string(),
            format!("{}x", user.token),
            format!("x{}", &user.token[1..]),
            String::new(),
        ];
        for wrong in near_misses {
            assert!(engine.authenticate(&wrong).is_none(), "{wrong:?}");
        }
    }
}
