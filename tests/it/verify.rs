//! `POST /dev/verify` on real deliveries: a delivery verifies with the current key; each way a
//! receiver can get it wrong is named (tampered body, another URL, a signature of another
//! user, one made before a key rotation); bad requests are a 400, no token a 401.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::{spawn_app, App, Receiver};

async fn verify(app: &App, token: &str, body: Value) -> (u16, Value) {
    let rb = app
        .http
        .post(format!("{}/dev/verify", app.server.url()))
        .bearer_auth(token)
        .json(&body);
    let r = rb.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_delivery_verifies_and_each_mistake_is_named() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/hook?x=1");
    app.publish_ok(&url, &[], "the body").await;
    let got = rx.wait_for(1).await;
    let signature = got[0].header("upstash-signature").unwrap();
    let ok = json!({"signature": signature, "body": "the body", "url": url});
    let (status, e) = verify(&app, &app.token, ok).await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(
        (e["valid"].clone(), e["key"].clone()),
        (json!(true), json!("current")),
        "{e}"
    );
    assert_eq!(e["claims"]["sub"], url);

    let tampered = json!({"signature": signature, "body": "the body!", "url": url});
    let (_, e) = verify(&app, &app.token, tampered).await;
    assert_eq!(
        (e["valid"].clone(), e["reason"].clone()),
        (json!(false), json!("body")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("raw body"), "{e}");

    let elsewhere = json!({"signature": signature, "body": "the body", "url": rx.url("/hook")});
    let (_, e) = verify(&app, &app.token, elsewhere).await;
    assert_eq!(e["reason"], "url", "{e}");
    let url_check = e["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "url")
        .unwrap()
        .clone();
    assert_eq!(
        (url_check["expected"].clone(), url_check["actual"].clone()),
        (json!(rx.url("/hook")), json!(url))
    );

    let other_user = qstash_dev::config::TEST_USERS[1].token;
    let (_, e) = verify(
        &app,
        other_user,
        json!({"signature": signature, "body": "the body"}),
    )
    .await;
    assert_eq!(e["reason"], "key", "another user's keys: {e}");

    let (_, e) = verify(
        &app,
        &app.token,
        json!({"signature": "abc.def", "body": ""}),
    )
    .await;
    assert_eq!(e["reason"], "malformed", "{e}");
}

#[tokio::test]
async fn after_a_rotation_the_old_current_key_is_gone_and_the_old_next_is_current() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/before");
    app.publish_ok(&url, &[], "b").await;
    let before = rx.wait_for(1).await[0].header("upstash-signature").unwrap();
    let r = app.send(app.req(Method::POST, "/v2/keys/rotate")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, e) = verify(
        &app,
        &app.token,
        json!({"signature": before, "body": "b", "url": url}),
    )
    .await;
    assert_eq!(
        e["reason"], "key",
        "made with a key that is neither current nor next now: {e}"
    );
    app.publish_ok(&rx.url("/after"), &[], "a").await;
    let after = rx.wait_for(2).await[1].header("upstash-signature").unwrap();
    let (_, e) = verify(&app, &app.token, json!({"signature": after, "body": "a"})).await;
    assert_eq!(e["key"], "current", "{e}");
}

#[tokio::test]
async fn a_request_that_is_not_the_json_object_is_a_400_and_no_token_a_401() {
    let app = spawn_app().await;
    for body in [
        json!([]),
        json!({"body": "x"}),
        json!({"signature": "a", "extra": 1}),
        json!({"signature": 1}),
    ] {
        let (status, e) = verify(&app, &app.token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {e}");
        assert!(e["error"].is_string(), "{e}");
    }
    let r = app
        .http
        .post(format!("{}/dev/verify", app.server.url()))
        .json(&json!({"signature": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
