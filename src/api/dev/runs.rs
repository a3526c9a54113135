//! `GET /dev/workflows/runs/{runId}[?createdAt=<ms>]`: one workflow run for the dashboard's run
//! view — the run as the workflow logs show it (`run`, the same shape as a run of
//! `/v2/workflows/logs`), where it is and why in plain words (`status`, see
//! `crate::engine::workflow::diagnose`), whether its DLQ entry is still there (`inDlq`), its
//! waiters, and when each of its messages was created, first attempted, ended or is due next
//! (`messages`). `createdAt` picks one run when a run id was reused after its run ended.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::views::workflow_logs::RunLog;
use crate::api::AppState;
use crate::engine::workflow::diagnose::{RunReport, Status};
use crate::engine::workflow::Run;

pub(crate) async fn run(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let created_at = Query::parse(uri.query()).u64("createdAt")?;
    let report = s.engine.run_report(t, &id, created_at)?;
    Ok(Json(render(&report)))
}

fn render(r: &RunReport) -> Value {
    let Some(run) = r.page.runs.first() else {
        return Value::Null;
    };
    json!({
        "run": RunLog::of(&r.page, run),
        "status": status(&r.status),
        "inDlq": r.in_dlq,
        "waiters": waiters(r),
        "messages": messages(r, run),
    })
}

fn status(st: &Status) -> Value {
    json!({
        "code": st.code.as_str(),
        "stopped": st.code.stopped(),
        "message": st.message,
        "messageId": st.message_id.as_deref(),
        "at": st.at,
        "until": st.until,
    })
}

fn waiters(r: &RunReport) -> Vec<Value> {
    r.waiters
        .iter()
        .map(|w| {
            json!({
                "eventId": w.event_id,
                "stepName": w.step["stepName"],
                "since": (w.since != 0).then_some(w.since),
                "deadline": w.deadline,
                "url": w.url,
                "timeoutUrl": w.timeout_url,
            })
        })
        .collect()
}

fn messages(r: &RunReport, run: &Run) -> Map<String, Value> {
    r.page
        .messages
        .iter()
        .filter(|(_, m)| m.of_run(run))
        .map(|(id, m)| {
            let due = r.due.iter().find(|(d, _)| d == id).map(|(_, at)| *at);
            let view = json!({
                "dueAt": due,
                "state": m.last.map(|s| s.as_str()),
                "createdAt": m.created,
                "attemptedAt": m.attempted_at,
                "endedAt": m.ended_at,
                "retries": m.retries,
                "responseStatus": m.response.as_ref().map(|r| r.status),
            });
            (id.to_string(), view)
        })
        .collect()
}
