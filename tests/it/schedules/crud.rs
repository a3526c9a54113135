//! Creating, overwriting, reading, listing, deleting, pausing and resuming schedules.

use axum::http::Method;
use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;

/// New Year's midnight: never fires while a test runs.
const YEARLY: (&str, &str) = ("Upstash-Cron", "0 0 1 1 *");

#[tokio::test]
async fn create_returns_a_generated_id_and_get_shows_every_always_present_field() {
    let app = spawn_app().await;
    let before = now_ms();
    let dest = "http://127.0.0.1:9/a";
    let id = create_ok(&app, dest, &[("Upstash-Cron", "* * * * *")], "").await;
    let after = now_ms();
    assert!(id.starts_with("scd_") && id.len() > 4, "{id}");

    let s = schedule(&app, &id).await;
    assert_eq!(s["scheduleId"], id.as_str());
    assert_eq!(s["destination"], dest);
    assert_eq!(s["cron"], "* * * * *");
    let created = s["createdAt"].as_u64().expect("createdAt ms");
    assert!((before..=after).contains(&created), "{s}");
    assert_eq!(s["method"], "POST");
    assert_eq!(s["retries"], 3);
    assert_eq!(s["isPaused"], false);
    assert_eq!(s["callerIP"], "127.0.0.1");
    assert_eq!(s["callerIp"], "127.0.0.1");
    assert_eq!(s["lastScheduleStates"], json!({}));
    assert!(s.get("body").is_none(), "{s}");
    let next = s["nextScheduleTime"].as_u64().expect("nextScheduleTime");
    assert!(
        [next_multiple(before, MINUTE), next_multiple(after, MINUTE)].contains(&next),
        "next {next} is not the next whole minute after {before}"
    );
}

