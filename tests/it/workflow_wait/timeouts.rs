//! Wait timeouts on a frozen server clock moved by the test: a wait times out when the clock
//! reaches its deadline, not a millisecond sooner, and never once it was notified or its run
//! ended.

use super::*;
use crate::support::spawn_frozen_app;

#[tokio::test]
async fn a_wait_times_out_to_the_timeout_url_without_out() {
    let (app, rx) = (spawn_frozen_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_t").await;
    wait(&app, &rx, "wfr_t", "evt-none", "1s", step(2, "Wait")).await;
    app.advance_ms(999);
    assert_eq!(app.timer_jobs(), 1, "the timeout is 1 ms away");
    let waiting = app.get("/v2/waiters/evt-none").await.body;
    assert_eq!(waiting.as_array().map(Vec::len), Some(1), "{waiting}");
    assert_eq!(rx.received().len(), 1);
    app.advance_ms(1);
    let got = rx.wait_for(2).await;
    let d = &got[1];
    assert_eq!(d.path, "/timeout");
    assert_eq!(
        d.header("upstash-workflow-sdk-version").as_deref(),
        Some("1")
    );
    assert_eq!(d.header("x-user").as_deref(), Some("u1"));
    let (_, s) = last_step(d);
    assert_eq!(s["waitTimeout"], true);
    assert_eq!(s["waitEventId"], "evt-none");
    assert!(s.get("out").is_none(), "{s}");
    assert_eq!(app.get("/v2/waiters/evt-none").await.body, json!([]));
    assert_eq!(
        post(&app, "/v2/notify/evt-none", "late").await.body,
        json!([])
    );
}

#[tokio::test]
async fn a_notified_waiter_never_times_out() {
    let (app, rx) = (spawn_frozen_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_nt").await;
    wait(&app, &rx, "wfr_nt", "quick", "1s", step(1, "Wait")).await;
    post(&app, "/v2/notify/quick", "ok").await;
    rx.wait_for(2).await;
    app.advance_ms(1000);
    app.settle().await;
    assert_eq!(rx.received().len(), 2);
}

#[tokio::test]
async fn an_ended_run_cannot_wait_and_loses_its_waiters_and_stored_events() {
    let (app, rx) = (spawn_frozen_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_e").await;
    wait(&app, &rx, "wfr_e", "evt-e", "1s", step(1, "Wait")).await;
    assert_eq!(
        post(&app, "/v2/notify/wfr_e/other", "kept").await.status,
        201
    );
    let end = app
        .send(app.req(Method::DELETE, "/v2/workflows/runs/wfr_e?cancel=false"))
        .await;
    assert_eq!(end.status, 200, "{}", end.text);

    assert_eq!(app.get("/v2/waiters/evt-e").await.body, json!([]));
    assert_eq!(
        wait(&app, &rx, "wfr_e", "evt-e", "1s", step(2, "Wait")).await,
        400
    );
    assert_eq!(post(&app, "/v2/notify/wfr_e/evt-e", "x").await.status, 404);
    let path = "/v2/workflows/hooks/defaultUser/wfr_e/evt-e";
    assert_eq!(hook(&app, path, Method::POST, "").await, 404);
    app.advance_ms(1000);
    app.settle().await;
    assert_eq!(rx.received().len(), 1, "no timeout step for an ended run");
}

#[tokio::test]
async fn an_advance_of_the_clock_brings_a_wait_timeout_a_day_away() {
    let (app, rx) = (spawn_frozen_app().await, endpoint().await);
    start_run(&app, &rx, "wfr_day").await;
    wait(&app, &rx, "wfr_day", "evt-day", "1d", step(2, "Wait")).await;
    app.advance("23h").await;
    assert_eq!(rx.received().len(), 1, "not before its deadline");
    app.advance("1h").await;
    let got = rx.received();
    assert_eq!(
        got.len(),
        2,
        "the timeout was delivered before the advance answered"
    );
    assert_eq!(got[1].path, "/timeout");
    assert_eq!(last_step(&got[1]).1["waitTimeout"], true);
}
