//! `qstash dev`: a QStash development server. Two flows carry everything, and a reviewer
//! reads them file by file:
//!
//! - **Request in.** `server` accepts the connection (`server/conn.rs`); `api::edge` checks
//!   where the request comes from, its head and the burst limit; the route's handler
//!   (`api/publish/mod.rs` for a publish) extracts the tenant, the body and the typed
//!   options (`api::extract`, `api::publish::upstash`) and calls the engine
//!   (`Engine::publish` in `engine/lifecycle/publish.rs`), which checks the quota, stores the
//!   message, logs CREATED and arms its first attempt in the timer, all under the tenant's
//!   lock (`Engine::with`, `engine/tenant.rs`). The handler renders the answer from
//!   `api::views`.
//! - **Delivery out.** `timer` hands a due job to the `delivery::Dispatcher`, which asks the
//!   engine to start the attempt (`Engine::start_attempt`, `engine/lifecycle/attempt.rs`:
//!   queue, flow-control and global-parallelism admission, then ACTIVE), signs and sends it
//!   on its own task (`signature/mod.rs`), turns the response into a verdict
//!   (`delivery/verdict.rs`) and hands it back (`Engine::finish_attempt`: DELIVERED, or
//!   RETRY with a new timer job, or FAILED into the DLQ, with callbacks on the way).
//!
//! The engine is synchronous and never does I/O; `api` never calls `delivery`; every "now"
//! comes from the one `clock::Clock` that `server` hands down, and `catch_up` moves it
//! forward through every deadline in between (`/dev/clock`).

pub mod api;
pub(crate) mod catch_up;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod exec;
pub mod ids;
pub mod persist;
pub mod seed;
pub mod server;
pub mod signature;
pub mod timer;

/// The allocator of every program built on this library (the server, its tests and benches).
/// glibc's malloc spent a fifth of the end-to-end CPU time on arena locks and consolidation
/// when messages are allocated on one worker thread and freed on another; mimalloc frees
/// across threads without locks (BENCHMARKS.md). `no_thp` keeps idle memory small.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
