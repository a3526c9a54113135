//! Deliveries and the destination's keep-alive timeout. A server closes a keep-alive
//! connection once it has been idle for its timeout; a request that arrives on it just then is
//! lost (Node's `http` server resets it). A delivery after a pause as long as a common timeout
//! (a workflow `sleep`, a delay) must not meet that race: connections idle for longer than a
//! second are never reused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// A destination with a keep-alive timeout of `idle` that loses the race every time: a request
/// arriving on a connection idle for `idle` or longer is dropped unanswered (the connection is
/// reset), as when its timer fires at the moment the request comes in.
struct IdleClosing {
    url: String,
    connections: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl IdleClosing {
    async fn start(idle: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let counts = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (connections, answered, dropped) = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let (answered, dropped) = (answered.clone(), dropped.clone());
                tokio::spawn(serve(stream, idle, answered, dropped));
            }
        });
        Self {
            url,
            connections: counts.0,
            answered: counts.1,
            dropped: counts.2,
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    idle: Duration,
    answered: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut since = Instant::now();
    loop {
        let Some(request_len) = read_request(&mut stream, &mut buf).await else {
            return;
        };
        if since.elapsed() >= idle && answered.load(Ordering::SeqCst) > 0 {
            dropped.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_zero_linger();
            return;
        }
        buf.drain(..request_len);
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=1\r\n\r\nok";
        if stream.write_all(reply).await.is_err() {
            return;
        }
        answered.fetch_add(1, Ordering::SeqCst);
        since = Instant::now();
    }
}

/// Reads one whole request (head and `content-length` body) into `buf`; its length, or `None`
/// once the peer closed.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + body {
                return Some(end + 4 + body);
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn a_delivery_after_a_pause_of_the_keep_alive_timeout_is_not_lost_to_it() {
    let app = spawn_app().await;
    let dest = IdleClosing::start(Duration::from_millis(1_000)).await;
    let first = app.publish_ok(&dest.url, &[], "first").await;
    app.wait_for_state(&first, "DELIVERED").await;
    // Delivered about a second after the first one's answer: its connection is idle just as
    // long as the destination's keep-alive timeout.
    let second = app
        .publish_ok(&dest.url, &[("Upstash-Delay", "1s")], "second")
        .await;
    let states = app.wait_for_state(&second, "DELIVERED").await;
    assert_eq!(
        states,
        ["CREATED", "ACTIVE", "DELIVERED"],
        "delivered at the first attempt"
    );
    assert_eq!(
        dest.dropped.load(Ordering::SeqCst),
        0,
        "no request was lost"
    );
    assert_eq!(dest.answered.load(Ordering::SeqCst), 2);
    assert_eq!(
        dest.connections.load(Ordering::SeqCst),
        2,
        "the idle connection was not reused"
    );
}

#[tokio::test]
async fn deliveries_in_quick_succession_share_one_connection() {
    let app = spawn_app().await;
    let dest = IdleClosing::start(Duration::from_millis(1_000)).await;
    for i in 0..5 {
        let id = app.publish_ok(&dest.url, &[], &format!("m{i}")).await;
        app.wait_for_state(&id, "DELIVERED").await;
    }
    assert_eq!(dest.answered.load(Ordering::SeqCst), 5);
    assert_eq!(dest.connections.load(Ordering::SeqCst), 1);
}
