//! The workflow logs view (`GET /v2/workflows/events|logs`): a WorkflowRunLog per run, rendered
//! from the [`RunLogPage`] the engine copied out: the run (history, config, outcome), its
//! failure callback, its step groups (built in `workflow_steps`) and the `next` steps. Fields are
//! declared in the alphabetical order of their JSON names, the order the server has always
//! written them in.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::workflow_steps::{step_groups, Group};
use crate::engine::store::logs::{LogEntry, State};
use crate::engine::workflow::logs::{callback_state, MessageFacts, RunLogPage};
use crate::engine::workflow::{CallType, Run, RunState};

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// `{body, error, headers, status, time}` of a failed attempt.
#[derive(Serialize)]
pub(crate) struct AttemptError<'a> {
    body: Cow<'a, str>,
    error: &'a str,
    headers: BTreeMap<String, Vec<String>>,
    status: u16,
    time: u64,
}

impl<'a> AttemptError<'a> {
    fn of(e: &'a LogEntry) -> Self {
        let r = e.response.as_deref();
        Self {
            body: r.map_or(Cow::Borrowed(""), |r| lossy(&r.body)),
            error: e.error.as_deref().unwrap_or_default(),
            headers: r.map(|r| r.headers.to_map()).unwrap_or_default(),
            status: r.map_or(0, |r| r.status),
            time: e.time,
        }
    }

    /// The failed attempts of a message, `None` when there were none.
    pub(crate) fn all(facts: &'a MessageFacts) -> Option<Vec<Self>> {
        (!facts.errors.is_empty()).then(|| facts.errors.iter().map(Self::of).collect())
    }
}

/// When the next attempt of a message waiting to be retried is due.
fn next_delivery(facts: &MessageFacts) -> Option<u64> {
    facts
        .next_delivery
        .filter(|_| facts.last == Some(State::Retry))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvokerView<'a> {
    workflow_run_created_at: u64,
    workflow_run_id: &'a str,
    workflow_url: &'a str,
}

/// The run's failure callback: where it went, what it reported and how it fared.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureFunction<'a> {
    dlq_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<AttemptError<'a>>>,
    fail_headers: Option<&'a BTreeMap<String, Vec<String>>>,
    fail_response: String,
    fail_status: Option<u16>,
    max_retries: u32,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_delivery_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_status: Option<u16>,
    state: &'static str,
    url: &'a str,
}

/// The latest failure-callback message of `run`.
fn failure_call<'a>(page: &'a RunLogPage, run: &Run) -> Option<(&'a str, &'a MessageFacts)> {
    page.messages
        .iter()
        .filter(|(_, m)| m.call_type() == Some(CallType::FailureCall) && m.of_run(run))
        .max_by_key(|(_, m)| m.created)
        .map(|(id, m)| (&**id, m))
}

impl<'a> FailureFunction<'a> {
    /// What the callback reported is the payload the engine kept on the run.
    fn of(page: &'a RunLogPage, run: &'a Run) -> Option<Self> {
        let (id, m) = failure_call(page, run)?;
        let report = run.failure_report.as_deref();
        let fail_response = report
            .and_then(|p| p.body.as_ref())
            .and_then(|b| B64.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let r = m.response.as_ref();
        Some(Self {
            dlq_id: report.and_then(|p| p.dlq_id.as_deref()),
            errors: AttemptError::all(m),
            fail_headers: report.and_then(|p| p.header.as_ref()),
            fail_response,
            fail_status: report.map(|p| p.status),
            max_retries: m.spec.max_retries,
            message_id: id,
            next_delivery_time: next_delivery(m),
            response_body: r.map(|r| lossy(&r.body)),
            response_headers: r.map(|r| r.headers.to_map()),
            response_status: r.map(|r| r.status),
            state: callback_state(m.last),
            url: &m.spec.url,
        })
    }
}

/// A run as the logs show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunLog<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    dlq_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_function: Option<FailureFunction<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_control_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoker: Option<InvokerView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a [String]>,
    steps: Vec<Group<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_run_caller_ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_run_completed_at: Option<u64>,
    workflow_run_created_at: u64,
    workflow_run_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_run_response: Option<Cow<'a, str>>,
    workflow_state: &'static str,
    workflow_url: &'a str,
}

impl<'a> RunLog<'a> {
    pub(crate) fn of(page: &'a RunLogPage, run: &'a Run) -> Self {
        let labels = run.config.labels.as_deref().filter(|l| !l.is_empty());
        Self {
            dlq_id: run.dlq_id.as_deref(),
            failure_function: FailureFunction::of(page, run),
            flow_control_key: run.config.flow.as_ref().map(|f| f.key.as_str()),
            invoker: run.invoker.as_ref().map(|i| InvokerView {
                workflow_run_created_at: i.created_at,
                workflow_run_id: &i.run_id,
                workflow_url: &i.url,
            }),
            label: labels.and_then(|l| l.first()).map(String::as_str),
            labels,
            steps: step_groups(page, run),
            workflow_run_caller_ip: Some(run.caller_ip.as_str()).filter(|ip| !ip.is_empty()),
            workflow_run_completed_at: run.completed_at,
            workflow_run_created_at: run.created_at,
            workflow_run_id: &run.id,
            workflow_run_response: run
                .response
                .as_ref()
                .filter(|r| !r.is_empty())
                .map(|r| lossy(r)),
            workflow_state: run.state.as_str(),
            workflow_url: &run.url,
        }
    }
}

/// The message being delivered or retried, or the one that failed the run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NextStep<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<AttemptError<'a>>>,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_delivery_time: Option<u64>,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_delay: Option<&'a str>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_name: Option<String>,
}

/// The steps of the `next` group: the messages being delivered or retried (running), or the
/// one that failed the run.
pub(crate) fn next_group<'a>(page: &'a RunLogPage, run: &Run) -> Option<Vec<NextStep<'a>>> {
    let mine = page
        .messages
        .iter()
        .filter(|(_, i)| i.of_run(run) && i.call_type() != Some(CallType::FailureCall));
    let mut chosen: Vec<(&str, &MessageFacts)> = match run.state {
        RunState::Running => mine
            .filter(|(_, i)| i.pending())
            .map(|(k, i)| (&**k, i))
            .collect(),
        RunState::Failed => page.failed_step(run).into_iter().collect(),
        _ => Vec::new(),
    };
    if chosen.is_empty() {
        return None;
    }
    chosen.sort_by_key(|(_, i)| i.created);
    Some(chosen.into_iter().map(|(id, i)| next_step(id, i)).collect())
}

/// A step's state from its message's last log state.
fn step_state(s: Option<State>) -> &'static str {
    match s {
        Some(State::Delivered) => "STEP_SUCCESS",
        Some(State::Failed) => "STEP_FAILED",
        Some(State::Canceled | State::CancelRequested) => "STEP_CANCELED",
        Some(State::Retry | State::Error) => "STEP_RETRY",
        _ => "STEP_PROGRESS",
    }
}

fn next_step<'a>(id: &'a str, info: &'a MessageFacts) -> NextStep<'a> {
    let planned = serde_json::from_slice::<Value>(&info.spec.body)
        .ok()
        .filter(|v| v["stepId"].as_u64() == Some(0))
        .and_then(|v| v["stepName"].as_str().map(String::from));
    NextStep {
        errors: AttemptError::all(info),
        message_id: id,
        next_delivery_time: next_delivery(info),
        retries: info.retries,
        retry_delay: info.spec.retry_delay.as_ref().map(|e| e.as_str()),
        state: step_state(info.last),
        step_name: info.error_step_name().or(planned),
    }
}
