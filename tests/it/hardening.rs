//! Hardening: tenants never see or change each other's resources, request heads and bodies are
//! bounded, pending messages per user are bounded, and shutdown with deliveries in flight is
//! quick and clean.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use qstash_dev::config::{Config, QuotaPreset};
use qstash_dev::server::spawn;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{init_logs, spawn_app, Answer, App, Receiver, Reply, TOKEN};
use crate::workflow_runs::{endpoint, start};

const LATER: (&str, &str) = ("Upstash-Delay", "1h");

fn assert_error(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: a JSON error: {}",
        r.text
    );
}

async fn as1(app: &App, m: Method, path: &str) -> Reply {
    app.send(app.as_user(1, m, path)).await
}

async fn as1_json(app: &App, m: Method, path: &str, body: Value) -> Reply {
    app.send(app.as_user(1, m, path).json(&body)).await
}

/// User 1's requests on `paths` all answer 404 with a JSON error.
async fn all_not_found(app: &App, reqs: &[(Method, String)]) {
    for (m, p) in reqs {
        let r = as1(app, m.clone(), p).await;
        assert_error(&r, 404, &format!("user 1: {m} {p}"));
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

#[tokio::test]
async fn headers_over_64_kib_get_a_431_json_error() {
    let app = spawn_app().await;
    let big = "a".repeat(100 * 1024);
    let r = app
        .send(app.req(Method::GET, "/v2/keys").header("X-Big", &big))
        .await;
    assert_error(&r, 431, "100 KB header on GET /v2/keys");
    let publish = app
        .req(Method::POST, "/v2/publish/https://example.com/x")
        .header("Upstash-Forward-Big", &big)
        .body("x");
    assert_error(&app.send(publish).await, 431, "100 KB forwarded header");
    let split = (0..40).fold(app.req(Method::GET, "/v2/keys"), |rb, i| {
        rb.header(format!("X-Part-{i}"), "b".repeat(2 * 1024))
    });
    assert_error(&app.send(split).await, 431, "40 headers of 2 KB");
    let fine = app
        .req(Method::GET, "/v2/keys")
        .header("X-Ok", "c".repeat(8 * 1024));
    assert_eq!(app.send(fine).await.status, 200);
}

#[tokio::test]
async fn hyper_refuses_too_many_or_huge_headers_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let many = (0..150).fold(app.req(Method::GET, "/v2/keys"), |rb, i| {
        rb.header(format!("X-H-{i}"), "v")
    });
    let r = many.send().await.expect("a response");
    assert_eq!(r.status().as_u16(), 431, "more than 100 headers");
    let huge = app
        .req(Method::GET, "/v2/keys")
        .header("X-Huge", "d".repeat(600 * 1024));
    match huge.send().await {
        Ok(r) => assert_eq!(r.status().as_u16(), 431, "a 600 KB header"),
        // hyper may close the socket while the client still writes the head.
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e}"),
    }
    assert_eq!(app.get("/v2/keys").await.status, 200, "still serving");
}

