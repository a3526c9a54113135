//! Developer extras under `/dev/`, apart from the `/v2` API and authenticated like it:
//! trigger a schedule now, wait until nothing is pending (for CI), and reset all state.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiResult;
use super::AppState;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::engine::syntax::duration::parse_duration;
use crate::engine::Error;
use axum::routing::{get, post};
use axum::Router;

/// Longest `/dev/wait-idle` wait; the default is 30 s.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// `POST /dev/schedules/{id}/trigger`: runs a schedule now; its next firing is unchanged.
pub(crate) async fn trigger_schedule(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ids = s.engine.trigger_schedule(t, &id)?;
    let ids: Vec<&str> = ids.iter().map(|i| &**i).collect();
    Ok(Json(json!({ "scheduleId": id, "messageIds": ids })))
}

/// `GET|POST /dev/wait-idle?timeout=30s`: answers once the user has no message pending
/// (every message delivered, dead-lettered or cancelled), or 408 when the timeout passes.
pub(crate) async fn wait_idle(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    let q = Query::parse(uri.query());
    let timeout = match q.one("timeout").filter(|v| !v.trim().is_empty()) {
        Some(v) => parse_duration(v).map_err(|e| Error::bad(format!("invalid timeout: {e}")))?,
        None => Duration::from_secs(30),
    }
    .min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let pending = s.engine.pending(t);
        if pending == 0 {
            return Ok(Json(json!({ "idle": true, "pending": 0 })).into_response());
        }
        if tokio::time::Instant::now() >= deadline {
            let body = json!({ "error": format!("{pending} messages still pending after {}s", timeout.as_secs()), "pending": pending });
            return Ok((StatusCode::REQUEST_TIMEOUT, Json(body)).into_response());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `POST /dev/reset` forgets everything of the user; `?all=true` of every user.
pub(crate) async fn reset(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    if parse_bool("all", q.one("all").unwrap_or("false"))? {
        for id in s.engine.tenant_ids().collect::<Vec<_>>() {
            s.engine.reset(id);
        }
    } else {
        s.engine.reset(t);
    }
    Ok(Json(json!({ "reset": true })))
}

/// The developer extras.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/schedules/{id}/trigger", post(trigger_schedule))
        .route("/dev/wait-idle", get(wait_idle).post(wait_idle))
        .route("/dev/reset", post(reset))
}
