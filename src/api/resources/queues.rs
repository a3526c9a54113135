//! Queues: upsert, get, list, delete, pause, resume. Enqueueing lives with publish.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::views::QueueView;
use crate::api::{extract::body, AppState};
use crate::engine::limits::queues::QueueSettings;
use crate::engine::Error;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertBody {
    queue_name: String,
    parallelism: Option<u32>,
    paused: Option<bool>,
}

pub(crate) async fn upsert(
    State(s): State<AppState>,
    Auth(t): Auth,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let bytes = body::read(&headers, raw, 1024 * 1024).await?;
    let b: UpsertBody = body::json(&bytes)?
        .ok_or_else(|| Error::bad("a JSON body with \"queueName\" is required"))?;
    if b.parallelism == Some(0) {
        return Err(Error::bad("parallelism must be at least 1").into());
    }
    s.engine.upsert_queue(
        t,
        QueueSettings {
            name: b.queue_name,
            parallelism: b.parallelism,
            paused: b.paused,
        },
    )?;
    Ok(Json(json!({})))
}

pub(crate) async fn list(State(s): State<AppState>, Auth(t): Auth) -> Response {
    let queues = s.engine.queues(t);
    Json(queues.iter().map(QueueView::of).collect::<Vec<_>>()).into_response()
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let queue = s.engine.queue(t, &name)?;
    Ok(Json(QueueView::of(&queue)).into_response())
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> Json<Value> {
    s.engine.delete_queue(t, &name);
    Json(json!({}))
}

pub(crate) async fn pause(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.set_queue_paused(t, &name, true)?;
    Ok(Json(json!({})))
}

pub(crate) async fn resume(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.set_queue_paused(t, &name, false)?;
    Ok(Json(json!({})))
}
