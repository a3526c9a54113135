//! The dispatcher: runs the timer and takes its due jobs on the timer's task (no channel hop
//! between the two), asks the engine to start each attempt, signs and sends it on its own task
//! (a slow or dead destination never holds up anything else), judges the response and hands
//! the result back to the engine. It also sends the attempts the engine starts itself (the
//! engine's `Starter`). Prints one line per attempt.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::verdict::verdict;
use crate::clock::{wall_ms, wall_time};
use crate::engine::lifecycle::attempt::{Attempt, AttemptResult, Verdict};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::ResponseHeaders;
use crate::engine::{Engine, Job, Starter};
use crate::signature::sign;
use crate::timer::Timer;

/// How long a connection to a destination may stay idle and still be reused. A server closes
/// an idle keep-alive connection after its own timeout (Node: `keepAliveTimeout`, 5 s by
/// default, closed a second later; gunicorn 2 s; uvicorn 5 s), and a request sent just as it
/// does is lost: reset, or closed unanswered, a failed attempt retried only after its backoff.
/// That moment is exactly when deliveries come after a pause as long as the timeout (a
/// workflow `sleep(5)` against a Node app). Below a second, no common server's timeout is
/// met; under load connections are never idle that long, and a new one to a local
/// destination costs a fraction of a millisecond.
pub const POOL_IDLE: Duration = Duration::from_millis(900);

/// Redirects most HTTP clients follow: up to ten.
const MAX_REDIRECTS: usize = 10;

