//! Bad input and quota limits (§1.3, §1.5, §3.1, quotas.md): every refusal is a 4xx with a JSON
//! `{"error": "..."}` body, and the server keeps answering afterwards.

use axum::http::Method;
use qstash_dev::config::QuotaPreset;
use serde_json::json;

use crate::support::*;

const DEST: &str = "https://example.com/x";

/// Asserts `status` and a non-empty JSON error, then that the server still answers; returns
/// the error text.
async fn refused(app: &App, r: &Reply, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let msg = r.body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error: {}", r.text))
        .to_string();
    assert!(!msg.is_empty());
    let content_type = r.headers.get("content-type").and_then(|v| v.to_str().ok());
    assert!(
        content_type.is_some_and(|c| c.starts_with("application/json")),
        "{content_type:?}"
    );
    let next = app.get("/v2/keys").await;
    assert_eq!(next.status, 200, "server stopped answering: {}", next.text);
    msg
}

async fn publish_with(app: &App, header: (&str, &str)) -> Reply {
    app.publish(DEST, &[("Upstash-Delay", "60s"), header], "x")
        .await
}

async fn pro_app() -> App {
    spawn_app_with(QuotaPreset::Pro).await
}

#[tokio::test]
async fn an_invalid_delay_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    for bad in ["abc", "10x", "-5s"] {
        let r = app.publish(DEST, &[("Upstash-Delay", bad)], "x").await;
        let msg = refused(&app, &r, 400).await;
        assert!(msg.contains("Upstash-Delay"), "{msg}");
    }
}

#[tokio::test]
async fn an_invalid_retry_delay_expression_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    for bad in ["pow(2,", "retried +", "nope(1)"] {
        let r = publish_with(&app, ("Upstash-Retry-Delay", bad)).await;
        let msg = refused(&app, &r, 400).await;
        assert!(msg.contains("Upstash-Retry-Delay"), "{bad}: {msg}");
    }
}

#[tokio::test]
async fn other_invalid_header_values_are_400s() {
    let app = spawn_app().await;
    for header in [
        ("Upstash-Retries", "many"),
        ("Upstash-Method", "FETCH"),
        ("Upstash-Not-Before", "tomorrow"),
        ("Upstash-Callback", "not a url"),
    ] {
        let r = publish_with(&app, header).await;
        let msg = refused(&app, &r, 400).await;
        assert!(msg.contains(header.0), "{header:?}: {msg}");
    }
}

#[tokio::test]
async fn an_invalid_destination_url_is_a_400() {
    let app = spawn_app().await;
    for dest in ["http://", "https://", "http://:80/x"] {
        let r = app.publish(dest, &[], "x").await;
        refused(&app, &r, 400).await;
    }
}

#[tokio::test]
async fn an_ftp_destination_is_a_400() {
    let app = spawn_app().await;
    let r = app.publish("ftp://x", &[], "x").await;
    refused(&app, &r, 400).await;
}

#[tokio::test]
async fn an_empty_destination_is_a_400_with_the_exact_message() {
    let app = spawn_app().await;
    for path in ["/v2/publish/", "/v2/publish"] {
        let r = app.send(app.req(Method::POST, path).body("x")).await;
        refused(&app, &r, 400).await;
        assert_eq!(
            r.body,
            json!({"error": "a non-empty destination must be provided"})
        );
    }
}

#[tokio::test]
async fn an_unknown_url_group_is_a_404_naming_the_topic() {
    let app = spawn_app().await;
    let r = app.publish("no-such-group", &[], "x").await;
    refused(&app, &r, 404).await;
    assert_eq!(r.body, json!({"error": "topic no-such-group not found"}));
}

#[tokio::test]
async fn a_body_one_byte_over_the_payg_limit_is_a_413_with_the_quota_message() {
    let app = spawn_app().await;
    let limit = 10 * 1024 * 1024;
    let rb = app
        .req(Method::POST, &format!("/v2/publish/{DEST}"))
        .header("Upstash-Delay", "60s")
        .body(vec![b'a'; limit + 1]);
    let r = app.send(rb).await;
    let msg = refused(&app, &r, 413).await;
    assert_eq!(
        msg,
        format!("message size exceeds the limit of {limit} bytes")
    );
    let rb = app
        .req(Method::POST, &format!("/v2/publish/{DEST}"))
        .header("Upstash-Delay", "60s")
        .body(vec![b'a'; limit]);
    assert_eq!(app.send(rb).await.status, 200, "exactly the limit is fine");
}

