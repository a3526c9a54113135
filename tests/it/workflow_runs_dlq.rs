//! The workflow DLQ over plain HTTP: a failed run's entry (listed with `source=workflow` and
//! under `/v2/workflows/dlq`), the failure callback's fate and its retry, resume, restart and
//! delete; and the logs of a run that failed.

use std::time::Duration;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::{spawn_app, Answer, App, Receiver};
use crate::workflow_runs::{endpoint, run_log, run_step, start, steps};

fn failing() -> Answer {
    Answer::status(500)
        .header("Upstash-Workflow-Sdk-Version", "1")
        .body(r#"{"error":"Error","message":"boom"}"#)
}

/// The workflow DLQ, once `ok` accepts it.
async fn dlq(app: &App, query: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..400 {
        let r = app.get(&format!("/v2/dlq?source=workflow&{query}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        last = r.body["messages"].as_array().cloned().unwrap_or_default();
        if ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the workflow DLQ never got there: {last:#?}");
}

async fn post(app: &App, path: &str) -> crate::support::Reply {
    app.send(app.req(Method::POST, path)).await
}

#[tokio::test]
async fn a_failed_run_lands_in_the_workflow_dlq_with_its_failure_callback() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(failing());
    let url = rx.url("/wf");
    let run = start(&app, &url, &[("Upstash-Retries", "0")]).await;
    let q = format!("workflowRunId={run}");
    let found = dlq(&app, &q, |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_FAIL")
    })
    .await;
    let e = &found[0];
    assert_eq!(e["workflowUrl"], url.as_str());
    assert!(e["workflowCreatedAt"].is_u64());
    assert_eq!(e["responseStatus"], 500);
    assert_eq!(e["failureCallbackInfo"]["responseStatus"], 500);
    let dlq_id = e["dlqId"].as_str().unwrap().to_string();
    let same = app.get(&format!("/v2/workflows/dlq/{dlq_id}")).await;
    assert_eq!(same.body["workflowRunId"], run.as_str());
    let listed = app
        .get("/v2/workflows/dlq?failureFunctionState=CALLBACK_FAIL")
        .await;
    assert_eq!(listed.body["messages"].as_array().unwrap().len(), 1);

    let log = run_log(&app, &run, |r| {
        r["failureFunction"]["state"] == "CALLBACK_FAIL"
    })
    .await;
    assert_eq!(log["workflowState"], "RUN_FAILED");
    assert_eq!(log["dlqId"], dlq_id.as_str());
    assert_eq!(log["failureFunction"]["failStatus"], 500);
    assert_eq!(log["failureFunction"]["url"], url.as_str());
    let groups = log["steps"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{log:#}");
    let next = &groups[1]["steps"][0];
    assert_eq!(groups[1]["type"], "next");
    assert_eq!(next["state"], "STEP_FAILED");
    assert_eq!(next["errors"].as_array().unwrap().len(), 1);
    assert_eq!(
        next["errors"][0]["body"],
        r#"{"error":"Error","message":"boom"}"#
    );

    let before = rx.received().len();
    let again = post(&app, &format!("/v2/workflows/dlq/callback/{dlq_id}")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["workflowRunId"], run.as_str());
    let got = rx.wait_for(before + 1).await;
    let cb = got.last().unwrap();
    assert_eq!(
        cb.header("upstash-workflow-failure-callback").unwrap(),
        "true"
    );
    assert_eq!(cb.header("upstash-workflow-runid").unwrap(), run);

    let deleted = app
        .delete(&format!("/v2/workflows/dlq?dlqIds={dlq_id}"))
        .await;
    assert_eq!(deleted.body, json!({"deleted": 1}));
    assert_eq!(
        app.get(&format!("/v2/workflows/dlq/{dlq_id}")).await.status,
        404
    );
}

#[tokio::test]
async fn resume_continues_a_failed_run_from_the_failed_step() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let fcb = endpoint().await;
    let url = rx.url("/wf");
    let run = start(
        &app,
        &url,
        &[
            ("Upstash-Retries", "0"),
            ("Upstash-Failure-Callback", &fcb.url("/failed")),
        ],
    )
    .await;
    rx.wait_for(1).await;
    steps(&app, &url, &run, &[run_step(1, "one", "1", 1)]).await;
    rx.wait_for(2).await;
    rx.script([failing()]);
    steps(&app, &url, &run, &[run_step(2, "two", "2", 1)]).await;
    let found = dlq(&app, &format!("workflowRunId={run}"), |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_SUCCESS")
    })
    .await;
    let dlq_id = found[0]["dlqId"].as_str().unwrap().to_string();
    let old = rx.received()[2].clone();

    let r = post(&app, &format!("/v2/workflows/dlq/resume?dlqIds={dlq_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_run = r.body["workflowRuns"][0]["workflowRunId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_run, run);
    let got = rx.wait_for(4).await;
    let resumed = &got[3];
    assert_eq!(resumed.header("upstash-workflow-runid").unwrap(), new_run);
    let old_h: Vec<Value> = serde_json::from_slice(&old.body).unwrap();
    let new_h: Vec<Value> = serde_json::from_slice(&resumed.body).unwrap();
    assert_eq!(new_h.len(), 3);
    assert_eq!(
        new_h[..2],
        old_h[..2],
        "the history before the failed step is kept"
    );
    assert_ne!(new_h[2]["messageId"], old_h[2]["messageId"]);
    let last = B64.decode(new_h[2]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&last).unwrap()["stepName"],
        "two"
    );
    assert_eq!(dlq(&app, "", |m| m.is_empty()).await.len(), 0);
    // The log catches up with the delivery a moment later on a loaded machine.
    let log = run_log(&app, &new_run, |r| {
        r["workflowState"] == "RUN_STARTED" && r["steps"].as_array().is_some_and(|s| s.len() == 3)
    })
    .await;
    assert_eq!(log["steps"].as_array().unwrap().len(), 3, "{log:#}");
}

#[tokio::test]
async fn restart_runs_a_failed_run_again_from_the_start_with_overrides() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([failing()]);
    rx.always(crate::workflow_runs::sdk_ok());
    let url = rx.url("/wf");
    let run = start(
        &app,
        &url,
        &[("Upstash-Retries", "0"), ("Upstash-Forward-X-User", "u")],
    )
    .await;
    let found = dlq(&app, &format!("workflowRunId={run}"), |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_SUCCESS")
    })
    .await;
    let dlq_id = found[0]["dlqId"].as_str().unwrap().to_string();
    let rb = app
        .req(Method::POST, &format!("/v2/workflows/dlq/restart/{dlq_id}"))
        .header("Upstash-Retries", "2");
    let r = app.send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let new_run = r.body["workflowRunId"].as_str().unwrap().to_string();
    assert!(new_run.starts_with("wfr_") && new_run != run);
    assert!(r.body["workflowCreatedAt"].is_u64());
    let got = rx.wait_for(3).await;
    let init = got
        .iter()
        .find(|g| g.header("upstash-workflow-runid").as_deref() == Some(&new_run))
        .expect("the new run starts");
    let h: Vec<Value> = serde_json::from_slice(&init.body).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        B64.decode(h[0]["body"].as_str().unwrap()).unwrap(),
        br#"{"in":1}"#
    );
    assert_eq!(init.header("x-user").unwrap(), "u");
    let init_id = init.header("upstash-message-id").unwrap();
    let events = app.get(&format!("/v2/events?messageId={init_id}")).await;
    assert_eq!(
        events.body["events"][0]["maxRetries"], 2,
        "the override applies"
    );
    assert_eq!(
        app.get(&format!("/v2/workflows/dlq/{dlq_id}")).await.status,
        404
    );
    let again = post(&app, &format!("/v2/workflows/dlq/restart/{dlq_id}")).await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn a_non_workflow_destination_fails_the_run_with_one_error() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).body("not a workflow"));
    let run = start(&app, &rx.url("/plain"), &[]).await;
    let log = run_log(&app, &run, |r| r["workflowState"] == "RUN_FAILED").await;
    let groups = log["steps"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{log:#}");
    let err = &groups[1]["steps"][0]["errors"];
    assert_eq!(err.as_array().unwrap().len(), 1);
    assert!(err[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("detected a non-workflow destination"));
    assert_eq!(err[0]["body"], "not a workflow");
    let listed = app.get("/v2/dlq?source=workflow").await;
    assert_eq!(listed.body["messages"][0]["workflowRunId"], run.as_str());
    let plain = app.get("/v2/workflows/dlq?workflowRunId=wfr_other").await;
    assert_eq!(plain.body["messages"], json!([]));
}

#[tokio::test]
async fn the_multi_routes_restart_and_delete_the_named_failed_runs() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(failing());
    let url = rx.url("/wf");
    let (a, b) = (
        start(&app, &url, &[("Upstash-Retries", "0")]).await,
        start(&app, &url, &[("Upstash-Retries", "0")]).await,
    );
    let found = dlq(&app, "", |m| m.len() == 2).await;
    let id_of = |run: &str| {
        let e = found
            .iter()
            .find(|e| e["workflowRunId"] == run)
            .expect("entry");
        e["dlqId"].as_str().expect("dlqId").to_string()
    };
    let (da, db) = (id_of(&a), id_of(&b));
    let r = app
        .send(
            app.req(Method::POST, "/v2/workflows/dlq/restart/multi")
                .header("Content-Type", "application/json")
                .body(json!({ "dlqIds": [da] }).to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let restarted = r.body["workflowRuns"].as_array().expect("workflowRuns");
    assert_eq!(restarted.len(), 1);
    assert_ne!(restarted[0]["workflowRunId"], a.as_str());
    let r = app
        .delete(&format!("/v2/workflows/dlq/multi?dlqIds={db}"))
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"deleted": 1})),
        "{}",
        r.text
    );
    let left = dlq(&app, "", |m| m.iter().all(|e| e["dlqId"] != db.as_str())).await;
    assert!(
        left.iter().all(|e| e["dlqId"] != da.as_str()),
        "the restarted entry is gone"
    );
}

