//! What a firing does: one message per run (or per URL-group endpoint, or into a queue), the
//! `scheduleId` on messages, logs and deliveries, the delay per message, the run states, and
//! firings skipped while paused or by timer jobs of an older version. Firings are driven with
//! `trigger_schedule` and `fire_schedule`; a yearly cron keeps the real timer out of the way.

use std::time::Duration;

use axum::http::Method;
use serde_json::json;

use super::*;

const YEARLY: (&str, &str) = ("Upstash-Cron", "0 0 1 1 *");

/// Ids of the messages the schedule has produced so far, oldest first.
async fn produced(app: &App, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = schedule_logs(app, id)
        .await
        .iter()
        .filter(|e| e["state"] == "CREATED")
        .map(|e| e["messageId"].as_str().expect("messageId").to_string())
        .collect();
    ids.reverse();
    ids
}

async fn message(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/v2/messages/{id}")).await;
    assert_eq!(r.status, 200, "get message {id}: {}", r.text);
    r.body
}

#[tokio::test]
async fn each_firing_publishes_one_message_carrying_the_schedule_id() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_millis(300)));
    let id = create_ok(&app, &rx.url("/run"), &[YEARLY], "payload").await;

    let before = now_ms();
    let msgs = trigger(&app, &id);
    assert_eq!(msgs.len(), 1);
    let s = schedule(&app, &id).await;
    assert_eq!(s["lastScheduleStates"], json!({ &msgs[0]: "IN_PROGRESS" }));
    let last = s["lastScheduleTime"].as_u64().expect("lastScheduleTime");
    assert!((before..=now_ms()).contains(&last), "{s}");
    assert_eq!(message(&app, &msgs[0]).await["scheduleId"], id.as_str());

    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("Upstash-Schedule-Id").as_deref(), Some(&*id));
    assert_eq!(
        got[0].header("Upstash-Message-Id").as_deref(),
        Some(&*msgs[0])
    );
    assert_eq!(&got[0].body[..], b"payload");
    wait_for_run_state(&app, &id, &msgs[0], "SUCCESS").await;
    let logs = schedule_logs(&app, &id).await;
    assert!(logs.iter().any(|e| e["state"] == "DELIVERED"), "{logs:?}");
    assert!(logs.iter().all(|e| e["scheduleId"] == id.as_str()));

    let again = trigger(&app, &id);
    let s = schedule(&app, &id).await;
    assert_eq!(s["lastScheduleStates"], json!({ &again[0]: "IN_PROGRESS" }));
    assert_eq!(
        produced(&app, &id).await,
        [msgs[0].clone(), again[0].clone()]
    );
}

#[tokio::test]
async fn a_firing_whose_delivery_fails_without_retries_records_fail() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let headers = [YEARLY, ("Upstash-Retries", "0")];
    let id = create_ok(&app, &rx.url("/fail"), &headers, "").await;
    let msgs = trigger(&app, &id);
    let s = wait_for_run_state(&app, &id, &msgs[0], "FAIL").await;
    assert_eq!(s["lastScheduleStates"], json!({ &msgs[0]: "FAIL" }));
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn upstash_delay_applies_to_each_produced_message() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let headers = [YEARLY, ("Upstash-Delay", "10s")];
    let id = create_ok(&app, &rx.url("/later"), &headers, "").await;
    for _ in 0..2 {
        let msgs = trigger(&app, &id);
        let m = message(&app, &msgs[0]).await;
        assert_eq!(m["notBefore"], app.now_ms() + 10_000, "{m}");
        assert_eq!(m["scheduleId"], id.as_str());
        app.advance_ms(20);
    }
    assert_eq!(produced(&app, &id).await.len(), 2);
    assert!(rx.received().is_empty());
}

