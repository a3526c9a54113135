//! The dead-letter queue (§4.3, §5.8): list, filters, get, delete one or many, retry one or many,
//! and retention.

use std::collections::HashSet;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

/// Publishes to `url` with no retries and waits until the message has failed for good.
async fn dead(app: &App, url: &str, extra: &[(&str, &str)]) -> String {
    let mut headers = vec![("Upstash-Retries", "0")];
    headers.extend_from_slice(extra);
    let id = app.publish_ok(url, &headers, "payload").await;
    app.wait_for_state(&id, "FAILED").await;
    id
}

/// A receiver that answers every request with `status`.
async fn failing(status: u16) -> Receiver {
    let rx = Receiver::start().await;
    rx.always(Answer::status(status));
    rx
}

/// The DLQ entries of a list query.
async fn list(app: &App, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v2/dlq?{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["messages"].as_array().expect("messages").clone()
}

fn field(entries: &[Value], key: &str) -> HashSet<String> {
    entries
        .iter()
        .map(|e| e[key].as_str().unwrap().to_string())
        .collect()
}

fn assert_json_error(r: &Reply, status: u16) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_failed_message_lands_in_the_dlq_with_every_field() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500).header("X-Reason", "why").body("boom"));
    let url = rx.url("/dead");
    let headers = [("Content-Type", "text/plain"), ("Upstash-Label", "l1")];
    let id = dead(&app, &url, &headers).await;
    let r = app.get("/v2/dlq").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("cursor").is_none(), "one page only: {}", r.text);
    let entries = r.body["messages"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["messageId"], json!(id));
    assert_eq!(e["url"], json!(url));
    assert_eq!(e["method"], json!("POST"));
    assert_eq!(e["maxRetries"], json!(0));
    assert!(e["notBefore"].as_u64().is_some() && e["createdAt"].as_u64().is_some());
    assert_eq!(e["body"], json!("payload"));
    assert_eq!(e["header"]["Content-Type"], json!(["text/plain"]));
    assert_eq!(e["label"], json!("l1"));
    assert_eq!(e["labels"], json!(["l1"]));
    assert_eq!(e["responseStatus"], json!(500));
    assert_eq!(e["responseHeader"]["X-Reason"], json!(["why"]));
    assert_eq!(e["responseBody"], json!("boom"));
    let dlq_id = e["dlqId"].as_str().expect("dlqId");
    assert!(!dlq_id.is_empty());
    let one = app.get(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(&one.body, e, "GET one equals the listed entry");
}

