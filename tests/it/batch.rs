//! `POST /v2/batch` (§5.3, SDK shapes of §2.1–2.3): URL, URL-group and queue items in one
//! request, header shapes and cases, nulls, per-item errors, malformed bodies and exact bodies.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

async fn batch(app: &App, items: Value) -> Reply {
    app.send(app.req(Method::POST, "/v2/batch").json(&items))
        .await
}

async fn batch_ok(app: &App, items: Value) -> Vec<Value> {
    let r = batch(app, items).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body.as_array().expect("a JSON array").clone()
}

async fn batch_raw(app: &App, body: &str) -> Reply {
    let rb = app
        .req(Method::POST, "/v2/batch")
        .header("Content-Type", "application/json")
        .body(body.to_string());
    app.send(rb).await
}

fn id(v: &Value) -> String {
    v["messageId"]
        .as_str()
        .unwrap_or_else(|| panic!("a publish result: {v}"))
        .to_string()
}

/// The newest log entry of `id` in `state`.
async fn event(app: &App, id: &str, state: &str) -> Value {
    let r = app
        .get(&format!("/v2/events?messageId={id}&state={state}"))
        .await;
    r.body["events"][0].clone()
}

async fn add_group(app: &App, group: &str, urls: &[String]) {
    let endpoints: Vec<Value> = urls.iter().map(|u| json!({ "url": u })).collect();
    let rb = app
        .req(Method::POST, &format!("/v2/topics/{group}/endpoints"))
        .json(&json!({ "endpoints": endpoints }));
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn find<'a>(got: &'a [Received], path: &str) -> &'a Received {
    got.iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("nothing arrived at {path}"))
}

#[tokio::test]
async fn url_group_and_queue_items_answer_in_request_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    add_group(&app, "bg", &[rx.url("/g1"), rx.url("/g2")]).await;
    let items = json!([
        { "destination": rx.url("/url"), "body": "to url" },
        { "destination": "bg", "body": "to group" },
        { "destination": rx.url("/queued"), "body": "to queue", "queue": "bq" },
    ]);
    let res = batch_ok(&app, items).await;
    assert_eq!(res.len(), 3);
    assert_eq!(res[0]["url"], json!(rx.url("/url")));
    let group = res[1].as_array().expect("a nested array for the group");
    assert_eq!(group.len(), 2);
    assert_eq!(group[0]["url"], json!(rx.url("/g1")));
    assert_eq!(group[1]["url"], json!(rx.url("/g2")));
    assert_eq!(res[2]["url"], json!(rx.url("/queued")));

    let got = rx.wait_for(4).await;
    assert_eq!(&find(&got, "/url").body[..], b"to url");
    assert_eq!(&find(&got, "/g1").body[..], b"to group");
    assert_eq!(
        find(&got, "/g2").header("upstash-topic-name").as_deref(),
        Some("bg")
    );
    let q = find(&got, "/queued");
    assert_eq!(q.header("upstash-message-id"), Some(id(&res[2])));
    for id in [id(&res[0]), id(&group[0]), id(&group[1]), id(&res[2])] {
        app.wait_for_state(&id, "DELIVERED").await;
    }
    assert_eq!(
        event(&app, &id(&res[2]), "DELIVERED").await["queueName"],
        "bq"
    );
    assert_eq!(
        event(&app, &id(&group[1]), "DELIVERED").await["topicName"],
        "bg"
    );
}

#[tokio::test]
async fn item_headers_may_be_strings_or_arrays_in_any_case() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let items = json!([
        {
            "destination": rx.url("/js"),
            "headers": { "upstash-retries": "0", "upstash-forward-x": "lower", "content-type": "text/plain" },
            "body": "js",
        },
        {
            "destination": rx.url("/go"),
            "headers": { "Upstash-Retries": ["2"], "Upstash-Forward-X": ["a", "b"] },
            "body": "go",
        },
        {
            "destination": rx.url("/py"),
            "headers": { "Upstash-Method": "PUT", "UPSTASH-FORWARD-X": "upper" },
            "body": "py",
        },
    ]);
    let res = batch_ok(&app, items).await;
    let got = rx.wait_for(3).await;
    let js = find(&got, "/js");
    assert_eq!(js.header("x").as_deref(), Some("lower"));
    assert_eq!(js.header("content-type").as_deref(), Some("text/plain"));
    let go: Vec<&str> = find(&got, "/go")
        .headers
        .get_all("x")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(go == ["a", "b"] || go == ["a, b"], "{go:?}");
    let py = find(&got, "/py");
    assert_eq!(py.method, "PUT");
    assert_eq!(py.header("x").as_deref(), Some("upper"));

    for (item, retries) in res.iter().zip([0, 2, 3]) {
        let id = id(item);
        app.wait_for_state(&id, "DELIVERED").await;
        assert_eq!(event(&app, &id, "DELIVERED").await["maxRetries"], retries);
    }
}

