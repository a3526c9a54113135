//! What holds a due message back: queues (FIFO with parallelism), flow-control keys
//! (parallelism and rate per period), the tenant's global parallelism line, and the quota's
//! throughput limits (daily messages, burst).

pub mod flow;
pub(crate) mod global;
pub(crate) mod queues;
pub(crate) mod quota;
#[cfg(test)]
mod tests;
pub(crate) mod waitline;
