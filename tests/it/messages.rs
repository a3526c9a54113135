//! `GET/DELETE /v2/messages/{id}` and bulk cancel `DELETE /v2/messages` (§4.2, §5.4).

use axum::http::Method;
use serde_json::json;

use crate::support::*;

const PENDING: (&str, &str) = ("Upstash-Delay", "60s");

/// Publishes `n` messages that stay pending for a minute.
async fn pending(app: &App, dest: &str, n: usize, extra: &[(&str, &str)]) -> Vec<String> {
    let mut headers = vec![PENDING];
    headers.extend_from_slice(extra);
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(app.publish_ok(dest, &headers, "x").await);
    }
    ids
}

async fn is_pending(app: &App, id: &str) -> bool {
    let r = app.get(&format!("/v2/messages/{id}")).await;
    match r.status {
        200 => true,
        404 => false,
        s => panic!("unexpected status {s}: {}", r.text),
    }
}

fn assert_not_found(r: &Reply) {
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "404 is not a JSON error: {}",
        r.text
    );
}

#[tokio::test]
async fn a_pending_message_shows_every_always_present_field_and_its_headers() {
    let app = spawn_app().await;
    let dest = "https://example.com/hook?a=1";
    let headers = [
        PENDING,
        ("Content-Type", "application/json"),
        ("upstash-forward-test-HEADER", "v"),
        ("Upstash-Retries", "2"),
        ("Upstash-Retry-Delay", "1000 * (1 + retried)"),
    ];
    let before = now_ms();
    let id = app.publish_ok(dest, &headers, r#"{"a":1}"#).await;
    let r = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = &r.body;
    assert_eq!(m["messageId"], json!(id));
    assert_eq!(m["url"], json!(dest));
    assert_eq!(m["method"], json!("POST"));
    assert_eq!(m["maxRetries"], json!(2));
    let created = m["createdAt"].as_u64().expect("createdAt is a number");
    let not_before = m["notBefore"].as_u64().expect("notBefore is a number");
    assert!(
        created >= before && created <= now_ms(),
        "createdAt {created}"
    );
    assert_eq!(not_before, created + 60_000);
    assert_eq!(
        m["header"],
        json!({"Content-Type": ["application/json"], "Test-Header": ["v"]})
    );
    assert_eq!(m["body"], json!(r#"{"a":1}"#));
    assert!(m.get("bodyBase64").is_none(), "{m}");
    assert_eq!(m["retryDelayExpression"], json!("1000 * (1 + retried)"));
}

#[tokio::test]
async fn a_message_without_options_still_has_the_always_present_fields() {
    let app = spawn_app().await;
    let id = app
        .publish_ok("https://example.com/x", &[PENDING], "")
        .await;
    let m = app.get(&format!("/v2/messages/{id}")).await.body;
    for key in [
        "messageId",
        "url",
        "method",
        "maxRetries",
        "notBefore",
        "createdAt",
    ] {
        assert!(m.get(key).is_some(), "{key} missing in {m}");
    }
    assert_eq!(m["maxRetries"], json!(3));
    assert_eq!(m["method"], json!("POST"));
}

#[tokio::test]
async fn a_non_utf8_body_comes_back_as_body_base64() {
    let app = spawn_app().await;
    let rb = app
        .req(Method::POST, "/v2/publish/https://example.com/bin")
        .header("Upstash-Delay", "60s")
        .body(vec![0xffu8, 0xfe, 0x00, 0x01]);
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["messageId"].as_str().unwrap();
    let m = app.get(&format!("/v2/messages/{id}")).await.body;
    assert_eq!(m["bodyBase64"], json!("//4AAQ=="));
    assert!(m.get("body").is_none(), "{m}");
}

#[tokio::test]
async fn unknown_and_delivered_messages_are_404_json() {
    let app = spawn_app().await;
    assert_not_found(&app.get("/v2/messages/msg_doesnotexist").await);
    let rx = Receiver::start().await;
    let id = app.publish_ok(&rx.url("/ok"), &[], "hi").await;
    app.wait_for_state(&id, "DELIVERED").await;
    assert_not_found(&app.get(&format!("/v2/messages/{id}")).await);
}

#[tokio::test]
async fn cancelling_a_pending_message_removes_it_logs_it_and_stops_delivery() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(&rx.url("/never"), &[("Upstash-Delay", "1s")], "x")
        .await;
    let r = app.delete(&format!("/v2/messages/{id}")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body, json!({"cancelled": 1}));
    assert_not_found(&app.get(&format!("/v2/messages/{id}")).await);
    assert_eq!(
        app.states(&id).await,
        ["CREATED", "CANCEL_REQUESTED", "CANCELED"]
    );
    assert_not_found(&app.delete(&format!("/v2/messages/{id}")).await);
    app.advance_ms(1000);
    app.settle().await;
    assert!(
        rx.received().is_empty(),
        "a cancelled message was delivered"
    );
    assert_eq!(app.states(&id).await.len(), 3);
}

#[tokio::test]
async fn bulk_cancel_by_message_ids_in_the_query_cancels_only_those() {
    let app = spawn_app().await;
    let ids = pending(&app, "https://example.com/a", 3, &[]).await;
    let path = format!("/v2/messages?messageIds={}&messageIds={}", ids[0], ids[1]);
    let r = app.delete(&path).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body, json!({"cancelled": 2}));
    assert!(!is_pending(&app, &ids[0]).await);
    assert!(!is_pending(&app, &ids[1]).await);
    assert!(is_pending(&app, &ids[2]).await);
    assert_eq!(app.delete(&path).await.body, json!({"cancelled": 0}));
}

#[tokio::test]
async fn bulk_cancel_by_url_filter_cancels_only_that_destination() {
    let app = spawn_app().await;
    let a = pending(&app, "https://example.com/a", 2, &[]).await;
    let b = pending(&app, "https://example.com/b", 1, &[]).await;
    let r = app.delete("/v2/messages?url=https://example.com/a").await;
    assert_eq!(r.body, json!({"cancelled": 2}), "{}", r.text);
    for id in &a {
        assert!(!is_pending(&app, id).await);
    }
    assert!(is_pending(&app, &b[0]).await);
}

#[tokio::test]
async fn bulk_cancel_by_label_filter_cancels_only_labelled_messages() {
    let app = spawn_app().await;
    let labelled = pending(
        &app,
        "https://example.com/a",
        2,
        &[("Upstash-Label", "x,y")],
    )
    .await;
    let other = pending(&app, "https://example.com/a", 1, &[("Upstash-Label", "z")]).await;
    let plain = pending(&app, "https://example.com/a", 1, &[]).await;
    let r = app.delete("/v2/messages?label=y").await;
    assert_eq!(r.body, json!({"cancelled": 2}), "{}", r.text);
    for id in &labelled {
        assert!(!is_pending(&app, id).await);
    }
    assert!(is_pending(&app, &other[0]).await);
    assert!(is_pending(&app, &plain[0]).await);
}

#[tokio::test]
async fn bulk_cancel_ignores_count_and_cancels_every_match() {
    let app = spawn_app().await;
    let ids = pending(&app, "https://example.com/a", 3, &[]).await;
    // The TypeScript SDK sends count=100 with {all: true}; the reference ignores count.
    let r = app.delete("/v2/messages?count=1").await;
    assert_eq!(r.body, json!({"cancelled": 3}), "{}", r.text);
    for id in &ids {
        assert!(!is_pending(&app, id).await);
    }
    assert_eq!(
        app.delete("/v2/messages?count=x").await.status,
        400,
        "still a number"
    );
}

#[tokio::test]
async fn bulk_cancel_accepts_the_legacy_json_body() {
    let app = spawn_app().await;
    let ids = pending(&app, "https://example.com/a", 3, &[]).await;
    let rb = app
        .req(Method::DELETE, "/v2/messages")
        .header("Content-Type", "application/json")
        .body(json!({"messageIds": [ids[0], ids[2]]}).to_string());
    let r = app.send(rb).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body, json!({"cancelled": 2}));
    assert!(!is_pending(&app, &ids[0]).await);
    assert!(is_pending(&app, &ids[1]).await);
    assert!(!is_pending(&app, &ids[2]).await);
}

