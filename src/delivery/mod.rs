//! Outgoing HTTP: the dispatcher loop and response verdicts (signing is `crate::signature`). Talks to the
//! engine through the entry points of its timer jobs (start and finish an attempt, fire a
//! schedule, wake a flow-control key or the global line, time out a waiter); never touches
//! `api`.

pub mod dispatcher;
pub mod hints;
mod resolve;
pub(crate) mod verdict;

pub(crate) use dispatcher::Dispatcher;
