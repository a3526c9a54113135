//! `GET /dev/workflows/runs/{runId}`: one workflow run for the dashboard's run view — the run
//! as the workflow logs show it (`run`, the same shape as a run of `/v2/workflows/logs`), where
//! it is and why in plain words (`status`, see `crate::engine::workflow::diagnose`), its
//! waiters, and when each of its messages was created, first attempted, ended or is due next
//! (`messages`).

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::views::workflow_logs::RunLog;
use crate::api::AppState;
use crate::engine::workflow::diagnose::RunReport;

pub(crate) async fn run(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&s.engine.run_report(t, &id)?)))
}

fn render(r: &RunReport) -> Value {
    let Some(run) = r.page.runs.first() else {
        return Value::Null;
    };
    let messages: Map<String, Value> = r
        .page
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
        .collect();
    let waiters: Vec<Value> = r
        .waiters
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
        .collect();
    let st = &r.status;
    json!({
        "run": RunLog::of(&r.page, run),
        "status": {
            "code": st.code.as_str(),
            "stopped": st.code.stopped(),
            "message": st.message,
            "messageId": st.message_id.as_deref(),
            "at": st.at,
            "until": st.until,
        },
        "waiters": waiters,
        "messages": messages,
    })
}
