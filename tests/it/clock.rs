//! Time under the developer's control (`/dev/clock`): reading and moving the clock, and
//! everything that waits (delays, the retry ladder, cron, flow-control periods) following a
//! move in due order, each at its own time; `POST /dev/messages/{id}/deliver`.

use std::time::Duration;

use axum::http::Method;
use qstash_dev::clock::Clock;
use qstash_dev::config::Config;
use serde_json::Value;

use crate::schedules::{create_ok, schedule_logs};
use crate::support::*;

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// 2026-12-04T10:00:00Z.
const T0: u64 = 1_796_378_400_000;

async fn frozen_at(ms: u64) -> App {
    spawn_app_from(Config::default(), Clock::frozen_at(ms)).await
}

async fn post(app: &App, path: &str) -> Reply {
    app.send(app.req(Method::POST, path)).await
}

#[tokio::test]
async fn the_clock_is_read_frozen_resumed_and_moved_forward_only() {
    let app = frozen_at(T0).await;
    let r = app.get("/dev/clock").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["now"].as_u64(), &r.body["frozen"]),
        (Some(T0), &Value::Bool(true))
    );
    assert!(r.body["offsetMs"].is_i64());

    let r = app.advance("90s").await;
    assert_eq!(r.body["now"].as_u64(), Some(T0 + 90_000));
    assert_eq!(r.body["from"].as_u64(), Some(T0));
    let r = post(&app, "/dev/clock/set?to=2026-12-04T11:00:00Z").await;
    assert_eq!(
        (r.status, r.body["now"].as_u64()),
        (200, Some(T0 + HOUR)),
        "{}",
        r.text
    );
    let r = post(&app, &format!("/dev/clock/set?to={}", T0 + 2 * HOUR)).await;
    assert_eq!(r.body["now"].as_u64(), Some(T0 + 2 * HOUR), "{}", r.text);

    let back = post(&app, &format!("/dev/clock/set?to={T0}")).await;
    assert!(assert_error(&back, 400).contains("only moves forward"));
    assert_error(&post(&app, "/dev/clock/advance?by=soon").await, 400);
    assert_error(&post(&app, "/dev/clock/advance").await, 400);
    assert_error(&post(&app, "/dev/clock/set?to=yesterday").await, 400);
    assert_eq!(app.now_ms(), T0 + 2 * HOUR, "refusals move nothing");

    let r = post(&app, "/dev/clock/resume").await;
    assert_eq!(r.body["frozen"], false, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        app.now_ms() > T0 + 2 * HOUR,
        "runs again from where it stood"
    );
    let r = app.advance("1d").await;
    assert_eq!(
        r.body["frozen"], false,
        "a running clock keeps running after a move"
    );
    assert!(app.now_ms() >= T0 + 26 * HOUR);
    let r = post(&app, "/dev/clock/freeze").await;
    assert_eq!(r.body["frozen"], true);
    let at = r.body["now"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.now_ms(), at);
}

#[tokio::test]
async fn every_clock_route_needs_a_token() {
    let app = frozen_at(T0).await;
    for (m, p) in [
        (Method::GET, "/dev/clock"),
        (Method::POST, "/dev/clock/advance?by=1d"),
        (Method::POST, "/dev/clock/set?to=0"),
        (Method::POST, "/dev/clock/freeze"),
        (Method::POST, "/dev/clock/resume"),
        (Method::POST, "/dev/messages/msg_x/deliver"),
    ] {
        let r = app.send(app.http.request(m, app.url(p))).await;
        assert_eq!(r.status, 401, "{p}: {}", r.text);
    }
    assert_eq!(app.now_ms(), T0);
}

#[tokio::test]
async fn a_one_day_delay_is_delivered_by_an_advance_of_one_day_and_not_before() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(&rx.url("/d"), &[("Upstash-Delay", "1d")], "later")
        .await;
    let r = app.advance("23h").await;
    assert_eq!(r.body["deliveries"], 0, "{}", r.text);
    assert!(rx.received().is_empty());
    assert_eq!(app.get(&format!("/v2/messages/{id}")).await.status, 200);
    let r = app.advance("1h").await;
    assert_eq!(r.body["deliveries"], 1, "{}", r.text);
    assert_eq!(
        rx.received().len(),
        1,
        "delivered before the advance answered"
    );
    let delivered = app.timeline(&id).await;
    let (state, at) = delivered.last().unwrap();
    assert_eq!((state.as_str(), *at), ("DELIVERED", T0 + DAY));
}

