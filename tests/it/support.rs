//! Test harness: the real server in-process on port 0 (`spawn_app`), a small HTTP client that
//! speaks to it as a test user, and a recording receiver that can fail N times, answer slowly
//! or send given headers.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use qstash_dev::config::{Config, QuotaPreset, TEST_USERS};
use qstash_dev::server::{spawn, Spawned};
use serde_json::Value;

pub const TOKEN: &str = TEST_USERS[0].token;

/// A publish header that keeps a message pending for an hour.
pub const LATER: (&str, &str) = ("Upstash-Delay", "1h");

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("qstash=debug,qstash_dev=debug")
            .try_init();
    }
}

/// A running server and a client for it.
pub struct App {
    pub server: Spawned,
    pub http: reqwest::Client,
    pub token: String,
}

pub async fn spawn_app() -> App {
    spawn_app_with(QuotaPreset::Payg).await
}

pub async fn spawn_app_with(quota: QuotaPreset) -> App {
    init_logs();
    let config = Config {
        port: 0,
        quota,
        throughput_limits: false,
        ..Config::default()
    };
    let server = spawn(config).await.expect("server binds port 0");
    App {
        server,
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// A request as the default test user.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub fn as_user(&self, user: usize, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(TEST_USERS[user].token)
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Reply {
        let resp = rb.send().await.expect("request reaches the server");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_canonical(&body, &text);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.req(Method::DELETE, path)).await
    }

    /// Publishes `body` to `dest` with the given headers.
    pub async fn publish(&self, dest: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut rb = self
            .req(Method::POST, &format!("/v2/publish/{dest}"))
            .body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        self.send(rb).await
    }

    /// Publishes and returns the message id, asserting success.
    pub async fn publish_ok(&self, dest: &str, headers: &[(&str, &str)], body: &str) -> String {
        let r = self.publish(dest, headers, body).await;
        assert_eq!(r.status, 200, "publish failed: {}", r.text);
        r.body["messageId"].as_str().expect("messageId").to_string()
    }

    /// One field of every log entry matching `filter` (query parameters), oldest first.
    async fn log_field(&self, filter: &str, field: &str) -> Vec<String> {
        let r = self.get(&format!("/v2/events?{filter}&count=1000")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut out: Vec<String> = r.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e[field].as_str().unwrap_or("").to_string())
            .collect();
        out.reverse();
        out
    }

    /// All log entries of a message, oldest first.
    pub async fn states(&self, id: &str) -> Vec<String> {
        self.log_field(&format!("messageId={id}"), "state").await
    }

    /// Message ids in the order their attempts started (ACTIVE entries matching `filter`, e.g.
    /// `queueName=q`), as the server logged them.
    pub async fn started(&self, filter: &str) -> Vec<String> {
        self.log_field(&format!("{filter}&state=ACTIVE"), "messageId")
            .await
    }

    /// Waits until the message's log contains `state`.
    pub async fn wait_for_state(&self, id: &str, state: &str) -> Vec<String> {
        for _ in 0..500 {
            let s = self.states(id).await;
            if s.iter().any(|x| x == state) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "message {id} never reached {state}; log: {:?}",
            self.states(id).await
        );
    }

    /// Waits until the server has nothing pending for the default user.
    pub async fn wait_idle(&self) {
        let t = self.server.engine.authenticate(&self.token).expect("token");
        for _ in 0..500 {
            if self.server.engine.pending(t) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("messages still pending");
    }
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    }
}

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn body(mut self, b: &str) -> Self {
        self.body = b.to_string();
        self
    }

    pub fn slow(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    default: Option<Answer>,
}

/// A recording HTTP receiver on 127.0.0.1:0.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

async fn record(
    State(st): State<Arc<Mutex<ReceiverState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut s = st.lock();
        s.received.push(Received {
            method: method.to_string(),
            path: uri.to_string(),
            headers,
            body,
            at: std::time::Instant::now(),
        });
        s.script
            .pop_front()
            .or_else(|| s.default.clone())
            .unwrap_or(Answer::status(200))
    };
    tokio::time::sleep(answer.delay).await;
    let mut resp = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
        answer.body,
    )
        .into_response();
    for (k, v) in answer.headers {
        resp.headers_mut().append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(&v).unwrap(),
        );
    }
    resp
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next answers, in order; after them the default (200 unless set).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().script.extend(answers);
    }

    pub fn fail_times(&self, n: usize, status: u16) {
        self.script((0..n).map(|_| Answer::status(status)));
    }

    pub fn always(&self, a: Answer) {
        self.state.lock().default = Some(a);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }

    /// Waits for at least `n` requests and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let r = self.received();
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "receiver got {} requests, expected {n}",
            self.received().len()
        );
    }
}

/// A URL where nothing listens.
pub async fn dead_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/dead")
}

/// Asserts an error status with a non-empty JSON `error` message and returns the message.
pub fn assert_error(r: &Reply, status: u16) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let e = r.body["error"].as_str().unwrap_or("");
    assert!(!e.is_empty(), "no error message: {}", r.text);
    e.to_string()
}

/// Asserts an error status with a non-empty JSON `error` message; failures name `what`.
pub fn assert_error_for(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert!(
        r.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: a JSON error: {}",
        r.text
    );
}

/// The most requests that were certainly in flight at once, given that each took at least
/// `delay`: request j overlaps i when it arrived before i could have finished.
pub fn max_in_flight(got: &[Received], delay: Duration) -> usize {
    got.iter()
        .map(|i| {
            got.iter()
                .filter(|j| j.at >= i.at && j.at < i.at + delay)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// The API writes compact JSON with the keys of every object below the top level in
/// alphabetical order (a page puts its cursor last, a publish answer is written in its own
/// order): responses stay byte for byte what the SDKs have always been sent.
fn assert_canonical(body: &Value, text: &str) {
    fn within(v: &Value, text: &str) -> bool {
        match v {
            Value::Object(m) => m
                .iter()
                .all(|(k, v)| text.contains(&format!("{}:{}", Value::from(k.as_str()), v))),
            Value::Array(items) => items.iter().all(|e| within(e, text)),
            other => text.contains(&other.to_string()),
        }
    }
    assert!(
        body.is_null() || within(body, text),
        "a JSON body in canonical form: {}",
        &text[..text.len().min(300)]
    );
}
