//! Developer extras under `/dev/`, apart from the `/v2` API and authenticated like it:
//! trigger a schedule now, deliver a pending message now, send a message again ([`replay`]),
//! wait until nothing is pending (for
//! CI), reset all state, export the definitions in the `-seed` format, the server's clock
//! ([`clock`]), the signature explainer ([`verify`]), a message's timeline ([`timeline`]) and
//! one workflow run with why it is where it is ([`runs`]).

mod clock;
mod replay;
mod runs;
mod timeline;
mod verify;

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

/// `GET|POST /dev/wait-idle?timeout=30s`: answers once the user has no message pending that
/// falls due within the wait (every such message delivered, dead-lettered or cancelled), or
/// 408 when the timeout passes. On a frozen clock nothing falls due by itself, so a message
/// due later is left waiting for a move of the clock; on a running one, a message due after
/// the timeout is left waiting too. Both are counted in `waiting`.
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
        let clock = s.engine.clock();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let horizon = match clock.is_frozen() {
            true => clock.now_ms(),
            false => clock.now_ms().saturating_add(left.as_millis() as u64),
        };
        let (pending, all) = s.engine.pending_by(t, horizon);
        if pending == 0 {
            let body = json!({ "idle": true, "pending": 0, "waiting": all });
            return Ok(Json(body).into_response());
        }
        if left.is_zero() {
            let body = json!({ "error": format!("{pending} messages still pending after {}s", timeout.as_secs()), "pending": pending, "waiting": all - pending });
            return Ok((StatusCode::REQUEST_TIMEOUT, Json(body)).into_response());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `POST /dev/messages/{messageId}/deliver`: a delayed or retrying message's next attempt
/// starts now → `{"messageId", "notBefore"}`; 409 while an attempt is in flight.
pub(crate) async fn deliver_now(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let at = s.engine.deliver_now(t, &id)?;
    Ok(Json(json!({ "messageId": id, "notBefore": at })))
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

/// `GET /dev/export`: the user's URL groups, queues, schedules and flow-control pins in the
/// format `-seed` reads; `?all=true` for every user.
pub(crate) async fn export(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    let q = Query::parse(uri.query());
    let tenants: Vec<_> = match parse_bool("all", q.one("all").unwrap_or("false"))? {
        true => s.engine.tenant_ids().collect(),
        false => vec![t],
    };
    Ok(Json(crate::seed::export(&s.engine, &tenants)).into_response())
}

/// The developer extras.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/schedules/{id}/trigger", post(trigger_schedule))
        .route("/dev/wait-idle", get(wait_idle).post(wait_idle))
        .route("/dev/reset", post(reset))
        .route("/dev/messages/{id}/deliver", post(deliver_now))
        .route("/dev/messages/{id}/replay", post(replay::replay))
        .route("/dev/messages/{id}/timeline", get(timeline::timeline))
        .route("/dev/export", get(export))
        .route("/dev/verify", post(verify::verify))
        .route("/dev/workflows/runs/{id}", get(runs::run))
        .merge(clock::routes())
}