#[tokio::test]
async fn the_default_retry_ladder_runs_to_the_dlq_with_its_backoff_in_the_log_times() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let id = app.publish_ok(&rx.url("/fails"), &[], "x").await;
    rx.wait_for(1).await;
    let r = app.advance("1d").await;
    assert_eq!(r.body["deliveries"], 3, "the three retries: {}", r.text);
    assert_eq!(r.body["settled"], true);
    assert_eq!(rx.received().len(), 4);
    let timeline = app.timeline(&id).await;
    let starts: Vec<u64> = timeline
        .iter()
        .filter(|(s, _)| s == "ACTIVE")
        .map(|(_, t)| *t)
        .collect();
    let gaps: Vec<u64> = starts.windows(2).map(|w| (w[1] - w[0]) / 1000).collect();
    assert_eq!(gaps, [12, 148, 1808], "e^(2.5 n) seconds: {timeline:?}");
    assert_eq!(timeline.last().unwrap().0, "FAILED");
    let dlq = app.get(&format!("/v2/dlq?messageId={id}")).await;
    assert_eq!(
        dlq.body["messages"].as_array().unwrap().len(),
        1,
        "{}",
        dlq.text
    );
    let received: Vec<String> = rx
        .received()
        .iter()
        .map(|m| m.header("upstash-retried").unwrap_or_default())
        .collect();
    assert_eq!(received, ["0", "1", "2", "3"]);
}

#[tokio::test]
async fn a_daily_schedule_advanced_by_a_week_fires_seven_times_each_at_its_time() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    let id = create_ok(
        &app,
        &rx.url("/daily"),
        &[("Upstash-Cron", "0 9 * * *")],
        "tick",
    )
    .await;
    let r = app.advance("7d").await;
    assert_eq!(
        (r.body["deliveries"].as_u64(), r.body["steps"].as_u64()),
        (Some(7), Some(7)),
        "{}",
        r.text
    );
    assert_eq!(rx.received().len(), 7);
    let mut created: Vec<u64> = schedule_logs(&app, &id)
        .await
        .iter()
        .filter(|e| e["state"] == "CREATED")
        .map(|e| e["time"].as_u64().unwrap())
        .collect();
    created.sort();
    let nine = T0 - HOUR + DAY;
    let expected: Vec<u64> = (0..7).map(|d| nine + d * DAY).collect();
    assert_eq!(created, expected, "each firing at its own 09:00");
    let next = app.get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(next.body["nextScheduleTime"].as_u64(), Some(nine + 7 * DAY));
}

/// On a running clock a delay is armed one millisecond late (never early); an advance by the
/// delay right after the publish, often in the same millisecond, still delivers it.
#[tokio::test]
async fn on_a_running_clock_an_advance_by_the_delay_right_after_the_publish_delivers() {
    let app = spawn_app_configured(Config {
        start_time: Some(T0),
        ..Config::default()
    })
    .await;
    let rx = Receiver::start().await;
    for n in 1..=20 {
        app.publish_ok(&rx.url("/d"), &[("Upstash-Delay", "1d")], "later")
            .await;
        let r = app.advance("1d").await;
        assert_eq!(r.body["deliveries"], 1, "round {n}: {}", r.text);
        assert_eq!(
            rx.received().len(),
            n,
            "round {n}: delivered before the advance answered"
        );
    }
}

#[tokio::test]
async fn a_flow_control_rate_of_one_per_hour_releases_one_message_per_advanced_hour() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    let flow = [
        ("Upstash-Flow-Control-Key", "hourly"),
        ("Upstash-Flow-Control-Value", "rate=1,period=1h"),
    ];
    for i in 0..3 {
        app.publish_ok(&rx.url("/rated"), &flow, &i.to_string())
            .await;
    }
    rx.wait_for(1).await;
    for n in 2..=3 {
        app.advance("1h").await;
        assert_eq!(rx.received().len(), n, "one more per hour");
    }
    app.advance("5h").await;
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn deliver_now_starts_a_delayed_or_retrying_message_at_once() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(&rx.url("/d"), &[("Upstash-Delay", "7d")], "x")
        .await;
    let r = post(&app, &format!("/dev/messages/{id}/deliver")).await;
    assert_eq!(
        (r.status, r.body["notBefore"].as_u64()),
        (200, Some(T0)),
        "{}",
        r.text
    );
    rx.wait_for(1).await;
    app.wait_for_state(&id, "DELIVERED").await;

    rx.script([Answer::status(500)]);
    let retrying = app.publish_ok(&rx.url("/r"), &[], "y").await;
    app.wait_for_state(&retrying, "RETRY").await;
    assert_eq!(
        post(&app, &format!("/dev/messages/{retrying}/deliver"))
            .await
            .status,
        200
    );
    app.wait_for_state(&retrying, "DELIVERED").await;
    assert_eq!(app.now_ms(), T0, "no time passed");

    assert_error(&post(&app, "/dev/messages/msg_nope/deliver").await, 404);
    rx.always(Answer::status(200).slow(Duration::from_secs(2)));
    let busy = app.publish_ok(&rx.url("/slow"), &[], "z").await;
    app.wait_for_state(&busy, "ACTIVE").await;
    assert_error(
        &post(&app, &format!("/dev/messages/{busy}/deliver")).await,
        409,
    );
}

