//! Callbacks and failure callbacks: the signed §4.11 / §4.12 JSON payload about each attempt,
//! the headers forwarded to the callback URL, and exactly one failure callback per failure.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use qstash_dev::config::TEST_USERS;
use serde_json::{json, Value};

use crate::signature::check_signature;
use crate::support::*;

const FAST_RETRY: (&str, &str) = ("Upstash-Retry-Delay", "10");

fn payload(r: &Received) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("callback body is JSON ({e}): {:?}", r.body))
}

fn b64(s: &str) -> Value {
    json!(B64.encode(s))
}

/// `retried` may be left out on the first attempt (the hosted service omits zero values).
fn retried_of(p: &Value) -> u64 {
    p.get("retried")
        .map_or(0, |v| v.as_u64().expect("retried is a number"))
}

#[tokio::test]
async fn a_callback_gets_a_signed_post_describing_the_delivery() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    dest.always(
        Answer::status(201)
            .header("X-Dest", "d1")
            .body("dest says hi"),
    );
    let cb = Receiver::start().await;
    let cb_url = cb.url("/cb?from=qstash");
    let dest_url = dest.url("/work?job=1");
    let headers = [
        ("Upstash-Callback", cb_url.as_str()),
        ("Upstash-Callback-Forward-X-Y", "why"),
        ("Upstash-Method", "PUT"),
        ("Content-Type", "text/plain"),
        ("Upstash-Forward-X-Src", "s"),
        ("Upstash-Retries", "2"),
    ];
    let id = app.publish_ok(&dest_url, &headers, "source body").await;
    let got = cb.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/cb?from=qstash");
    assert_eq!(r.header("x-y").as_deref(), Some("why"));
    assert_eq!(r.header("upstash-callback-forward-x-y"), None);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    assert_ne!(
        r.header("upstash-message-id").as_deref(),
        Some(id.as_str()),
        "a callback is a message of its own"
    );
    check_signature(r, TEST_USERS[0].current_signing_key, &cb_url);

    let p = payload(r);
    assert_eq!(p["status"], json!(201));
    assert_eq!(p["body"], b64("dest says hi"));
    assert_eq!(p["header"]["X-Dest"], json!(["d1"]));
    assert_eq!(p["sourceMessageId"], json!(id));
    assert_eq!(p["url"], json!(dest_url));
    assert_eq!(p["method"], json!("PUT"));
    assert_eq!(p["sourceBody"], b64("source body"));
    assert_eq!(p["sourceHeader"]["X-Src"], json!(["s"]));
    assert_eq!(p["sourceHeader"]["Content-Type"], json!(["text/plain"]));
    assert_eq!(p["maxRetries"], json!(2));
    assert_eq!(retried_of(&p), 0);
    let (created, not_before) = (p["createdAt"].as_u64(), p["notBefore"].as_u64());
    assert!(
        created.is_some() && not_before.is_some(),
        "createdAt and notBefore are numbers: {p}"
    );
    assert!(not_before >= created);
    assert!(p.get("dlqId").is_none(), "{p}");

    app.wait_for_state(&id, "DELIVERED").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cb.received().len(), 1, "one callback for one attempt");
}

