//! The pure vocabulary of requests: QStash durations, header lists, destination URLs and the
//! typed publish options. No state and no clock; cron expressions and retry-delay
//! expressions have folders of their own (`engine::cron`, `engine::expr`).

pub mod duration;
pub(crate) mod headers;
pub(crate) mod method;
pub mod options;
pub(crate) mod urls;