#[tokio::test]
async fn start_time_puts_the_clock_there_and_cron_tz_follows_a_dst_change() {
    // 2026-03-07T12:00:00Z; New York springs forward on 2026-03-08.
    let start = 1_772_884_800_000;
    let app = spawn_app_configured(Config {
        start_time: Some(start),
        ..Config::default()
    })
    .await;
    let now = app.now_ms();
    assert!((start..start + 60_000).contains(&now), "{now}");
    let rx = Receiver::start().await;
    let cron = "CRON_TZ=America/New_York 0 9 * * *";
    let id = create_ok(&app, &rx.url("/ny"), &[("Upstash-Cron", cron)], "").await;
    app.advance("3d").await;
    let mut fired: Vec<u64> = schedule_logs(&app, &id)
        .await
        .iter()
        .filter(|e| e["state"] == "CREATED")
        .map(|e| e["time"].as_u64().unwrap())
        .collect();
    fired.sort();
    // 09:00 EST is 14:00Z; after the change 09:00 EDT is 13:00Z.
    let expected = [start + 2 * HOUR, start + DAY + HOUR, start + 2 * DAY + HOUR];
    assert_eq!(fired, expected);
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn the_deduplication_window_and_dlq_retention_follow_the_clock() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    let dedup = [("Upstash-Deduplication-Id", "once")];
    app.publish_ok(&rx.url("/d"), &dedup, "a").await;
    app.advance("9m").await;
    let again = app.publish(&rx.url("/d"), &dedup, "b").await;
    assert_eq!(again.body["deduplicated"], true, "{}", again.text);
    app.advance("2m").await;
    let after = app.publish(&rx.url("/d"), &dedup, "c").await;
    assert_eq!(
        after.body["deduplicated"],
        Value::Null,
        "the window is over: {}",
        after.text
    );

    rx.always(Answer::status(500));
    let id = app
        .publish_ok(&rx.url("/dead"), &[("Upstash-Retries", "0")], "x")
        .await;
    app.wait_for_state(&id, "FAILED").await;
    let path = format!("/v2/dlq?messageId={id}");
    app.advance("6d").await;
    let kept = app.get(&path).await.body["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(kept, 1, "kept for the payg retention of 7 days");
    app.advance("1d1m").await;
    let gone = app.get(&path).await.body["messages"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(gone, 0, "expired after 7 days of server time");
}

#[tokio::test]
async fn a_retry_after_hint_is_waited_on_the_clock() {
    let app = frozen_at(T0).await;
    let rx = Receiver::start().await;
    rx.script([Answer::status(429).header("Retry-After", "3600")]);
    let id = app.publish_ok(&rx.url("/busy"), &[], "x").await;
    app.wait_for_state(&id, "RETRY").await;
    app.advance("59m").await;
    assert_eq!(rx.received().len(), 1, "the hint says an hour");
    app.advance("1m").await;
    assert_eq!(rx.received().len(), 2);
    let (state, at) = app.timeline(&id).await.last().cloned().unwrap();
    assert_eq!((state.as_str(), at), ("DELIVERED", T0 + HOUR));
}

#[tokio::test]
async fn instants_past_the_year_9999_are_refused_and_the_clock_stays_sane() {
    let app = frozen_at(T0).await;
    let r = post(&app, "/dev/clock/set?to=18446744073709551615").await;
    assert!(assert_error(&r, 400).contains("9999"));
    let r = app.advance("99999999d").await;
    assert_eq!(
        r.body["now"].as_u64(),
        Some(qstash_dev::clock::MAX_MS),
        "{}",
        r.text
    );
    let r = app.get("/dev/clock").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["offsetMs"].as_i64().unwrap() > 0);
}
