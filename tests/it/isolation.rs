//! Tenant isolation: another user never sees or changes a user's messages, logs, DLQ entries,
//! URL groups, queues, schedules, flow-control keys or workflow runs, and rotating its keys
//! leaves the other user's keys alone.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::{assert_error_for, spawn_app, Answer, App, Receiver, Reply, LATER};
use crate::workflow_runs::{endpoint, start};

async fn as1(app: &App, m: Method, path: &str) -> Reply {
    app.send(app.as_user(1, m, path)).await
}

async fn as1_json(app: &App, m: Method, path: &str, body: Value) -> Reply {
    app.send(app.as_user(1, m, path).json(&body)).await
}

/// User 1's requests `reqs` all answer 404 with a JSON error.
async fn all_not_found(app: &App, reqs: &[(Method, String)]) {
    for (m, p) in reqs {
        let r = as1(app, m.clone(), p).await;
        assert_error_for(&r, 404, &format!("user 1: {m} {p}"));
    }
}

#[tokio::test]
async fn another_user_never_sees_or_changes_messages_logs_or_dlq() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(500));
    let pending = app.publish_ok("https://example.com/p", &[LATER], "x").await;
    let failed = app
        .publish_ok(&rx.url("/f"), &[("Upstash-Retries", "0")], "y")
        .await;
    app.wait_for_state(&failed, "FAILED").await;
    let dlq_id = app.get("/v2/dlq").await.body["messages"][0]["dlqId"]
        .as_str()
        .expect("dlqId")
        .to_string();
    all_not_found(
        &app,
        &[
            (Method::GET, format!("/v2/messages/{pending}")),
            (Method::DELETE, format!("/v2/messages/{pending}")),
            (Method::GET, format!("/v2/dlq/{dlq_id}")),
            (Method::DELETE, format!("/v2/dlq/{dlq_id}")),
            (Method::POST, format!("/v2/dlq/retry/{dlq_id}")),
        ],
    )
    .await;
    for (path, key) in [
        ("/v2/events", "events"),
        ("/v2/logs", "logs"),
        ("/v2/dlq", "messages"),
    ] {
        let r = as1(&app, Method::GET, path).await;
        assert_eq!(r.body[key], json!([]), "user 1 {path}: {}", r.text);
        let by_id = as1(&app, Method::GET, &format!("{path}?messageId={failed}")).await;
        assert_eq!(by_id.body[key], json!([]), "user 1 {path}: {}", by_id.text);
    }
    let cancel_all = as1(&app, Method::DELETE, "/v2/messages").await;
    assert_eq!(
        cancel_all.body,
        json!({"cancelled": 0}),
        "{}",
        cancel_all.text
    );
    let retry_all = as1(&app, Method::POST, "/v2/dlq/retry?all=true").await;
    assert_eq!(retry_all.body["responses"], json!([]), "{}", retry_all.text);
    let delete_all = as1(&app, Method::DELETE, "/v2/dlq").await;
    assert_eq!(delete_all.body["deleted"], 0, "{}", delete_all.text);

    assert_eq!(
        app.get(&format!("/v2/messages/{pending}")).await.status,
        200
    );
    assert_eq!(app.states(&pending).await, ["CREATED"]);
    assert_eq!(app.get(&format!("/v2/dlq/{dlq_id}")).await.status, 200);
}

#[tokio::test]
async fn another_user_never_sees_or_changes_url_groups_or_queues() {
    let app = spawn_app().await;
    let add = json!({"endpoints": [{"name": "a", "url": "https://example.com/a"}]});
    let r = app
        .send(app.req(Method::POST, "/v2/topics/g/endpoints").json(&add))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let q = json!({"queueName": "q", "parallelism": 2, "paused": true});
    let r = app.send(app.req(Method::POST, "/v2/queues").json(&q)).await;
    assert_eq!(r.status, 200, "{}", r.text);

    assert_eq!(as1(&app, Method::GET, "/v2/topics").await.body, json!([]));
    assert_eq!(as1(&app, Method::GET, "/v2/queues").await.body, json!([]));
    all_not_found(
        &app,
        &[
            (Method::GET, "/v2/topics/g".into()),
            (Method::POST, "/v2/publish/g".into()),
            (Method::GET, "/v2/queues/q".into()),
            (Method::POST, "/v2/queues/q/resume".into()),
        ],
    )
    .await;
    // Deleting is idempotent: it answers, and user 0's group and queue stay.
    let _ = as1(&app, Method::DELETE, "/v2/topics/g").await;
    let _ = as1(&app, Method::DELETE, "/v2/queues/q").await;
    let remove = json!({"endpoints": [{"name": "a"}]});
    let r = as1_json(&app, Method::DELETE, "/v2/topics/g/endpoints", remove).await;
    assert!(
        r.status >= 400,
        "user 1 removes from a group it lacks: {}",
        r.text
    );
    let patch = json!({"headers": {"X-Evil": "1"}});
    let r = as1_json(&app, Method::PATCH, "/v2/topics/g", patch).await;
    assert!(
        r.status >= 400,
        "user 1 patches a group it lacks: {}",
        r.text
    );
    // User 1 may make its own `q`; user 0's stays as it was.
    let own = json!({"queueName": "q", "parallelism": 1, "paused": false});
    assert_eq!(
        as1_json(&app, Method::POST, "/v2/queues", own).await.status,
        200
    );

    let group = app.get("/v2/topics/g").await;
    assert_eq!(group.status, 200, "{}", group.text);
    assert_eq!(group.body["endpoints"][0]["url"], "https://example.com/a");
    assert!(
        group.body["headers"].get("X-Evil").is_none(),
        "{}",
        group.text
    );
    let queue = app.get("/v2/queues/q").await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    assert_eq!(
        (&queue.body["paused"], &queue.body["parallelism"]),
        (&json!(true), &json!(2)),
        "{}",
        queue.text
    );
}

