//! Slow and idle clients are cut off: a request head must arrive within the header deadline
//! (counted from the accept, or from the previous answer on a kept-alive connection, so it is
//! also the keep-alive idle timeout), a request stalled on its client (a body that stops, an
//! answer nobody reads) is closed after the stall timeout, open connections are capped (the
//! rest wait to be accepted), and an HTTP/2 preface is closed at once. Normal keep-alive
//! clients, slow handlers and steady uploads are unaffected. The servers here use short limits
//! set through `Config`, and the pro preset for its 50 MB bodies.

use std::time::{Duration, Instant};

use axum::http::Method;
use qstash_dev::config::{Config, QuotaPreset};
use qstash_dev::server::spawn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Long enough that a closed connection is never waited for in vain on a busy machine.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app_with(header_read: Duration, stall: Duration, max: Option<usize>) -> App {
    init_logs();
    let config = Config {
        port: 0,
        quota: QuotaPreset::Pro,
        throughput_limits: false,
        header_read_timeout_override: Some(header_read),
        stall_timeout_override: Some(stall),
        max_connections_override: max,
        ..Config::default()
    };
    App {
        server: spawn(config).await.expect("server binds port 0"),
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

async fn connect(app: &App) -> TcpStream {
    TcpStream::connect(app.server.addr).await.expect("connect")
}

fn keys_request(app: &App) -> Vec<u8> {
    format!(
        "GET /v2/keys HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        app.server.addr
    )
    .into_bytes()
}

/// Reads one response with a `Content-Length` body and returns its status line.
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return head.lines().next().unwrap_or("").to_string();
                }
            }
            let n = s.read(&mut chunk).await.expect("read a response");
            assert!(n > 0, "closed before a whole response: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("a response in time")
}

/// Waits until the server closes the connection; returns what it sent first.
async fn wait_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server closes the connection");
    got
}

/// Asserts that the server closes `r` without an answer, and not before `deadline` from `start`.
async fn assert_cut_off_unanswered(
    r: &mut tokio::net::tcp::OwnedReadHalf,
    start: Instant,
    deadline: Duration,
) {
    let mut got = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, r.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "still open after {PATIENCE:?}");
    assert!(start.elapsed() >= deadline, "not before the deadline");
    assert!(got.is_empty(), "closed without an answer: {got:?}");
}

/// Sends `bytes` one at a time, `every` apart, until the peer stops taking them.
fn trickle(mut w: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, every: Duration) {
    tokio::spawn(async move {
        for b in bytes {
            if w.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[tokio::test]
async fn a_client_trickling_its_request_head_is_cut_off_after_the_header_deadline() {
    let app = app_with(Duration::from_secs(1), Duration::from_secs(60), None).await;
    let (mut r, w) = connect(&app).await.into_split();
    let start = Instant::now();
    let head = format!(
        "GET /v2/keys HTTP/1.1\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(200)
    );
    trickle(w, head.into_bytes(), Duration::from_millis(100));
    assert_cut_off_unanswered(&mut r, start, Duration::from_secs(1)).await;
    assert_eq!(app.get("/v2/keys").await.status, 200, "others are served");
}

#[tokio::test]
async fn a_kept_alive_connection_trickling_its_next_head_is_cut_off() {
    let app = app_with(Duration::from_secs(1), Duration::from_secs(60), None).await;
    let mut s = connect(&app).await;
    s.write_all(&keys_request(&app)).await.expect("write");
    assert!(read_response(&mut s).await.contains("200"));
    let (mut r, w) = s.into_split();
    let start = Instant::now();
    trickle(w, keys_request(&app), Duration::from_millis(100));
    assert_cut_off_unanswered(&mut r, start, Duration::from_secs(1)).await;
}

/// hyper starts the header deadline as soon as an answer is sent, not at the next request's
/// first byte: the wait between requests counts, so the deadline is the keep-alive idle
/// timeout too.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_deadline() {
    let app = app_with(Duration::from_secs(1), Duration::from_secs(60), None).await;
    let mut s = connect(&app).await;
    let start = Instant::now();
    s.write_all(&keys_request(&app)).await.expect("write");
    assert!(read_response(&mut s).await.contains("200"));
    assert!(wait_closed(&mut s).await.is_empty(), "nothing more is sent");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "not before the deadline"
    );
}

#[tokio::test]
async fn a_connection_in_use_stays_open_past_both_timeouts() {
    let app = app_with(Duration::from_secs(2), Duration::from_secs(2), None).await;
    let mut s = connect(&app).await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        s.write_all(&keys_request(&app)).await.expect("write");
        assert!(read_response(&mut s).await.contains("200"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_handler_working_longer_than_both_timeouts_keeps_its_connection() {
    let app = app_with(Duration::from_secs(1), Duration::from_secs(1), None).await;
    let _rx = busy_delivery(&app).await;
    let start = Instant::now();
    let r = app.get("/dev/wait-idle?timeout=3s").await;
    assert_eq!(r.status, 408, "{}", r.text);
    assert!(start.elapsed() >= Duration::from_secs(3));
}

/// A delivery in flight for ten minutes, so `/dev/wait-idle` has something to wait for.
async fn busy_delivery(app: &App) -> Receiver {
    let rx = Receiver::start().await;
    rx.always(Answer::status(200).slow(Duration::from_secs(600)));
    app.publish_ok(&rx.url("/busy"), &[], "x").await;
    rx.wait_for(1).await;
    rx
}

fn publish_head(app: &App, len: usize) -> String {
    format!(
        "POST /v2/publish/http://127.0.0.1:9/hook HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {TOKEN}\r\nUpstash-Delay: 1h\r\nContent-Length: {len}\r\n\r\n",
        app.server.addr
    )
}

#[tokio::test]
async fn a_stalled_request_body_is_cut_off_after_the_stall_timeout() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(1), None).await;
    let mut s = connect(&app).await;
    let start = Instant::now();
    s.write_all(publish_head(&app, 100).as_bytes())
        .await
        .expect("write");
    s.write_all(b"only ten b").await.expect("write");
    assert!(
        wait_closed(&mut s).await.is_empty(),
        "closed without an answer"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "not before the timeout"
    );
    let t = app.server.engine.authenticate(TOKEN).expect("token");
    assert_eq!(app.server.engine.pending(t), 0, "nothing published");
}

#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_cut_off_after_the_stall_timeout() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(1), None).await;
    // Larger than the socket buffers of a reader that reads nothing.
    let id = app
        .publish_ok(&dead_url().await, &[LATER], &"x".repeat(20 << 20))
        .await;
    let mut s = connect(&app).await;
    let get = format!(
        "GET /v2/messages/{id} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        app.server.addr
    );
    s.write_all(get.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let got = wait_closed(&mut s).await;
    assert!(got.starts_with(b"HTTP/1.1 200"), "the answer started");
    assert!(got.len() < 20 << 20, "and was cut: {} bytes", got.len());
    assert_eq!(app.get("/v2/keys").await.status, 200, "others are served");
}

#[tokio::test]
async fn a_slow_but_steady_body_is_not_cut_off() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(2), None).await;
    let (mut r, mut w) = connect(&app).await.into_split();
    w.write_all(publish_head(&app, 10).as_bytes())
        .await
        .expect("write");
    trickle(w, b"0123456789".to_vec(), Duration::from_millis(300));
    let mut s = [0u8; 12];
    tokio::time::timeout(PATIENCE, r.read_exact(&mut s))
        .await
        .expect("an answer in time")
        .expect("read");
    assert_eq!(&s, b"HTTP/1.1 200", "published after about three seconds");
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(60), Some(2)).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&app).await;
        s.write_all(&keys_request(&app)).await.expect("write");
        assert!(read_response(&mut s).await.contains("200"));
        open.push(s);
    }
    let third = tokio::spawn(
        reqwest::Client::new()
            .get(app.url("/v2/keys"))
            .bearer_auth(TOKEN)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection waits at the cap");
    drop(open.remove(0));
    let answer = tokio::time::timeout(PATIENCE, third)
        .await
        .expect("served once a connection closes")
        .expect("task")
        .expect("not refused");
    assert_eq!(answer.status().as_u16(), 200);
}

