//! The workflow run API: ending a run (`DELETE /v2/workflows/runs/{id}?cancel=…`, which the
//! SDK calls when a run completes or is cancelled; 200 again for a run that has already ended,
//! see `Engine::finish_run`) and the lazy-fetch history (`GET /v2/workflows/runs/{id}`, 404
//! once the run has ended).

pub(crate) mod dlq;
pub(crate) mod runs;
pub(crate) mod wait;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::api::{extract::body, AppState};
use crate::engine::workflow::wire::WireStep;
use axum::routing::{any, delete, get, post};
use axum::Router;

pub(crate) async fn history(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<WireStep>>> {
    Ok(Json(s.engine.run_history(t, &id)?))
}

pub(crate) async fn end(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let cancel = parse_bool("cancel", q.one("cancel").unwrap_or("true"))?;
    let result = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    s.engine.finish_run(t, &id, cancel, result)?;
    Ok(Json(json!({})))
}

/// Workflow runs, their logs and DLQ, events and webhooks.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/wait/{event_id}", post(wait::wait))
        .route("/v2/notify/{event_id}", post(wait::notify))
        .route("/v2/notify/{run_id}/{event_id}", post(wait::notify_run))
        .route("/v2/waiters/{event_id}", get(wait::waiters))
        .route(
            "/v2/workflows/hooks/{user_id}/{run_id}/{event_id}",
            any(wait::hook),
        )
        .route("/v2/workflows/runs/{id}", get(history).delete(end))
        .route("/v2/workflows/runs", delete(runs::cancel_many))
        .route("/v2/workflows/events", get(runs::logs))
        .route("/v2/workflows/logs", get(runs::logs))
        .route(
            "/v2/workflows/dlq",
            get(dlq::list).delete(dlq::delete_many::<false>),
        )
        .route("/v2/workflows/dlq/multi", delete(dlq::delete_many::<true>))
        .route("/v2/workflows/dlq/bulk", delete(dlq::delete_bulk))
        .route("/v2/workflows/dlq/resume/bulk", post(dlq::resume_bulk))
        .route("/v2/workflows/dlq/restart/bulk", post(dlq::restart_bulk))
        .route("/v2/workflows/dlq/resume", post(dlq::resume_many::<false>))
        .route(
            "/v2/workflows/dlq/resume/multi",
            post(dlq::resume_many::<true>),
        )
        .route(
            "/v2/workflows/dlq/restart/multi",
            post(dlq::restart_many::<true>),
        )
        .route(
            "/v2/workflows/dlq/restart",
            post(dlq::restart_many::<false>),
        )
        .route("/v2/workflows/dlq/resume/{id}", post(dlq::resume))
        .route("/v2/workflows/dlq/restart/{id}", post(dlq::restart))
        .route(
            "/v2/workflows/dlq/callback/{id}",
            post(dlq::callback).delete(dlq::callback_cancel),
        )
        .route("/v2/workflows/dlq/{id}", get(dlq::get).delete(dlq::delete))
}