/// A server whose users may have at most `max` pending messages.
async fn app_with_pending_limit(max: usize) -> App {
    init_logs();
    let config = Config {
        port: 0,
        quota: QuotaPreset::Payg,
        throughput_limits: false,
        max_pending_override: Some(max),
        ..Config::default()
    };
    App {
        server: spawn(config).await.expect("server binds port 0"),
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

#[tokio::test]
async fn publishing_past_the_pending_bound_is_a_412_until_messages_leave() {
    let app = app_with_pending_limit(3).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.publish_ok("https://example.com/p", &[LATER], &i.to_string())
                .await,
        );
    }
    let over = app.publish("https://example.com/p", &[LATER], "3").await;
    assert_error(&over, 412, "a fourth pending message");
    assert!(over.text.contains("pending"), "{}", over.text);
    let add =
        json!({"endpoints": [{"url": "https://example.com/a"}, {"url": "https://example.com/b"}]});
    app.send(app.req(Method::POST, "/v2/topics/g/endpoints").json(&add))
        .await;
    assert_error(&app.publish("g", &[LATER], "x").await, 412, "a fan-out");
    let enqueue = app.req(Method::POST, "/v2/enqueue/q/https://example.com/e");
    assert_error(&app.send(enqueue).await, 412, "an enqueue");
    let batch =
        json!([{"destination": "https://example.com/b", "headers": {"Upstash-Delay": "1h"}}]);
    let r = app
        .send(app.req(Method::POST, "/v2/batch").json(&batch))
        .await;
    assert!(
        r.status == 412 || r.body[0]["error"].is_string(),
        "a batch item: {}",
        r.text
    );
    let other = app.send(
        app.as_user(1, Method::POST, "/v2/publish/https://example.com/p")
            .header("Upstash-Delay", "1h"),
    );
    assert_eq!(other.await.status, 200, "another user has its own bound");

    assert_eq!(
        app.delete(&format!("/v2/messages/{}", ids[0])).await.status,
        200
    );
    app.publish_ok("https://example.com/p", &[LATER], "again")
        .await;
    let t = app.server.engine.authenticate(TOKEN).expect("token");
    assert_eq!(app.server.engine.pending(t), 3);
}

#[tokio::test]
async fn stopping_with_a_slow_delivery_in_flight_returns_within_two_seconds() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_secs(5)));
    let id = app.publish_ok(&rx.url("/slow"), &[], "x").await;
    rx.wait_for(1).await;
    let engine = app.server.engine.clone();
    let t = engine.authenticate(TOKEN).expect("token");
    let started = Instant::now();
    app.server.shutdown.cancel();
    let joined = tokio::time::timeout(Duration::from_secs(3), app.server.task).await;
    let took = started.elapsed();
    let result = joined.expect("the server task ends").expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    assert!(
        engine.message(t, &id).is_ok(),
        "the in-flight message is kept"
    );
    let refused = reqwest::Client::new()
        .get(format!("{}/v2/keys", app.server.addr))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens after stop");
}

/// Sends a chunked body of `total` bytes without Content-Length over a raw socket; returns
/// the response status and how many body bytes were sent when the response head arrived.
async fn stream_upload(app: &App, path: &str, total: usize) -> (u16, usize, usize) {
    let mut sock = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        app.server.addr
    );
    sock.write_all(head.as_bytes()).await.expect("head");
    let (mut rd, mut wr) = sock.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let sent = sent.clone();
        async move {
            let chunk = vec![b'x'; 64 * 1024];
            let frame = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk,
                b"\r\n".to_vec(),
            ]
            .concat();
            while sent.load(Ordering::SeqCst) < total {
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                sent.fetch_add(64 * 1024, Ordering::SeqCst);
            }
            let _ = wr.write_all(b"0\r\n\r\n").await;
        }
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), rd.read(&mut buf))
        .await
        .expect("a response before the timeout")
        .expect("read");
    let at_response = sent.load(Ordering::SeqCst);
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let _ = tokio::time::timeout(Duration::from_secs(20), writer).await;
    (status, at_response, sent.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused_before_it_is_read_whole() {
    let app = spawn_app().await;
    const TOTAL: usize = 50 * 1024 * 1024;
    let path = "/v2/publish/https://example.com/big";
    let (status, at_response, sent) = stream_upload(&app, path, TOTAL).await;
    assert_eq!(status, 413, "a chunked 50 MB body on payg (10 MB)");
    assert!(
        at_response < 30 * 1024 * 1024,
        "the answer came after {at_response} of {TOTAL} bytes"
    );
    assert!(
        sent < TOTAL,
        "the server stopped reading: the upload ended at {sent} bytes"
    );
    assert_eq!(app.get("/v2/keys").await.status, 200, "still serving");
}