#[tokio::test]
async fn bulk_cancel_accepts_the_legacy_filter_fields_in_the_json_body() {
    let app = spawn_app().await;
    let a = pending(&app, "https://example.com/a", 2, &[]).await;
    let b = pending(&app, "https://example.com/b", 1, &[]).await;
    let other_ip = json!({"url": "https://example.com/a", "callerIP": "10.9.9.9"});
    let rb = app
        .req(Method::DELETE, "/v2/messages")
        .header("Content-Type", "application/json")
        .body(other_ip.to_string());
    assert_eq!(
        app.send(rb).await.body,
        json!({"cancelled": 0}),
        "callerIP is a filter"
    );
    let rb = app
        .req(Method::DELETE, "/v2/messages")
        .header("Content-Type", "application/json")
        .body(json!({"url": "https://example.com/a", "callerIP": "127.0.0.1"}).to_string());
    let r = app.send(rb).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body, json!({"cancelled": 2}));
    assert!(!is_pending(&app, &a[0]).await && !is_pending(&app, &a[1]).await);
    assert!(is_pending(&app, &b[0]).await);
}

#[tokio::test]
async fn bulk_cancel_with_nothing_cancels_every_pending_message_and_counts_only_those() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let delivered = app.publish_ok(&rx.url("/done"), &[], "x").await;
    app.wait_for_state(&delivered, "DELIVERED").await;
    let ids = pending(&app, "https://example.com/a", 2, &[]).await;
    let r = app.delete("/v2/messages").await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body, json!({"cancelled": 2}));
    for id in &ids {
        assert!(!is_pending(&app, id).await);
        assert_eq!(
            app.states(id).await,
            ["CREATED", "CANCEL_REQUESTED", "CANCELED"]
        );
    }
    assert_eq!(
        app.states(&delivered).await,
        ["CREATED", "ACTIVE", "DELIVERED"]
    );
    assert_eq!(
        app.delete("/v2/messages").await.body,
        json!({"cancelled": 0})
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
