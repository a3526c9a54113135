//! Throughput limits: the burst limit on every management route (publish, enqueue, batch,
//! trigger, notify, wait and workflow webhooks are exempt, as on the hosted service), checked by
//! the edge before routing, and the daily quota counted by the publish handlers per message.

use axum::extract::Request;
use axum::http::HeaderMap;

use crate::api::error::{limit_headers, ApiError, LimitKind};
use crate::api::AppState;
use crate::engine::limits::quota::LimitState;
use crate::engine::TenantId;

/// Route families without a burst limit.
const EXEMPT: [&str; 7] = [
    "publish", "enqueue", "batch", "trigger", "notify", "wait", "dev",
];

/// Counts a request against its user's burst limit: `Ok(None)` when it is not counted,
/// `Ok(Some(state))` when it is (its answer gets the state's headers), `Err` when over.
pub(crate) fn burst(state: &AppState, req: &Request) -> Result<Option<LimitState>, ApiError> {
    let path = req.uri().path();
    let family = path
        .strip_prefix("/v2/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("");
    // Webhooks take no token; a caller's own `Authorization` must not count against a tenant.
    let hook = path.starts_with("/v2/workflows/hooks/");
    if family.is_empty() || EXEMPT.contains(&family) || hook {
        return Ok(None);
    }
    let token = crate::api::extract::auth::token_in(req.headers(), req.uri());
    let Some(t) = token.and_then(|t| state.engine.authenticate(&t)) else {
        return Ok(None);
    };
    match state.engine.take_burst(t) {
        Some(s) if !s.allowed => Err(ApiError::Limited(LimitKind::Burst, s)),
        other => Ok(other),
    }
}

/// Counts `n` messages against the daily quota; the headers to send on success.
pub(crate) fn daily(state: &AppState, t: TenantId, n: u64) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(s) = state.engine.take_daily(t, n) {
        if !s.allowed {
            return Err(ApiError::Limited(LimitKind::Daily, s));
        }
        limit_headers(&mut headers, LimitKind::Daily, &s);
    }
    Ok(headers)
}
