//! What a tenant keeps about the past: the event log, the dead-letter queue, and the filters
//! both are listed by.

pub(crate) mod actions;
pub(crate) mod dlq;
pub mod filter;
pub mod logs;
