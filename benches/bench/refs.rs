//! The bare references the server is measured against, and the local receiver deliveries go
//! to. Each runs on the server runtime, on a port of its own.
//!
//! - `bare_publish`: a minimal axum handler that reads the body and answers the publish JSON.
//! - `bare_pipeline`: publish -> sign (the server's own JWT code) -> deliver, with no storage:
//!   each request spawns a task that waits out `Upstash-Delay`, signs and sends the documented
//!   delivery header set (`qstash-api.md` §6.1: `User-Agent`, the publisher's `Content-Type`,
//!   `Upstash-Signature`, `-Message-Id`, `-Retried`, `-Caller-Ip`, forwarded headers).
//! - `Receiver`: answers 200, counts deliveries and records each one's lateness.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};

/// Microseconds since the Unix epoch (both sides of a lateness run read the same clock).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn destination(uri: &Uri) -> String {
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    path.strip_prefix("/v2/publish/")
        .unwrap_or(path)
        .to_string()
}

async fn publish_json(uri: Uri, body: Bytes) -> Json<Value> {
    let _len = body.len();
    Json(json!({"messageId": qstash_dev::ids::message_id(), "url": destination(&uri)}))
}

/// A minimal publish handler: reads the body, answers `{"messageId", "url"}`.
pub async fn bare_publish() -> SocketAddr {
    serve(Router::new().route("/v2/publish/{*d}", post(publish_json))).await
}

struct Pipe {
    client: reqwest::Client,
    key: &'static str,
}

/// The headers a delivery must carry are work of any QStash, not of storage: a reference that
/// left out `Content-Type` and `Upstash-Caller-Ip` would charge them to the server (measured:
/// about 5 points of the end-to-end ratio, BENCHMARKS.md round 6).
async fn pipeline(
    State(p): State<Arc<Pipe>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let dest = destination(&uri);
    let id = qstash_dev::ids::message_id();
    let delay = headers
        .get("upstash-delay")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| qstash_dev::engine::syntax::duration::parse_duration(v).ok())
        .unwrap_or(Duration::ZERO);
    let mut out = reqwest::header::HeaderMap::new();
    for (k, v) in &headers {
        if let Some(name) = k.as_str().strip_prefix("upstash-forward-") {
            if let Ok(name) = reqwest::header::HeaderName::from_bytes(name.as_bytes()) {
                out.insert(name, v.clone());
            }
        }
    }
    if let Some(ct) = headers.get(reqwest::header::CONTENT_TYPE) {
        out.insert(reqwest::header::CONTENT_TYPE, ct.clone());
    }
    if let Ok(ip) = HeaderValue::from_str(&peer.ip().to_string()) {
        out.insert("upstash-caller-ip", ip);
    }
    let answer = Json(json!({"messageId": &id, "url": &dest}));
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let now_s = now_us() / 1_000_000;
        let Ok(sig) = qstash_dev::signature::sign(p.key, &dest, &body, now_s) else {
            return;
        };
        let req = p
            .client
            .post(&dest)
            .headers(out)
            .header("upstash-signature", sig)
            .header("upstash-message-id", id)
            .header("upstash-retried", "0")
            .body(body);
        if let Ok(r) = req.send().await {
            let _ = r.bytes().await;
        }
    });
    answer
}

/// publish -> sign -> deliver with no storage, on the same HTTP client settings as the
/// dispatcher (connect timeout, pool idle timeout).
pub async fn bare_pipeline() -> SocketAddr {
    let client = reqwest::Client::builder()
        .user_agent("Upstash-QStash")
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(qstash_dev::delivery::dispatcher::POOL_IDLE)
        .build()
        .expect("client");
    let key = qstash_dev::config::TEST_USERS[0].current_signing_key;
    let app = Router::new()
        .route("/v2/publish/{*d}", post(pipeline))
        .with_state(Arc::new(Pipe { client, key }));
    serve(app).await
}

/// The local receiver.
#[derive(Default)]
pub struct Receiver {
    pub count: AtomicUsize,
    /// Deliveries that carried every header of [`DOCUMENTED`]: both sides must send them all.
    pub documented: AtomicUsize,
    /// Lateness in µs of deliveries that carried a `Bench-Due` header (µs since the epoch).
    pub late_us: Mutex<Vec<i64>>,
}

/// The delivery headers every delivery of a plain publish carries (`qstash-api.md` §6.1).
pub const DOCUMENTED: [&str; 6] = [
    "user-agent",
    "content-type",
    "upstash-signature",
    "upstash-message-id",
    "upstash-retried",
    "upstash-caller-ip",
];

/// Takes the request whole: the `HeaderMap` extractor would copy every header of every
/// delivery (an allocation per custom header name), a cost of the receiver, not of the side
/// under test, that grows with the headers a delivery carries.
async fn receive(State(r): State<Arc<Receiver>>, req: axum::extract::Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let _ = axum::body::to_bytes(body, usize::MAX).await;
    let now = now_us() as i64;
    if let Some(due) = parts
        .headers
        .get("bench-due")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    {
        r.late_us.lock().push(now - due);
    }
    if DOCUMENTED.iter().all(|h| parts.headers.contains_key(*h)) {
        r.documented.fetch_add(1, Ordering::Relaxed);
    }
    r.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

impl Receiver {
    pub async fn start() -> (Arc<Self>, SocketAddr) {
        let r = Arc::new(Self::default());
        let app = Router::new()
            .route("/{*p}", post(receive))
            .with_state(r.clone());
        (r.clone(), serve(app).await)
    }

    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.documented.store(0, Ordering::Relaxed);
        self.late_us.lock().clear();
    }

    /// Waits until `n` deliveries arrived (or `limit` passed); false on timeout.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let end = tokio::time::Instant::now() + limit;
        while self.count.load(Ordering::Relaxed) < n {
            if tokio::time::Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        true
    }
}
