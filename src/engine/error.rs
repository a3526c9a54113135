//! The errors a user can see. Each variant maps to one HTTP status in `api::error`; the text is
//! the `error` field of the JSON body, so it says what is wrong in words a user can act on.

/// Everything the engine refuses, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Malformed input: 400.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or unknown token: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Unknown resource: 404.
    #[error("{0}")]
    NotFound(String),
    /// A body larger than the quota allows: 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A request that the thing's current state forbids (deliver a message already in
    /// delivery): 409.
    #[error("{0}")]
    Conflict(String),
    /// The server failed (a bug): 500.
    #[error("{0}")]
    Internal(String),
    /// A plan limit (queues, schedules, …): 412.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A workflow message for a run that does not exist or has ended: 400, and the whole
    /// request fails (the workflow SDK reads a 400 as "the run is over").
    #[error("{0}")]
    RunEnded(String),
}

impl Error {
    pub(crate) fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    pub(crate) fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
}

pub(crate) type Result<T> = std::result::Result<T, Error>;
