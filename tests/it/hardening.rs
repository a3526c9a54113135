//! Hardening: request heads and bodies are bounded, pending messages per user are bounded, and
//! shutdown with deliveries in flight is quick and clean. Tenant isolation is in `isolation`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use qstash_dev::config::{Config, QuotaPreset};
use qstash_dev::server::spawn;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{assert_error_for, init_logs, spawn_app, Answer, App, Receiver, LATER, TOKEN};

#[tokio::test]
async fn headers_over_64_kib_get_a_431_json_error() {
    let app = spawn_app().await;
    let big = "a".repeat(100 * 1024);
    let r = app
        .send(app.req(Method::GET, "/v2/keys").header("X-Big", &big))
        .await;
    assert_error_for(&r, 431, "100 KB header on GET /v2/keys");
    let publish = app
        .req(Method::POST, "/v2/publish/https://example.com/x")
        .header("Upstash-Forward-Big", &big)
        .body("x");
    assert_error_for(&app.send(publish).await, 431, "100 KB forwarded header");
    let split = (0..40).fold(app.req(Method::GET, "/v2/keys"), |rb, i| {
        rb.header(format!("X-Part-{i}"), "b".repeat(2 * 1024))
    });
    assert_error_for(&app.send(split).await, 431, "40 headers of 2 KB");
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
    assert_error_for(&over, 412, "a fourth pending message");
    assert!(over.text.contains("pending"), "{}", over.text);
    let add =
        json!({"endpoints": [{"url": "https://example.com/a"}, {"url": "https://example.com/b"}]});
    app.send(app.req(Method::POST, "/v2/topics/g/endpoints").json(&add))
        .await;
    assert_error_for(&app.publish("g", &[LATER], "x").await, 412, "a fan-out");
    let enqueue = app.req(Method::POST, "/v2/enqueue/q/https://example.com/e");
    assert_error_for(&app.send(enqueue).await, 412, "an enqueue");
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
        202
    );
    app.publish_ok("https://example.com/p", &[LATER], "again")
        .await;
    let t = app.server.engine.authenticate(TOKEN).expect("token");
    assert_eq!(app.server.engine.pending(t), 3);
}

#[tokio::test]
async fn stopping_with_a_slow_delivery_in_flight_returns_after_the_drain_not_the_answer() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_secs(5)));
    let id = app.publish_ok(&rx.url("/slow"), &[], "x").await;
    rx.wait_for(1).await;
    let engine = app.server.engine.clone();
    let t = engine.authenticate(TOKEN).expect("token");
    let started = Instant::now();
    app.server.shutdown.cancel();
    let joined = tokio::time::timeout(Duration::from_millis(4_500), app.server.task).await;
    let took = started.elapsed();
    let result = joined.expect("the server task ends").expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    // The drain (1.5 s) and a margin for a busy machine, well short of the 5 s answer.
    assert!(took < Duration::from_secs(4), "took {took:?}");
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
