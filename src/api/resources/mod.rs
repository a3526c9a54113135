//! The routes of what a tenant defines: queues, schedules, URL groups, flow-control keys and
//! global parallelism, and the signing keys.

pub(crate) mod flow;
pub(crate) mod keys;
pub(crate) mod queues;
pub(crate) mod schedules;
pub(crate) mod topics;
