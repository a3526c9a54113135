//! Outgoing HTTP: the dispatcher loop, request signing and response verdicts. Talks to the
//! engine only through `start_attempt` / `finish_attempt`; never touches `api`.

pub mod dispatcher;
pub mod hints;
mod resolve;
pub mod sign;
pub(crate) mod verdict;

pub(crate) use dispatcher::Dispatcher;
