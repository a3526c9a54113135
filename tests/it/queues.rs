//! Queues (§4.6, §5.2, §5.7, §7.6): upsert, get, list, delete, pause and resume; FIFO order,
//! parallelism, slots held through retries and callbacks, lag, and the payg queue limits.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

const FAST_RETRY: (&str, &str) = ("Upstash-Retry-Delay", "10");

async fn upsert(app: &App, path: &str, body: Value) -> Reply {
    app.send(app.req(Method::POST, path).json(&body)).await
}

async fn upsert_ok(app: &App, name: &str, parallelism: u32, paused: bool) {
    let body = json!({ "queueName": name, "parallelism": parallelism, "paused": paused });
    let r = upsert(app, "/v2/queues", body).await;
    assert_eq!(r.status, 200, "upsert {name}: {}", r.text);
}

async fn post(app: &App, path: &str) -> Reply {
    app.send(app.req(Method::POST, path)).await
}

async fn enqueue(app: &App, queue: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut rb = app
        .req(Method::POST, &format!("/v2/enqueue/{queue}/{url}"))
        .body(body.to_string());
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    app.send(rb).await
}

async fn enqueue_ok(
    app: &App,
    queue: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let r = enqueue(app, queue, url, headers, body).await;
    assert_eq!(r.status, 200, "enqueue: {}", r.text);
    r.body["messageId"].as_str().expect("messageId").to_string()
}

async fn queue(app: &App, name: &str) -> Value {
    let r = app.get(&format!("/v2/queues/{name}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Waits until the queue's `lag` is `n`.
async fn wait_for_lag(app: &App, name: &str, n: u64) {
    for _ in 0..300 {
        if queue(app, name).await["lag"] == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "lag of {name} never reached {n}: {}",
        queue(app, name).await
    );
}

fn bodies(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn a_queue_is_upserted_and_read_back_with_every_field() {
    let app = spawn_app().await;
    upsert_ok(&app, "q1", 3, true).await;
    let q = queue(&app, "q1").await;
    let mut keys: Vec<&str> = q.as_object().unwrap().keys().map(|k| &**k).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "createdAt",
            "lag",
            "name",
            "parallelism",
            "paused",
            "updatedAt"
        ]
    );
    assert_eq!(q["name"], "q1");
    assert_eq!(q["parallelism"], 3);
    assert_eq!(q["lag"], 0);
    assert_eq!(q["paused"], true);
    let created = q["createdAt"].as_u64().expect("createdAt in ms");
    assert!(created > 1_600_000_000_000);

    let body = json!({ "queueName": "q1", "parallelism": 2, "paused": false });
    let r = upsert(&app, "/v2/queues/", body).await;
    assert_eq!(r.status, 200, "trailing slash: {}", r.text);
    let q = queue(&app, "q1").await;
    assert_eq!(
        (q["parallelism"].clone(), q["paused"].clone()),
        (json!(2), json!(false))
    );
    assert_eq!(q["createdAt"].as_u64(), Some(created));
    assert!(q["updatedAt"].as_u64().unwrap() >= created);
}

#[tokio::test]
async fn queues_are_listed_and_deleted() {
    let app = spawn_app().await;
    assert_eq!(app.get("/v2/queues").await.body, json!([]));
    upsert_ok(&app, "a", 1, false).await;
    upsert_ok(&app, "b", 2, false).await;
    let list = app.get("/v2/queues").await.body;
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);

    assert_eq!(app.delete("/v2/queues/a").await.status, 200);
    let r = app.get("/v2/queues/a").await;
    assert_error(&r, 404);
    assert_eq!(
        app.get("/v2/queues").await.body.as_array().unwrap().len(),
        1
    );
    let r = app.delete("/v2/queues/never-was").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn pause_and_resume_set_the_paused_flag_idempotently() {
    let app = spawn_app().await;
    upsert_ok(&app, "pq", 1, false).await;
    for _ in 0..2 {
        assert_eq!(post(&app, "/v2/queues/pq/pause").await.status, 200);
        assert_eq!(queue(&app, "pq").await["paused"], true);
    }
    for _ in 0..2 {
        assert_eq!(post(&app, "/v2/queues/pq/resume").await.status, 200);
        assert_eq!(queue(&app, "pq").await["paused"], false);
    }
}

#[tokio::test]
async fn enqueueing_to_a_never_created_queue_creates_it_with_parallelism_one() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = enqueue_ok(&app, "fresh", &rx.url("/q"), &[], "hi").await;
    let q = queue(&app, "fresh").await;
    assert_eq!(q["parallelism"], 1);
    assert_eq!(q["paused"], false);
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], b"hi");
    app.wait_for_state(&id, "DELIVERED").await;
    let e = app.get(&format!("/v2/events?messageId={id}")).await;
    assert_eq!(e.body["events"][0]["queueName"], "fresh");
}