#[tokio::test]
async fn restart_bulk_restarts_every_matching_failed_run_as_a_workflow_bulk_action() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(failing());
    let url = rx.url("/wf");
    let run = start(&app, &url, &[("Upstash-Retries", "0")]).await;
    dlq(&app, &format!("workflowRunId={run}"), |m| m.len() == 1).await;
    let r = post(
        &app,
        &format!("/v2/workflows/dlq/restart/bulk?workflowRunId={run}"),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["workflowRuns"].as_array().map(Vec::len), Some(1));
    let id = r.body["actionId"].as_str().expect("actionId");
    let action = app
        .get(&format!("/v2/workflows/bulkActions/{id}"))
        .await
        .body;
    assert_eq!(action["kind"], "restart");
    assert_eq!(action["filter"], json!({ "workflowRunId": [run] }));
}

#[tokio::test]
async fn a_retried_failure_callback_in_progress_can_be_cancelled() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(failing());
    let run = start(&app, &rx.url("/wf"), &[("Upstash-Retries", "0")]).await;
    let found = dlq(&app, &format!("workflowRunId={run}"), |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_FAIL")
    })
    .await;
    let dlq_id = found[0]["dlqId"].as_str().unwrap().to_string();
    let path = format!("/v2/workflows/dlq/callback/{dlq_id}");
    let idle = app.delete(&path).await;
    assert_eq!(idle.status, 400, "nothing in progress: {}", idle.text);
    assert!(idle.body["error"].is_string(), "{}", idle.text);

    rx.always(failing().slow(Duration::from_secs(30)));
    let before = rx.received().len();
    assert_eq!(post(&app, &path).await.status, 200);
    dlq(&app, &format!("workflowRunId={run}"), |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_INPROGRESS")
    })
    .await;
    let cancelled = app.delete(&path).await;
    assert_eq!(
        (cancelled.status, &cancelled.body["workflowRunId"]),
        (200, &json!(run)),
        "{}",
        cancelled.text
    );
    dlq(&app, &format!("workflowRunId={run}"), |m| {
        m.first()
            .is_some_and(|e| e["failureCallbackInfo"]["state"] == "CALLBACK_CANCELED")
    })
    .await;
    assert_eq!(app.delete(&path).await.status, 400, "already cancelled");
    assert_eq!(
        app.delete("/v2/workflows/dlq/callback/dlq_unknown")
            .await
            .status,
        404
    );
    assert!(rx.received().len() <= before + 1);
}
