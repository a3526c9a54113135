//! List pages bounded by bytes (`api::views::page`): a log, DLQ or workflow log of large bodies is
//! paged a few entries at a time with `count=1000`, the cursors reach every entry exactly once
//! and in order, a page of several entries stays within the budget, and small entries still
//! fill a page up to `count`.

use std::collections::HashSet;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use qstash_dev::api::views::page::PAGE_BYTES;
use qstash_dev::engine::store::filter::Filter;
use serde_json::{json, Value};

use crate::support::*;
use crate::workflow_runs::{endpoint, trigger};

const MIB: usize = 1024 * 1024;

/// A body of `n` bytes, all `c`.
fn body(c: u8, n: usize) -> String {
    String::from_utf8(vec![c; n]).expect("ASCII")
}

/// Every page of `path` (which already has a query), following cursors: each page's entries
/// under `key` and the length of its JSON.
async fn all_pages(app: &App, path: &str, key: &str) -> Vec<(Vec<Value>, usize)> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = if cursor.is_empty() {
            path.to_string()
        } else {
            format!("{path}&cursor={cursor}")
        };
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let entries = r.body[key].as_array().expect("entries").clone();
        assert!(
            !entries.is_empty() || pages.is_empty(),
            "an empty page mid-way"
        );
        pages.push((entries, r.text.len()));
        match r.body["cursor"].as_str().filter(|c| !c.is_empty()) {
            Some(c) => cursor = c.to_string(),
            None => return pages,
        }
        assert!(pages.len() < 100, "paging never ends");
    }
}

/// Pages of several entries stay within the budget; one entry alone may pass it.
fn assert_bounded(pages: &[(Vec<Value>, usize)]) {
    for (entries, len) in pages {
        if entries.len() > 1 {
            assert!(
                *len <= PAGE_BYTES,
                "a page of {} is {len} bytes",
                entries.len()
            );
        }
    }
}

#[tokio::test]
async fn a_log_of_large_bodies_pages_by_bytes_and_cursors_yield_every_entry_once_in_order() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    for c in b"abcd" {
        app.publish_ok(&rx.url("/ok"), &[], &body(*c, MIB)).await;
    }
    rx.wait_for(4).await;
    app.wait_idle().await;
    let pages = all_pages(&app, "/v2/events?count=1000", "events").await;
    assert!(
        pages.len() > 1,
        "12 entries of 1.3 MB of base64 are not one page"
    );
    assert!(pages[0].0.len() < 12 && pages[0].0.len() > 1);
    assert_bounded(&pages);
    // Every entry once, in the order the engine holds them (newest first).
    let got: Vec<(String, String, u64)> = pages
        .iter()
        .flat_map(|(e, _)| e.iter())
        .map(|e| {
            let b = B64
                .decode(e["body"].as_str().expect("body"))
                .expect("base64");
            assert_eq!(b.len(), MIB, "bodies come whole");
            let id = e["messageId"].as_str().expect("id").to_string();
            (
                id,
                e["state"].as_str().expect("state").to_string(),
                e["time"].as_u64().expect("time"),
            )
        })
        .collect();
    let t = app.server.engine.authenticate(&app.token).expect("token");
    let (held, _) = app.server.engine.logs(t, &Filter::default(), None, 1000);
    let want: Vec<(String, String, u64)> = held
        .iter()
        .map(|e| {
            (
                e.message_id.to_string(),
                e.state.as_str().to_string(),
                e.time,
            )
        })
        .collect();
    assert_eq!(want.len(), 12);
    assert_eq!(got, want);
    // `/v2/logs` pages the same way.
    let logs = all_pages(&app, "/v2/logs?count=1000", "logs").await;
    assert_eq!(logs.len(), pages.len());
}

#[tokio::test]
async fn an_entry_larger_than_the_budget_comes_alone_and_paging_goes_on() {
    let app = spawn_app().await;
    let big = PAGE_BYTES + MIB;
    app.publish_ok("http://example.com/a", &[LATER], &body(b'a', big))
        .await;
    app.publish_ok("http://example.com/b", &[LATER], &body(b'b', big))
        .await;
    app.publish_ok("http://example.com/c", &[LATER], "small")
        .await;
    let pages = all_pages(&app, "/v2/events?count=1000", "events").await;
    let urls: Vec<Vec<&str>> = pages
        .iter()
        .map(|(e, _)| e.iter().map(|e| e["url"].as_str().expect("url")).collect())
        .collect();
    // Each big entry comes alone; the small one is not put beside one.
    assert_eq!(
        urls,
        [
            vec!["http://example.com/c"],
            vec!["http://example.com/b"],
            vec!["http://example.com/a"]
        ]
    );
    let a = B64
        .decode(pages[2].0[0]["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(a, body(b'a', big).into_bytes());
}

#[tokio::test]
async fn small_entries_still_fill_a_page_up_to_count() {
    let app = spawn_app().await;
    let items: Vec<Value> = (0..150)
        .map(|i| json!({ "destination": format!("http://example.com/{i}"), "headers": {"Upstash-Delay": "1h"}, "body": body(b'x', 1024) }))
        .collect();
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&items))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get("/v2/events?count=1000").await;
    assert_eq!(r.body["events"].as_array().map(Vec::len), Some(150));
    assert!(
        r.body.get("cursor").is_none(),
        "the last page has no cursor"
    );
    let r = app.get("/v2/events?count=100").await;
    assert_eq!(r.body["events"].as_array().map(Vec::len), Some(100));
    assert!(r.body["cursor"].is_string());
}