#[tokio::test]
async fn the_dlq_list_pages_with_count_and_cursor() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    for _ in 0..5 {
        dead(&app, &rx.url("/p"), &[]).await;
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "count=2".to_string();
    loop {
        let r = app.get(&format!("/v2/dlq?{query}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let entries = r.body["messages"].as_array().unwrap().clone();
        sizes.push(entries.len());
        seen.extend(entries);
        match r.body.get("cursor").and_then(Value::as_str) {
            Some(c) => query = format!("count=2&cursor={c}"),
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(field(&seen, "dlqId").len(), 5);
    assert_eq!(field(&seen, "messageId").len(), 5);
}

#[tokio::test]
async fn the_dlq_list_filters_by_url_response_status_message_id_and_label() {
    let app = spawn_app().await;
    let (r500, r404) = (failing(500).await, failing(404).await);
    let (url_a, url_b) = (r500.url("/a"), r404.url("/b"));
    let m1 = dead(&app, &url_a, &[("Upstash-Label", "x")]).await;
    let m2 = dead(&app, &url_b, &[]).await;
    let m3 = dead(&app, &r500.url("/c"), &[]).await;
    let ids = |v: &[Value]| field(v, "messageId");
    let set = |v: &[&String]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(ids(&list(&app, &format!("url={url_a}")).await), set(&[&m1]));
    let both = list(&app, &format!("url={url_a}&url={url_b}")).await;
    assert_eq!(ids(&both), set(&[&m1, &m2]));
    assert_eq!(ids(&list(&app, "responseStatus=404").await), set(&[&m2]));
    assert_eq!(
        ids(&list(&app, "responseStatus=500").await),
        set(&[&m1, &m3])
    );
    assert_eq!(
        ids(&list(&app, &format!("messageId={m3}")).await),
        set(&[&m3])
    );
    assert_eq!(ids(&list(&app, "label=x").await), set(&[&m1]));
    assert!(list(&app, "label=y").await.is_empty());
}

#[tokio::test]
async fn host_and_path_filters_are_rejected_by_the_dlq() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    dead(&app, &rx.url("/a"), &[]).await;
    for q in ["host=127.0.0.1", "path=/a"] {
        assert_json_error(&app.get(&format!("/v2/dlq?{q}")).await, 400);
        assert_json_error(&app.delete(&format!("/v2/dlq?{q}")).await, 400);
    }
    assert_eq!(list(&app, "").await.len(), 1, "nothing was deleted");
}

#[tokio::test]
async fn deleting_one_entry_answers_200_then_404_the_second_time() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    dead(&app, &rx.url("/a"), &[]).await;
    let dlq_id = list(&app, "").await[0]["dlqId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.delete(&format!("/v2/dlq/{dlq_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_json_error(&app.delete(&format!("/v2/dlq/{dlq_id}")).await, 404);
    assert_json_error(&app.get(&format!("/v2/dlq/{dlq_id}")).await, 404);
    assert!(list(&app, "").await.is_empty());
}

#[tokio::test]
async fn bulk_delete_by_dlq_ids_query_and_by_legacy_json_body() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    for _ in 0..3 {
        dead(&app, &rx.url("/a"), &[]).await;
    }
    let all: Vec<String> = field(&list(&app, "").await, "dlqId").into_iter().collect();
    let r = app
        .delete(&format!("/v2/dlq?dlqIds={}&dlqIds={}", all[0], all[1]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"deleted": 2}));
    assert_eq!(
        field(&list(&app, "").await, "dlqId"),
        HashSet::from([all[2].clone()])
    );
    let rb = app
        .req(Method::DELETE, "/v2/dlq")
        .header("Content-Type", "application/json")
        .body(json!({"dlqIds": [all[2]]}).to_string());
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"deleted": 1}));
    assert!(list(&app, "").await.is_empty());
}

#[tokio::test]
async fn bulk_delete_by_filter_deletes_only_matches() {
    let app = spawn_app().await;
    let (r500, r404) = (failing(500).await, failing(404).await);
    dead(&app, &r500.url("/a"), &[]).await;
    dead(&app, &r500.url("/a"), &[]).await;
    let keep = dead(&app, &r404.url("/b"), &[]).await;
    let r = app.delete(&format!("/v2/dlq?url={}", r500.url("/a"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"deleted": 2}));
    assert_eq!(
        field(&list(&app, "").await, "messageId"),
        HashSet::from([keep])
    );
}

#[tokio::test]
async fn a_typo_in_a_bulk_delete_parameter_is_a_400_and_deletes_nothing() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    dead(&app, &rx.url("/a"), &[]).await;
    assert_json_error(&app.delete("/v2/dlq?urll=http://x").await, 400);
    assert_json_error(&app.delete("/v2/dlq?dlqId=1-0").await, 400);
    assert_eq!(list(&app, "").await.len(), 1);
}

#[tokio::test]
async fn bulk_delete_without_a_match_returns_zero_and_no_cursor() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    dead(&app, &rx.url("/a"), &[]).await;
    let r = app.delete("/v2/dlq?url=http://nowhere.example/x").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"deleted": 0}));
    assert_eq!(list(&app, "").await.len(), 1);
}

#[tokio::test]
async fn retrying_one_entry_delivers_the_message_again_and_removes_the_entry() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(1, 500);
    dead(&app, &rx.url("/again"), &[("Upstash-Forward-X-Kept", "1")]).await;
    let dlq_id = list(&app, "").await[0]["dlqId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .send(app.req(Method::POST, &format!("/v2/dlq/retry/{dlq_id}")))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_id = r.body["messageId"].as_str().expect("messageId").to_string();
    assert!(new_id.starts_with("msg_"));
    app.wait_for_state(&new_id, "DELIVERED").await;
    let got = rx.wait_for(2).await;
    assert_eq!(&got[1].body[..], b"payload");
    assert_eq!(got[1].header("x-kept").as_deref(), Some("1"));
    assert_json_error(&app.get(&format!("/v2/dlq/{dlq_id}")).await, 404);
    assert!(list(&app, "").await.is_empty());
    let again = app
        .send(app.req(Method::POST, &format!("/v2/dlq/retry/{dlq_id}")))
        .await;
    assert_json_error(&again, 404);
}

