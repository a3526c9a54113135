//! Publishing: the destination and its query string, config query parameters, the body and
//! headers that reach the destination, the publish response, labels and redaction.

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::support::*;

/// Publishes raw bytes (the `App::publish` helper only takes text).
async fn publish_bytes(app: &App, dest: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut rb = app
        .req(Method::POST, &format!("/v2/publish/{dest}"))
        .body(body);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    app.send(rb).await
}

/// The newest log entry of `id` in `state`.
async fn event(app: &App, id: &str, state: &str) -> Value {
    let r = app
        .get(&format!("/v2/events?messageId={id}&state={state}"))
        .await;
    r.body["events"][0].clone()
}

#[tokio::test]
async fn a_published_message_is_delivered_signed_with_its_exact_body() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(
            &rx.url("/hook?a=1&b=2"),
            &[
                ("Content-Type", "text/plain"),
                ("Upstash-Forward-X-Custom", "yes"),
            ],
            "hello world",
        )
        .await;
    let got = rx.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.path, "/hook?a=1&b=2");
    assert_eq!(&r.body[..], b"hello world");
    assert_eq!(r.header("upstash-message-id").as_deref(), Some(id.as_str()));
    assert_eq!(r.header("x-custom").as_deref(), Some("yes"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(r.header("upstash-retried").as_deref(), Some("0"));
    assert_eq!(r.header("user-agent").as_deref(), Some("Upstash-QStash"));
    assert!(r.header("upstash-signature").is_some());
    app.wait_for_state(&id, "DELIVERED").await;
}

#[tokio::test]
async fn the_destination_query_string_is_rebuilt_as_sent() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dest = rx.url("/a/b?x=1&y=two%20words&flag&z=%2F");
    let id = app.publish_ok(&dest, &[], "q").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].path, "/a/b?x=1&y=two%20words&flag&z=%2F");
    app.wait_for_state(&id, "DELIVERED").await;
}

#[tokio::test]
async fn lower_case_config_query_params_are_applied_and_stripped_from_the_delivered_url() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let dest = rx.url("/hook?a=1&upstash-retries=0&b=2&upstash-delay=1s");
    let sent = Instant::now();
    let r = app.publish(&dest, &[], "cfg").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["messageId"].as_str().unwrap().to_string();
    assert_eq!(r.body["url"], json!(rx.url("/hook?a=1&b=2")));

    let m = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(m.body["url"], json!(rx.url("/hook?a=1&b=2")));
    assert_eq!(m.body["maxRetries"], json!(0));
    let (created, not_before) = (
        m.body["createdAt"].as_u64().unwrap(),
        m.body["notBefore"].as_u64().unwrap(),
    );
    assert_eq!(not_before, created + 1000, "upstash-delay=1s applies");

    let states = app.wait_for_state(&id, "FAILED").await;
    let at = rx.received()[0].at;
    assert!(
        at.duration_since(sent) >= Duration::from_millis(990),
        "delivered {:?} after the publish, before its delay",
        at.duration_since(sent)
    );
    assert_eq!(
        rx.received().len(),
        1,
        "upstash-retries=0 means a single attempt"
    );
    assert!(!states.contains(&"RETRY".to_string()), "{states:?}");
    assert_eq!(rx.received()[0].path, "/hook?a=1&b=2");
}

#[tokio::test]
async fn qstash_token_in_the_query_authenticates_and_is_not_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let path = format!(
        "/v2/publish/{}",
        rx.url(&format!("/hook?keep=1&qstash_token={TOKEN}"))
    );
    let r = app.send(app.http.post(app.url(&path)).body("t")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["url"], json!(rx.url("/hook?keep=1")));
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].path, "/hook?keep=1");
    assert!(!got[0].path.contains(TOKEN));
}

#[tokio::test]
async fn a_config_header_wins_over_the_same_query_param() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dest = rx.url("/hook?upstash-retries=5&upstash-delay=1h");
    let id = app
        .publish_ok(
            &dest,
            &[("Upstash-Retries", "1"), ("Upstash-Delay", "10m")],
            "w",
        )
        .await;
    let m = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(m.body["maxRetries"], json!(1));
    let (created, not_before) = (
        m.body["createdAt"].as_u64().unwrap(),
        m.body["notBefore"].as_u64().unwrap(),
    );
    assert_eq!(not_before - created, 10 * 60 * 1000);
    assert_eq!(m.body["url"], json!(rx.url("/hook")));
}

#[tokio::test]
async fn a_binary_body_is_delivered_byte_for_byte() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let bytes: Vec<u8> = (0..=255u8)
        .rev()
        .chain([0xff, 0xfe, 0x00, 0xc3, 0x28])
        .collect();
    let r = publish_bytes(
        &app,
        &rx.url("/bin"),
        &[("Content-Type", "application/octet-stream")],
        bytes.clone(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["messageId"].as_str().unwrap().to_string();
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], &bytes[..]);
    assert_eq!(
        got[0].header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    app.wait_for_state(&id, "DELIVERED").await;
    let e = event(&app, &id, "DELIVERED").await;
    assert_eq!(
        e["body"],
        json!(B64.encode(&bytes)),
        "log bodies are base64"
    );
}