#[tokio::test]
async fn get_echoes_every_setting_given_at_creation() {
    let app = spawn_app().await;
    let headers = [
        ("Upstash-Cron", "*/10 * * * * "),
        ("Content-Type", "application/json"),
        ("Upstash-Forward-test-header", "test-value"),
        ("Upstash-Method", "PUT"),
        ("Upstash-Delay", "10s"),
        ("Upstash-Retries", "2"),
        ("Upstash-Retry-Delay", "pow(2, retried) * 1000"),
        ("Upstash-Callback", "https://example.com/cb"),
        ("Upstash-Failure-Callback", "https://example.com/fcb"),
        ("Upstash-Label", "alpha,beta"),
        ("Upstash-Queue-Name", "sched-q"),
    ];
    let before = now_ms();
    let id = create_ok(&app, "http://127.0.0.1:9/b", &headers, r#"{"k":1}"#).await;
    let after = now_ms();

    let s = schedule(&app, &id).await;
    assert_eq!(s["cron"], "*/10 * * * *");
    assert_eq!(
        s["header"],
        json!({"Content-Type": ["application/json"], "Test-Header": ["test-value"]})
    );
    assert_eq!(s["body"], r#"{"k":1}"#);
    assert_eq!(s["method"], "PUT");
    assert_eq!(s["delay"], 10);
    assert_eq!(s["retries"], 2);
    assert_eq!(s["retryDelayExpression"], "pow(2, retried) * 1000");
    assert_eq!(s["callback"], "https://example.com/cb");
    assert_eq!(s["failureCallback"], "https://example.com/fcb");
    assert_eq!(s["labels"], json!(["alpha", "beta"]));
    assert_eq!(s["queueName"], "sched-q");
    let next = s["nextScheduleTime"].as_u64().expect("nextScheduleTime");
    let ten = 10 * MINUTE;
    assert!(
        [next_multiple(before, ten), next_multiple(after, ten)].contains(&next),
        "{s}"
    );
}

/// The next 04:00 in New York strictly after `after` (04:00 always exists there).
fn next_4am_new_york(after: u64) -> u64 {
    let tz = chrono_tz::America::New_York;
    let local = Utc
        .timestamp_millis_opt(after as i64)
        .single()
        .expect("valid time")
        .with_timezone(&tz);
    let mut day = local.date_naive();
    loop {
        let four = day.and_hms_opt(4, 0, 0).expect("04:00");
        let at = tz
            .from_local_datetime(&four)
            .single()
            .expect("04:00 exists");
        let ms = at.timestamp_millis() as u64;
        if ms > after {
            return ms;
        }
        day = day.succ_opt().expect("a next day");
    }
}

#[tokio::test]
async fn cron_tz_prefix_fires_at_the_next_4am_in_that_zone() {
    let app = spawn_app().await;
    let cron = "CRON_TZ=America/New_York 0 4 * * *";
    let before = now_ms();
    let id = create_ok(&app, "https://example.com/c", &[("Upstash-Cron", cron)], "").await;
    let s = schedule(&app, &id).await;
    assert_eq!(s["cron"], cron);
    assert_eq!(s["nextScheduleTime"], next_4am_new_york(before));
}

#[tokio::test]
async fn overwriting_a_custom_id_replaces_every_setting_and_keeps_one_entry() {
    let app = spawn_app().await;
    let first = [
        YEARLY,
        ("Upstash-Schedule-Id", "my-sched"),
        ("Content-Type", "text/plain"),
        ("Upstash-Forward-X-One", "1"),
        ("Upstash-Retries", "2"),
        ("Upstash-Delay", "5s"),
        ("Upstash-Callback", "https://example.com/cb"),
    ];
    let id = create_ok(&app, "https://example.com/old", &first, "hello").await;
    assert_eq!(id, "my-sched");
    let created = schedule(&app, &id).await["createdAt"].clone();

    let second = [
        ("Upstash-Cron", "30 4 1 2 *"),
        ("Upstash-Schedule-Id", "my-sched"),
    ];
    let id = create_ok(&app, "https://example.com/new", &second, "").await;
    assert_eq!(id, "my-sched");

    let s = schedule(&app, &id).await;
    assert_eq!(s["destination"], "https://example.com/new");
    assert_eq!(s["cron"], "30 4 1 2 *");
    assert!(s.get("body").is_none(), "{s}");
    assert_eq!(s["header"], json!({}));
    assert_eq!(s["retries"], 3);
    assert!(s.get("delay").is_none(), "{s}");
    assert!(s.get("callback").is_none(), "{s}");
    assert_eq!(s["createdAt"], created);
    let list = app.get("/v2/schedules").await.body;
    assert_eq!(list.as_array().expect("array").len(), 1, "{list}");
}

#[tokio::test]
async fn invalid_schedule_ids_are_rejected_with_400() {
    let app = spawn_app().await;
    for bad in ["a/b", "a b"] {
        let r = create(
            &app,
            "https://example.com/a",
            &[YEARLY, ("Upstash-Schedule-Id", bad)],
            "",
        )
        .await;
        let e = assert_error(&r, 400);
        assert!(e.contains("schedule id"), "{bad}: {e}");
    }
}

#[tokio::test]
async fn invalid_cron_expressions_are_rejected_with_a_message_naming_the_problem() {
    let app = spawn_app().await;
    for (cron, says) in [
        ("* * *", "5 fields"),
        ("61 * * * *", "minute"),
        ("* * * * * *", "seconds"),
    ] {
        let r = create(&app, "https://example.com/a", &[("Upstash-Cron", cron)], "").await;
        let e = assert_error(&r, 400);
        assert!(e.contains(says), "{cron:?}: {e}");
    }
    let r = create(&app, "https://example.com/a", &[], "").await;
    let e = assert_error(&r, 400);
    assert!(e.contains("Upstash-Cron"), "{e}");
}

#[tokio::test]
async fn unknown_url_group_is_404_and_not_before_is_400() {
    let app = spawn_app().await;
    let r = create(&app, "no-such-group", &[YEARLY], "").await;
    assert_error(&r, 404);
    let r = create(
        &app,
        "https://example.com/a",
        &[YEARLY, ("Upstash-Not-Before", "4102444800")],
        "",
    )
    .await;
    let e = assert_error(&r, 400);
    assert!(e.contains("Not-Before"), "{e}");
    assert_eq!(app.get("/v2/schedules").await.body, json!([]));
}

#[tokio::test]
async fn list_shows_every_schedule_and_delete_removes_one() {
    let app = spawn_app().await;
    let a = create_ok(&app, "https://example.com/a", &[YEARLY], "").await;
    let b = create_ok(&app, "https://example.com/b", &[YEARLY], "").await;
    let list = app.get("/v2/schedules").await.body;
    let mut ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["scheduleId"].as_str().expect("id"))
        .collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);

    assert_eq!(app.delete(&format!("/v2/schedules/{a}")).await.status, 200);
    assert_error(&app.get(&format!("/v2/schedules/{a}")).await, 404);
    assert_error(&app.delete(&format!("/v2/schedules/{a}")).await, 404);
    let list = app.get("/v2/schedules").await.body;
    assert_eq!(list.as_array().expect("array").len(), 1);
    assert_eq!(list[0]["scheduleId"], b.as_str());
}

#[tokio::test]
async fn pause_and_resume_accept_post_and_patch_and_any_path_case() {
    let app = spawn_app().await;
    let id = create_ok(&app, "https://example.com/a", &[YEARLY], "").await;
    let next = schedule(&app, &id).await["nextScheduleTime"].clone();
    let steps = [
        (Method::POST, "schedules", "pause", true),
        (Method::POST, "schedules", "pause", true),
        (Method::POST, "schedules", "resume", false),
        (Method::PATCH, "schedules", "pause", true),
        (Method::PATCH, "schedules", "resume", false),
        (Method::PATCH, "schedules", "resume", false),
        (Method::PATCH, "Schedules", "pause", true),
        (Method::POST, "Schedules", "resume", false),
    ];
    for (method, seg, action, paused) in steps {
        let path = format!("/v2/{seg}/{id}/{action}");
        let r = app.send(app.req(method.clone(), &path)).await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text);
        let s = schedule(&app, &id).await;
        assert_eq!(s["isPaused"], paused, "after {method} {path}");
        assert_eq!(s["nextScheduleTime"], next, "pausing keeps the next time");
    }
    let r = app
        .send(app.req(Method::PATCH, "/v2/schedules/nope/pause"))
        .await;
    assert_error(&r, 404);
}
