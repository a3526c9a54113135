//! Throughput limits at the HTTP edge: the burst limit as a middleware on every management
//! route (publish, enqueue, batch, trigger, notify, wait and workflow webhooks are exempt, as
//! on the hosted service), and the daily quota counted by the publish handlers per message.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{limit_headers, ApiError, LimitKind};
use super::AppState;
use crate::engine::TenantId;

/// Route families without a burst limit.
const EXEMPT: [&str; 7] = [
    "publish", "enqueue", "batch", "trigger", "notify", "wait", "dev",
];

fn tenant_of(state: &AppState, parts: &axum::http::request::Parts) -> Option<TenantId> {
    state.engine.authenticate(&super::auth::token_of(parts)?)
}

/// The one middleware in front of every route (one layer rather than two: each layer costs
/// allocations on every request): the header-size bound, then the burst limit.
pub async fn edge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(refused) = super::head::refusal(req.headers()) {
        return refused;
    }
    burst(state, req, next).await
}

/// The burst limit: counts each authenticated management request per one-second window.
async fn burst(state: AppState, req: Request, next: Next) -> Response {
    let family = req
        .uri()
        .path()
        .strip_prefix("/v2/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("");
    // Webhooks take no token; a caller's own `Authorization` must not count against a tenant.
    let hook = req.uri().path().starts_with("/v2/workflows/hooks/");
    if family.is_empty() || EXEMPT.contains(&family) || hook {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let tenant = tenant_of(&state, &parts);
    let req = Request::from_parts(parts, body);
    let Some(t) = tenant else {
        return next.run(req).await;
    };
    match state.engine.take_burst(t) {
        None => next.run(req).await,
        Some(s) if !s.allowed => ApiError::Limited(LimitKind::Burst, s).into_response(),
        Some(s) => {
            let mut resp = next.run(req).await;
            limit_headers(resp.headers_mut(), LimitKind::Burst, &s);
            resp
        }
    }
}

/// Counts `n` messages against the daily quota; the headers to send on success.
pub fn daily(state: &AppState, t: TenantId, n: u64) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(s) = state.engine.take_daily(t, n) {
        if !s.allowed {
            return Err(ApiError::Limited(LimitKind::Daily, s));
        }
        limit_headers(&mut headers, LimitKind::Daily, &s);
    }
    Ok(headers)
}
