//! Delivery: retries, 489, timeouts, unreachable destinations, the dead-letter queue, and
//! concurrency. When attempts happen (delays, not-before, retry delays, backoff and
//! retry-after hints, on a frozen clock) is in `timing`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::*;

mod timing;

const FAST_RETRY: (&str, &str) = ("Upstash-Retry-Delay", "10");

async fn message(app: &App, id: &str) -> Value {
    let m = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(m.status, 200, "{}", m.text);
    m.body
}

/// The DLQ entry of message `id`.
async fn dlq_entry(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/v2/dlq?messageId={id}")).await;
    let list = r.body["messages"].as_array().expect("messages").clone();
    assert_eq!(list.len(), 1, "{}", r.text);
    list[0].clone()
}

/// Every log entry of `id` in `state`, newest first.
async fn events(app: &App, id: &str, state: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v2/events?messageId={id}&state={state}"))
        .await;
    r.body["events"].as_array().expect("events").clone()
}

fn retried(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.header("upstash-retried").unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_message_that_fails_twice_is_delivered_on_the_third_attempt() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(2, 500);
    let id = app.publish_ok(&rx.url("/flaky"), &[FAST_RETRY], "r").await;
    let states = app.wait_for_state(&id, "DELIVERED").await;
    let got = rx.received();
    assert_eq!(retried(&got), ["0", "1", "2"]);
    assert!(got
        .iter()
        .all(|r| r.header("upstash-message-id").as_deref() == Some(id.as_str())));
    assert!(got.iter().all(|r| &r.body[..] == b"r"));
    let expected = [
        "CREATED",
        "ACTIVE",
        "ERROR",
        "RETRY",
        "ACTIVE",
        "ERROR",
        "RETRY",
        "ACTIVE",
        "DELIVERED",
    ];
    assert_eq!(states, expected);
    for e in events(&app, &id, "ERROR").await {
        assert_eq!(e["responseStatus"], json!(500), "{e}");
    }
    let retry = &events(&app, &id, "RETRY").await[0];
    assert!(retry["nextDeliveryTime"].as_u64().is_some(), "{retry}");
    assert_eq!(
        app.get(&format!("/v2/messages/{id}")).await.status,
        404,
        "delivered messages are gone"
    );
}

#[tokio::test]
async fn exhausted_retries_fail_into_the_dlq_with_the_last_response() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([
        Answer::status(500).body("first"),
        Answer::status(502).body("second"),
    ]);
    rx.always(
        Answer::status(503)
            .header("X-Reason", "down for good")
            .body("last words"),
    );
    let id = app
        .publish_ok(
            &rx.url("/dead-end"),
            &[FAST_RETRY, ("Upstash-Retries", "2")],
            "payload",
        )
        .await;
    let states = app.wait_for_state(&id, "FAILED").await;
    assert_eq!(
        states.iter().filter(|s| *s == "ERROR").count(),
        3,
        "{states:?}"
    );
    assert_eq!(states.last().map(String::as_str), Some("FAILED"));
    assert_eq!(retried(&rx.received()), ["0", "1", "2"]);

    let d = dlq_entry(&app, &id).await;
    assert_eq!(d["messageId"], json!(id));
    assert_eq!(d["responseStatus"], json!(503));
    assert_eq!(d["responseHeader"]["X-Reason"], json!(["down for good"]));
    assert_eq!(d["responseBody"], json!("last words"));
    assert_eq!(d["body"], json!("payload"));
    assert_eq!(d["maxRetries"], json!(2));
    let dlq_id = d["dlqId"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v2/dlq/{dlq_id}")).await.body["messageId"],
        json!(id)
    );
    assert_eq!(app.get(&format!("/v2/messages/{id}")).await.status, 404);
}

