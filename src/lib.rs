pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod ids;
pub mod server;
pub mod timer;

/// The allocator of every program built on this library (the server, its tests and benches).
/// glibc's malloc spent a fifth of the end-to-end CPU time on arena locks and consolidation
/// when messages are allocated on one worker thread and freed on another; mimalloc frees
/// across threads without locks (BENCHMARKS.md). `no_thp` keeps idle memory small.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
