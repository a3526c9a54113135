//! JSON request bodies name the field a wrong-typed value is in (issue 15, item 12): a 400
//! `{"error": "invalid JSON body: <path>: …"}` that changes nothing. Schedule and notify bodies
//! are the message and the event data, passed on as they are, so they have no fields to name.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

/// Sends `body` as JSON and returns the 400's error, asserting it names `path`.
async fn refused_at(app: &App, method: Method, route: &str, body: Value, path: &str) -> String {
    let r = app.send(app.req(method, route).json(&body)).await;
    let e = assert_error(&r, 400);
    assert!(
        e.starts_with("invalid JSON body: ") && e.contains(&format!(" {path}: ")),
        "{route} {body}: expected the path {path:?} in {e:?}"
    );
    e
}

#[tokio::test]
async fn a_wrong_type_in_a_batch_is_a_400_naming_its_path_and_publishes_nothing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let ok = json!({ "destination": rx.url("/ok"), "body": "fine" });
    let delay = json!({ "destination": rx.url("/x"), "headers": { "Upstash-Delay": { "s": 5 } } });
    let e = refused_at(
        &app,
        Method::POST,
        "/v2/batch",
        json!([ok, ok, delay]),
        "[2].headers.Upstash-Delay",
    )
    .await;
    assert!(
        e.contains("expected a string or an array of strings"),
        "{e}"
    );
    let forward =
        json!({ "destination": rx.url("/x"), "headers": { "Upstash-Forward-X": ["a", {}] } });
    let batch = json!([forward, ok]);
    refused_at(
        &app,
        Method::POST,
        "/v2/batch",
        batch,
        "[0].headers.Upstash-Forward-X[1]",
    )
    .await;
    let batch = json!([ok, "not an item"]);
    refused_at(&app, Method::POST, "/v2/batch", batch, "[1]").await;
    let batch = json!([{ "destination": 5 }]);
    refused_at(&app, Method::POST, "/v2/batch", batch, "[0].destination").await;
    let events = app.get("/v2/events").await;
    assert_eq!(events.body["events"], json!([]), "nothing was published");
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn a_queue_upsert_with_a_string_parallelism_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    let body = json!({ "queueName": "q", "parallelism": "5" });
    let e = refused_at(&app, Method::POST, "/v2/queues", body, "parallelism").await;
    assert!(e.contains("invalid type: string \"5\""), "{e}");
    let body = json!({ "queueName": ["q"] });
    refused_at(&app, Method::POST, "/v2/queues", body, "queueName").await;
    assert_eq!(app.get("/v2/queues").await.body, json!([]));
}

#[tokio::test]
async fn url_group_trigger_wait_and_bulk_bodies_name_the_wrong_field() {
    let app = spawn_app().await;
    let endpoints = json!({ "endpoints": [{ "url": "https://example.com/a" }, { "url": 5 }] });
    let route = "/v2/topics/g/endpoints";
    refused_at(&app, Method::POST, route, endpoints, "endpoints[1].url").await;
    assert_eq!(app.get("/v2/topics").await.body, json!([]));
    let headers = json!({ "headers": { "X-Team": { "a": 1 } } });
    refused_at(
        &app,
        Method::PATCH,
        "/v2/topics/g",
        headers,
        "headers.X-Team",
    )
    .await;
    let triggers = json!([{ "destination": "https://example.com/wf" }, { "destination": 5 }]);
    refused_at(
        &app,
        Method::POST,
        "/v2/batch/trigger",
        triggers,
        "[1].destination",
    )
    .await;
    let wait = json!({ "url": "https://example.com/wf", "timeoutUrl": 5 });
    refused_at(&app, Method::POST, "/v2/wait/event", wait, "timeoutUrl").await;
    let dlq = json!({ "dlqIds": ["a", 1] });
    refused_at(&app, Method::DELETE, "/v2/dlq", dlq, "dlqIds[1]").await;
}

#[tokio::test]
async fn a_syntax_error_still_says_where_it_is() {
    let app = spawn_app().await;
    let r = app
        .send(
            app.req(Method::POST, "/v2/queues")
                .body(r#"{"queueName": "q","#),
        )
        .await;
    let e = assert_error(&r, 400);
    assert!(
        e.starts_with("invalid JSON body: ") && e.contains("line 1"),
        "{e}"
    );
}

#[tokio::test]
async fn notify_and_schedule_bodies_are_data_and_never_parsed() {
    let app = spawn_app().await;
    let odd = r#"{"anything": [1, {"goes": null}]"#;
    let r = app
        .send(app.req(Method::POST, "/v2/notify/event").body(odd))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .send(
            app.req(Method::POST, "/v2/schedules/https://example.com/s")
                .header("Upstash-Cron", "0 0 1 1 *")
                .body(odd),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["scheduleId"].as_str().expect("scheduleId");
    let got = app.get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(got.body["body"], odd);
}