#[tokio::test]
async fn parallelism_one_delivers_in_enqueue_order_one_at_a_time() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let delay = Duration::from_millis(150);
    rx.always(Answer::status(200).slow(delay));
    for i in 0..5 {
        enqueue_ok(&app, "fifo", &rx.url("/f"), &[], &i.to_string()).await;
    }
    let got = rx.wait_for(5).await;
    assert_eq!(bodies(&got), ["0", "1", "2", "3", "4"]);
    for w in got.windows(2) {
        assert!(w[1].at >= w[0].at + delay, "two requests in flight at once");
    }
    assert_eq!(max_in_flight(&got, delay), 1);
    wait_for_lag(&app, "fifo", 0).await;
}

#[tokio::test]
async fn parallelism_two_never_has_three_in_flight_and_starts_in_fifo_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let delay = Duration::from_millis(200);
    rx.always(Answer::status(200).slow(delay));
    upsert_ok(&app, "par2", 2, false).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(enqueue_ok(&app, "par2", &rx.url("/p"), &[], &i.to_string()).await);
    }
    let got = rx.wait_for(6).await;
    let mut b = bodies(&got);
    b.sort();
    assert_eq!(b, ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(max_in_flight(&got, delay), 2);
    // The start order is the server's (two started together may reach the receiver in either
    // order): its ACTIVE entries, oldest first.
    assert_eq!(
        app.started("queueName=par2").await,
        ids,
        "started in FIFO order"
    );
    app.wait_idle().await;
    assert_eq!(rx.received().len(), 6);
}

#[tokio::test]
async fn with_parallelism_one_a_failing_message_blocks_the_next_until_it_is_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(2, 500);
    let url = rx.url("/r");
    let h = [("Upstash-Retries", "3"), FAST_RETRY];
    let first = enqueue_ok(&app, "blocked", &url, &h, "first").await;
    let second = enqueue_ok(&app, "blocked", &url, &h, "second").await;
    let got = rx.wait_for(4).await;
    assert_eq!(bodies(&got), ["first", "first", "first", "second"]);
    let retried: Vec<String> = got
        .iter()
        .map(|r| r.header("upstash-retried").unwrap())
        .collect();
    assert_eq!(retried, ["0", "1", "2", "0"]);
    app.wait_for_state(&first, "DELIVERED").await;
    app.wait_for_state(&second, "DELIVERED").await;
}

#[tokio::test]
async fn a_callback_holds_the_queue_slot_until_it_is_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let cb_delay = Duration::from_millis(150);
    rx.script([Answer::status(200), Answer::status(200).slow(cb_delay)]);
    let cb = rx.url("/cb");
    enqueue_ok(
        &app,
        "cbq",
        &rx.url("/m"),
        &[("Upstash-Callback", &cb)],
        "one",
    )
    .await;
    enqueue_ok(&app, "cbq", &rx.url("/m"), &[], "two").await;
    let got = rx.wait_for(3).await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/m", "/cb", "/m"]);
    assert_eq!(&got[2].body[..], b"two");
    assert!(
        got[2].at >= got[1].at + cb_delay,
        "the next message started before the callback finished"
    );
    wait_for_lag(&app, "cbq", 0).await;
}

