//! The composition root: binds the listener, builds the engine, the timer, the dispatcher and
//! the router on one clock (the real one unless given another), and runs them until the
//! shutdown token fires. One cancellation token stops all: the HTTP server stops accepting,
//! the dispatcher stops taking jobs, and in-flight deliveries get a short, capped drain. `conn`
//! owns the HTTP connections and their limits; `watch`, what their stall timer looks at.

mod conn;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::clock::Clock;
use crate::config::Config;
use crate::delivery::Dispatcher;
use crate::engine::{Engine, Job};
use crate::timer::Timer;

/// A bound server, not yet running.
pub struct Server {
    listener: TcpListener,
    engine: Arc<Engine>,
    timer: Arc<Timer<Job>>,
    config: Arc<Config>,
    /// With `-persist`: what writes wait for before they are answered.
    journal: Option<Arc<crate::persist::Journal>>,
}

impl Server {
    /// Binds a server on real time, or from `config.start_time` on.
    pub async fn bind(config: Config) -> std::io::Result<Self> {
        let clock = clock_of(&config);
        Self::bind_with_clock(config, clock).await
    }

    /// Binds a server whose every "now" and every wait is read on `clock`, with the
    /// definitions of `config.seed` created (an `InvalidInput` error names a refused entry).
    pub async fn bind_with_clock(config: Config, clock: Clock) -> std::io::Result<Self> {
        let listener = TcpListener::bind((config.host, config.port)).await?;
        let config = Arc::new(config);
        let timer = Arc::new(Timer::new(clock));
        let engine = Arc::new(Engine::new(config.clone(), timer.clone()));
        let mut journal = None;
        if let Some(path) = &config.persist {
            let refused = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
            let store = crate::persist::Store::open(path).map_err(|e| refused(e.to_string()))?;
            journal = Some(crate::persist::attach(&engine, Arc::new(store)).map_err(refused)?);
        }
        if let Some(seed) = &config.seed {
            crate::seed::apply(&engine, &seed.doc).map_err(|e| {
                let msg = format!("seed file {}: {e}", seed.path.display());
                std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
            })?;
        }
        Ok(Self {
            listener,
            engine,
            timer,
            config,
            journal,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// Serves until `shutdown` fires; returns within about two seconds after that.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let dispatcher = Dispatcher::new(self.engine.clone())?;
        let drain = self.config.shutdown_drain;
        let (timer, cancel) = (self.timer.clone(), shutdown.clone());
        let dispatch_task =
            tokio::spawn(async move { dispatcher.run(&timer, cancel, drain).await });

        let app = api::app(self.engine.clone(), self.journal.clone());
        let limits = conn::ConnLimits::of(&self.config);
        let mut serve = tokio::spawn(conn::serve(self.listener, app, limits, shutdown.clone()));
        shutdown.cancelled().await;
        // Open connections get the same drain as deliveries, then are aborted.
        if tokio::time::timeout(drain, &mut serve).await.is_err() {
            serve.abort();
        }
        let _ = tokio::time::timeout(drain, dispatch_task).await;
        if let Some(journal) = &self.journal {
            // Bounded like the drain: a stop never hangs on the file.
            let _ = tokio::time::timeout(drain, journal.close()).await;
        }
        Ok(())
    }
}

/// A server running on its own task, for tests and embedding: what [`spawn`] gives.
pub struct Spawned {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    /// The server's clock: moving it moves the server's time.
    pub clock: Clock,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Spawned {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The default user's `QSTASH_URL`, `QSTASH_TOKEN`, `QSTASH_CURRENT_SIGNING_KEY` and
    /// `QSTASH_NEXT_SIGNING_KEY` for this server, as exec mode gives them to its command.
    pub fn env(&self) -> [(&'static str, String); 4] {
        crate::exec::environment(&self.engine.config().users()[0], &self.url())
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Binds and runs a server on real time (or from `config.start_time`) in the background, on
/// the current tokio runtime: the in-process way to use `qstash dev` from a Rust test. Port 0
/// (the `Config` default is 8080) binds a free port; [`Spawned::url`] and [`Spawned::env`]
/// say where it is and how to call it, [`Spawned::stop`] stops it.
///
/// ```
/// use qstash_dev::config::Config;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = qstash_dev::server::spawn(Config { port: 0, ..Config::default() })
///     .await
///     .expect("the server starts");
/// let env: std::collections::HashMap<_, _> = server.env().into_iter().collect();
/// // Publish as any client would; the destination need not answer for the publish to succeed.
/// let answer = reqwest::Client::new()
///     .post(format!("{}/v2/publish/http://127.0.0.1:9/hook", env["QSTASH_URL"]))
///     .bearer_auth(&env["QSTASH_TOKEN"])
///     .header("Upstash-Delay", "1h")
///     .body("hello")
///     .send()
///     .await
///     .unwrap();
/// assert_eq!(answer.status(), 200);
/// server.stop().await;
/// # }
/// ```
pub async fn spawn(config: Config) -> std::io::Result<Spawned> {
    let clock = clock_of(&config);
    spawn_with_clock(config, clock).await
}

/// Real time, or running from `-start-time`.
fn clock_of(config: &Config) -> Clock {
    config
        .start_time
        .map_or_else(Clock::real, Clock::starting_at)
}

/// Binds and runs a server on `clock` in the background.
pub async fn spawn_with_clock(config: Config, clock: Clock) -> std::io::Result<Spawned> {
    let server = Server::bind_with_clock(config, clock).await?;
    let addr = server.local_addr()?;
    let engine = server.engine();
    let clock = engine.clock().clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server.run(shutdown.clone()));
    Ok(Spawned {
        addr,
        engine,
        clock,
        shutdown,
        task,
    })
}
