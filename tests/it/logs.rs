//! `GET /v2/events` and `GET /v2/logs` (§4.7, §5.9, §7.1, §2.8): states, filters, order and
//! cursor pagination.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::support::*;

const PENDING: (&str, &str) = ("Upstash-Delay", "60s");

/// The entries of one page of `/v2/events` (`key` = "events") or `/v2/logs` ("logs").
async fn page(app: &App, route: &str, query: &str) -> (Vec<Value>, Reply) {
    let r = app.get(&format!("/v2/{route}?{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.body[route]
        .as_array()
        .unwrap_or_else(|| panic!("no {route} array in {}", r.text))
        .clone();
    (entries, r)
}

fn states(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .rev()
        .map(|e| e["state"].as_str().unwrap())
        .collect()
}

fn ids(entries: &[Value]) -> HashSet<String> {
    entries
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_delivered_message_logs_created_active_delivered_under_events_and_logs() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let url = rx.url("/ok");
    let id = app.publish_ok(&url, &[], "hi").await;
    app.wait_for_state(&id, "DELIVERED").await;
    for route in ["events", "logs"] {
        let (entries, _) = page(&app, route, &format!("messageId={id}")).await;
        assert_eq!(
            states(&entries),
            ["CREATED", "ACTIVE", "DELIVERED"],
            "{route}"
        );
        for e in &entries {
            assert!(e["time"].as_u64().is_some(), "time is a number: {e}");
            assert_eq!(e["messageId"], json!(id));
            assert_eq!(e["url"], json!(url));
        }
    }
}

#[tokio::test]
async fn a_failing_message_logs_each_retry_and_exactly_one_failed() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500).body("nope"));
    let headers = [("Upstash-Retries", "2"), ("Upstash-Retry-Delay", "10")];
    let id = app.publish_ok(&rx.url("/fail"), &headers, "x").await;
    app.wait_for_state(&id, "FAILED").await;
    let (entries, _) = page(&app, "events", &format!("messageId={id}")).await;
    #[rustfmt::skip]
    let expected = [
        "CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR",
        "FAILED",
    ];
    assert_eq!(states(&entries), expected);
    assert_eq!(rx.received().len(), 3);
    for e in &entries {
        assert_eq!(e["retryDelayExpr"], json!("10"), "{e}");
        assert_eq!(e["retryDelayExpression"], json!("10"), "{e}");
        assert_eq!(e["maxRetries"], json!(2));
        match e["state"].as_str().unwrap() {
            "ERROR" => {
                assert_eq!(e["responseStatus"], json!(500), "{e}");
                assert_eq!(e["responseBody"], json!("bm9wZQ=="), "base64 of nope: {e}");
            }
            "RETRY" => assert!(e["nextDeliveryTime"].as_u64().is_some(), "{e}"),
            _ => {}
        }
    }
    let (failed, _) = page(&app, "logs", &format!("messageId={id}&state=FAILED")).await;
    assert_eq!(failed.len(), 1);
    let (delivered, _) = page(&app, "logs", &format!("messageId={id}&state=DELIVERED")).await;
    assert!(delivered.is_empty());
}

#[tokio::test]
async fn the_in_progress_filter_selects_active_retry_and_error_entries() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_times(1, 503);
    let headers = [("Upstash-Retries", "1"), ("Upstash-Retry-Delay", "10")];
    let id = app.publish_ok(&rx.url("/x"), &headers, "x").await;
    app.wait_for_state(&id, "DELIVERED").await;
    let (entries, _) = page(&app, "logs", &format!("messageId={id}&state=IN_PROGRESS")).await;
    assert_eq!(states(&entries), ["ACTIVE", "ERROR", "RETRY", "ACTIVE"]);
    let (one, _) = page(&app, "events", &format!("messageId={id}&state=DELIVERED")).await;
    assert_eq!(states(&one), ["DELIVERED"]);
}

#[tokio::test]
async fn filters_by_message_id_url_with_two_values_and_label() {
    let app = spawn_app().await;
    let a = app
        .publish_ok("https://example.com/a", &[PENDING], "x")
        .await;
    let b = app
        .publish_ok("https://example.com/b", &[PENDING], "x")
        .await;
    let c = app
        .publish_ok(
            "https://example.com/c",
            &[PENDING, ("Upstash-Label", "l1,l2")],
            "x",
        )
        .await;
    let (e, _) = page(&app, "logs", &format!("messageId={b}")).await;
    assert_eq!(ids(&e), HashSet::from([b.clone()]));
    let q = "url=https://example.com/a&url=https://example.com/b";
    let (e, _) = page(&app, "events", q).await;
    assert_eq!(ids(&e), HashSet::from([a.clone(), b.clone()]));
    let (e, _) = page(&app, "logs", "label=l2").await;
    assert_eq!(ids(&e), HashSet::from([c.clone()]));
    assert_eq!(e[0]["label"], json!("l1"));
    assert_eq!(e[0]["labels"], json!(["l1", "l2"]));
    let (e, _) = page(&app, "logs", "label=nothing").await;
    assert!(e.is_empty());
}

