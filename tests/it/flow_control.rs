//! Flow control (§2.6, §4.2, §4.7, §4.9, §4.10, §5.11, §7.7): the two headers on publish,
//! enqueue, batch items and schedules, the fields messages and log entries echo, and the 400s
//! for bad values. Limits in action are in `limits`, the flow-control API in `api`.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

mod api;
mod limits;

const KEY: &str = "Upstash-Flow-Control-Key";
const VALUE: &str = "Upstash-Flow-Control-Value";

/// Publishes with a flow-control key and value; returns the message id.
async fn publish_fc(app: &App, url: &str, key: &str, value: &str, body: &str) -> String {
    app.publish_ok(url, &[(KEY, key), (VALUE, value)], body)
        .await
}

async fn post(app: &App, path: &str) -> Reply {
    app.send(app.req(Method::POST, path)).await
}

/// `GET /v2/flowControl/{key}`, asserting 200.
async fn info(app: &App, key: &str) -> Value {
    let r = app.get(&format!("/v2/flowControl/{key}")).await;
    assert_eq!(r.status, 200, "flow control {key}: {}", r.text);
    r.body
}

/// Waits until the key's info satisfies `ok`; returns it.
async fn wait_info(app: &App, key: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let i = info(app, key).await;
        if ok(&i) {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "flow control {key} never got there: {}",
        info(app, key).await
    );
}

/// Message ids in the order their attempts started, as the server logged them (ACTIVE).
async fn started(app: &App, key: &str) -> Vec<String> {
    app.started(&format!("flowControlKey={key}")).await
}

async fn message(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(r.status, 200, "message {id}: {}", r.text);
    r.body
}

/// The newest log entry of a message.
async fn last_log(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/v2/logs?messageId={id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["logs"][0].clone()
}

/// `flowControlKey`, `parallelism`, `rate` and `period` of a message, log entry or schedule.
fn flow_of(v: &Value) -> Value {
    json!([
        v["flowControlKey"],
        v["parallelism"],
        v["rate"],
        v["period"]
    ])
}

#[tokio::test]
async fn a_published_message_and_its_logs_echo_the_flow_control_config() {
    let app = spawn_app().await;
    let url = Receiver::start().await.url("/fc");
    let full = [
        (KEY, "echo"),
        (VALUE, "parallelism=2, rate=10, period=1m"),
        LATER,
    ];
    let id = app.publish_ok(&url, &full, "x").await;
    let want = json!(["echo", 2, 10, 60]);
    assert_eq!(flow_of(&message(&app, &id).await), want);
    assert_eq!(flow_of(&last_log(&app, &id).await), want);

    let id = app
        .publish_ok(&url, &[(KEY, "echo"), (VALUE, "rate=3"), LATER], "x")
        .await;
    let m = message(&app, &id).await;
    assert_eq!(
        flow_of(&m),
        json!(["echo", null, 3, 1]),
        "period defaults to 1"
    );
    assert!(m.get("parallelism").is_none(), "{m}");

    let id = app
        .publish_ok(&url, &[(KEY, "echo"), (VALUE, "parallelism=4"), LATER], "x")
        .await;
    let m = message(&app, &id).await;
    assert_eq!(flow_of(&m), json!(["echo", 4, null, 1]));
    assert!(m.get("rate").is_none(), "{m}");
    assert_eq!(
        flow_of(&last_log(&app, &id).await),
        json!(["echo", 4, null, 1])
    );
}

#[tokio::test]
async fn enqueued_messages_and_batch_items_carry_flow_control() {
    let app = spawn_app().await;
    let url = Receiver::start().await.url("/fc");
    let r = app
        .send(
            app.req(Method::POST, &format!("/v2/enqueue/fcq/{url}"))
                .header(KEY, "q-key")
                .header(VALUE, "parallelism=3,period=30s,rate=6")
                .header(LATER.0, LATER.1)
                .body("x"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = message(&app, r.body["messageId"].as_str().expect("messageId")).await;
    assert_eq!(flow_of(&m), json!(["q-key", 3, 6, 30]));
    assert_eq!(m["queueName"], "fcq");

    let items = json!([
        { "destination": url, "body": "a",
          "headers": { KEY: "b-key", VALUE: "parallelism=1", LATER.0: LATER.1 } },
        { "destination": url, "body": "b",
          "headers": { KEY: "b-key", VALUE: "rate=2, period=5s", LATER.0: LATER.1 } },
    ]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&items))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = (0..2)
        .map(|i| r.body[i]["messageId"].as_str().expect("messageId"))
        .collect();
    assert_eq!(
        flow_of(&message(&app, ids[0]).await),
        json!(["b-key", 1, null, 1])
    );
    assert_eq!(
        flow_of(&message(&app, ids[1]).await),
        json!(["b-key", null, 2, 5])
    );
    assert_eq!(info(&app, "b-key").await["flowControlKey"], "b-key");
}

#[tokio::test]
async fn a_schedule_stores_flow_control_and_its_messages_carry_it() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let r = app
        .send(
            app.req(Method::POST, &format!("/v2/schedules/{}", rx.url("/s")))
                .header("Upstash-Cron", "0 0 1 1 *")
                .header(KEY, "s-key")
                .header(VALUE, "parallelism=3, rate=7, period=2m"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sid = r.body["scheduleId"].as_str().expect("scheduleId");
    let s = app.get(&format!("/v2/schedules/{sid}")).await;
    assert_eq!(flow_of(&s.body), json!(["s-key", 3, 7, 120]), "{}", s.text);

    let t = app.server.engine.authenticate(&app.token).expect("token");
    let fired = app.server.engine.trigger_schedule(t, sid).expect("trigger");
    rx.wait_for(1).await;
    let log = last_log(&app, &fired[0]).await;
    assert_eq!(flow_of(&log), json!(["s-key", 3, 7, 120]), "{log}");
    assert_eq!(info(&app, "s-key").await["parallelismMax"], 3);
}

#[tokio::test]
async fn invalid_flow_control_headers_are_rejected_with_400() {
    let app = spawn_app().await;
    let url = Receiver::start().await.url("/fc");
    let cases: [&[(&str, &str)]; 8] = [
        &[(KEY, "k"), (VALUE, "parallelism=0")],
        &[(KEY, "k"), (VALUE, "rate=x")],
        &[(KEY, "k"), (VALUE, "rate=1, period=8d")],
        &[(KEY, "k"), (VALUE, "foo=1")],
        &[(KEY, "k"), (VALUE, "period=10s")],
        &[(KEY, "k"), (VALUE, "parallelism")],
        &[(KEY, "k")],
        &[(VALUE, "parallelism=1")],
    ];
    for headers in cases {
        let r = app.publish(&url, headers, "x").await;
        assert_error(&r, 400);
    }
    let r = app
        .send(
            app.req(Method::POST, &format!("/v2/enqueue/q/{url}"))
                .header(KEY, "k")
                .header(VALUE, "rate=-1"),
        )
        .await;
    assert_error(&r, 400);
    let r = app
        .send(
            app.req(Method::POST, &format!("/v2/schedules/{url}"))
                .header("Upstash-Cron", "* * * * *")
                .header(VALUE, "rate=1"),
        )
        .await;
    assert_error(&r, 400);
    let r = app.get("/v2/flowControl").await;
    assert_eq!(r.body, json!([]), "no key was created: {}", r.text);
}
