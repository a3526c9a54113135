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

pub(crate) async fn history(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
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