#[tokio::test]
async fn another_user_never_sees_or_changes_schedules_or_flow_control_keys() {
    let app = spawn_app().await;
    let r = app
        .send(
            app.req(Method::POST, "/v2/schedules/https://example.com/s")
                .header("Upstash-Cron", "0 0 1 1 *"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sid = r.body["scheduleId"]
        .as_str()
        .expect("scheduleId")
        .to_string();
    let fc = [
        ("Upstash-Flow-Control-Key", "k"),
        ("Upstash-Flow-Control-Value", "parallelism=1"),
        LATER,
    ];
    app.publish_ok("https://example.com/fc", &fc, "x").await;

    assert_eq!(
        as1(&app, Method::GET, "/v2/schedules").await.body,
        json!([])
    );
    assert_eq!(
        as1(&app, Method::GET, "/v2/flowControl").await.body,
        json!([])
    );
    all_not_found(
        &app,
        &[
            (Method::GET, format!("/v2/schedules/{sid}")),
            (Method::DELETE, format!("/v2/schedules/{sid}")),
            (Method::POST, format!("/v2/schedules/{sid}/pause")),
            (Method::POST, format!("/dev/schedules/{sid}/trigger")),
            (Method::GET, "/v2/flowControl/k".into()),
        ],
    )
    .await;
    for action in ["pause", "pin?parallelism=5", "reset"] {
        let _ = as1(&app, Method::POST, &format!("/v2/flowControl/k/{action}")).await;
    }

    let s = app.get(&format!("/v2/schedules/{sid}")).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.body["isPaused"], false, "{}", s.text);
    let k = app.get("/v2/flowControl/k").await;
    assert_eq!(k.status, 200, "{}", k.text);
    assert_eq!(
        (&k.body["isPaused"], &k.body["isPinnedParallelism"]),
        (&json!(false), &json!(false)),
        "{}",
        k.text
    );
}

#[tokio::test]
async fn another_user_never_sees_or_ends_workflow_runs_or_rotates_keys() {
    let app = spawn_app().await;
    let rx = endpoint().await;
    let run = start(&app, &rx.url("/wf"), &[]).await;
    rx.wait_for(1).await;
    all_not_found(
        &app,
        &[
            (Method::GET, format!("/v2/workflows/runs/{run}")),
            (Method::DELETE, format!("/v2/workflows/runs/{run}")),
        ],
    )
    .await;
    let logs = as1(
        &app,
        Method::GET,
        &format!("/v2/workflows/logs?workflowRunId={run}"),
    )
    .await;
    assert_eq!(logs.body["runs"], json!([]), "{}", logs.text);
    let cancel = as1(
        &app,
        Method::DELETE,
        &format!("/v2/workflows/runs?workflowRunIds={run}"),
    )
    .await;
    assert!(
        cancel.status >= 400 || cancel.body["cancelled"] == 0,
        "{}",
        cancel.text
    );
    let mine = app.get(&format!("/v2/workflows/runs/{run}")).await;
    assert_eq!(mine.status, 200, "{}", mine.text);

    let before = app.get("/v2/keys").await.body;
    assert_eq!(as1(&app, Method::POST, "/v2/keys/rotate").await.status, 200);
    assert_eq!(
        app.get("/v2/keys").await.body,
        before,
        "user 0's keys unchanged"
    );
    assert_ne!(as1(&app, Method::GET, "/v2/keys").await.body, before);
}
