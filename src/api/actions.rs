//! Bulk actions: `GET /v2/bulkActions[/{actionId}]` (message cancels) and
//! `GET /v2/workflows/bulkActions[/{actionId}]` (workflow-run cancels), and the record a
//! filter-based bulk cancel leaves there. `count` scans 1 to 1000 actions per page (100 by
//! default), `state` keeps `IN_PROGRESS` or `FINISHED` ones of each page, as documented.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::api::AppState;
use crate::engine::store::actions::{BulkAction, Scope};
use crate::engine::{Error, Result, TenantId};

/// Parameters a bulk cancel reads that do not filter (they are not part of an action's filter).
const NOT_FILTERS: [&str; 4] = ["all", "async", "count", "cursor"];

/// §BulkAction of the reference. Fields in the alphabetical order of their JSON names.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionView {
    action_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<u64>,
    created_at: u64,
    filter: BTreeMap<String, Vec<String>>,
    kind: &'static str,
    processed: usize,
    state: &'static str,
    total: usize,
}

impl ActionView {
    fn of(a: BulkAction) -> Self {
        Self {
            state: a.state(),
            action_id: a.id,
            completed_at: a.completed_at,
            created_at: a.created_at,
            filter: a.filter,
            kind: a.kind,
            processed: a.processed,
            total: a.total,
        }
    }
}

#[derive(Serialize)]
struct ActionList {
    #[serde(rename = "bulkActions")]
    bulk_actions: Vec<ActionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// Records a filter-based bulk action of `kind` on `n` items, with the filter the request
/// named; returns its id.
pub(crate) fn record(
    s: &AppState,
    t: TenantId,
    (scope, kind): (Scope, &'static str),
    q: &Query,
    n: usize,
) -> String {
    let filter = q
        .keys()
        .filter(|k| !NOT_FILTERS.contains(k))
        .map(|k| (k.to_string(), q.all(k)))
        .collect();
    s.engine.record_action(t, (scope, kind), filter, n).id
}

/// The answer of a bulk cancel of `cancelled` items. By ids: `{cancelled}`. By filter (or
/// all): the cancel is recorded as an action and answered `{cancelled}`, or with `async=true`
/// (query or body) 202 and the action's id, as the references document (a message cancel is
/// 202 either way). The cancel itself has already finished.
pub(crate) fn cancel_answer(
    s: &AppState,
    t: TenantId,
    (scope, q): (Scope, &Query),
    by_ids: bool,
    cancelled: usize,
) -> Result<Response> {
    // The QStash reference answers every message cancel 202; the Workflow one, 200 unless
    // the cancel runs as a bulk action (`async`).
    let sync_status = match scope {
        Scope::Messages => StatusCode::ACCEPTED,
        Scope::Runs => StatusCode::OK,
    };
    if by_ids {
        return Ok((sync_status, Json(json!({ "cancelled": cancelled }))).into_response());
    }
    let action_id = record(s, t, (scope, "cancel"), q, cancelled);
    let is_async = match q.one("async") {
        Some(v) => parse_bool("async", v)?,
        None => false,
    };
    Ok(match is_async {
        true => {
            let body = json!({ "actionId": action_id, "cancelled": cancelled });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        false => (sync_status, Json(json!({ "cancelled": cancelled }))).into_response(),
    })
}

/// The answer of an async DLQ bulk (`…/bulk`): the work is done, so it is recorded as a
/// finished action of `kind` on `n` items and answered 202 with `outcome` and the `actionId`.
pub(crate) fn accepted(
    s: &AppState,
    t: TenantId,
    (scope, kind): (Scope, &'static str),
    q: &Query,
    (n, mut outcome): (usize, serde_json::Map<String, serde_json::Value>),
) -> Response {
    let id = record(s, t, (scope, kind), q, n);
    outcome.insert("actionId".into(), id.into());
    (StatusCode::ACCEPTED, Json(outcome)).into_response()
}

/// A JSON object of one field, the outcome of an async bulk.
pub(crate) fn one(
    key: &str,
    value: serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::from_iter([(key.to_string(), value)])
}

fn list(s: &AppState, t: TenantId, scope: Scope, uri: &Uri) -> Result<ActionList> {
    let q = Query::parse(uri.query());
    let count = q.count(100, 1000)?;
    let state = match q.one("state").map(str::trim) {
        None | Some("") => None,
        Some(s) if s.eq_ignore_ascii_case("IN_PROGRESS") => Some("IN_PROGRESS"),
        Some(s) if s.eq_ignore_ascii_case("FINISHED") => Some("FINISHED"),
        Some(s) => {
            return Err(Error::bad(format!(
                "state {s:?} is not IN_PROGRESS or FINISHED"
            )))
        }
    };
    let cursor = q.one("cursor").filter(|c| !c.is_empty());
    let (actions, cursor) = s.engine.bulk_actions(t, scope, cursor, count, state);
    let bulk_actions = actions.into_iter().map(ActionView::of).collect();
    Ok(ActionList {
        bulk_actions,
        cursor,
    })
}

/// The list of workflow-run cancels when `RUNS`, else of message cancels.
fn scope<const RUNS: bool>() -> Scope {
    match RUNS {
        true => Scope::Runs,
        false => Scope::Messages,
    }
}

async fn list_of<const RUNS: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Json<ActionList>> {
    Ok(Json(list(&s, t, scope::<RUNS>(), &uri)?))
}

async fn get_of<const RUNS: bool>(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ActionView>> {
    let action = s.engine.bulk_action(t, scope::<RUNS>(), &id)?;
    Ok(Json(ActionView::of(action)))
}

/// The bulk-action routes of both lists.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/bulkActions", get(list_of::<false>))
        .route("/v2/bulkActions/{id}", get(get_of::<false>))
        .route("/v2/workflows/bulkActions", get(list_of::<true>))
        .route("/v2/workflows/bulkActions/{id}", get(get_of::<true>))
}