#[tokio::test]
async fn from_date_and_to_date_are_inclusive_bounds() {
    let app = spawn_frozen_app().await;
    let a = app
        .publish_ok("https://example.com/a", &[PENDING], "x")
        .await;
    let tb = app.advance_ms(1);
    let b = app
        .publish_ok("https://example.com/b", &[PENDING], "x")
        .await;
    app.advance_ms(1);
    let c = app
        .publish_ok("https://example.com/c", &[PENDING], "x")
        .await;
    let (e, _) = page(&app, "logs", &format!("messageId={b}")).await;
    assert_eq!(e[0]["time"], json!(tb));
    let (e, _) = page(&app, "logs", &format!("fromDate={tb}&toDate={tb}")).await;
    assert_eq!(ids(&e), HashSet::from([b.clone()]));
    let (e, _) = page(&app, "logs", &format!("fromDate={tb}")).await;
    assert_eq!(ids(&e), HashSet::from([b.clone(), c.clone()]));
    let (e, _) = page(&app, "logs", &format!("toDate={tb}")).await;
    assert_eq!(ids(&e), HashSet::from([a, b]));
}

#[tokio::test]
async fn entries_come_newest_first() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let t0 = app.now_ms();
    for _ in 0..3 {
        let id = app.publish_ok(&rx.url("/ok"), &[], "x").await;
        app.wait_for_state(&id, "DELIVERED").await;
        app.advance_ms(2);
    }
    let (e, _) = page(&app, "events", "").await;
    assert_eq!(e.len(), 9);
    let times: Vec<u64> = e.iter().map(|x| x["time"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = [4, 4, 4, 2, 2, 2, 0, 0, 0].map(|d| t0 + d).to_vec();
    assert_eq!(times, expected);
    assert_eq!(e[0]["state"], json!("DELIVERED"));
    assert_eq!(e[8]["state"], json!("CREATED"));
}

#[tokio::test]
async fn cursor_pagination_visits_every_entry_once_and_the_last_page_has_no_cursor() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.publish_ok("https://example.com/p", &[PENDING], "x")
            .await;
    }
    let (all, _) = page(&app, "logs", "").await;
    assert_eq!(all.len(), 5);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let q = match &cursor {
            Some(c) => format!("count=2&cursor={c}"),
            None => "count=2".to_string(),
        };
        let (entries, r) = page(&app, "logs", &q).await;
        sizes.push(entries.len());
        seen.extend(entries);
        match r.body.get("cursor") {
            Some(c) => cursor = Some(c.as_str().expect("cursor is a string").to_string()),
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, all, "pages in order give the full list");
    assert_eq!(ids(&seen).len(), 5);
}

#[tokio::test]
async fn a_bare_millisecond_timestamp_works_as_a_cursor() {
    let app = spawn_frozen_app().await;
    let old = app
        .publish_ok("https://example.com/old", &[PENDING], "x")
        .await;
    let mid = app.advance_ms(1);
    app.advance_ms(1);
    let new = app
        .publish_ok("https://example.com/new", &[PENDING], "x")
        .await;
    let (e, r) = page(&app, "events", &format!("cursor={mid}")).await;
    assert_eq!(ids(&e), HashSet::from([old.clone()]));
    assert!(r.body.get("cursor").is_none());
    let (e, _) = page(&app, "events", &format!("cursor={}", app.now_ms() + 60_000)).await;
    assert_eq!(ids(&e), HashSet::from([old, new]));
}

#[tokio::test]
async fn a_hundred_failing_messages_give_four_hundred_rows_in_one_page() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(404));
    for _ in 0..100 {
        app.publish_ok(&rx.url("/gone"), &[("Upstash-Retries", "0")], "x")
            .await;
    }
    app.wait_idle().await;
    let (failed, _) = page(&app, "logs", "state=FAILED&count=1000").await;
    assert_eq!(failed.len(), 100);
    let (all, r) = page(&app, "logs", "count=1000").await;
    assert_eq!(all.len(), 400);
    assert!(r.body.get("cursor").is_none());
    let per_state = |s: &str| all.iter().filter(|e| e["state"] == json!(s)).count();
    for s in ["CREATED", "ACTIVE", "ERROR", "FAILED"] {
        assert_eq!(per_state(s), 100, "{s}");
    }
    let (default_page, r) = page(&app, "events", "").await;
    assert_eq!(default_page.len(), 100, "the default page holds 100");
    assert!(r.body["cursor"].is_string());
}