#[tokio::test]
async fn a_callback_follows_every_failed_attempt_too() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    dest.script([Answer::status(500).body("oops")]);
    dest.always(Answer::status(200).body("fine"));
    let cb = Receiver::start().await;
    let cb_url = cb.url("/each");
    let id = app
        .publish_ok(
            &dest.url("/flaky"),
            &[FAST_RETRY, ("Upstash-Callback", cb_url.as_str())],
            "b",
        )
        .await;
    app.wait_for_state(&id, "DELIVERED").await;
    let got = cb.wait_for(2).await;
    let mut calls: Vec<Value> = got.iter().map(payload).collect();
    calls.sort_by_key(retried_of);
    assert_eq!(calls[0]["status"], json!(500));
    assert_eq!(calls[0]["body"], b64("oops"));
    assert_eq!(retried_of(&calls[0]), 0);
    assert_eq!(calls[1]["status"], json!(200));
    assert_eq!(calls[1]["body"], b64("fine"));
    assert_eq!(retried_of(&calls[1]), 1);
    assert!(calls.iter().all(|c| c["sourceMessageId"] == json!(id)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(cb.received().len(), 2);
}

#[tokio::test]
async fn a_failure_callback_is_called_once_with_the_dlq_id_and_last_response() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    dest.script([Answer::status(500).body("first")]);
    dest.always(Answer::status(502).header("X-Why", "w").body("nope"));
    let cb = Receiver::start().await;
    let fcb = Receiver::start().await;
    let (cb_url, fcb_url) = (cb.url("/cb"), fcb.url("/failed"));
    let headers = [
        FAST_RETRY,
        ("Upstash-Retries", "1"),
        ("Upstash-Callback", cb_url.as_str()),
        ("Upstash-Failure-Callback", fcb_url.as_str()),
        ("Upstash-Failure-Callback-Forward-X-F", "f"),
        ("Upstash-Failure-Callback-X-Python", "1"),
    ];
    let id = app
        .publish_ok(&dest.url("/broken"), &headers, "doomed")
        .await;
    app.wait_for_state(&id, "FAILED").await;
    let got = fcb.wait_for(1).await;
    cb.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(fcb.received().len(), 1, "exactly one failure callback");
    assert_eq!(cb.received().len(), 2, "a callback per attempt");

    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.header("x-f").as_deref(), Some("f"));
    assert_eq!(r.header("x-python").as_deref(), Some("1"));
    check_signature(r, TEST_USERS[0].current_signing_key, &fcb_url);
    let p = payload(r);
    let dlq = app.get(&format!("/v2/dlq?messageId={id}")).await;
    let entry = &dlq.body["messages"][0];
    assert!(entry["dlqId"].is_string(), "{}", dlq.text);
    assert_eq!(p["dlqId"], entry["dlqId"]);
    assert_eq!(p["status"], json!(502));
    assert_eq!(p["body"], b64("nope"));
    assert_eq!(p["header"]["X-Why"], json!(["w"]));
    assert_eq!(p["sourceMessageId"], json!(id));
    assert_eq!(p["sourceBody"], b64("doomed"));
    assert_eq!(p["maxRetries"], json!(1));
    assert_eq!(retried_of(&p), 1);
}

#[tokio::test]
async fn a_non_retryable_489_sends_the_failure_callback_at_once() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    dest.always(
        Answer::status(489)
            .header("Upstash-NonRetryable-Error", "true")
            .body("stop"),
    );
    let fcb = Receiver::start().await;
    let fcb_url = fcb.url("/failed");
    let headers = [
        FAST_RETRY,
        ("Upstash-Retries", "3"),
        ("Upstash-Failure-Callback", fcb_url.as_str()),
    ];
    let id = app.publish_ok(&dest.url("/strict"), &headers, "x").await;
    let got = fcb.wait_for(1).await;
    let p = payload(&got[0]);
    assert_eq!(p["status"], json!(489));
    assert_eq!(p["body"], b64("stop"));
    assert_eq!(p["sourceMessageId"], json!(id));
    assert!(p["dlqId"].is_string(), "{p}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(dest.received().len(), 1);
    assert_eq!(fcb.received().len(), 1);
}

#[tokio::test]
async fn python_style_callback_headers_reach_the_callback_unprefixed() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    let cb = Receiver::start().await;
    let cb_url = cb.url("/py");
    let headers = [
        ("Upstash-Callback", cb_url.as_str()),
        ("Upstash-Callback-X-Python", "1"),
    ];
    app.publish_ok(&dest.url("/d"), &headers, "py").await;
    let r = &cb.wait_for(1).await[0];
    assert_eq!(r.header("x-python").as_deref(), Some("1"));
    assert_eq!(r.header("upstash-callback-x-python"), None);
    assert_eq!(
        dest.received()[0].header("x-python"),
        None,
        "callback headers are not for the destination"
    );
}

#[tokio::test]
async fn a_delivered_message_sends_no_failure_callback() {
    let app = spawn_app().await;
    let dest = Receiver::start().await;
    let fcb = Receiver::start().await;
    let fcb_url = fcb.url("/never");
    let id = app
        .publish_ok(
            &dest.url("/ok"),
            &[("Upstash-Failure-Callback", fcb_url.as_str())],
            "ok",
        )
        .await;
    app.wait_for_state(&id, "DELIVERED").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(fcb.received().is_empty());
}

#[tokio::test]
async fn an_unreachable_destination_gets_a_failure_callback_with_status_zero() {
    let app = spawn_app().await;
    let fcb = Receiver::start().await;
    let fcb_url = fcb.url("/unreachable");
    let headers = [
        FAST_RETRY,
        ("Upstash-Retries", "1"),
        ("Upstash-Failure-Callback", fcb_url.as_str()),
    ];
    let id = app.publish_ok(&dead_url().await, &headers, "lost").await;
    let got = fcb.wait_for(1).await;
    let p = payload(&got[0]);
    assert_eq!(p["status"], json!(0));
    assert_eq!(p["sourceMessageId"], json!(id));
    let dlq = app.get(&format!("/v2/dlq?messageId={id}")).await;
    assert_eq!(p["dlqId"], dlq.body["messages"][0]["dlqId"], "{}", dlq.text);
}