/// A destination's redirects are followed, as HTTP clients do, but never to a link-local
/// address: a local service answering `307 Location: http://169.254.169.254/…` must not turn
/// a delivery into a request to a cloud metadata endpoint that publishing it could not make.
/// Such a redirect fails the attempt, which is retried like any other failure.
fn redirect(attempt: reqwest::redirect::Attempt) -> reqwest::redirect::Action {
    if crate::engine::syntax::urls::is_link_local(attempt.url()) {
        let refused = format!(
            "redirect to {} refused: a link-local address",
            attempt.url()
        );
        attempt.error(refused)
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

pub(crate) struct Dispatcher {
    engine: Arc<Engine>,
    client: reqwest::Client,
    tracker: TaskTracker,
}

impl Dispatcher {
    pub(crate) fn new(engine: Arc<Engine>) -> anyhow::Result<Self> {
        // Retries are ours to make (with backoff, logs and the DLQ); reqwest's own retry of
        // HTTP/2 protocol NACKs would also copy every request up front to be able to resend it.
        let client = reqwest::Client::builder()
            .user_agent("Upstash-QStash")
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(POOL_IDLE)
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .redirect(reqwest::redirect::Policy::custom(redirect))
            .dns_resolver(Arc::new(super::resolve::NoLinkLocal))
            .build()?;
        Ok(Self {
            engine,
            client,
            tracker: TaskTracker::new(),
        })
    }

    /// Runs `timer` and every job it hands over until `cancel` fires, then gives in-flight
    /// attempts up to `drain` to finish.
    pub(crate) async fn run(self, timer: &Timer<Job>, cancel: CancellationToken, drain: Duration) {
        let sender = Sender(Arc::new(Shared {
            engine: Arc::downgrade(&self.engine),
            client: self.client.clone(),
            tracker: self.tracker.clone(),
            closed: AtomicBool::new(false),
            runtime: tokio::runtime::Handle::current(),
        }));
        self.engine.set_starter(Box::new(sender.clone()));
        timer
            .run(|job| self.dispatch(job, &sender), cancel.clone())
            .await;
        sender.0.closed.store(true, Ordering::Release);
        self.tracker.close();
        let _ = tokio::time::timeout(drain, self.tracker.wait()).await;
    }

    fn dispatch(&self, job: Job, sender: &Sender) {
        match job {
            Job::Fire {
                tenant,
                schedule,
                generation,
            } => self.engine.fire_schedule(tenant, &schedule, generation),
            Job::FlowWake { tenant, key } => self.engine.wake_flow_key(tenant, &key),
            Job::WaitTimeout { tenant, id } => self.engine.wait_timeout(tenant, id),
            Job::Deliver { tenant, id } => {
                if let Some(attempt) = self.engine.start_attempt(tenant, &id) {
                    sender.start(attempt);
                }
            }
        }
    }
}

/// Sends started attempts, each on a task of its own that the shutdown drain waits for: those
/// of timer jobs (`dispatch`) and those the engine starts itself (as its `Starter`).
#[derive(Clone)]
struct Sender(Arc<Shared>);

/// What every delivery task shares: one reference count per task. Shutdown is an atomic flag
/// rather than the server's `CancellationToken`, whose clone, drop and `is_cancelled` each
/// take a mutex shared by every thread.
struct Shared {
    /// Weak: the engine owns this starter.
    engine: Weak<Engine>,
    client: reqwest::Client,
    tracker: TaskTracker,
    /// Set once the dispatcher stops taking jobs: no new attempt starts after that.
    closed: AtomicBool,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }
}

impl Starter for Sender {
    fn open(&self) -> bool {
        self.0.open()
    }

    fn start(&self, attempt: Attempt) {
        if let Some(engine) = self.0.engine.upgrade() {
            let task = deliver(engine, self.0.clone(), attempt);
            self.0.tracker.spawn_on(task, &self.0.runtime);
        }
    }

    fn in_flight(&self) -> usize {
        self.0.tracker.len()
    }
}

/// Sends an attempt and hands its result back to the engine; then, while the engine hands
/// the freed slot to a waiting message, sends that one too (not once shutdown has begun).
async fn deliver(engine: Arc<Engine>, shared: Arc<Shared>, mut attempt: Attempt) {
    loop {
        let result = send(&shared.client, &attempt, engine.limits().max_body_bytes).await;
        let t = attempt.tenant;
        let Some(next) = engine.finish_attempt(t, &attempt.id, result) else {
            return;
        };
        if !shared.open() {
            return;
        }
        match engine.start_attempt(t, &next) {
            Some(a) => attempt = a,
            None => return engine.wake_line(t),
        }
    }
}

/// Sends one attempt and judges it. Never fails: errors become a failed attempt.
async fn send(client: &reqwest::Client, a: &Attempt, max_body: usize) -> AttemptResult {
    let started = Instant::now();
    // The timeout covers the whole exchange, body included. `tokio::time::timeout` keeps its
    // timer inline in the future; reqwest's per-request timeout boxes one per request, which
    // cost about 7% of end-to-end throughput (BENCHMARKS.md).
    let sent = tokio::time::timeout(a.timeout, try_send(client, a, max_body)).await;
    let sent = sent.unwrap_or_else(|_| Err(format!("timed out after {:?}", a.timeout)));
    let took = started.elapsed();
    let result = match sent {
        Ok(mut response) => {
            response.took_ms = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
            AttemptResult {
                // A `Retry-After` date is the destination's real time; the delay it gives is
                // then waited on the server's clock like any other.
                verdict: verdict(response.status, &response.headers, wall_time()),
                error: (!(200..300).contains(&response.status))
                    .then(|| format!("destination answered with status {}", response.status)),
                response: Some(response),
                took,
            }
        }
        Err(error) => AttemptResult {
            verdict: Verdict::Retry { hint: None },
            response: None,
            error: Some(error),
            took,
        },
    };
    let ms = took.as_millis();
    match (&result.response, &result.error) {
        (Some(r), _) => {
            tracing::info!(target: "qstash::delivery", "{} {} {} -> {} in {ms} ms (retried {})", a.id, a.method(), a.url(), r.status, a.retried)
        }
        (None, e) => {
            tracing::warn!(target: "qstash::delivery", "{} {} {} -> error: {} after {ms} ms (retried {})", a.id, a.method(), a.url(), e.as_deref().unwrap_or("unknown"), a.retried)
        }
    }
    result
}

async fn try_send(
    client: &reqwest::Client,
    a: &Attempt,
    max_body: usize,
) -> Result<Response, String> {
    // Real time, not the server's clock: receivers check `iat`/`nbf`/`exp` against their own.
    let now_s = wall_ms() / 1000;
    let mut url = url::Url::parse(a.url()).map_err(|e| format!("invalid url: {e}"))?;
    // `sub` is the URL as it goes on the wire, so a receiver that rebuilds it from the request
    // it got verifies: serialised by the URL parser (percent-encoded; a bare origin gets its
    // `/`), without a fragment.
    url.set_fragment(None);
    let signature = sign(&a.signing_key, url.as_str(), &a.body, now_s)
        .map_err(|e| format!("signing failed: {e}"))?;
    let method = reqwest::Method::from_bytes(a.method().as_bytes())
        .map_err(|e| format!("invalid method: {e}"))?;
    let headers = header_map(a, &signature);
    // Built whole rather than through `RequestBuilder::headers`, which would copy the map
    // entry by entry into the request's own.
    let mut req = reqwest::Request::new(method, url);
    *req.headers_mut() = headers;
    *req.body_mut() = Some(reqwest::Body::from(a.body.clone()));
    let mut resp = client.execute(req).await.map_err(describe)?;
    let status = resp.status().as_u16();
    let headers = ResponseHeaders::new(resp.headers());
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(describe)? {
        let room = max_body.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(Response {
        status,
        headers,
        body: Bytes::from(body),
        signature: Some(signature),
        took_ms: 0,
    })
}

/// Header names every attempt may carry, as static names: no allocation per attempt.
const OURS: [&str; 8] = [
    "upstash-message-id",
    "upstash-retried",
    "upstash-caller-ip",
    "upstash-topic-name",
    "upstash-schedule-id",
    "upstash-workflow-runid",
    "upstash-workflow-createdat",
    "upstash-region",
];

fn header_name(k: &str) -> Option<HeaderName> {
    match OURS.iter().find(|n| n.eq_ignore_ascii_case(k)) {
        Some(n) => Some(HeaderName::from_static(n)),
        None => HeaderName::from_bytes(k.as_bytes()).ok(),
    }
}

/// Builds the outgoing header map (a repeated name keeps every value), `Upstash-Signature`
/// last. Every value is a slice of one shared buffer: reqwest copies the map of each request,
/// and a value made on its own would then be moved into an allocation of its own as well.
fn header_map(a: &Attempt, signature: &str) -> HeaderMap {
    let mut buf = BytesMut::with_capacity(256 + signature.len());
    a.headers(|_, v| buf.extend_from_slice(v.as_bytes()));
    buf.extend_from_slice(signature.as_bytes());
    let all = buf.freeze();
    let mut map = HeaderMap::with_capacity(8);
    let mut at = 0;
    // The same headers in the same order as above (`Attempt::headers` is deterministic).
    a.headers(|k, v| {
        let value = all.slice(at..at + v.len());
        at += v.len();
        if let (Some(name), Ok(value)) = (header_name(k), HeaderValue::from_maybe_shared(value)) {
            map.append(name, value);
        }
    });
    if let Ok(v) = HeaderValue::from_maybe_shared(all.slice(at..)) {
        map.insert(HeaderName::from_static("upstash-signature"), v);
    }
    map
}

/// A short description of a transport error: timeout, connection refused, …
fn describe(e: reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PAYG;
    use crate::engine::lifecycle::publish::build_spec;
    use crate::engine::TenantId;

    #[test]
    fn the_header_map_carries_every_header_once_each_and_the_signature_last() {
        let mut spec = build_spec(
            "http://127.0.0.1:9/x".into(),
            Default::default(),
            Bytes::from_static(b"{}"),
            "10.0.0.1".into(),
            &PAYG,
        );
        spec.header = vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Multi".into(), "a".into()),
            ("X-Multi".into(), "b".into()),
            ("User-Agent".into(), "mine".into()),
            ("Bad".into(), "line\nbreak".into()),
        ];
        let a = Attempt {
            tenant: TenantId(0),
            id: "msg_1".into(),
            spec: Arc::new(spec),
            run_headers: Vec::new(),
            body: Bytes::new(),
            timeout: Duration::from_secs(1),
            signing_key: "k".into(),
            retried: 12,
            region: Some("US-EAST-1"),
        };
        let map = header_map(&a, "sig.nat.ure");
        let get =
            |k: &str| -> Vec<&str> { map.get_all(k).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(get("upstash-message-id"), ["msg_1"]);
        assert_eq!(get("upstash-retried"), ["12"]);
        assert_eq!(get("upstash-region"), ["US-EAST-1"]);
        assert_eq!(get("upstash-caller-ip"), ["10.0.0.1"]);
        assert_eq!(get("content-type"), ["application/json"]);
        assert_eq!(get("x-multi"), ["a", "b"]);
        assert_eq!(
            get("user-agent"),
            ["mine"],
            "the message's own replaces ours"
        );
        assert_eq!(get("upstash-signature"), ["sig.nat.ure"]);
        assert!(get("bad").is_empty(), "an invalid value is left out");
        assert_eq!(map.len(), 9, "with Upstash-Region");
    }
}
