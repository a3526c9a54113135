//! URL groups (§4.5, §5.6, §7.10): adding and removing endpoints, get, list, delete, default
//! headers, fan-out on publish, per-endpoint failure and dedup, and the payg group limits.

use std::collections::HashMap;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

const FAST_RETRY: (&str, &str) = ("Upstash-Retry-Delay", "10");

async fn add(app: &App, group: &str, endpoints: Value) -> Reply {
    let rb = app
        .req(Method::POST, &format!("/v2/topics/{group}/endpoints"))
        .json(&json!({ "endpoints": endpoints }));
    app.send(rb).await
}

async fn add_ok(app: &App, group: &str, endpoints: Value) {
    let r = add(app, group, endpoints).await;
    assert_eq!(r.status, 200, "add endpoints to {group}: {}", r.text);
}

async fn remove(app: &App, group: &str, endpoints: Value) -> Reply {
    let rb = app
        .req(Method::DELETE, &format!("/v2/topics/{group}/endpoints"))
        .json(&json!({ "endpoints": endpoints }));
    app.send(rb).await
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// The newest log entry of `id` in `state`.
async fn event(app: &App, id: &str, state: &str) -> Value {
    let r = app
        .get(&format!("/v2/events?messageId={id}&state={state}"))
        .await;
    r.body["events"][0].clone()
}

fn ids(r: &Reply) -> Vec<String> {
    r.body
        .as_array()
        .unwrap_or_else(|| panic!("a bare array: {}", r.text))
        .iter()
        .map(|p| p["messageId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn adding_endpoints_creates_the_group_with_exact_endpoint_objects() {
    let app = spawn_app().await;
    let (u1, u2) = ("http://127.0.0.1:1/one", "http://127.0.0.1:1/two");
    add_ok(
        &app,
        "grp",
        json!([{ "name": "first", "url": u1 }, { "url": u2 }]),
    )
    .await;

    let r = app.get("/v2/topics/grp").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut keys: Vec<&str> = r.body.as_object().unwrap().keys().map(|k| &**k).collect();
    keys.sort();
    assert_eq!(keys, ["createdAt", "endpoints", "name", "updatedAt"]);
    assert_eq!(r.body["name"], "grp");
    let created = r.body["createdAt"].as_u64().expect("createdAt in ms");
    assert!(created > 1_600_000_000_000, "ms timestamp: {created}");
    assert!(r.body["updatedAt"].as_u64().unwrap() >= created);
    assert_eq!(
        r.body["endpoints"],
        json!([{ "name": "first", "url": u1 }, { "url": u2 }])
    );

    add_ok(
        &app,
        "grp",
        json!([{ "name": "third", "url": "https://example.com/3" }]),
    )
    .await;
    let r = app.get("/v2/topics/grp").await;
    assert_eq!(r.body["createdAt"].as_u64(), Some(created));
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["endpoints"][2]["name"], "third");
}

#[tokio::test]
async fn url_groups_are_listed() {
    let app = spawn_app().await;
    assert_eq!(app.get("/v2/topics").await.body, json!([]));
    add_ok(&app, "alpha", json!([{ "url": "http://127.0.0.1:1/a" }])).await;
    add_ok(&app, "beta", json!([{ "url": "http://127.0.0.1:1/b" }])).await;
    let r = app.get("/v2/topics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r.body), ["alpha", "beta"]);
    let beta = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "beta");
    assert_eq!(
        beta.unwrap()["endpoints"],
        json!([{ "url": "http://127.0.0.1:1/b" }])
    );
}

#[tokio::test]
async fn endpoints_are_removed_by_name_and_by_url() {
    let app = spawn_app().await;
    let eps = json!([
        { "name": "a", "url": "http://127.0.0.1:1/a" },
        { "name": "b", "url": "http://127.0.0.1:1/b" },
        { "url": "http://127.0.0.1:1/c" },
    ]);
    add_ok(&app, "grp", eps).await;
    let r = remove(&app, "grp", json!([{ "name": "a" }])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = remove(&app, "grp", json!([{ "url": "http://127.0.0.1:1/c" }])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v2/topics/grp").await;
    assert_eq!(
        r.body["endpoints"],
        json!([{ "name": "b", "url": "http://127.0.0.1:1/b" }])
    );
}

#[tokio::test]
async fn removing_the_last_endpoint_removes_the_group() {
    let app = spawn_app().await;
    add_ok(
        &app,
        "lonely",
        json!([{ "name": "x", "url": "http://127.0.0.1:1/x" }]),
    )
    .await;
    let r = remove(&app, "lonely", json!([{ "url": "http://127.0.0.1:1/x" }])).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v2/topics/lonely").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body, json!({ "error": "topic lonely not found" }));
    assert_eq!(app.get("/v2/topics").await.body, json!([]));
}

#[tokio::test]
async fn deleting_a_group_removes_it_and_deleting_an_unknown_group_succeeds() {
    let app = spawn_app().await;
    add_ok(&app, "gone", json!([{ "url": "http://127.0.0.1:1/x" }])).await;
    let r = app.delete("/v2/topics/gone").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get("/v2/topics/gone").await.status, 404);
    let r = app.delete("/v2/topics/never-was").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn invalid_group_names_are_rejected() {
    let app = spawn_app().await;
    for name in ["a%2Fb", "a%20b"] {
        let r = add(&app, name, json!([{ "url": "http://127.0.0.1:1/x" }])).await;
        assert_error(&r, 400);
    }
    assert_eq!(app.get("/v2/topics").await.body, json!([]));
}

#[tokio::test]
async fn group_default_headers_apply_to_a_publish_and_the_request_header_wins() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    add_ok(&app, "dflt", json!([{ "url": rx.url("/hook") }])).await;
    let headers = json!({ "headers": {
        "Upstash-Retries": "0",
        "Upstash-Forward-X-Default": ["d"],
    }});
    let rb = app.req(Method::PATCH, "/v2/topics/dflt").json(&headers);
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let plain = app.publish("dflt", &[], "plain").await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    let plain = ids(&plain)[0].clone();
    let own = [
        ("Upstash-Retries", "2"),
        ("Upstash-Forward-X-Default", "mine"),
    ];
    let own = app.publish("dflt", &own, "own").await;
    let own = ids(&own)[0].clone();

    let got = rx.wait_for(2).await;
    let by_body = |b: &str| got.iter().find(|r| &r.body[..] == b.as_bytes()).unwrap();
    let x = |r: &Received| -> Vec<String> {
        let all = r.headers.get_all("x-default").iter();
        all.map(|v| v.to_str().unwrap().to_string()).collect()
    };
    assert_eq!(x(by_body("plain")), ["d"]);
    assert_eq!(x(by_body("own")), ["mine"]);
    assert_eq!(app.wait_for_state(&plain, "DELIVERED").await.len(), 3);
    app.wait_for_state(&own, "DELIVERED").await;
    assert_eq!(event(&app, &plain, "DELIVERED").await["maxRetries"], 0);
    assert_eq!(event(&app, &own, "DELIVERED").await["maxRetries"], 2);
}

#[tokio::test]
async fn publishing_to_a_group_fans_out_one_message_per_endpoint_in_endpoint_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let urls = [rx.url("/c"), rx.url("/a"), rx.url("/b")];
    let eps = json!([
        { "name": "ec", "url": urls[0] },
        { "name": "ea", "url": urls[1] },
        { "url": urls[2] },
    ]);
    add_ok(&app, "fan", eps).await;
    let r = app.publish("fan", &[], "to all").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body.as_array().expect("a bare JSON array");
    assert_eq!(items.len(), 3);
    for (item, url) in items.iter().zip(&urls) {
        let mut keys: Vec<&str> = item.as_object().unwrap().keys().map(|k| &**k).collect();
        keys.sort();
        assert_eq!(keys, ["messageId", "url"], "{item}");
        assert_eq!(item["url"], json!(url));
    }
    let ids = ids(&r);
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );

    let got = rx.wait_for(3).await;
    let by_path: HashMap<&str, &Received> = got.iter().map(|r| (r.path.as_str(), r)).collect();
    for (path, id) in ["/c", "/a", "/b"].iter().zip(&ids) {
        let req = by_path[path];
        assert_eq!(&req.body[..], b"to all");
        assert_eq!(req.header("upstash-topic-name").as_deref(), Some("fan"));
        assert_eq!(
            req.header("upstash-message-id").as_deref(),
            Some(id.as_str())
        );
    }
    for (id, endpoint) in ids.iter().zip([json!("ec"), json!("ea"), Value::Null]) {
        app.wait_for_state(id, "DELIVERED").await;
        let e = event(&app, id, "DELIVERED").await;
        assert_eq!(e["topicName"], "fan");
        assert_eq!(e["endpointName"], endpoint, "{e}");
    }
}

#[tokio::test]
async fn pending_group_messages_show_their_topic_and_endpoint_names() {
    let app = spawn_app().await;
    let eps = json!([
        { "name": "one", "url": "http://127.0.0.1:1/1" },
        { "name": "two", "url": "http://127.0.0.1:1/2" },
    ]);
    add_ok(&app, "later", eps).await;
    let r = app.publish("later", &[("Upstash-Delay", "1h")], "x").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (id, name) in ids(&r).iter().zip(["one", "two"]) {
        let m = app.get(&format!("/v2/messages/{id}")).await;
        assert_eq!(m.status, 200, "{}", m.text);
        assert_eq!(m.body["topicName"], "later");
        assert_eq!(m.body["endpointName"], name);
        let e = event(&app, id, "CREATED").await;
        assert_eq!(e["topicName"], "later");
        assert_eq!(e["endpointName"], name);
    }
}

#[tokio::test]
async fn one_failing_endpoint_goes_to_the_dlq_alone_while_the_others_are_delivered() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let dead = dead_url().await;
    let eps = json!([{ "url": rx.url("/ok1") }, { "url": dead }, { "url": rx.url("/ok2") }]);
    add_ok(&app, "mixed", eps).await;
    let r = app
        .publish("mixed", &[("Upstash-Retries", "1"), FAST_RETRY], "m")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids = ids(&r);
    let failed = app.wait_for_state(&ids[1], "FAILED").await;
    assert_eq!(
        failed.iter().filter(|s| *s == "ERROR").count(),
        2,
        "{failed:?}"
    );
    for id in [&ids[0], &ids[2]] {
        let states = app.wait_for_state(id, "DELIVERED").await;
        assert!(
            !states.iter().any(|s| s == "FAILED" || s == "ERROR"),
            "{states:?}"
        );
    }
    let dlq = app.get("/v2/dlq").await;
    let entries = dlq.body["messages"].as_array().expect("messages");
    assert_eq!(entries.len(), 1, "{}", dlq.text);
    assert_eq!(entries[0]["messageId"], json!(ids[1]));
    assert_eq!(entries[0]["topicName"], "mixed");
    assert_eq!(entries[0]["url"], json!(dead));
}