#[tokio::test]
async fn an_http2_preface_is_closed_at_once() {
    let app = app_with(Duration::from_secs(600), Duration::from_secs(600), None).await;
    let mut s = connect(&app).await;
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("write");
    // Long before either timeout.
    assert!(wait_closed(&mut s).await.is_empty(), "no HTTP/2 settings");
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let r = tokio::time::timeout(PATIENCE, h2.get(app.url("/v2/keys")).send()).await;
    assert!(
        r.expect("an answer in time").is_err(),
        "HTTP/2 is not spoken"
    );
}

#[tokio::test]
async fn keep_alive_clients_are_unaffected() {
    let app = app_with(Duration::from_secs(1), Duration::from_secs(1), Some(4)).await;
    for _ in 0..20 {
        assert_eq!(app.get("/v2/keys").await.status, 200);
    }
    // Past both limits: the pooled connection is closed by the server, and the next request
    // goes on a new one.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for _ in 0..5 {
        assert_eq!(app.get("/v2/keys").await.status, 200);
    }
    let r = app
        .send(
            app.req(Method::POST, "/v2/publish/http://127.0.0.1:9/x")
                .header(LATER.0, LATER.1),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_lets_a_request_finish() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(60), None).await;
    let _rx = busy_delivery(&app).await;
    let mut idle = connect(&app).await;
    idle.write_all(&keys_request(&app)).await.expect("write");
    assert!(read_response(&mut idle).await.contains("200"));
    let mut busy = connect(&app).await;
    let wait = format!(
        "GET /dev/wait-idle?timeout=1s HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        app.server.addr
    );
    busy.write_all(wait.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let App { server, .. } = app;
    let stopped = tokio::spawn(server.stop());
    assert!(
        wait_closed(&mut idle).await.is_empty(),
        "the idle one closes"
    );
    let answer = wait_closed(&mut busy).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "the busy one is answered, then closed"
    );
    stopped.await.expect("stopped");
}

#[tokio::test]
async fn a_request_still_working_when_the_drain_ends_is_cut_off_with_the_server() {
    let app = app_with(Duration::from_secs(60), Duration::from_secs(60), None).await;
    let _rx = busy_delivery(&app).await;
    let mut busy = connect(&app).await;
    let wait = format!(
        "GET /dev/wait-idle?timeout=5m HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        app.server.addr
    );
    busy.write_all(wait.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let App { server, .. } = app;
    let started = Instant::now();
    server.stop().await;
    assert!(
        wait_closed(&mut busy).await.is_empty(),
        "closed unanswered once the drain is over"
    );
    assert!(
        started.elapsed() < PATIENCE,
        "the five-minute wait did not outlive the server"
    );
}