#[tokio::test]
async fn six_retries_are_a_400_on_payg_naming_the_header_but_fine_on_pro() {
    let app = spawn_app().await;
    let r = publish_with(&app, ("Upstash-Retries", "6")).await;
    let msg = refused(&app, &r, 400).await;
    assert!(
        msg.contains("Upstash-Retries") && msg.contains('5'),
        "{msg}"
    );
    assert_eq!(
        publish_with(&app, ("Upstash-Retries", "5")).await.status,
        200
    );
    let pro = pro_app().await;
    let r = publish_with(&pro, ("Upstash-Retries", "6")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["messageId"].as_str().unwrap();
    assert_eq!(
        pro.get(&format!("/v2/messages/{id}")).await.body["maxRetries"],
        json!(6)
    );
    let r = publish_with(&pro, ("Upstash-Retries", "21")).await;
    refused(&pro, &r, 400).await;
}

#[tokio::test]
async fn a_delay_of_400_days_is_a_400_on_payg_but_fine_on_pro() {
    let app = spawn_app().await;
    let r = app.publish(DEST, &[("Upstash-Delay", "400d")], "x").await;
    let msg = refused(&app, &r, 400).await;
    assert!(msg.contains("Upstash-Delay"), "{msg}");
    let pro = pro_app().await;
    let r = pro.publish(DEST, &[("Upstash-Delay", "400d")], "x").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_timeout_of_three_hours_is_a_400_on_both_presets() {
    for app in [spawn_app().await, pro_app().await] {
        let r = publish_with(&app, ("Upstash-Timeout", "3h")).await;
        let msg = refused(&app, &r, 400).await;
        assert!(msg.contains("Upstash-Timeout"), "{msg}");
        assert_eq!(
            publish_with(&app, ("Upstash-Timeout", "2h")).await.status,
            200
        );
    }
}

/// DELETEs `path` with a JSON `body`.
async fn delete_json(app: &App, path: &str, body: &str) -> Reply {
    let rb = app
        .req(Method::DELETE, path)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    app.send(rb).await
}

/// One pending message and one DLQ entry, so a wrongly accepted bulk call would show.
async fn one_pending_and_one_dead(app: &App) -> (String, String) {
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let dead = app
        .publish_ok(&rx.url("/dead"), &[("Upstash-Retries", "0")], "x")
        .await;
    app.wait_for_state(&dead, "FAILED").await;
    let pending = app.publish_ok(DEST, &[("Upstash-Delay", "60s")], "x").await;
    (pending, dead)
}

async fn assert_nothing_removed(app: &App, pending: &str) {
    let m = app.get(&format!("/v2/messages/{pending}")).await;
    assert_eq!(m.status, 200, "a message was cancelled");
    let dlq = app.get("/v2/dlq").await;
    assert_eq!(
        dlq.body["messages"].as_array().map(Vec::len),
        Some(1),
        "{}",
        dlq.text
    );
}

#[tokio::test]
async fn malformed_json_on_bulk_cancel_and_dlq_bulk_delete_is_a_400() {
    let app = spawn_app().await;
    let (pending, _) = one_pending_and_one_dead(&app).await;
    for (path, typed) in [
        ("/v2/messages", r#"{"messageIds": 5}"#),
        ("/v2/dlq", r#"{"dlqIds": "1-0"}"#),
    ] {
        for body in ["{nope", "[1,", typed] {
            refused(&app, &delete_json(&app, path, body).await, 400).await;
        }
    }
    assert_nothing_removed(&app, &pending).await;
}

#[tokio::test]
async fn a_misspelt_field_in_a_bulk_json_body_is_a_400_and_removes_nothing() {
    let app = spawn_app().await;
    let (pending, _) = one_pending_and_one_dead(&app).await;
    let r = delete_json(
        &app,
        "/v2/messages",
        &format!(r#"{{"messageId": ["{pending}"]}}"#),
    )
    .await;
    let msg = refused(&app, &r, 400).await;
    assert!(msg.contains("messageId"), "{msg}");
    let r = delete_json(&app, "/v2/dlq", r#"{"dlqId": ["1-0"]}"#).await;
    let msg = refused(&app, &r, 400).await;
    assert!(msg.contains("dlqId"), "{msg}");
    assert_nothing_removed(&app, &pending).await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404_json() {
    let app = spawn_app().await;
    for path in ["/v2/nothing", "/nope", "/v2/messages/a/b", "/v3/keys"] {
        let r = app.get(path).await;
        refused(&app, &r, 404).await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_json() {
    let app = spawn_app().await;
    for (m, path) in [
        (Method::PUT, "/v2/keys"),
        (Method::POST, "/v2/events"),
        (Method::GET, "/v2/keys/rotate"),
        (Method::GET, "/v2/publish/https://example.com/x"),
        (Method::PATCH, "/v2/dlq"),
    ] {
        let r = app.send(app.req(m.clone(), path)).await;
        refused(&app, &r, 405).await;
    }
}

#[tokio::test]
async fn paths_are_normalised_before_routing() {
    let app = spawn_app().await;
    let expected = app.get("/v2/keys").await.body;
    for path in ["//v2/keys", "/v2/Keys", "/V2/KEYS", "/v2/keys/"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body, expected, "{path}");
    }
    for _ in 0..2 {
        app.publish_ok(DEST, &[("Upstash-Delay", "60s")], "x").await;
    }
    let r = app.delete("/v2/messages/").await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"cancelled": 2}),
        "a trailing slash means bulk cancel"
    );
    let r = app.get("/v2/Events?count=1").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["events"].is_array());
}
