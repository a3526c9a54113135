//! Destructive bulk requests never do more than they name (issue 15, item 9): on every bulk
//! route, naming one item in the query or in a JSON body touches that item only, and a body
//! field the route does not read, an empty id list or `all=true` beside ids is a 400 that
//! touches nothing.

use std::time::Duration;

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;
use crate::workflow_runs::{endpoint, run_log, start};

const DEST: &str = "https://example.com/bulk";

/// A bulk request naming `id` under `key`, in the query or in a JSON body.
async fn name_one(
    app: &App,
    method: Method,
    path: &str,
    key: &str,
    id: &str,
    by_body: bool,
) -> Reply {
    let rb = match by_body {
        true => app.req(method, path).json(&json!({ key: [id] })),
        false => app.req(method, &format!("{path}?{key}={id}")),
    };
    app.send(rb).await
}

/// The status of `GET path`.
async fn status(app: &App, path: &str) -> u16 {
    app.get(path).await.status
}

/// Three messages that failed for good; their DLQ ids.
async fn three_dead(app: &App) -> Vec<String> {
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    for i in 0..3 {
        let id = app
            .publish_ok(&rx.url(&format!("/d{i}")), &[("Upstash-Retries", "0")], "x")
            .await;
        app.wait_for_state(&id, "FAILED").await;
    }
    let r = app.get("/v2/dlq").await;
    let ids: Vec<String> = r.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|e| e["dlqId"].as_str().expect("dlqId").to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{}", r.text);
    ids
}

/// Three workflow runs that failed for good; their workflow DLQ ids.
async fn three_failed_runs(app: &App) -> Vec<String> {
    let rx = Receiver::start().await;
    rx.always(Answer::status(500).header("Upstash-Workflow-Sdk-Version", "1"));
    for i in 0..3 {
        start(
            app,
            &rx.url(&format!("/wf{i}")),
            &[("Upstash-Retries", "0")],
        )
        .await;
    }
    for _ in 0..500 {
        let r = app.get("/v2/workflows/dlq").await;
        let found: Vec<String> = r.body["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|e| e["dlqId"].as_str()))
            .into_iter()
            .flatten()
            .map(String::from)
            .collect();
        if found.len() == 3 {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("three failed runs never reached the workflow DLQ");
}

#[tokio::test]
async fn bulk_cancel_of_messages_cancels_only_the_named_message() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.publish_ok(DEST, &[LATER], &i.to_string()).await);
    }
    for (id, by_body) in [(&ids[0], false), (&ids[1], true)] {
        let r = name_one(
            &app,
            Method::DELETE,
            "/v2/messages",
            "messageIds",
            id,
            by_body,
        )
        .await;
        assert_eq!(
            r.body,
            json!({"cancelled": 1}),
            "by body {by_body}: {}",
            r.text
        );
        assert_eq!(status(&app, &format!("/v2/messages/{id}")).await, 404);
    }
    assert_eq!(status(&app, &format!("/v2/messages/{}", ids[2])).await, 200);
}

#[tokio::test]
async fn bulk_delete_of_the_dlq_deletes_only_the_named_entry() {
    let app = spawn_app().await;
    let ids = three_dead(&app).await;
    for (id, by_body) in [(&ids[0], false), (&ids[1], true)] {
        let r = name_one(&app, Method::DELETE, "/v2/dlq", "dlqIds", id, by_body).await;
        assert_eq!(
            r.body,
            json!({"deleted": 1}),
            "by body {by_body}: {}",
            r.text
        );
        assert_eq!(status(&app, &format!("/v2/dlq/{id}")).await, 404);
    }
    assert_eq!(status(&app, &format!("/v2/dlq/{}", ids[2])).await, 200);
}

