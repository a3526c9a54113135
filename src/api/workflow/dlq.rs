//! The workflow DLQ: `GET /v2/dlq?source=workflow` (what the SDK's `dlq.list` calls) and
//! `GET /v2/workflows/dlq`, get and delete one or many, resume and restart (bulk and single
//! forms, with override headers), and retrying a failed run's failure callback. The bulk forms
//! take `dlqIds` or filters from the query or a JSON body, as [`bulk`] checks them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::api::actions::{self, one};
use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::bulk::{self, Fields};
use crate::api::extract::query::Query;
use crate::api::publish::options;
use crate::api::views::{Deleted, MessageView, Reruns, RunRef};
use crate::api::{views, views::page, AppState};
use crate::engine::store::actions::Scope;
use crate::engine::workflow::dlq::{
    Rerun, WorkflowDlqEntry, WorkflowDlqFilter, WorkflowDlqSelection,
};
use crate::engine::Result;

/// DLQ pages hold at most 100 entries.
const MAX_COUNT: usize = 100;

/// The filters of the workflow DLQ: the DLQ's and the workflow ones.
const FILTERS: &[&[&str]] = &[
    crate::api::messages::dlq::FILTERS,
    &[
        "workflowRunId",
        "workflowUrl",
        "workflowCreatedAt",
        "failureFunctionState",
    ],
];

/// What the bulk routes read (see [`bulk`]).
const BULK: Fields = Fields {
    selectors: FILTERS,
    modifiers: &["cursor", "count"],
};

/// What the async bulk routes (`…/bulk`) read: the filters; no page.
const ASYNC: Fields = Fields {
    selectors: FILTERS,
    modifiers: &[],
};