#[tokio::test]
async fn publishing_to_an_unknown_group_is_a_404_naming_the_topic() {
    let app = spawn_app().await;
    let r = app.publish("non_existing_url_group", &[], "x").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "error": "topic non_existing_url_group not found" })
    );
}

#[tokio::test]
async fn a_deduplication_id_on_a_group_publish_dedups_per_endpoint() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    add_ok(
        &app,
        "dd",
        json!([{ "url": rx.url("/1") }, { "url": rx.url("/2") }]),
    )
    .await;
    let h = [("Upstash-Deduplication-Id", "once")];
    let first = app.publish("dd", &h, "x").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        first.body[0].get("deduplicated").is_none(),
        "{}",
        first.text
    );
    let second = app.publish("dd", &h, "x").await;
    assert_eq!(second.status, 202, "{}", second.text);
    assert_eq!(ids(&second), ids(&first));
    for item in second.body.as_array().unwrap() {
        assert_eq!(item["deduplicated"], true, "{item}");
    }
    app.wait_idle().await;
    assert_eq!(rx.received().len(), 2);
}

#[tokio::test]
async fn a_101st_url_group_is_refused_on_payg() {
    let app = spawn_app().await;
    for i in 0..100 {
        add_ok(
            &app,
            &format!("g{i}"),
            json!([{ "url": "http://127.0.0.1:1/x" }]),
        )
        .await;
    }
    let r = add(&app, "g100", json!([{ "url": "http://127.0.0.1:1/x" }])).await;
    assert_error(&r, 412);
    assert_eq!(app.get("/v2/topics/g100").await.status, 404);
    // An existing group can still grow at the limit.
    add_ok(&app, "g0", json!([{ "url": "http://127.0.0.1:1/y" }])).await;
    assert_eq!(
        app.get("/v2/topics").await.body.as_array().unwrap().len(),
        100
    );
}

#[tokio::test]
async fn more_than_100_endpoints_in_one_group_are_refused_on_payg() {
    let app = spawn_app().await;
    let eps = |range: std::ops::Range<usize>| -> Value {
        range
            .map(|i| json!({ "url": format!("http://127.0.0.1:1/e{i}") }))
            .collect()
    };
    add_ok(&app, "big", eps(0..100)).await;
    assert_error(&add(&app, "big", eps(100..101)).await, 412);
    let r = app.get("/v2/topics/big").await;
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 100);
    // Re-adding a URL already in the group does not count twice.
    add_ok(&app, "big", eps(0..1)).await;
    assert_error(&add(&app, "huge", eps(0..101)).await, 412);
    assert_eq!(app.get("/v2/topics/huge").await.status, 404);
}