#[tokio::test]
async fn a_paused_queue_accepts_messages_and_delivers_them_oldest_first_on_resume() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    upsert_ok(&app, "held", 1, false).await;
    assert_eq!(post(&app, "/v2/queues/held/pause").await.status, 200);
    for i in 0..3 {
        enqueue_ok(&app, "held", &rx.url("/h"), &[], &format!("m{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.received().is_empty(), "a paused queue delivered");
    let q = queue(&app, "held").await;
    assert_eq!(
        (q["lag"].clone(), q["paused"].clone()),
        (json!(3), json!(true))
    );

    assert_eq!(post(&app, "/v2/queues/held/resume").await.status, 200);
    let got = rx.wait_for(3).await;
    assert_eq!(bodies(&got), ["m0", "m1", "m2"]);
    wait_for_lag(&app, "held", 0).await;
}

#[tokio::test]
async fn upserting_with_paused_true_holds_messages_until_upserted_unpaused() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    upsert_ok(&app, "up", 1, true).await;
    enqueue_ok(&app, "up", &rx.url("/u"), &[], "a").await;
    enqueue_ok(&app, "up", &rx.url("/u"), &[], "b").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.received().is_empty());
    assert_eq!(queue(&app, "up").await["lag"], 2);
    upsert_ok(&app, "up", 1, false).await;
    assert_eq!(bodies(&rx.wait_for(2).await), ["a", "b"]);
    wait_for_lag(&app, "up", 0).await;
}

#[tokio::test]
async fn deleting_a_queue_cancels_its_waiting_messages() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    upsert_ok(&app, "doomed", 1, true).await;
    let a = enqueue_ok(&app, "doomed", &rx.url("/d"), &[], "a").await;
    let b = enqueue_ok(&app, "doomed", &rx.url("/d"), &[], "b").await;
    assert_eq!(app.delete("/v2/queues/doomed").await.status, 200);
    for id in [&a, &b] {
        app.wait_for_state(id, "CANCELED").await;
        assert_eq!(app.get(&format!("/v2/messages/{id}")).await.status, 404);
    }
    assert_eq!(app.get("/v2/queues/doomed").await.status, 404);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn parallelism_above_the_plan_limit_is_refused() {
    let app = spawn_app().await;
    let r = upsert(
        &app,
        "/v2/queues",
        json!({ "queueName": "wide", "parallelism": 101 }),
    )
    .await;
    assert_error(&r, 412);
    assert_eq!(app.get("/v2/queues/wide").await.status, 404);
    upsert_ok(&app, "wide", 100, false).await;
    let r = upsert(
        &app,
        "/v2/queues",
        json!({ "queueName": "wide", "parallelism": 101 }),
    )
    .await;
    assert_error(&r, 412);
    assert_eq!(queue(&app, "wide").await["parallelism"], 100);
    let r = upsert(
        &app,
        "/v2/queues",
        json!({ "queueName": "zero", "parallelism": 0 }),
    )
    .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn a_101st_queue_is_refused_but_existing_queues_can_still_be_updated() {
    let app = spawn_app().await;
    for i in 0..100 {
        upsert_ok(&app, &format!("q{i}"), 1, false).await;
    }
    let r = upsert(
        &app,
        "/v2/queues",
        json!({ "queueName": "q100", "parallelism": 1 }),
    )
    .await;
    assert_error(&r, 412);
    let r = enqueue(&app, "q101", "http://127.0.0.1:1/x", &[], "x").await;
    assert_error(&r, 412);
    assert_eq!(
        app.get("/v2/queues").await.body.as_array().unwrap().len(),
        100
    );
    upsert_ok(&app, "q0", 5, false).await;
    assert_eq!(queue(&app, "q0").await["parallelism"], 5);
}

#[tokio::test]
async fn invalid_queue_names_are_rejected() {
    let app = spawn_app().await;
    for name in ["a/b", "a b"] {
        let r = upsert(
            &app,
            "/v2/queues",
            json!({ "queueName": name, "parallelism": 1 }),
        )
        .await;
        assert_error(&r, 400);
    }
    assert_error(&app.get("/v2/queues/a%20b").await, 400);
    let r = enqueue(&app, "a%20b", "http://127.0.0.1:1/x", &[], "x").await;
    assert_error(&r, 400);
    assert_eq!(app.get("/v2/queues").await.body, json!([]));
}
