//! Queues: upsert, get, list, delete, pause, resume. Enqueueing lives with publish.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Auth;
use super::error::ApiResult;
use super::{body, AppState};
use crate::engine::queues::{Queue, QueueSettings};
use crate::engine::Error;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpsertBody {
    queue_name: String,
    parallelism: Option<u32>,
    paused: Option<bool>,
}

fn queue_json(q: &Queue) -> Value {
    json!({
        "name": q.name,
        "createdAt": q.created_at,
        "updatedAt": q.updated_at,
        "parallelism": q.parallelism,
        "lag": q.lag(),
        "paused": q.paused,
    })
}

pub async fn upsert(
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

pub async fn list(State(s): State<AppState>, Auth(t): Auth) -> Json<Value> {
    Json(Value::Array(
        s.engine.queues(t).iter().map(queue_json).collect(),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(queue_json(&s.engine.queue(t, &name)?)))
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> Json<Value> {
    s.engine.delete_queue(t, &name);
    Json(json!({}))
}

pub async fn pause(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.set_queue_paused(t, &name, true)?;
    Ok(Json(json!({})))
}

pub async fn resume(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.set_queue_paused(t, &name, false)?;
    Ok(Json(json!({})))
}
