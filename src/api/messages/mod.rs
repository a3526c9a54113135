//! `GET/DELETE /v2/messages/{id}` and bulk cancel `DELETE /v2/messages`, which takes its
//! selection (ids, filters) from the query or from a JSON body such as
//! `{"messageIds": [...]}`, checked by [`bulk`]; naming nothing (or `all=true`) cancels
//! everything. `count` is accepted and ignored, as the API reference now documents: every
//! match is cancelled (the TypeScript SDK still sends `count=100` with `{all: true}`).

pub(crate) mod dlq;
pub(crate) mod logs;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::bulk::{self, Fields};
use crate::api::{actions, views, AppState};
use crate::engine::store::actions::Scope;
use axum::routing::{delete, get, post};
use axum::Router;

pub(crate) async fn get_one(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let msg = s.engine.message(t, &id)?;
    Ok(Json(views::MessageView::message(&msg)).into_response())
}

pub(crate) async fn cancel(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.engine.cancel(t, &id)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "cancelled": 1 }))))
}

/// What bulk cancel reads (see [`bulk`]). `messageIds` win over the other filters, as the
/// docs say; the singular `messageId` is not a cancel filter (nor in the SDKs), so it is
/// refused like any misspelling.
const BULK: Fields = Fields {
    selectors: &[&[
        "messageIds",
        "url",
        "topicName",
        "queueName",
        "scheduleId",
        "label",
        "flowControlKey",
        "host",
        "path",
        "callerIp",
        "callerIP",
        "fromDate",
        "toDate",
    ]],
    modifiers: &["count", "async"],
};

pub(crate) async fn cancel_many(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let q = bulk::selection(&uri, &headers, raw, &BULK).await?;
    let mut filter = q.filter()?;
    let ids = std::mem::take(&mut filter.message_ids);
    q.u64("count")?;
    let cancelled = s.engine.cancel_many(t, &ids, &filter);
    let by_ids = !ids.is_empty();
    Ok(actions::cancel_answer(
        &s,
        t,
        (Scope::Messages, &q),
        by_ids,
        cancelled,
    )?)
}

/// Messages, the event log and the DLQ.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/messages", delete(cancel_many))
        .route("/v2/messages/{id}", get(get_one).delete(cancel))
        .route("/v2/events", get(logs::events))
        .route("/v2/logs", get(logs::logs))
        .route("/v2/dlq", get(dlq::list).delete(dlq::delete_many::<false>))
        .route("/v2/dlq/multi", delete(dlq::delete_many::<true>))
        .route("/v2/dlq/bulk", delete(dlq::delete_bulk))
        .route("/v2/dlq/retry/bulk", post(dlq::retry_bulk))
        .route("/v2/dlq/retry", post(dlq::retry_many::<false>))
        .route("/v2/dlq/retry/multi", post(dlq::retry_many::<true>))
        .route("/v2/dlq/retry/{id}", post(dlq::retry))
        .route("/v2/dlq/{id}", get(dlq::get).delete(dlq::delete))
}
