//! The one real end-to-end firing: a `* * * * *` schedule fires through the timer on the next
//! minute boundary, once. Takes up to a minute.

use std::time::{Duration, Instant};

use super::*;

/// Waits until the receiver got a request or `deadline` passes.
async fn first_request(rx: &Receiver, deadline: Instant) -> Option<Received> {
    while Instant::now() < deadline {
        if let Some(r) = rx.received().into_iter().next() {
            return Some(r);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test]
async fn an_every_minute_schedule_fires_once_on_the_minute_through_the_real_timer() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let cron = [("Upstash-Cron", "* * * * *")];
    let id = create_ok(&app, &rx.url("/tick"), &cron, "tick").await;
    let due = schedule(&app, &id).await["nextScheduleTime"]
        .as_u64()
        .expect("nextScheduleTime");
    // Maps the receiver's `Instant`s onto the wall clock.
    let (anchor, anchor_ms) = (Instant::now(), now_ms());
    let wait = due.saturating_sub(anchor_ms);
    assert!(wait <= MINUTE, "next firing {wait} ms away");

    let deadline = anchor + Duration::from_millis(wait + 5_000);
    let got = first_request(&rx, deadline)
        .await
        .unwrap_or_else(|| panic!("no firing within 5 s after {due}"));
    let arrived = anchor_ms + got.at.duration_since(anchor).as_millis() as u64;
    assert!(
        (due..=due + 1_000).contains(&arrived),
        "arrived at {arrived}, {} ms after the minute {due}",
        arrived as i64 - due as i64
    );
    assert_eq!(got.header("Upstash-Schedule-Id").as_deref(), Some(&*id));
    let msg = got.header("Upstash-Message-Id").expect("message id");

    let s = wait_for_run_state(&app, &id, &msg, "SUCCESS").await;
    assert_eq!(s["lastScheduleTime"], due, "{s}");
    assert_eq!(s["nextScheduleTime"], due + MINUTE, "{s}");
    let logs = schedule_logs(&app, &id).await;
    assert!(
        logs.iter().any(|e| e["messageId"] == msg.as_str()),
        "{logs:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.received().len(), 1, "the minute fired more than once");
}
