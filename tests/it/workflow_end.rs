//! Ending a workflow run is idempotent (issue 15, item 6): `DELETE /v2/workflows/runs/{id}` on
//! a run that has already ended answers 200 and leaves the run as it ended, as the hosted
//! service does (the SDK repeats the call when a trigger is deduplicated); a run id never seen
//! is still a 404.

use axum::http::Method;

use crate::support::*;
use crate::workflow_runs::{endpoint, run_log, start};

async fn end(app: &App, run: &str, cancel: bool, result: &str) -> Reply {
    let path = format!("/v2/workflows/runs/{run}?cancel={cancel}");
    app.send(app.req(Method::DELETE, &path).body(result.to_string()))
        .await
}

#[tokio::test]
async fn ending_a_completed_run_again_answers_200_and_keeps_its_result() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let run = start(&app, &rx.url("/wf"), &[]).await;
    assert_eq!(end(&app, &run, false, "\"done\"").await.status, 200);
    for cancel in [false, true] {
        let again = end(&app, &run, cancel, "\"other\"").await;
        assert_eq!(again.status, 200, "cancel={cancel}: {}", again.text);
    }
    let log = run_log(&app, &run, |r| r["workflowState"] == "RUN_SUCCESS").await;
    assert_eq!(log["workflowRunResponse"], "\"done\"");
}

#[tokio::test]
async fn ending_a_cancelled_run_again_answers_200_and_it_stays_cancelled() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let run = start(&app, &rx.url("/wf"), &[]).await;
    assert_eq!(end(&app, &run, true, "").await.status, 200);
    for cancel in [true, false] {
        let again = end(&app, &run, cancel, "\"late\"").await;
        assert_eq!(again.status, 200, "cancel={cancel}: {}", again.text);
    }
    let log = run_log(&app, &run, |r| r["workflowState"] == "RUN_CANCELED").await;
    assert!(
        log.get("workflowRunResponse").is_none_or(|v| v.is_null()),
        "{log:#}"
    );
    let bulk = app.delete("/v2/workflows/runs?count=100").await;
    assert_eq!(bulk.body["cancelled"], 0, "{}", bulk.text);
}

#[tokio::test]
async fn ending_a_run_never_seen_is_a_404() {
    let app = spawn_app().await;
    for cancel in [false, true] {
        let r = end(&app, "wfr_never_started", cancel, "").await;
        assert!(
            assert_error(&r, 404).contains("wfr_never_started"),
            "{}",
            r.text
        );
    }
}
