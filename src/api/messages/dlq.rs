//! The dead-letter queue: list, get, delete one or many, retry one or many. Bulk routes take
//! `dlqIds` or filters from the query or a JSON body, checked by [`bulk`] so that they never
//! select more than they name. Retries accept publish headers that override the original
//! settings. A list page stops early at the byte budget of [`page`]; a listing by `dlqIds` is
//! paged too, its cursor naming the first id left out.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::actions::{self, one};
use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::bulk::{self, Fields};
use crate::api::extract::query::Query;
use crate::api::publish::{options, published_json};
use crate::api::views::{Deleted, MessageView};
use crate::api::{views, views::page, AppState};
use crate::engine::store::actions::Scope;
use crate::engine::store::dlq::DlqSelection;
use crate::engine::{Error, Result};

/// DLQ pages hold at most 100 entries.
const MAX_COUNT: usize = 100;

/// The filters of the DLQ, shared with the workflow DLQ; `host` and `path` are not among them.
pub(crate) const FILTERS: &[&str] = &[
    "dlqIds",
    "messageId",
    "messageIds",
    "url",
    "topicName",
    "scheduleId",
    "queueName",
    "fromDate",
    "toDate",
    "responseStatus",
    "callerIp",
    "callerIP",
    "label",
    "flowControlKey",
];

/// What the bulk routes read (see [`bulk`]).
const BULK: Fields = Fields {
    selectors: &[FILTERS],
    modifiers: &["cursor", "count"],
};

fn selection(q: &Query) -> Result<DlqSelection> {
    for k in q.keys() {
        if k == "host" || k == "path" {
            return Err(Error::bad(format!(
                "the {k} filter is not supported by the DLQ"
            )));
        }
    }
    Ok(DlqSelection {
        dlq_ids: q.all("dlqIds"),
        filter: q.filter()?,
        cursor: q
            .one("cursor")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
        count: q.count(MAX_COUNT, MAX_COUNT)?,
    })
}

/// The selection of a bulk request, from its query and JSON body.
async fn bulk_selection(uri: &Uri, headers: &HeaderMap, raw: Body) -> Result<DlqSelection> {
    selection(&bulk::selection(uri, headers, raw, &BULK).await?)
}

/// What the async bulk routes read: the DLQ's filters; no page.
const ASYNC: Fields = Fields {
    selectors: &[FILTERS],
    modifiers: &[],
};

/// The filter of an async bulk request (`…/bulk`): every match, no page.
async fn async_selection(
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> Result<(Query, DlqSelection)> {
    let q = bulk::selection(uri, headers, raw, &ASYNC).await?;
    let sel = DlqSelection {
        count: usize::MAX,
        ..selection(&q)?
    };
    Ok((q, sel))
}

/// `DELETE /v2/dlq/bulk`: every matching entry, recorded as a bulk action; 202 with its
/// `actionId` (and how many were deleted: the local action has finished).
pub(crate) async fn delete_bulk(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let (q, sel) = async_selection(&uri, &headers, raw).await?;
    let (deleted, _) = s.engine.dlq_delete_many(t, &sel);
    let outcome = (deleted, one("deleted", json!(deleted)));
    Ok(actions::accepted(
        &s,
        t,
        (Scope::Messages, "delete"),
        &q,
        outcome,
    ))
}

/// `POST /v2/dlq/retry/bulk`: every matching entry published again (with the header
/// overrides), recorded as a bulk action; 202 with its `actionId` and how many were retried.
pub(crate) async fn retry_bulk(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let overrides = options(&headers, &[])?;
    let (q, sel) = async_selection(&uri, &headers, raw).await?;
    let (done, _) = s.engine.dlq_retry_many(t, &sel, &overrides)?;
    let outcome = (done.len(), one("retried", json!(done.len())));
    Ok(actions::accepted(
        &s,
        t,
        (Scope::Messages, "retry"),
        &q,
        outcome,
    ))
}

/// The selection of a bulk request, or with `MULTI` of a `…/multi` one (its `dlqIds` only).
async fn pick<const MULTI: bool>(
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> Result<DlqSelection> {
    match MULTI {
        true => Ok(DlqSelection {
            dlq_ids: bulk::dlq_ids(uri, headers, raw).await?,
            ..Default::default()
        }),
        false => bulk_selection(uri, headers, raw).await,
    }
}

pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    if Query::parse(uri.query()).one("source") == Some("workflow") {
        return crate::api::workflow::dlq::list_query(&s, t, &uri);
    }
    let mut sel = selection(&Query::parse(uri.query()))?;
    let (all, cursor) = if sel.dlq_ids.is_empty() {
        s.engine
            .dlq_list(t, &sel.filter, sel.cursor.as_deref(), sel.count)
    } else {
        page::resume_ids(&mut sel.dlq_ids, sel.cursor.as_deref());
        let found = sel
            .dlq_ids
            .iter()
            .filter_map(|id| s.engine.dlq_get(t, id).ok())
            .collect();
        (found, None)
    };
    let shown = page::entries(
        "messages",
        &all,
        |e| views::body_floor(&e.spec, e.response.as_deref()),
        MessageView::dlq_entry,
    );
    // Cut short by bytes: the rest starts at the first entry left out.
    let cursor = all
        .get(shown.taken)
        .map_or(cursor, |e| Some(e.dlq_id.clone()));
    Ok(page::respond(shown, cursor.as_deref()))
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let entry = s.engine.dlq_get(t, &id)?;
    Ok(Json(MessageView::dlq_entry(&entry)).into_response())
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.dlq_delete(t, &id)?;
    Ok(Json(json!({ "deleted": 1 })))
}

/// `DELETE /v2/dlq`, and with `MULTI` `DELETE /v2/dlq/multi` (unknown ids are skipped).
pub(crate) async fn delete_many<const MULTI: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Deleted>> {
    let sel = pick::<MULTI>(&uri, &headers, raw).await?;
    let (deleted, cursor) = s.engine.dlq_delete_many(t, &sel);
    Ok(Json(Deleted { cursor, deleted }))
}

pub(crate) async fn retry(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let overrides = options(&headers, &[])?;
    let p = s.engine.dlq_retry(t, &id, &overrides)?;
    Ok((StatusCode::CREATED, Json(published_json(&p))).into_response())
}

/// `POST /v2/dlq/retry`, and with `MULTI` `POST /v2/dlq/retry/multi`.
pub(crate) async fn retry_many<const MULTI: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let overrides = options(&headers, &[])?;
    let sel = pick::<MULTI>(&uri, &headers, raw).await?;
    let (done, cursor) = s.engine.dlq_retry_many(t, &sel, &overrides)?;
    let responses: Vec<Value> = done.iter().map(published_json).collect();
    let body = json!({ "cursor": cursor.unwrap_or_default(), "responses": responses });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
