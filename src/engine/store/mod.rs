//! What a tenant keeps about the past: the event log, the dead-letter queue, the filters both
//! are listed by, and the counts `/metrics` reports.

pub(crate) mod actions;
pub(crate) mod dlq;
pub mod filter;
pub mod logs;
pub(crate) mod metrics;
pub(crate) mod timeline;