#[tokio::test]
async fn status_489_with_non_retryable_error_goes_straight_to_the_dlq() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(
        Answer::status(489)
            .header("Upstash-NonRetryable-Error", "true")
            .body("{\"error\":\"bad input\"}"),
    );
    let id = app
        .publish_ok(
            &rx.url("/nonretry"),
            &[FAST_RETRY, ("Upstash-Retries", "3")],
            "x",
        )
        .await;
    let states = app.wait_for_state(&id, "FAILED").await;
    assert!(!states.iter().any(|s| s == "RETRY"), "{states:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rx.received().len(),
        1,
        "no retry after a non-retryable error"
    );
    let d = dlq_entry(&app, &id).await;
    assert_eq!(d["responseStatus"], json!(489));
    assert_eq!(d["responseBody"], json!("{\"error\":\"bad input\"}"));
}

#[tokio::test]
async fn status_489_without_the_non_retryable_header_is_retried() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(1, 489);
    let id = app.publish_ok(&rx.url("/489"), &[FAST_RETRY], "x").await;
    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(retried(&rx.received()), ["0", "1"]);
}

#[tokio::test]
async fn an_attempt_past_upstash_timeout_is_an_error_and_is_retried() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([Answer::status(200).slow(Duration::from_secs(3))]);
    let id = app
        .publish_ok(
            &rx.url("/slow"),
            &[FAST_RETRY, ("Upstash-Timeout", "1s")],
            "t",
        )
        .await;
    let states = app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(
        states,
        ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "DELIVERED"]
    );
    let got = rx.received();
    assert_eq!(retried(&got), ["0", "1"]);
    let gap = got[1].at.duration_since(got[0].at);
    // The timeout runs from before the connection is made, the gap from the first arrival.
    assert!(
        gap >= Duration::from_millis(900) && gap < Duration::from_millis(2_500),
        "the first attempt gave up after {gap:?}, not at its 1 s timeout"
    );
    let err = &events(&app, &id, "ERROR").await[0];
    assert!(
        !err["error"].as_str().unwrap_or("").is_empty(),
        "ERROR carries an error text: {err}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_dead_lettered_with_status_zero() {
    let app = spawn_app().await;
    let dead = dead_url().await;
    let id = app
        .publish_ok(
            &dead,
            &[FAST_RETRY, ("Upstash-Retries", "2")],
            "nobody home",
        )
        .await;
    let states = app.wait_for_state(&id, "FAILED").await;
    assert_eq!(
        states.iter().filter(|s| *s == "ERROR").count(),
        3,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| *s == "RETRY").count(),
        2,
        "{states:?}"
    );
    for e in events(&app, &id, "ERROR").await {
        assert!(!e["error"].as_str().unwrap_or("").is_empty(), "{e}");
    }
    let d = dlq_entry(&app, &id).await;
    assert_eq!(d["responseStatus"], json!(0));
    assert_eq!(d["url"], json!(dead));
}

#[tokio::test]
async fn a_slow_destination_does_not_hold_up_a_fast_one_or_the_api() {
    let app = spawn_app().await;
    let slow = Receiver::start().await;
    slow.always(Answer::status(200).slow(Duration::from_secs(2)));
    let fast = Receiver::start().await;
    let mut slow_ids = Vec::new();
    for i in 0..5 {
        slow_ids.push(
            app.publish_ok(&slow.url(&format!("/slow/{i}")), &[], "s")
                .await,
        );
    }
    // All five are in flight at once.
    tokio::time::timeout(Duration::from_millis(1_800), slow.wait_for(5))
        .await
        .expect("slow deliveries run in parallel");

    let started = Instant::now();
    let id = app.publish_ok(&fast.url("/fast"), &[], "f").await;
    // Well before the slow ones end (2 s after they started).
    let got = tokio::time::timeout(Duration::from_millis(1_500), fast.wait_for(1))
        .await
        .expect("fast delivery not held up");
    assert!(got[0].at.duration_since(started) < Duration::from_millis(1_500));
    app.wait_for_state(&id, "DELIVERED").await;

    let m = tokio::time::timeout(
        Duration::from_millis(1_500),
        app.get(&format!("/v2/messages/{}", slow_ids[0])),
    )
    .await
    .expect("API answers");
    assert_eq!(
        m.status, 200,
        "the slow message is still in flight: {}",
        m.text
    );
    assert!(!app
        .states(&slow_ids[0])
        .await
        .contains(&"DELIVERED".to_string()));
}
