//! The one place where errors become HTTP: each engine error variant has its status, and the
//! body is always `{"error": "..."}`. A throughput limit is a 429 carrying the headers the SDKs
//! read to tell a daily-quota error (`RateLimit-*`) from a burst error (`Burst-RateLimit-*`).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::engine::limits::quota::LimitState;
use crate::engine::Error;

/// Which throughput limit a 429 is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Daily,
    Burst,
}

impl LimitKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Daily => "RateLimit",
            Self::Burst => "Burst-RateLimit",
        }
    }
}

/// Sets the `…-Limit`, `…-Remaining` and `…-Reset` headers of a limit.
pub(crate) fn limit_headers(headers: &mut HeaderMap, kind: LimitKind, s: &LimitState) {
    for (suffix, value) in [
        ("Limit", s.limit),
        ("Remaining", s.remaining),
        ("Reset", s.reset),
    ] {
        let name = format!("{}-{suffix}", kind.prefix());
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value.to_string()),
        ) {
            headers.insert(n, v);
        }
    }
}

/// An error on its way out as an HTTP response.
#[derive(Debug)]
pub(crate) enum ApiError {
    Engine(Error),
    Limited(LimitKind, LimitState),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::Engine(e)
    }
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Engine(Error::BadRequest(_) | Error::RunEnded(_)) => StatusCode::BAD_REQUEST,
            Self::Engine(Error::Unauthorized(_)) => StatusCode::UNAUTHORIZED,
            Self::Engine(Error::NotFound(_)) => StatusCode::NOT_FOUND,
            Self::Engine(Error::PayloadTooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Engine(Error::QuotaExceeded(_)) => StatusCode::PRECONDITION_FAILED,
            Self::Engine(Error::Conflict(_)) => StatusCode::CONFLICT,
            Self::Engine(Error::Internal(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Limited(..) => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::Engine(e) => (status, Json(json!({ "error": e.to_string() }))).into_response(),
            Self::Limited(kind, state) => {
                let msg = match kind {
                    LimitKind::Daily => format!("daily message quota of {} exceeded", state.limit),
                    LimitKind::Burst => {
                        format!("rate limit of {} requests per second exceeded", state.limit)
                    }
                };
                let mut resp = (status, Json(json!({ "error": msg }))).into_response();
                limit_headers(resp.headers_mut(), kind, &state);
                resp
            }
        }
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A JSON error with any status, for the router's own fallbacks.
pub(crate) fn error_response(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}