#[tokio::test]
async fn bulk_retry_of_the_dlq_retries_only_the_named_entry() {
    let app = spawn_app().await;
    let ids = three_dead(&app).await;
    for (id, by_body) in [(&ids[0], false), (&ids[1], true)] {
        let r = name_one(&app, Method::POST, "/v2/dlq/retry", "dlqIds", id, by_body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let responses = r.body["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), 1, "by body {by_body}: {}", r.text);
        assert_eq!(status(&app, &format!("/v2/dlq/{id}")).await, 404);
    }
    assert_eq!(status(&app, &format!("/v2/dlq/{}", ids[2])).await, 200);
}

#[tokio::test]
async fn bulk_cancel_of_workflow_runs_cancels_only_the_named_run() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let mut runs = Vec::new();
    for i in 0..3 {
        runs.push(start(&app, &rx.url(&format!("/wf{i}")), &[]).await);
    }
    let path = "/v2/workflows/runs";
    for (run, by_body) in [(&runs[0], false), (&runs[1], true)] {
        let r = name_one(&app, Method::DELETE, path, "workflowRunIds", run, by_body).await;
        assert_eq!(
            r.body,
            json!({"cancelled": 1}),
            "by body {by_body}: {}",
            r.text
        );
        run_log(&app, run, |l| l["workflowState"] == "RUN_CANCELED").await;
    }
    let kept = run_log(&app, &runs[2], |_| true).await;
    assert_eq!(kept["workflowState"], "RUN_STARTED");
}

/// Names one workflow DLQ entry at a time on `path` (query, then body) and checks that only
/// the named entries left the workflow DLQ.
async fn workflow_dlq_touches_only_the_named_entry(method: Method, path: &str) {
    let app = spawn_app().await;
    let ids = three_failed_runs(&app).await;
    for (id, by_body) in [(&ids[0], false), (&ids[1], true)] {
        let r = name_one(&app, method.clone(), path, "dlqIds", id, by_body).await;
        assert_eq!(r.status, 200, "{path} by body {by_body}: {}", r.text);
        let touched = match r.body.get("workflowRuns") {
            Some(runs) => runs.as_array().map_or(0, Vec::len),
            None => r.body["deleted"].as_u64().unwrap_or(0) as usize,
        };
        assert_eq!(touched, 1, "{path} by body {by_body}: {}", r.text);
        let gone = status(&app, &format!("/v2/workflows/dlq/{id}")).await;
        assert_eq!(gone, 404, "{path}: the named entry left the DLQ");
    }
    let kept = status(&app, &format!("/v2/workflows/dlq/{}", ids[2])).await;
    assert_eq!(kept, 200, "{path}: the other entry stays");
}

#[tokio::test]
async fn bulk_delete_of_the_workflow_dlq_deletes_only_the_named_entry() {
    workflow_dlq_touches_only_the_named_entry(Method::DELETE, "/v2/workflows/dlq").await;
}

#[tokio::test]
async fn bulk_restart_from_the_workflow_dlq_restarts_only_the_named_run() {
    workflow_dlq_touches_only_the_named_entry(Method::POST, "/v2/workflows/dlq/restart").await;
}

#[tokio::test]
async fn bulk_resume_from_the_workflow_dlq_resumes_only_the_named_run() {
    workflow_dlq_touches_only_the_named_entry(Method::POST, "/v2/workflows/dlq/resume").await;
}

#[tokio::test]
async fn a_bulk_body_that_could_widen_is_a_400_naming_the_problem_and_touches_nothing() {
    let app = spawn_app().await;
    let pending = app.publish_ok(DEST, &[LATER], "keep").await;
    let dead = three_dead(&app).await;
    let failed = three_failed_runs(&app).await;
    let rx = endpoint().await;
    let run = start(&app, &rx.url("/active"), &[]).await;
    let routes = [
        (Method::DELETE, "/v2/messages", "messageIds"),
        (Method::DELETE, "/v2/dlq", "dlqIds"),
        (Method::POST, "/v2/dlq/retry", "dlqIds"),
        (Method::DELETE, "/v2/workflows/runs", "workflowRunIds"),
        (Method::DELETE, "/v2/workflows/dlq", "dlqIds"),
        (Method::POST, "/v2/workflows/dlq/restart", "dlqIds"),
        (Method::POST, "/v2/workflows/dlq/resume", "dlqIds"),
    ];
    for (method, path, key) in routes {
        let typo = format!("{key}z");
        let cases: [(Value, &str); 4] = [
            (json!({ typo.as_str(): ["x"] }), typo.as_str()),
            (json!({ key: [] }), key),
            (json!({ key: null }), key),
            (json!({ key: ["x"], "all": true }), "all"),
        ];
        for (body, named) in cases {
            let r = app.send(app.req(method.clone(), path).json(&body)).await;
            let e = assert_error(&r, 400);
            assert!(e.contains(named), "{path} {body}: {e}");
        }
        let r = app
            .send(app.req(method.clone(), &format!("{path}?{typo}=x")))
            .await;
        assert!(assert_error(&r, 400).contains(&typo), "{path}: {}", r.text);
    }
    for exact in ["true", "false"] {
        let path = format!("/v2/workflows/runs?workflowUrlExactMatch={exact}");
        let r = app.send(app.req(Method::DELETE, &path)).await;
        assert!(
            assert_error(&r, 400).contains("without a workflowUrl"),
            "{}",
            r.text
        );
    }
    assert_eq!(status(&app, &format!("/v2/messages/{pending}")).await, 200);
    for id in &dead {
        assert_eq!(status(&app, &format!("/v2/dlq/{id}")).await, 200);
    }
    for id in &failed {
        assert_eq!(status(&app, &format!("/v2/workflows/dlq/{id}")).await, 200);
    }
    let active = run_log(&app, &run, |_| true).await;
    assert_eq!(active["workflowState"], "RUN_STARTED");
}