#[tokio::test]
async fn a_schedule_to_a_url_group_publishes_one_message_per_endpoint() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let endpoints = json!({ "endpoints": [{ "url": rx.url("/one") }, { "url": rx.url("/two") }] });
    let r = app
        .send(
            app.req(Method::POST, "/v2/topics/grp/endpoints")
                .json(&endpoints),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = create_ok(&app, "grp", &[YEARLY], "fan").await;

    let msgs = trigger(&app, &id);
    assert_eq!(msgs.len(), 2);
    let got = rx.wait_for(2).await;
    let mut paths: Vec<&str> = got.iter().map(|g| g.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/one", "/two"]);
    for g in &got {
        assert_eq!(g.header("Upstash-Schedule-Id").as_deref(), Some(&*id));
        assert_eq!(g.header("Upstash-Topic-Name").as_deref(), Some("grp"));
    }
    for m in &msgs {
        wait_for_run_state(&app, &id, m, "SUCCESS").await;
    }
    let logs = schedule_logs(&app, &id).await;
    assert!(logs.iter().all(|e| e["topicName"] == "grp"), "{logs:?}");
    assert_eq!(produced(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn a_schedule_with_a_queue_name_publishes_into_that_queue() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let headers = [
        YEARLY,
        ("Upstash-Queue-Name", "sched-q"),
        ("Upstash-Delay", "10s"),
    ];
    let id = create_ok(&app, &rx.url("/q"), &headers, "").await;
    assert_eq!(app.get("/v2/queues/sched-q").await.status, 404);

    let msgs = trigger(&app, &id);
    let q = app.get("/v2/queues/sched-q").await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert_eq!(q.body["lag"], 1, "{}", q.text);
    let m = message(&app, &msgs[0]).await;
    assert_eq!(m["queueName"], "sched-q");
    assert_eq!(m["scheduleId"], id.as_str());
}

#[tokio::test]
async fn a_paused_schedule_skips_its_firing_but_advances_and_fires_again_after_resume() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let id = create_ok(&app, &rx.url("/p"), &[YEARLY], "").await;
    let (engine, t, gen) = (&app.server.engine, tenant(&app), generation(&app, &id));
    let first = schedule(&app, &id).await["nextScheduleTime"]
        .as_u64()
        .expect("next");

    let r = app
        .send(app.req(Method::PATCH, &format!("/v2/schedules/{id}/pause")))
        .await;
    assert_eq!(r.status, 200);
    engine.fire_schedule(t, &id, gen);
    let s = schedule(&app, &id).await;
    let second = s["nextScheduleTime"].as_u64().expect("next");
    assert!(second > first, "{s}");
    assert!(s.get("lastScheduleTime").is_none(), "{s}");
    assert!(produced(&app, &id).await.is_empty());

    let r = app
        .send(app.req(Method::PATCH, &format!("/v2/schedules/{id}/resume")))
        .await;
    assert_eq!(r.status, 200);
    engine.fire_schedule(t, &id, gen);
    let s = schedule(&app, &id).await;
    assert!(s["nextScheduleTime"].as_u64().expect("next") > second);
    assert!(s["lastScheduleTime"].is_u64(), "{s}");
    assert_eq!(produced(&app, &id).await.len(), 1);
    assert_eq!(rx.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn an_overwrite_makes_the_old_versions_timer_job_a_no_op() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let headers = [YEARLY, ("Upstash-Schedule-Id", "ow")];
    create_ok(&app, &rx.url("/old"), &headers, "").await;
    let old = generation(&app, "ow");
    create_ok(&app, &rx.url("/new"), &headers, "").await;
    let new = generation(&app, "ow");
    assert_ne!(old, new);
    let next = schedule(&app, "ow").await["nextScheduleTime"].clone();

    let (engine, t) = (&app.server.engine, tenant(&app));
    engine.fire_schedule(t, "ow", old);
    let s = schedule(&app, "ow").await;
    assert_eq!(
        s["nextScheduleTime"], next,
        "a stale job must not move the schedule"
    );
    assert!(produced(&app, "ow").await.is_empty());

    engine.fire_schedule(t, "ow", new);
    assert_eq!(produced(&app, "ow").await.len(), 1);
    assert_eq!(rx.wait_for(1).await[0].path, "/new");
}

#[tokio::test]
async fn recreating_a_deleted_schedule_ignores_the_deleted_ones_timer_job() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let headers = [YEARLY, ("Upstash-Schedule-Id", "again")];
    create_ok(&app, &rx.url("/a"), &headers, "").await;
    let old = generation(&app, "again");
    assert_eq!(app.delete("/v2/schedules/again").await.status, 200);
    create_ok(&app, &rx.url("/a"), &headers, "").await;
    assert_ne!(generation(&app, "again"), old);

    app.server.engine.fire_schedule(tenant(&app), "again", old);
    assert!(produced(&app, "again").await.is_empty());
    assert!(schedule(&app, "again")
        .await
        .get("lastScheduleTime")
        .is_none());
}
