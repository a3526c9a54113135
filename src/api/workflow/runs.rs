//! The run API over many runs: bulk cancel (`DELETE /v2/workflows/runs` by `workflowRunIds`, by
//! filter, or all active runs (`count` is accepted and ignored), named in the query or a JSON body as [`bulk`]
//! checks them) and the workflow logs (`GET /v2/workflows/events` with
//! `groupBy=workflowRunId`, which the SDK calls, and `GET /v2/workflows/logs`), whose pages
//! stop early at the byte budget of [`page`].

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::bulk::{self, Fields};
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::api::views::workflow_logs::RunLog;
use crate::api::{actions, views::page, AppState};
use crate::engine::store::actions::Scope;
use crate::engine::workflow::logs::{parse_run_state, RunFilter};
use crate::engine::{Error, Result};

/// Runs per logs page: 10 by default and at most.
const LOG_COUNT: usize = 10;

/// `id@createdAt` pairs of `workflowRuns`.
fn run_pairs(q: &Query) -> Result<Vec<(String, u64)>> {
    q.all("workflowRuns")
        .iter()
        .map(|p| {
            p.rsplit_once('@')
                .and_then(|(id, at)| Some((id.to_string(), at.parse().ok()?)))
                .ok_or_else(|| {
                    Error::bad(format!(
                        "invalid workflowRuns entry {p:?}: expected id@createdAt"
                    ))
                })
        })
        .collect()
}

/// The run filter of a query; `workflowUrl` is a prefix unless `exact`.
fn run_filter(q: &Query, exact: bool) -> Result<RunFilter> {
    let mut states = Vec::new();
    for s in q.all("state") {
        match parse_run_state(&s) {
            Some(state) => states.push(state),
            // Step states select runs by their steps on the hosted service; accepted here.
            None if s.to_ascii_uppercase().starts_with("STEP_") => {}
            None => return Err(Error::bad(format!("invalid state {s:?}"))),
        }
    }
    Ok(RunFilter {
        run_ids: q.all("workflowRunId"),
        urls: q.all("workflowUrl"),
        url_exact: exact,
        created_at: q.u64("workflowCreatedAt")?,
        runs: run_pairs(q)?,
        states,
        labels: q.all("label"),
        caller_ips: [q.all("callerIp"), q.all("callerIP")].concat(),
        flow_keys: q.all("flowControlKey"),
        message_ids: q.all("messageId"),
        hosts: q.all("host"),
        paths: q.all("path"),
        from_date: q.u64("fromDate")?,
        to_date: q.u64("toDate")?,
    })
}

/// What bulk cancel reads (see [`bulk`]). `state` is left out: only running runs can be
/// cancelled, and step states are not applied to runs here.
const BULK: Fields = Fields {
    selectors: &[&[
        "workflowRunIds",
        "workflowRunId",
        "workflowUrl",
        "workflowCreatedAt",
        "workflowRuns",
        "label",
        "callerIp",
        "callerIP",
        "flowControlKey",
        "messageId",
        "host",
        "path",
        "fromDate",
        "toDate",
    ]],
    modifiers: &["workflowUrlExactMatch", "count", "async"],
};

/// `DELETE /v2/workflows/runs` → `{"cancelled": n}`; `workflowRunIds` win over the filters.
pub(crate) async fn cancel_many(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let q = bulk::selection(&uri, &headers, raw, &BULK).await?;
    let exact = match q.one("workflowUrlExactMatch") {
        // Alone it would name nothing and so select every active run.
        Some(_) if q.all("workflowUrl").is_empty() => {
            return Err(Error::bad("workflowUrlExactMatch is given without a workflowUrl").into())
        }
        Some(v) => parse_bool("workflowUrlExactMatch", v)?,
        None => false,
    };
    let f = run_filter(&q, exact)?;
    let ids = q.all("workflowRunIds");
    // Accepted and ignored, as for messages: the reference cancels every match.
    q.u64("count")?;
    let cancelled = s.engine.cancel_runs(t, &ids, &f);
    let by_ids = !ids.is_empty();
    Ok(actions::cancel_answer(
        &s,
        t,
        (Scope::Runs, &q),
        by_ids,
        cancelled,
    )?)
}

/// `GET /v2/workflows/events` and `/v2/workflows/logs` → `{"cursor", "runs"}`.
pub(crate) async fn logs(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    let q = Query::parse(uri.query());
    let f = run_filter(&q, true)?;
    let count = q.count(LOG_COUNT, LOG_COUNT)?;
    let cursor = q.one("cursor").map(str::trim).filter(|c| !c.is_empty());
    let logs = s.engine.workflow_logs(t, &f, cursor, count);
    let page = page::entries("runs", &logs.runs, |_| 0, |r| RunLog::of(&logs, r));
    let cursor = logs.cursor_after(page.taken);
    Ok(page::respond_cursor_first(page, &cursor))
}
