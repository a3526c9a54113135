//! Throughput limits of the quota preset (§1.7, §8, quotas.md): the burst limit on management
//! endpoints with `Burst-RateLimit-*` headers and 429s (publish exempt), the daily message
//! quota with `RateLimit-*` headers (batch items count one each), and the flag that turns both
//! off; the windows on a frozen clock, moved to their edges. DLQ retention is in `dlq`; the DLQ
//! count bound and the log bound are unit-tested in `engine::store::dlq` and `engine::store::logs`.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{HeaderMap, Method};
use qstash_dev::clock::Clock;
use qstash_dev::config::Config;
use qstash_dev::server::spawn_with_clock;
use serde_json::{json, Value};

use crate::support::*;

/// A payg server with throughput limits as given (spawn_app turns them off), on a clock frozen
/// at the current time.
async fn spawn_limited(throughput_limits: bool, messages_per_day: Option<u64>) -> App {
    init_logs();
    let config = Config {
        port: 0,
        throughput_limits,
        messages_per_day,
        ..Config::default()
    };
    let clock = Clock::frozen_at(qstash_dev::clock::wall_ms());
    App {
        server: spawn_with_clock(config, clock)
            .await
            .expect("server binds port 0"),
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

/// A numeric header, if present.
fn num(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.parse().ok()
}

fn assert_429(r: &Reply) {
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
}

/// `n` concurrent `GET /v2/queues`.
async fn burst_of(app: &App, n: usize) -> Vec<Reply> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(app.req(Method::GET, "/v2/queues").send());
    }
    let mut replies = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let resp = r.expect("task").expect("request reaches the server");
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        replies.push(Reply {
            status,
            headers,
            body,
            text,
        });
    }
    replies
}

#[tokio::test]
async fn the_burst_limit_allows_one_hundred_requests_per_second_then_answers_429() {
    let app = spawn_limited(true, None).await;
    // The burst window is aligned to the second; the clock stands in its last millisecond.
    let second = app.now_ms() / 1000 + 1;
    app.set_clock(second * 1000 + 999);
    let ok = burst_of(&app, 100).await;
    let over = app.get("/v2/queues").await;
    for r in &ok {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(num(&r.headers, "Burst-RateLimit-Limit"), Some(100));
        assert_eq!(num(&r.headers, "Burst-RateLimit-Reset"), Some(second + 1));
    }
    let remaining: BTreeSet<u64> = ok
        .iter()
        .filter_map(|r| num(&r.headers, "Burst-RateLimit-Remaining"))
        .collect();
    assert_eq!(remaining, (0..100).collect(), "each request takes one");
    let reset = num(&over.headers, "Burst-RateLimit-Reset").expect("reset");
    assert_eq!(reset, second + 1, "Unix seconds, the end of this second");

    assert_429(&over);
    assert_eq!(num(&over.headers, "Burst-RateLimit-Limit"), Some(100));
    assert_eq!(num(&over.headers, "Burst-RateLimit-Remaining"), Some(0));
    assert!(over.headers.get("RateLimit-Limit").is_none());

    let rx = Receiver::start().await;
    let r = app.publish(&rx.url("/p"), &[], "x").await;
    assert_eq!(r.status, 200, "publish is exempt: {}", r.text);
    assert!(r.headers.get("Burst-RateLimit-Limit").is_none());

    app.advance_ms(1);
    let r = app.get("/v2/queues").await;
    assert_eq!(r.status, 200, "a new second: {}", r.text);
    assert_eq!(num(&r.headers, "Burst-RateLimit-Remaining"), Some(99));
    assert_eq!(num(&r.headers, "Burst-RateLimit-Reset"), Some(second + 2));
}

#[tokio::test]
async fn without_throughput_limits_nothing_is_limited_and_no_rate_headers_are_sent() {
    let app = spawn_limited(false, Some(3)).await;
    for r in burst_of(&app, 150).await {
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.headers.get("Burst-RateLimit-Limit").is_none());
    }
    let rx = Receiver::start().await;
    for _ in 0..5 {
        let r = app.publish(&rx.url("/p"), &[], "x").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.headers.get("RateLimit-Limit").is_none());
    }
}

#[tokio::test]
async fn the_daily_quota_counts_publishes_and_answers_429_when_used_up() {
    let app = spawn_limited(true, Some(3)).await;
    let rx = Receiver::start().await;
    let now = app.now_ms() / 1000;
    for left in [2, 1, 0] {
        let r = app.publish(&rx.url("/d"), &[], "x").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(num(&r.headers, "RateLimit-Limit"), Some(3));
        assert_eq!(num(&r.headers, "RateLimit-Remaining"), Some(left));
        let reset = num(&r.headers, "RateLimit-Reset").expect("RateLimit-Reset");
        assert!(
            reset > now && reset <= now + 86_400,
            "within a day: {reset}"
        );
        assert!(r.headers.get("Burst-RateLimit-Limit").is_none());
    }
    let r = app.publish(&rx.url("/d"), &[], "x").await;
    assert_429(&r);
    assert_eq!(num(&r.headers, "RateLimit-Limit"), Some(3));
    assert_eq!(num(&r.headers, "RateLimit-Remaining"), Some(0));
    assert!(num(&r.headers, "RateLimit-Reset").is_some());

    let r = app
        .send(app.req(Method::POST, &format!("/v2/enqueue/q/{}", rx.url("/d"))))
        .await;
    assert_429(&r);
    rx.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        rx.received().len(),
        3,
        "nothing over the quota is delivered"
    );

    // The quota window is the UTC day: a millisecond before its end nothing is left, at its
    // end the full quota is back.
    let reset = num(&r.headers, "RateLimit-Reset").expect("RateLimit-Reset");
    app.set_clock(reset * 1000 - 1);
    assert_429(&app.publish(&rx.url("/d"), &[], "x").await);
    app.advance_ms(1);
    let r = app.publish(&rx.url("/d"), &[], "x").await;
    assert_eq!(r.status, 200, "a new day: {}", r.text);
    assert_eq!(num(&r.headers, "RateLimit-Remaining"), Some(2));
}

#[tokio::test]
async fn a_batch_counts_each_item_against_the_daily_quota() {
    let app = spawn_limited(true, Some(3)).await;
    let rx = Receiver::start().await;
    let two = json!([
        { "destination": rx.url("/b"), "body": "1" },
        { "destination": rx.url("/b"), "body": "2" },
    ]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&two))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(num(&r.headers, "RateLimit-Limit"), Some(3));
    assert_eq!(
        num(&r.headers, "RateLimit-Remaining"),
        Some(1),
        "two items count two"
    );

    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&two))
        .await;
    assert_429(&r);
    assert_eq!(num(&r.headers, "RateLimit-Limit"), Some(3));

    let r = app.publish(&rx.url("/b"), &[], "3").await;
    assert_eq!(r.status, 200, "the last message still fits: {}", r.text);
    assert_eq!(num(&r.headers, "RateLimit-Remaining"), Some(0));
    rx.wait_for(3).await;
}

#[tokio::test]
async fn without_a_finite_daily_quota_publishes_carry_no_rate_limit_headers() {
    let app = spawn_limited(true, None).await;
    let rx = Receiver::start().await;
    let r = app.publish(&rx.url("/u"), &[], "x").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for h in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
        assert!(r.headers.get(h).is_none(), "{h} without a daily quota");
    }
    let r = app.get("/v2/queues").await;
    assert_eq!(
        num(&r.headers, "Burst-RateLimit-Limit"),
        Some(100),
        "burst still on"
    );
}
