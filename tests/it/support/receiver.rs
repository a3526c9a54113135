//! The recording receiver: a destination on 127.0.0.1:0 that keeps every request it gets and
//! answers from a script (fail N times, answer slowly, send given headers), and what tests
//! read from the requests it kept.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

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
