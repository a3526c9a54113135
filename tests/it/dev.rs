//! The `/dev/` extras: reset, wait-idle, trigger a schedule now, and the backoff scale.

use std::time::Duration;

use qstash_dev::clock::Clock;
use qstash_dev::config::Config;
use qstash_dev::server::spawn_with_clock;
use reqwest::Method;

use crate::support::*;

#[tokio::test]
async fn every_dev_extra_needs_a_token() {
    let app = spawn_app().await;
    for (m, p) in [
        (Method::POST, "/dev/reset"),
        (Method::GET, "/dev/wait-idle"),
        (Method::POST, "/dev/schedules/x/trigger"),
    ] {
        let r = app.send(app.http.request(m, app.url(p))).await;
        assert_eq!(r.status, 401, "{p}: {}", r.text);
        assert!(r.body["error"].is_string());
    }
}

#[tokio::test]
async fn reset_forgets_messages_logs_dlq_and_resources_of_that_user_only() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = app
        .publish_ok(&rx.url("/later"), &[("Upstash-Delay", "1h")], "x")
        .await;
    let other = app
        .send(
            app.as_user(1, Method::POST, &format!("/v2/publish/{}", rx.url("/u1")))
                .header("Upstash-Delay", "1h"),
        )
        .await;
    assert_eq!(other.status, 200);
    let q = app
        .send(
            app.req(Method::POST, "/v2/queues")
                .json(&serde_json::json!({"queueName": "q1"})),
        )
        .await;
    assert_eq!(q.status, 200);

    let r = app.send(app.req(Method::POST, "/dev/reset")).await;
    assert_eq!((r.status, r.body["reset"].as_bool()), (200, Some(true)));
    assert_eq!(app.get(&format!("/v2/messages/{id}")).await.status, 404);
    assert_eq!(
        app.get("/v2/events").await.body["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        app.get("/v2/queues").await.body.as_array().unwrap().len(),
        0
    );
    let theirs = app.send(app.as_user(1, Method::GET, "/v2/events")).await;
    assert!(
        !theirs.body["events"].as_array().unwrap().is_empty(),
        "another user keeps its state"
    );

    let all = app.send(app.req(Method::POST, "/dev/reset?all=true")).await;
    assert_eq!(all.status, 200);
    let theirs = app.send(app.as_user(1, Method::GET, "/v2/events")).await;
    assert!(
        theirs.body["events"].as_array().unwrap().is_empty(),
        "?all=true resets every user"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx.received().is_empty(),
        "nothing of the old state is delivered"
    );
}

#[tokio::test]
async fn wait_idle_answers_once_nothing_is_pending_or_408_on_timeout() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let idle = app.get("/dev/wait-idle").await;
    assert_eq!((idle.status, idle.body["pending"].as_u64()), (200, Some(0)));

    rx.always(Answer::status(200).slow(Duration::from_millis(300)));
    app.publish_ok(&rx.url("/slow"), &[], "x").await;
    let r = app.get("/dev/wait-idle?timeout=5s").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(rx.received().len(), 1, "idle once it was delivered");

    app.publish_ok(&rx.url("/later"), &[("Upstash-Delay", "1h")], "x")
        .await;
    let r = app.get("/dev/wait-idle?timeout=5s").await;
    assert_eq!(
        (r.status, &r.body),
        (
            200,
            &serde_json::json!({"idle": true, "pending": 0, "waiting": 1})
        ),
        "on a frozen clock a later message waits for the clock: {}",
        r.text
    );

    rx.always(Answer::status(200).slow(Duration::from_secs(3)));
    app.publish_ok(&rx.url("/slower"), &[], "x").await;
    let r = app
        .send(app.req(Method::POST, "/dev/wait-idle?timeout=1s"))
        .await;
    assert_eq!(
        (
            r.status,
            r.body["pending"].as_u64(),
            r.body["waiting"].as_u64()
        ),
        (408, Some(1), Some(1)),
        "{}",
        r.text
    );
    assert!(r.body["error"].as_str().unwrap().contains("pending"));
    assert_eq!(app.get("/dev/wait-idle?timeout=soon").await.status, 400);
}

#[tokio::test]
async fn on_a_running_clock_wait_idle_waits_only_for_what_falls_due_within_it() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.publish_ok(&rx.url("/soon"), &[("Upstash-Delay", "1s")], "x")
        .await;
    app.publish_ok(&rx.url("/later"), &[("Upstash-Delay", "1h")], "x")
        .await;
    let r = app.get("/dev/wait-idle?timeout=10s").await;
    assert_eq!(
        (r.status, r.body["waiting"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    assert_eq!(
        rx.received().len(),
        1,
        "the one due within the wait was delivered"
    );
}

#[tokio::test]
async fn trigger_runs_a_schedule_now_without_moving_its_next_firing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let r = app
        .send(
            app.req(Method::POST, &format!("/v2/schedules/{}", rx.url("/cron")))
                .header("Upstash-Cron", "0 0 1 1 *")
                .body("tick"),
        )
        .await;
    let id = r.body["scheduleId"].as_str().unwrap().to_string();
    let before = app.get(&format!("/v2/schedules/{id}")).await.body["nextScheduleTime"].clone();
    let t = app
        .send(app.req(Method::POST, &format!("/dev/schedules/{id}/trigger")))
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["messageIds"].as_array().unwrap().len(), 1);
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], b"tick");
    assert_eq!(
        got[0].header("upstash-schedule-id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        app.get(&format!("/v2/schedules/{id}")).await.body["nextScheduleTime"],
        before
    );
    let missing = app
        .send(app.req(Method::POST, "/dev/schedules/nope/trigger"))
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn the_backoff_scale_turns_the_default_backoff_into_milliseconds() {
    let config = Config {
        port: 0,
        throughput_limits: false,
        backoff_scale: 0.001,
        ..Config::default()
    };
    let clock = Clock::frozen_at(qstash_dev::clock::wall_ms());
    let server = spawn_with_clock(config, clock).await.unwrap();
    let app = App {
        server,
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    };
    let rx = Receiver::start().await;
    rx.fail_times(2, 500);
    let t0 = app.now_ms();
    let id = app
        .publish_ok(&rx.url("/flaky"), &[("Upstash-Retries", "2")], "x")
        .await;
    // 12 s and 148 s of the default ladder, a thousandth each.
    for (n, at) in [(1, t0 + 12), (2, t0 + 12 + 148)] {
        app.wait_for_count(&id, "RETRY", n).await;
        app.set_clock(at - 1);
        assert_eq!(app.timer_jobs(), 1, "retry {n} waits until {at}");
        app.advance_ms(1);
    }
    app.wait_for_state(&id, "DELIVERED").await;
    assert_eq!(rx.received().len(), 3);
    let starts: Vec<u64> = app
        .timeline(&id)
        .await
        .into_iter()
        .filter(|(s, _)| s == "ACTIVE")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(starts, [t0, t0 + 12, t0 + 160]);
}
