//! A cron firing end to end through the timer, on a frozen clock: a `* * * * *` schedule fires
//! exactly when the server's clock reaches the minute, not a millisecond before, and once per
//! minute.

use super::*;

#[tokio::test]
async fn an_every_minute_schedule_fires_once_on_each_minute_through_the_timer() {
    let app = spawn_frozen_app().await;
    let rx = Receiver::start().await;
    let cron = [("Upstash-Cron", "* * * * *")];
    let id = create_ok(&app, &rx.url("/tick"), &cron, "tick").await;
    let due = schedule(&app, &id).await["nextScheduleTime"]
        .as_u64()
        .expect("nextScheduleTime");
    assert_eq!(due, next_multiple(app.now_ms(), MINUTE));

    for (n, minute) in [(1, due), (2, due + MINUTE)] {
        app.set_clock(minute - 1);
        assert_eq!(app.timer_jobs(), 1, "the firing of {minute} waits");
        assert_eq!(rx.received().len(), n - 1, "fired before the minute");
        app.advance_ms(1);

        let got = rx.wait_for(n).await;
        let last = &got[n - 1];
        assert_eq!(last.header("Upstash-Schedule-Id").as_deref(), Some(&*id));
        let msg = last.header("Upstash-Message-Id").expect("message id");
        let s = wait_for_run_state(&app, &id, &msg, "SUCCESS").await;
        assert_eq!(s["lastScheduleTime"], minute, "{s}");
        assert_eq!(s["nextScheduleTime"], minute + MINUTE, "{s}");
        let logs = schedule_logs(&app, &id).await;
        let created = logs
            .iter()
            .find(|e| e["messageId"] == msg.as_str() && e["state"] == "CREATED")
            .unwrap_or_else(|| panic!("{logs:?}"));
        assert_eq!(created["time"], minute, "{created}");
        app.wait_idle().await;
        assert_eq!(rx.received().len(), n, "the minute fired more than once");
    }
}