#[tokio::test]
async fn null_body_and_queue_are_accepted_and_an_empty_queue_means_no_queue() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let items = json!([
        { "destination": rx.url("/py"), "headers": {}, "body": null, "queue": null },
        { "destination": rx.url("/go"), "headers": {}, "body": "go", "queue": "" },
        { "destination": rx.url("/bare") },
    ]);
    let res = batch_ok(&app, items).await;
    assert_eq!(res.len(), 3);
    let got = rx.wait_for(3).await;
    assert!(find(&got, "/py").body.is_empty());
    assert_eq!(&find(&got, "/go").body[..], b"go");
    assert!(find(&got, "/bare").body.is_empty());
    for item in &res {
        let id = id(item);
        app.wait_for_state(&id, "DELIVERED").await;
        assert!(event(&app, &id, "DELIVERED")
            .await
            .get("queueName")
            .is_none());
    }
    assert_eq!(app.get("/v2/queues").await.body, json!([]));
}

#[tokio::test]
async fn a_bad_item_gets_an_error_in_its_slot_and_the_others_are_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let items = json!([
        { "destination": rx.url("/ok"), "body": "first" },
        { "destination": "no-such-group", "body": "x" },
        { "destination": rx.url("/ok"), "headers": { "Upstash-Delay": "soon" }, "body": "x" },
        { "destination": "http://", "body": "x" },
        { "destination": rx.url("/ok"), "body": "last" },
    ]);
    let res = batch_ok(&app, items).await;
    assert_eq!(res.len(), 5);
    assert_eq!(res[1], json!({ "error": "topic no-such-group not found" }));
    for bad in &res[1..4] {
        let keys: Vec<&String> = bad.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["error"], "{bad}");
        assert!(!bad["error"].as_str().unwrap().is_empty());
    }
    let (first, last) = (id(&res[0]), id(&res[4]));
    app.wait_for_state(&first, "DELIVERED").await;
    app.wait_for_state(&last, "DELIVERED").await;
    app.wait_idle().await;
    let got = rx.received();
    let mut bodies: Vec<&[u8]> = got.iter().map(|r| &r.body[..]).collect();
    bodies.sort();
    assert_eq!(bodies, [&b"first"[..], &b"last"[..]]);
}

#[tokio::test]
async fn a_malformed_batch_body_is_a_400_with_a_json_error() {
    let app = spawn_app().await;
    for body in ["{", "{}", "\"x\"", ""] {
        let r = batch_raw(&app, body).await;
        assert_eq!(r.status, 400, "{body:?}: {}", r.text);
        assert!(
            r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body:?}: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn a_single_item_batch_still_returns_an_array() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let res = batch_ok(
        &app,
        json!([{ "destination": rx.url("/one"), "body": "1" }]),
    )
    .await;
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["url"], json!(rx.url("/one")));
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("upstash-message-id"), Some(id(&res[0])));
}

#[tokio::test]
async fn item_bodies_are_delivered_byte_for_byte() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let bodies = [
        "{\"a\": [1, 2.50, null], \"s\": \"q\\\"uote\"}",
        "  leading and trailing spaces\t\r\n",
        "héllo wörld ✓ 🚀 \u{0}",
        "",
    ];
    let items: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| json!({ "destination": rx.url(&format!("/b{i}")), "body": b }))
        .collect();
    batch_ok(&app, Value::Array(items)).await;
    let got = rx.wait_for(bodies.len()).await;
    for (i, b) in bodies.iter().enumerate() {
        assert_eq!(
            &find(&got, &format!("/b{i}")).body[..],
            b.as_bytes(),
            "body {i}"
        );
    }
}

#[tokio::test]
async fn a_queue_item_is_enqueued_into_a_queue_created_on_the_fly() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let items = json!([
        { "destination": rx.url("/now"), "body": "now", "queue": "made" },
        {
            "destination": rx.url("/later"),
            "headers": { "upstash-delay": "1h" },
            "body": "later",
            "queue": "made",
        },
    ]);
    let res = batch_ok(&app, items).await;
    let q = app.get("/v2/queues/made").await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert_eq!(q.body["parallelism"], 1);
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], b"now");
    app.wait_for_state(&id(&res[0]), "DELIVERED").await;
    let m = app.get(&format!("/v2/messages/{}", id(&res[1]))).await;
    assert_eq!(m.body["queueName"], "made", "{}", m.text);
    for _ in 0..100 {
        if app.get("/v2/queues/made").await.body["lag"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.get("/v2/queues/made").await.body["lag"], 1);
    assert_eq!(rx.received().len(), 1);
}
