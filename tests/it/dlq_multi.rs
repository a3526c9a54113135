//! The DLQ's `…/multi` routes of the current API reference: `DELETE /v2/dlq/multi` and
//! `POST /v2/dlq/retry/multi` act on the entries named by `dlqIds` (query or JSON body) and
//! nothing else; no id, a filter or an unknown field is a 400 that touches nothing.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

/// Three messages that failed for good, and their DLQ ids.
async fn three_dead(app: &App, rx: &Receiver) -> Vec<String> {
    for _ in 0..3 {
        let id = app
            .publish_ok(&rx.url("/a"), &[("Upstash-Retries", "0")], "x")
            .await;
        app.wait_for_state(&id, "FAILED").await;
    }
    let r = app.get("/v2/dlq").await;
    let entries = r.body["messages"].as_array().expect("messages").clone();
    entries
        .iter()
        .map(|e| e["dlqId"].as_str().expect("dlqId").to_string())
        .collect()
}

async fn json_req(app: &App, method: Method, path: &str, body: Value) -> Reply {
    let rb = app
        .req(method, path)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    app.send(rb).await
}

fn assert_deleted_one(r: &Reply) {
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"deleted": 1})),
        "{}",
        r.text
    );
}

async fn dlq_len(app: &App) -> usize {
    let r = app.get("/v2/dlq").await;
    r.body["messages"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn delete_multi_deletes_the_named_entries_from_a_body_or_the_query() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let ids = three_dead(&app, &rx).await;
    let r = json_req(
        &app,
        Method::DELETE,
        "/v2/dlq/multi",
        json!({"dlqIds": [ids[0], "nope"]}),
    )
    .await;
    assert_deleted_one(&r);
    let r = app
        .delete(&format!("/v2/dlq/multi?dlqIds={}", ids[1]))
        .await;
    assert_deleted_one(&r);
    assert_eq!(dlq_len(&app).await, 1);
}

#[tokio::test]
async fn multi_routes_refuse_anything_but_ids_and_touch_nothing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    three_dead(&app, &rx).await;
    for body in [
        json!({}),
        json!({"dlqIds": []}),
        json!({"url": rx.url("/a")}),
        json!({"all": true}),
    ] {
        for (method, path) in [
            (Method::DELETE, "/v2/dlq/multi"),
            (Method::POST, "/v2/dlq/retry/multi"),
        ] {
            let r = json_req(&app, method.clone(), path, body.clone()).await;
            assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text);
            assert!(
                r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{}",
                r.text
            );
        }
    }
    let r = app.delete("/v2/workflows/dlq/multi").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(dlq_len(&app).await, 3, "nothing was deleted or retried");
}

#[tokio::test]
async fn retry_multi_publishes_the_named_entries_again() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(3, 500);
    let ids = three_dead(&app, &rx).await;
    let r = json_req(
        &app,
        Method::POST,
        "/v2/dlq/retry/multi",
        json!({"dlqIds": [ids[0], ids[2]]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let responses = r.body["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 2);
    for p in responses {
        app.wait_for_state(p["messageId"].as_str().expect("messageId"), "DELIVERED")
            .await;
    }
    assert_eq!(dlq_len(&app).await, 1, "the entry not named stays");
}

#[tokio::test]
async fn the_async_bulks_act_on_every_match_and_answer_their_bulk_action() {
    let app = spawn_app().await;
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    a.fail_times(3, 500);
    b.always(Answer::status(500));
    three_dead(&app, &a).await;
    let other = app
        .publish_ok(&b.url("/b"), &[("Upstash-Retries", "0")], "y")
        .await;
    app.wait_for_state(&other, "FAILED").await;

    let url_a = a.url("/a");
    let r = json_req(
        &app,
        Method::POST,
        "/v2/dlq/retry/bulk",
        json!({ "url": url_a }),
    )
    .await;
    assert_eq!(
        (r.status, r.body["retried"].clone()),
        (202, json!(3)),
        "{}",
        r.text
    );
    let id = r.body["actionId"].as_str().expect("actionId");
    let action = app.get(&format!("/v2/bulkActions/{id}")).await.body;
    assert_eq!(
        (action["kind"].clone(), action["processed"].clone()),
        (json!("retry"), json!(3))
    );
    assert_eq!(action["filter"], json!({ "url": [url_a] }));
    assert_eq!(dlq_len(&app).await, 1, "only the matches were retried");

    let r = app.delete("/v2/dlq/bulk").await;
    assert_eq!(
        (r.status, r.body["deleted"].clone()),
        (202, json!(1)),
        "{}",
        r.text
    );
    assert_eq!(dlq_len(&app).await, 0, "no filter: every entry");
    assert_eq!(
        app.delete("/v2/dlq/bulk?count=5").await.status,
        400,
        "no page"
    );
    assert_eq!(app.delete("/v2/workflows/dlq/bulk").await.status, 202);
}