/// Messages of 1.5 MB bodies that fail at once and land in the DLQ, oldest first.
async fn dead_letters(app: &App, n: u8) -> Vec<String> {
    let dead = dead_url().await;
    for c in 0..n {
        app.publish_ok(
            &dead,
            &[("Upstash-Retries", "0")],
            &body(b'a' + c, 3 * MIB / 2),
        )
        .await;
    }
    app.wait_idle().await;
    let t = app.server.engine.authenticate(&app.token).expect("token");
    let (held, _) = app.server.engine.dlq_list(t, &Filter::default(), None, 100);
    assert_eq!(held.len(), usize::from(n));
    held.iter().map(|e| e.dlq_id.clone()).collect()
}

fn dlq_ids(pages: &[(Vec<Value>, usize)]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|(e, _)| e.iter())
        .map(|e| e["dlqId"].as_str().expect("dlqId").to_string())
        .collect()
}

#[tokio::test]
async fn the_dlq_pages_large_entries_by_bytes_listed_or_named() {
    let app = spawn_app().await;
    let want = dead_letters(&app, 5).await;
    let pages = all_pages(&app, "/v2/dlq?count=100", "messages").await;
    assert!(pages.len() > 1 && pages[0].0.len() > 1);
    assert_bounded(&pages);
    assert_eq!(dlq_ids(&pages), want);
    // Named entries page the same way, in the order named.
    let mut named = want.clone();
    named.reverse();
    let q: Vec<String> = named.iter().map(|id| format!("dlqIds={id}")).collect();
    let pages = all_pages(&app, &format!("/v2/dlq?{}", q.join("&")), "messages").await;
    assert!(pages.len() > 1);
    assert_eq!(dlq_ids(&pages), named);
}

#[tokio::test]
async fn workflow_logs_page_large_runs_by_bytes() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let url = rx.url("/wf");
    let mut runs = HashSet::new();
    for c in b"abcd" {
        let r = trigger(&app, &url, &[], &format!("\"{}\"", body(*c, 3 * MIB / 2))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        runs.insert(r.body["workflowRunId"].as_str().expect("run").to_string());
    }
    let path = "/v2/workflows/logs?count=10";
    let pages = all_pages(&app, path, "runs").await;
    assert!(
        pages.len() > 1,
        "four runs of 1.5 MB bodies are not one page"
    );
    assert_bounded(&pages);
    let got: Vec<String> = pages
        .iter()
        .flat_map(|(e, _)| e.iter())
        .map(|r| r["workflowRunId"].as_str().expect("run").to_string())
        .collect();
    assert_eq!(got.len(), 4, "each run once: {got:?}");
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), runs);
}

#[tokio::test]
async fn the_schedule_list_of_large_bodies_is_streamed_whole() {
    let app = spawn_app().await;
    let r = app.get("/v2/schedules").await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])));
    for c in [b'a', b'b', b'c'] {
        let rb = app
            .req(Method::POST, "/v2/schedules/http://127.0.0.1:9/s")
            .header("Upstash-Cron", "0 0 1 1 *")
            .header("Upstash-Schedule-Id", format!("large-{}", c as char))
            .body(body(c, 2 * MIB));
        let r = app.send(rb).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = app.get("/v2/schedules").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers.get("content-length").is_none(),
        "streamed, not built whole: {:?}",
        r.headers
    );
    let mut bodies: Vec<(String, String)> = r
        .body
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| {
            let id = s["scheduleId"].as_str().unwrap_or("").to_string();
            (id, s["body"].as_str().unwrap_or("").to_string())
        })
        .collect();
    bodies.sort();
    let want: Vec<(String, String)> = [b'a', b'b', b'c']
        .iter()
        .map(|&c| (format!("large-{}", c as char), body(c, 2 * MIB)))
        .collect();
    assert!(bodies == want, "every schedule with its whole body");
}