#[tokio::test]
async fn a_retry_takes_override_headers() {
    let app = spawn_app().await;
    let rx = failing(500).await;
    let headers = [("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "10")];
    let id = app.publish_ok(&rx.url("/x"), &headers, "x").await;
    app.wait_for_state(&id, "FAILED").await;
    let dlq_id = list(&app, "").await[0]["dlqId"]
        .as_str()
        .unwrap()
        .to_string();
    let rb = app
        .req(Method::POST, &format!("/v2/dlq/retry/{dlq_id}"))
        .header("Upstash-Retries", "0");
    let r = app.send(rb).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_id = r.body["messageId"].as_str().unwrap().to_string();
    let states = app.wait_for_state(&new_id, "FAILED").await;
    assert_eq!(states, ["CREATED", "ACTIVE", "ERROR", "FAILED"]);
    let entries = list(&app, &format!("messageId={new_id}")).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["maxRetries"], json!(0));
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn bulk_retry_answers_201_with_responses_and_a_cursor() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(3, 500);
    for _ in 0..3 {
        dead(&app, &rx.url("/bulk"), &[]).await;
    }
    let first = list(&app, "").await[0]["dlqId"]
        .as_str()
        .unwrap()
        .to_string();
    let one = app
        .send(app.req(Method::POST, &format!("/v2/dlq/retry?dlqIds={first}")))
        .await;
    assert_eq!(one.status, 201, "{}", one.text);
    assert_eq!(one.body["responses"].as_array().unwrap().len(), 1);
    assert_eq!(list(&app, "").await.len(), 2);
    let r = app.send(app.req(Method::POST, "/v2/dlq/retry")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let responses = r.body["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 2);
    assert_eq!(r.body["cursor"], json!(""), "finished: {}", r.text);
    let mut new_ids = vec![one.body["responses"][0]["messageId"].clone()];
    new_ids.extend(responses.iter().map(|x| x["messageId"].clone()));
    for id in &new_ids {
        app.wait_for_state(id.as_str().expect("messageId"), "DELIVERED")
            .await;
    }
    assert_eq!(rx.received().len(), 6);
    assert!(list(&app, "").await.is_empty());
    let empty = app.send(app.req(Method::POST, "/v2/dlq/retry")).await;
    assert_eq!(empty.status, 201, "{}", empty.text);
    assert_eq!(empty.body["responses"], json!([]));
}

#[tokio::test]
async fn bulk_retry_with_count_returns_a_cursor_for_the_rest() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(3, 500);
    for _ in 0..3 {
        dead(&app, &rx.url("/c"), &[]).await;
    }
    let r = app
        .send(app.req(Method::POST, "/v2/dlq/retry?count=2"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["responses"].as_array().unwrap().len(), 2);
    let cursor = r.body["cursor"].as_str().expect("cursor").to_string();
    assert!(!cursor.is_empty(), "more remain: {}", r.text);
    let path = format!("/v2/dlq/retry?count=2&cursor={cursor}");
    let r = app.send(app.req(Method::POST, &path)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["responses"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["cursor"], json!(""));
    rx.wait_for(6).await;
}

#[tokio::test]
async fn an_entry_is_kept_for_the_seven_days_of_payg_retention_on_the_server_clock() {
    let app = spawn_frozen_app().await;
    let rx = failing(500).await;
    let dead_at = app.now_ms();
    dead(&app, &rx.url("/old"), &[]).await;
    let entry = list(&app, "").await;
    assert_eq!(entry.len(), 1);
    let dlq_id = entry[0]["dlqId"].as_str().expect("dlqId").to_string();

    app.set_clock(dead_at + 7 * 86_400_000);
    assert_eq!(list(&app, "").await.len(), 1, "kept for seven days");
    assert_eq!(app.get(&format!("/v2/dlq/{dlq_id}")).await.status, 200);
    app.advance_ms(1);
    assert_eq!(list(&app, "").await, Vec::<Value>::new(), "gone after them");
    assert_eq!(app.get(&format!("/v2/dlq/{dlq_id}")).await.status, 404);
}
