//! The HTTP/1.1 accept loop and each connection's life: a cap on open connections, a deadline
//! for each request head (which is also the keep-alive idle timeout), a timeout for requests
//! stalled on their client, and graceful shutdown. HTTP/1.1 only, as the crate declares: a
//! client that opens with the HTTP/2 preface is closed at once (hyper's HTTP/1 parser rejects
//! it), where `axum::serve` answered it with HTTP/2 and then waited on it forever. No
//! per-request timer or allocation beyond hyper's own is added here.

use std::convert::Infallible;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::watch::{Activity, Handler, Watched};
use crate::config::Config;

/// Longest the server waits for a request head: from the accept for a connection's first
/// request, and from the end of the previous answer on a kept-alive connection (hyper starts
/// it as soon as an answer is sent; a test pins that). So it is also the keep-alive idle
/// timeout: a connection that sends nothing, trickles a head, or idles between requests is
/// closed after it, without an answer, as nginx does. hyper's own default, under nginx's 60 s
/// `client_header_timeout` and 75 s `keepalive_timeout`, and longer than the idle timeouts of
/// the pools SDKs use (Node's fetch 4 s, Python's httpx 5 s), so those clients close an idle
/// connection before the server does.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request may stall on its client, with no byte moving, before the connection is
/// closed: a body that stops arriving, or an answer the client stops reading. A handler that
/// works on a complete request (`/dev/wait-idle` waits up to ten minutes) is not stalled.
/// nginx's `client_body_timeout` and `send_timeout` (60 s each), which hyper lacks.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Most connections open at once. At the cap the server stops accepting: new connections wait
/// in the kernel's listen queue, neither refused nor spun on, until one closes (and once that
/// queue is full the kernel makes clients retry their connect). nginx's default
/// `worker_connections`; it leaves room under the common limit of 1,024 open files for the
/// delivery connections and the listener.
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// The stall timer looks this many times per stall timeout: a stalled connection is closed
/// between one and one and a quarter timeouts after its last byte, with one timer wake per
/// quarter.
const CHECKS: u32 = 4;

/// Pause after an accept error that is not about one connection (out of file descriptors):
/// hyper's and axum's value; retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The limits one server runs with: the constants above unless `Config` overrides them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    header_read: Duration,
    stall: Duration,
    max: usize,
}

impl ConnLimits {
    pub(crate) fn of(config: &Config) -> Self {
        let max = config.max_connections_override.unwrap_or(MAX_CONNECTIONS);
        Self {
            header_read: config
                .header_read_timeout_override
                .unwrap_or(HEADER_READ_TIMEOUT),
            stall: config.stall_timeout_override.unwrap_or(STALL_TIMEOUT),
            max: max.clamp(1, u32::MAX as usize).min(Semaphore::MAX_PERMITS),
        }
    }
}

/// Tells every open connection to finish its request and close.
#[derive(Default)]
struct Closing {
    flag: AtomicBool,
    notify: Notify,
}

impl Closing {
    fn close(&self) {
        self.flag.store(true, SeqCst);
        self.notify.notify_waiters();
    }
}

/// A connection's stall timer: looks at its [`Activity`] `CHECKS` times per stall timeout.
struct Stall {
    activity: Arc<Activity>,
    ticks: Interval,
    quiet: u32,
}

impl Stall {
    fn new(activity: Arc<Activity>, timeout: Duration) -> Self {
        let period = (timeout / CHECKS).max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            activity,
            ticks,
            quiet: 0,
        }
    }

    /// Completes once the connection was quiet at `CHECKS` looks in a row. Cancel-safe.
    async fn elapsed(&mut self) {
        while self.quiet < CHECKS {
            self.ticks.tick().await;
            self.quiet = if self.activity.quiet() {
                self.quiet + 1
            } else {
                0
            };
        }
    }
}

/// Accepts and serves connections until `shutdown` fires, then lets each finish its request
/// and returns once all are closed (the caller bounds that wait; dropping this future aborts
/// the connections left).
pub(crate) async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnLimits,
    shutdown: CancellationToken,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max));
    // Owned here: when the caller stops waiting and drops this future, every connection still
    // open is aborted with it rather than left running detached.
    let mut connections = JoinSet::new();
    let closing = Arc::new(Closing::default());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    loop {
        // A permit first, then the accept: at the cap nothing is accepted (nor spun on).
        let next = async {
            let permit = permits.clone().acquire_owned().await.ok()?;
            let (stream, peer) = accept(&listener).await;
            Some((permit, stream, peer))
        };
        let accepted = tokio::select! {
            next = next => next,
            () = shutdown.cancelled() => None,
        };
        let Some((permit, stream, peer)) = accepted else {
            break;
        };
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let conn = http.serve_connection(io, Handler::new(app.clone(), peer, activity.clone()));
        // Reaps the connections that ended, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            conn,
            activity,
            limits.stall,
            closing.clone(),
            permit,
        ));
    }
    drop(listener);
    closing.close();
    while connections.join_next().await.is_some() {}
}

/// The next connection; errors about one connection are skipped, others wait a moment.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!("accept error: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, stalls on its client for `stall` (then it is dropped,
/// which closes the socket), or shutdown asks it to finish its request. Holds `_permit` until
/// then.
async fn connection<S>(
    conn: http1::Connection<TokioIo<Watched>, Handler<S>>,
    activity: Arc<Activity>,
    stall: Duration,
    closing: Arc<Closing>,
    _permit: OwnedSemaphorePermit,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    tokio::pin!(conn);
    let notified = closing.notify.notified();
    tokio::pin!(notified);
    // Registered before the flag is read, so a close in between is not missed.
    notified.as_mut().enable();
    let mut graceful = closing.flag.load(SeqCst);
    if graceful {
        conn.as_mut().graceful_shutdown();
    }
    let mut stall = Stall::new(activity, stall);
    loop {
        tokio::select! {
            biased;
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = &mut notified, if !graceful => {
                graceful = true;
                conn.as_mut().graceful_shutdown();
            }
            () = stall.elapsed() => {
                tracing::debug!("connection closed: stalled on its client");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_the_documented_constants_unless_overridden() {
        let l = ConnLimits::of(&Config::default());
        assert_eq!(l.header_read, HEADER_READ_TIMEOUT);
        assert_eq!(l.stall, STALL_TIMEOUT);
        assert_eq!(l.max, MAX_CONNECTIONS);
        let c = Config {
            header_read_timeout_override: Some(Duration::from_secs(1)),
            stall_timeout_override: Some(Duration::from_secs(2)),
            max_connections_override: Some(0),
            ..Config::default()
        };
        let l = ConnLimits::of(&c);
        assert_eq!(l.header_read, Duration::from_secs(1));
        assert_eq!(l.stall, Duration::from_secs(2));
        assert_eq!(l.max, 1, "a cap of zero would accept nothing");
    }
}