#[tokio::test]
async fn an_empty_body_is_delivered_empty_without_a_content_type() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = app.publish_ok(&rx.url("/empty"), &[], "").await;
    let got = rx.wait_for(1).await;
    assert!(got[0].body.is_empty());
    assert_eq!(got[0].header("content-type"), None);
    app.wait_for_state(&id, "DELIVERED").await;
}

#[tokio::test]
async fn upstash_method_put_and_get_are_used_for_delivery() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.publish_ok(&rx.url("/put"), &[("Upstash-Method", "PUT")], "put body")
        .await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].method, "PUT");
    assert_eq!(&got[0].body[..], b"put body");
    let id = app
        .publish_ok(&rx.url("/get"), &[("Upstash-Method", "get")], "")
        .await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].method, "GET");
    assert_eq!(got[1].path, "/get");
    app.wait_for_state(&id, "DELIVERED").await;
}

#[tokio::test]
async fn forward_headers_arrive_unprefixed_and_plain_headers_stay_behind() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let headers = [
        ("Content-Type", "application/json"),
        ("Upstash-Forward-X-Custom", "one"),
        ("Upstash-Forward-Upstash-Foo", "bar"),
        ("X-Plain", "not forwarded"),
        ("Upstash-Retries", "2"),
    ];
    app.publish_ok(&rx.url("/fwd"), &headers, "{}").await;
    let r = &rx.wait_for(1).await[0];
    assert_eq!(r.header("x-custom").as_deref(), Some("one"));
    assert_eq!(r.header("upstash-foo").as_deref(), Some("bar"));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(r.header("x-plain"), None);
    assert_eq!(r.header("upstash-forward-x-custom"), None);
    assert_eq!(r.header("upstash-retries"), None);
    assert_eq!(
        r.header("authorization"),
        None,
        "our token never reaches the destination"
    );
}

#[tokio::test]
async fn header_forward_true_forwards_plain_headers_but_never_authorization() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let headers = [
        ("Upstash-Header-Forward", "true"),
        ("X-Webhook-Event", "push"),
        ("X-Other", "1"),
        ("Content-Type", "text/plain"),
    ];
    app.publish_ok(&rx.url("/webhook"), &headers, "evt").await;
    let r = &rx.wait_for(1).await[0];
    assert_eq!(r.header("x-webhook-event").as_deref(), Some("push"));
    assert_eq!(r.header("x-other").as_deref(), Some("1"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.header("upstash-header-forward"), None);
}

#[tokio::test]
async fn a_url_publish_answers_exactly_message_id_and_url() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dest = rx.url("/shape?k=v");
    let r = app.publish(&dest, &[], "x").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let id = r.body["messageId"].as_str().expect("messageId").to_string();
    assert!(id.starts_with("msg_"), "{id}");
    assert_eq!(
        r.body,
        json!({ "messageId": id, "url": dest }),
        "no deduplicated key when false"
    );
}

#[tokio::test]
async fn labels_show_the_first_as_label_and_all_as_labels() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(
            &rx.url("/l"),
            &[("Upstash-Label", "a,b"), ("Upstash-Delay", "1m")],
            "x",
        )
        .await;
    let m = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(m.status, 200, "{}", m.text);
    assert_eq!(m.body["label"], json!("a"));
    assert_eq!(m.body["labels"], json!(["a", "b"]));
}

/// True when `v` shows a redaction placeholder, as is or base64-encoded (log bodies).
fn is_redacted(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    let decoded = B64
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    s.starts_with("REDACTED:") || decoded.starts_with("REDACTED:")
}

#[tokio::test]
async fn redacted_fields_are_hidden_from_the_api_but_delivered_for_real() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let headers = [
        ("Upstash-Redact-Fields", "body,header[Authorization]"),
        ("Upstash-Forward-Authorization", "Bearer secret-token"),
        ("Upstash-Forward-X-Visible", "shown"),
        ("Upstash-Delay", "1s"),
    ];
    let id = app
        .publish_ok(&rx.url("/redact"), &headers, "secret body")
        .await;

    let m = app.get(&format!("/v2/messages/{id}")).await;
    assert!(
        m.body["body"].as_str().unwrap().starts_with("REDACTED:"),
        "{}",
        m.text
    );
    assert!(
        m.body["header"]["Authorization"][0]
            .as_str()
            .unwrap()
            .starts_with("REDACTED:"),
        "{}",
        m.text
    );
    assert_eq!(m.body["header"]["X-Visible"], json!(["shown"]));
    assert!(!m.text.contains("secret"), "{}", m.text);

    app.advance_ms(1000);
    let r = &rx.wait_for(1).await[0];
    assert_eq!(&r.body[..], b"secret body");
    assert_eq!(
        r.header("authorization").as_deref(),
        Some("Bearer secret-token")
    );
    app.wait_for_state(&id, "DELIVERED").await;

    let ev = app.get(&format!("/v2/events?messageId={id}")).await;
    let events = ev.body["events"].as_array().unwrap();
    assert!(events.len() >= 3);
    for e in events {
        assert!(is_redacted(&e["body"]), "{e}");
        assert!(is_redacted(&e["header"]["Authorization"][0]), "{e}");
    }
    assert!(!ev.text.contains("secret"), "{}", ev.text);
    assert!(!ev.text.contains(&B64.encode("secret body")), "{}", ev.text);
}
