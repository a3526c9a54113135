//! Schedules (§2.10, §4.4, §5.5, §7.9): create, overwrite, get, list, delete, pause and resume;
//! what each firing publishes; stale timer jobs; the payg schedule limit; and firings through
//! the timer at minute boundaries of a frozen clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::Method;
use qstash_dev::engine::TenantId;
use serde_json::Value;

use crate::support::*;

mod crud;
mod firing;
mod limits;
mod timer;

const MINUTE: u64 = 60_000;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// The first multiple of `period` ms strictly after `t`.
fn next_multiple(t: u64, period: u64) -> u64 {
    (t / period + 1) * period
}

pub(crate) async fn create(app: &App, dest: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut rb = app
        .req(Method::POST, &format!("/v2/schedules/{dest}"))
        .body(body.to_string());
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    app.send(rb).await
}

/// Creates a schedule and returns its id, asserting success.
pub(crate) async fn create_ok(
    app: &App,
    dest: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    let r = create(app, dest, headers, body).await;
    assert_eq!(r.status, 200, "create schedule: {}", r.text);
    r.body["scheduleId"]
        .as_str()
        .expect("scheduleId")
        .to_string()
}

async fn schedule(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/v2/schedules/{id}")).await;
    assert_eq!(r.status, 200, "get schedule {id}: {}", r.text);
    r.body
}

fn tenant(app: &App) -> TenantId {
    app.server.engine.authenticate(&app.token).expect("token")
}

/// Runs the schedule once now, as a firing would, and returns the produced message ids.
fn trigger(app: &App, id: &str) -> Vec<String> {
    let ids: Vec<Arc<str>> = app
        .server
        .engine
        .trigger_schedule(tenant(app), id)
        .expect("trigger");
    ids.iter().map(|m| m.to_string()).collect()
}

/// The generation the schedule's timer jobs carry now.
fn generation(app: &App, id: &str) -> u64 {
    app.server
        .engine
        .schedule(tenant(app), id)
        .expect("schedule")
        .generation()
}

/// Waits until `lastScheduleStates[msg]` is `state`; returns the schedule.
async fn wait_for_run_state(app: &App, id: &str, msg: &str, state: &str) -> Value {
    for _ in 0..300 {
        let s = schedule(app, id).await;
        if s["lastScheduleStates"][msg] == state {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{msg} of schedule {id} never became {state}: {}",
        schedule(app, id).await
    );
}

/// All log entries produced by the schedule, newest first.
pub(crate) async fn schedule_logs(app: &App, id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v2/logs?scheduleId={id}&count=1000"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["logs"].as_array().expect("logs").clone()
}