/// The filter of an async bulk request: every match, no page.
async fn async_selection(
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> Result<(Query, WorkflowDlqSelection)> {
    let q = bulk::selection(uri, headers, raw, &ASYNC).await?;
    let sel = WorkflowDlqSelection {
        count: usize::MAX,
        ..selection(&q)?
    };
    Ok((q, sel))
}

/// `DELETE /v2/workflows/dlq/bulk`: every matching entry, recorded as a workflow bulk action;
/// 202 with its `actionId` and how many were deleted (the local action has finished).
pub(crate) async fn delete_bulk(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let (q, sel) = async_selection(&uri, &headers, raw).await?;
    let (deleted, _) = s.engine.workflow_dlq_delete_many(t, &sel);
    let outcome = (deleted, one("deleted", json!(deleted)));
    Ok(actions::accepted(
        &s,
        t,
        (Scope::Runs, "delete"),
        &q,
        outcome,
    ))
}

/// `POST /v2/workflows/dlq/{resume,restart}/bulk`: every matching failed run started again,
/// recorded as a workflow bulk action; 202 with its `actionId` and the new runs.
async fn rerun_bulk(
    s: &AppState,
    t: crate::engine::TenantId,
    (uri, headers, raw): (Uri, HeaderMap, Body),
    mode: Rerun,
) -> ApiResult<Response> {
    let overrides = options(&headers, &[])?;
    let (q, sel) = async_selection(&uri, &headers, raw).await?;
    let (runs, _) = s.engine.workflow_dlq_rerun(t, &sel, mode, &overrides)?;
    let kind = match mode {
        Rerun::Resume => "resume",
        Rerun::Restart => "restart",
    };
    let workflow_runs: Vec<RunRef> = runs.iter().map(RunRef::of).collect();
    let outcome = (runs.len(), one("workflowRuns", json!(workflow_runs)));
    Ok(actions::accepted(s, t, (Scope::Runs, kind), &q, outcome))
}

pub(crate) async fn resume_bulk(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    rerun_bulk(&s, t, (uri, headers, raw), Rerun::Resume).await
}

pub(crate) async fn restart_bulk(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    rerun_bulk(&s, t, (uri, headers, raw), Rerun::Restart).await
}

/// The selection of a bulk request, from its query and JSON body.
async fn bulk_selection(uri: &Uri, headers: &HeaderMap, raw: Body) -> Result<WorkflowDlqSelection> {
    selection(&bulk::selection(uri, headers, raw, &BULK).await?)
}

/// The selection of a bulk request, or with `MULTI` of a `…/multi` one (its `dlqIds` only).
async fn pick<const MULTI: bool>(
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> Result<WorkflowDlqSelection> {
    match MULTI {
        true => Ok(WorkflowDlqSelection {
            dlq_ids: bulk::dlq_ids(uri, headers, raw).await?,
            ..Default::default()
        }),
        false => bulk_selection(uri, headers, raw).await,
    }
}

fn selection(q: &Query) -> Result<WorkflowDlqSelection> {
    Ok(WorkflowDlqSelection {
        dlq_ids: q.all("dlqIds"),
        filter: WorkflowDlqFilter {
            base: q.filter()?,
            run_ids: q.all("workflowRunId"),
            urls: q.all("workflowUrl"),
            created_at: q.u64("workflowCreatedAt")?,
            failure_states: q
                .all("failureFunctionState")
                .iter()
                .map(|s| s.to_ascii_uppercase())
                .collect(),
        },
        cursor: q
            .one("cursor")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
        count: q.count(MAX_COUNT, MAX_COUNT)?,
    })
}

/// The listing for a query (shared with `GET /v2/dlq?source=workflow`), bounded by the byte
/// budget of [`page`] as the plain DLQ's is.
pub(crate) fn list_query(
    s: &AppState,
    t: crate::engine::TenantId,
    uri: &Uri,
) -> ApiResult<Response> {
    let mut sel = selection(&Query::parse(uri.query()))?;
    if !sel.dlq_ids.is_empty() {
        page::resume_ids(&mut sel.dlq_ids, sel.cursor.as_deref());
    }
    let (all, cursor) = s.engine.workflow_dlq_list(t, &sel);
    let floor = |w: &WorkflowDlqEntry| {
        let failure = w.failure.as_ref().and_then(|f| f.response.as_ref());
        views::body_floor(&w.entry.spec, w.entry.response.as_deref())
            .saturating_add(failure.map_or(0, |r| r.body.len()))
    };
    let shown = page::entries("messages", &all, floor, MessageView::workflow_dlq_entry);
    // Cut short by bytes: the rest starts at the first entry left out.
    let cursor = all
        .get(shown.taken)
        .map_or(cursor, |w| Some(w.entry.dlq_id.clone()));
    Ok(page::respond(shown, cursor.as_deref()))
}

pub(crate) async fn list(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    list_query(&s, t, &uri)
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let entry = s.engine.workflow_dlq_get(t, &id)?;
    Ok(Json(MessageView::workflow_dlq_entry(&entry)).into_response())
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.workflow_dlq_get(t, &id)?;
    let sel = WorkflowDlqSelection {
        dlq_ids: vec![id],
        ..Default::default()
    };
    let (deleted, _) = s.engine.workflow_dlq_delete_many(t, &sel);
    Ok(Json(json!({ "deleted": deleted })))
}

/// `DELETE /v2/workflows/dlq`, and with `MULTI` `DELETE /v2/workflows/dlq/multi` (unknown ids
/// are skipped).
pub(crate) async fn delete_many<const MULTI: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Deleted>> {
    let sel = pick::<MULTI>(&uri, &headers, raw).await?;
    let (deleted, cursor) = s.engine.workflow_dlq_delete_many(t, &sel);
    Ok(Json(Deleted { cursor, deleted }))
}

/// Resumes or restarts the selection (with `MULTI`, the `dlqIds` of a `…/multi` request) and
/// answers with the new runs.
async fn rerun_many<const MULTI: bool>(
    s: &AppState,
    t: crate::engine::TenantId,
    (uri, headers, raw): (Uri, HeaderMap, Body),
    mode: Rerun,
) -> ApiResult<Response> {
    let overrides = options(&headers, &[])?;
    let sel = pick::<MULTI>(&uri, &headers, raw).await?;
    let (runs, cursor) = s.engine.workflow_dlq_rerun(t, &sel, mode, &overrides)?;
    let workflow_runs = runs.iter().map(RunRef::of).collect();
    Ok(Json(Reruns {
        cursor,
        workflow_runs,
    })
    .into_response())
}

fn rerun_one(
    s: &AppState,
    t: crate::engine::TenantId,
    id: String,
    headers: &HeaderMap,
    mode: Rerun,
) -> ApiResult<Response> {
    let overrides = options(headers, &[])?;
    let sel = WorkflowDlqSelection {
        dlq_ids: vec![id],
        ..Default::default()
    };
    let (runs, _) = s.engine.workflow_dlq_rerun(t, &sel, mode, &overrides)?;
    Ok(Json(runs.first().map(RunRef::of)).into_response())
}

pub(crate) async fn resume_many<const MULTI: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    rerun_many::<MULTI>(&s, t, (uri, headers, raw), Rerun::Resume).await
}

pub(crate) async fn restart_many<const MULTI: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    rerun_many::<MULTI>(&s, t, (uri, headers, raw), Rerun::Restart).await
}

pub(crate) async fn resume(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    rerun_one(&s, t, id, &headers, Rerun::Resume)
}

pub(crate) async fn restart(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    rerun_one(&s, t, id, &headers, Rerun::Restart)
}

/// `POST /v2/workflows/dlq/callback/{dlqId}`: the failure callback again.
pub(crate) async fn callback(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let run = s.engine.workflow_dlq_callback(t, &id)?;
    Ok(Json(RunRef::of(&run)).into_response())
}

/// `DELETE /v2/workflows/dlq/callback/{dlqId}`: cancels a retried failure callback still in
/// progress → `{"workflowRunId", "workflowCreatedAt"}`; 400 when none is in progress.
pub(crate) async fn callback_cancel(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let run = s.engine.workflow_dlq_callback_cancel(t, &id)?;
    Ok(Json(RunRef::of(&run)).into_response())
}
