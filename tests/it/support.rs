//! Test harness: the real server in-process on port 0 (`spawn_app`, or `spawn_frozen_app` on a
//! clock the test moves), a small HTTP client that speaks to it as a test user, and a recording
//! receiver that can fail N times, answer slowly or send given headers (`receiver`).

#![allow(dead_code)]

pub mod binary;
mod receiver;

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use qstash_dev::clock::Clock;
use qstash_dev::config::{Config, QuotaPreset, TEST_USERS};
use qstash_dev::server::{spawn_with_clock, Spawned};
use serde_json::Value;

pub use receiver::*;

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
    spawn_app_on(quota, Clock::real()).await
}

/// A server whose clock stands still at the current time until the test moves it
/// (`App::advance_ms`, `App::set_clock`): whatever waits for time (delays, backoff, cron, windows) happens exactly
/// when the test says, and not before.
pub async fn spawn_frozen_app() -> App {
    spawn_app_on(
        QuotaPreset::Payg,
        Clock::frozen_at(qstash_dev::clock::wall_ms()),
    )
    .await
}

pub async fn spawn_app_on(quota: QuotaPreset, clock: Clock) -> App {
    let config = Config {
        quota,
        ..Config::default()
    };
    spawn_app_from(config, clock).await
}

/// An app on `config`, on port 0 and `clock`.
pub async fn spawn_app_from(config: Config, clock: Clock) -> App {
    init_logs();
    let config = Config { port: 0, ..config };
    let server = spawn_with_clock(config, clock)
        .await
        .expect("server binds port 0");
    App {
        server,
        http: reqwest::Client::new(),
        token: TOKEN.to_string(),
    }
}

/// An app started as the binary starts one: on the clock `config` asks for (`start_time`).
pub async fn spawn_app_configured(config: Config) -> App {
    init_logs();
    let config = Config { port: 0, ..config };
    let server = qstash_dev::server::spawn(config)
        .await
        .expect("server binds port 0");
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
    /// The server's clock.
    pub fn clock(&self) -> &Clock {
        &self.server.clock
    }

    /// Unix ms on the server's clock.
    pub fn now_ms(&self) -> u64 {
        self.server.clock.now_ms()
    }

    /// Moves the server's clock forward by `ms`; returns the new time.
    pub fn advance_ms(&self, ms: u64) -> u64 {
        self.server.clock.advance(Duration::from_millis(ms))
    }

    /// Moves the server's clock to `at` (Unix ms, not before its time).
    pub fn set_clock(&self, at: u64) {
        self.server.clock.set(at).expect("the clock moves forward");
    }

    /// Jobs the server's timer holds for later (deliveries, retries, firings, wake-ups). On a
    /// frozen clock a job still held is one that has not run, and cannot until the clock moves.
    pub fn timer_jobs(&self) -> usize {
        self.server.engine.timer().len()
    }

    /// After a move of the clock: waits until the timer has handed over every job the move
    /// made due, gives what they started a moment to reach their destination, then waits until
    /// nothing is pending. For "this did not happen" checks after time has passed.
    pub async fn settle(&self) {
        let timer = self.server.engine.timer();
        for _ in 0..500 {
            if timer.next_deadline().is_none_or(|d| d > self.now_ms()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            timer.next_deadline().is_none_or(|d| d > self.now_ms()),
            "the timer never took its due jobs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.wait_idle().await;
    }

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

    /// Every log entry of a message as `(state, time)`, oldest first.
    pub async fn timeline(&self, id: &str) -> Vec<(String, u64)> {
        let r = self
            .get(&format!("/v2/events?messageId={id}&count=1000"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut out: Vec<(String, u64)> = r.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                let state = e["state"].as_str().unwrap_or("").to_string();
                (state, e["time"].as_u64().expect("time"))
            })
            .collect();
        out.reverse();
        out
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

    /// Waits until the message's log holds `state` `n` times; returns the log's states.
    pub async fn wait_for_count(&self, id: &str, state: &str, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let s = self.states(id).await;
            if s.iter().filter(|x| *x == state).count() >= n {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "message {id} never logged {state} {n} times; log: {:?}",
            self.states(id).await
        );
    }

    /// Moves the server's clock through `/dev/clock/advance?by=…`; returns the answer.
    pub async fn advance(&self, by: &str) -> Reply {
        let r = self
            .send(self.req(Method::POST, &format!("/dev/clock/advance?by={by}")))
            .await;
        assert_eq!(r.status, 200, "advance by {by}: {}", r.text);
        r
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
