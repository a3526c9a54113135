//! Why a workflow run is where it is, in plain words (`GET /dev/workflows/runs/{id}`): while it
//! runs, what it waits for (an event, a sleep, a retry, a delivery, a run it invoked); when it
//! stopped without a next step, why (the endpoint answered without the workflow protocol's
//! response, its SDK speaks another protocol version, it rejected the signature, a step failed
//! for good, …). Read from the run, its pending messages, its waiters and what the log says of
//! its messages; nothing is kept for it, so it reaches as far back as the log does.
//! Must not import axum, reqwest or tokio::net.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::clock::rfc3339;
use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::store::logs::Response;
use crate::engine::workflow::logs::{page_of, MessageFacts, RunLogPage};
use crate::engine::workflow::wait::Waiter;
use crate::engine::workflow::{CallType, Run, RunState, WorkflowLink};
use crate::engine::{Engine, Error, Result, TenantId};

mod stopped;
use stopped::{failed, stalled};

/// The workflow protocol version this server speaks (`Upstash-Workflow-Sdk-Version`).
pub(crate) const PROTOCOL_VERSION: &str = "1";

/// What the workflow SDK answers when `Receiver.verify` rejects a delivery.
const SDK_SIGNATURE_FAILURE: &str = "Failed to verify that the Workflow request comes from QStash";
/// What the workflow SDK answers when the request's protocol version is not its own.
const SDK_PROTOCOL_FAILURE: &str = "Incompatible workflow sdk protocol version";
/// What the workflow SDK answers when the route returned before reaching a step.
const SDK_AUTH_FAILURE: &str = "Failed to authenticate Workflow request";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    Finished,
    Canceled,
    NonWorkflowDestination,
    SignatureRejected,
    ProtocolMismatch,
    AuthFailed,
    NonRetryableError,
    Unreachable,
    StepFailed,
    WaitingForEvent,
    WaitingForInvokedRun,
    Sleeping,
    Retrying,
    Delivering,
    Due,
    NotWorkflowResponse,
    OldProtocol,
    NoNextStep,
    Unknown,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Canceled => "canceled",
            Self::NonWorkflowDestination => "nonWorkflowDestination",
            Self::SignatureRejected => "signatureRejected",
            Self::ProtocolMismatch => "protocolMismatch",
            Self::AuthFailed => "authFailed",
            Self::NonRetryableError => "nonRetryableError",
            Self::Unreachable => "unreachable",
            Self::StepFailed => "stepFailed",
            Self::WaitingForEvent => "waitingForEvent",
            Self::WaitingForInvokedRun => "waitingForInvokedRun",
            Self::Sleeping => "sleeping",
            Self::Retrying => "retrying",
            Self::Delivering => "delivering",
            Self::Due => "due",
            Self::NotWorkflowResponse => "notWorkflowResponse",
            Self::OldProtocol => "oldProtocol",
            Self::NoNextStep => "noNextStep",
            Self::Unknown => "unknown",
        }
    }

    /// The run stopped without a next step: it failed, or it is active with nothing to go on.
    pub(crate) fn stopped(self) -> bool {
        !matches!(
            self,
            Self::Finished
                | Self::Canceled
                | Self::WaitingForEvent
                | Self::WaitingForInvokedRun
                | Self::Sleeping
                | Self::Retrying
                | Self::Delivering
                | Self::Due
        )
    }
}

/// Where a run is, and why.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub(crate) code: Code,
    pub(crate) message: String,
    /// The message it is about (the one failing, waiting or answered last).
    pub(crate) message_id: Option<Arc<str>>,
    /// Since when (Unix ms): the wait, the answer, the end.
    pub(crate) at: Option<u64>,
    /// Until when (Unix ms): a deadline, a sleep's end, the next attempt.
    pub(crate) until: Option<u64>,
}

impl Status {
    fn new(code: Code, message: String) -> Self {
        Self {
            code,
            message,
            message_id: None,
            at: None,
            until: None,
        }
    }

    fn about(mut self, id: &Arc<str>, at: Option<u64>, until: Option<u64>) -> Self {
        self.message_id = Some(id.clone());
        self.at = at;
        self.until = until;
        self
    }
}

/// What the diagnosis reads, gathered under the tenant's lock.
pub(crate) struct Evidence<'a> {
    pub(crate) run: &'a Run,
    pub(crate) now: u64,
    pub(crate) waiters: Vec<&'a Waiter>,
    /// The run's messages still pending (failure callbacks apart).
    pub(crate) pending: Vec<&'a Message>,
    /// Active runs its steps invoked.
    pub(crate) invoked: Vec<&'a Run>,
    pub(crate) facts: &'a HashMap<Arc<str>, MessageFacts>,
}

/// Where the run is, and why (see the module doc).
pub(crate) fn diagnose(e: &Evidence) -> Status {
    let run = e.run;
    let ended = run.completed_at;
    match run.state {
        RunState::Success => {
            let result = run.response.as_deref().map(short).unwrap_or_default();
            let returned = if result.is_empty() {
                String::new()
            } else {
                format!(" It returned {result}.")
            };
            let at = rfc3339(ended.unwrap_or(0));
            let mut s = Status::new(Code::Finished, format!("Finished at {at}.{returned}"));
            s.at = ended;
            s
        }
        RunState::Canceled => {
            let mut s = Status::new(
                Code::Canceled,
                format!("Canceled at {}.", rfc3339(ended.unwrap_or(0))),
            );
            s.at = ended;
            s
        }
        RunState::Failed => failed(e),
        RunState::Running => running(e).unwrap_or_else(|| stalled(e)),
    }
}

/// At most 300 characters of a body, as text.
fn short(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The first line of the SDK's error message in a JSON answer (`{"error", "message"}`), else of
/// the body itself: the SDK's messages go on with advice and stack traces.
fn answer_text(body: &[u8]) -> String {
    let json = serde_json::from_slice::<Value>(body).ok();
    let message = json.as_ref().and_then(|v| v["message"].as_str());
    let text = message.map_or_else(|| String::from_utf8_lossy(body), Into::into);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    short(first.unwrap_or_default().as_bytes())
}

/// How a message of the run is named in a sentence.
fn label(spec: &MessageSpec) -> String {
    let link = spec.workflow.as_deref();
    if link.is_some_and(|l| l.init) {
        return "the run's first delivery".to_string();
    }
    let v: Value = serde_json::from_slice(&spec.body).unwrap_or(Value::Null);
    match (v["stepName"].as_str(), v["stepId"].as_u64()) {
        (Some(name), Some(0)) => format!("the plan of step '{name}'"),
        (Some(name), _) => format!("the result of step '{name}'"),
        _ => match link.map(|l| l.call_type) {
            Some(CallType::ToCallback) => format!("the call to {}", spec.url),
            Some(CallType::FromCallback) => "the result of a call".to_string(),
            _ => "a step".to_string(),
        },
    }
}

/// The name the SDK gave the step that threw, when its answer says.
fn thrown_in(r: Option<&Response>) -> Option<String> {
    let name = r?.headers.get("Upstash-Error-Step-Name")?;
    Some(format!("step '{name}'"))
}

/// "1 attempt", "3 attempts".
fn count(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// What an active run waits for, if anything.
fn running(e: &Evidence) -> Option<Status> {
    if let Some(w) = e.waiters.first() {
        let step = w.step["stepName"].as_str().unwrap_or("?");
        let since = (w.since != 0).then(|| format!(" since {}", rfc3339(w.since)));
        let msg = format!(
            "Waits for event '{}' (step '{step}'){}; it times out at {}.",
            w.event_id,
            since.unwrap_or_default(),
            rfc3339(w.deadline)
        );
        let mut s = Status::new(Code::WaitingForEvent, msg);
        s.at = (w.since != 0).then_some(w.since);
        s.until = Some(w.deadline);
        return Some(s);
    }
    if let Some(m) = e.pending.iter().min_by_key(|m| (!m.active, m.not_before)) {
        return Some(pending(e, m));
    }
    let child = e.invoked.first()?;
    let msg = format!(
        "Waits for the run it invoked, {} at {}, to end.",
        child.id, child.url
    );
    let mut s = Status::new(Code::WaitingForInvokedRun, msg);
    s.at = Some(child.created_at);
    Some(s)
}

/// What a pending message of the run is doing.
fn pending(e: &Evidence, m: &Message) -> Status {
    let what = label(&m.spec);
    let url = &m.spec.url;
    if m.active {
        let msg = format!("Delivering {what} to {url} (attempt {}).", m.retried + 1);
        return Status::new(Code::Delivering, msg).about(&m.id, None, None);
    }
    let at = Some(m.not_before);
    if m.retried > 0 {
        let last = e.facts.get(&m.id).and_then(|f| f.errors.last());
        let answer = last.and_then(|l| l.response.as_deref());
        let why = match (answer, last.and_then(|l| l.error.as_deref())) {
            (Some(r), _) if r.status != 0 => format!("HTTP {}: {}", r.status, answer_text(&r.body)),
            (_, Some(err)) => err.to_string(),
            _ => "no answer".to_string(),
        };
        let step = thrown_in(answer).map_or(String::new(), |s| format!(" ({s} threw)"));
        let msg = format!(
            "Delivering {what} to {url} failed {}{step}; last: {why}. The next attempt is at {}.",
            count(m.retried, "time"),
            rfc3339(m.not_before)
        );
        return Status::new(Code::Retrying, msg).about(&m.id, None, at);
    }
    let v: Value = serde_json::from_slice(&m.spec.body).unwrap_or(Value::Null);
    let sleeps = v.get("sleepFor").is_some() || v.get("sleepUntil").is_some();
    if m.not_before > e.now && sleeps {
        let name = v["stepName"].as_str().unwrap_or("?");
        let msg = format!("Step '{name}' sleeps until {}.", rfc3339(m.not_before));
        return Status::new(Code::Sleeping, msg).about(&m.id, None, at);
    }
    let msg = if m.not_before > e.now {
        format!("{} is due at {}.", capital(&what), rfc3339(m.not_before))
    } else {
        format!(
            "{} is due and waits for a delivery slot (flow control, a queue or the parallelism \
             limit).",
            capital(&what)
        )
    };
    Status::new(Code::Due, msg).about(&m.id, None, at)
}

/// One run as the dashboard's run view shows it: the run with what the log says of its
/// messages, where it is and why, and its waiters.
pub(crate) struct RunReport {
    /// Holds the run alone.
    pub(crate) page: RunLogPage,
    pub(crate) status: Status,
    pub(crate) waiters: Vec<Waiter>,
    /// When each pending message of the run is due next (Unix ms).
    pub(crate) due: Vec<(Arc<str>, u64)>,
}

impl Engine {
    /// The run `id` (active, else the most recent ended one of that id) with its diagnosis.
    pub(crate) fn run_report(&self, t: TenantId, id: &str) -> Result<RunReport> {
        self.with(t, |cx| {
            let st = &*cx.st;
            let run = st
                .runs
                .find(id)
                .ok_or_else(|| Error::not_found(format!("workflow run {id} not found")))?;
            let page = page_of(st, &[run], false);
            let mine = |l: &WorkflowLink| l.run_id == run.id && l.created_at == run.created_at;
            let active = run.is_active();
            let evidence = Evidence {
                run,
                now: cx.now,
                waiters: st.waits.of_run(id).filter(|_| active).collect(),
                pending: st
                    .messages
                    .values()
                    .filter(|m| m.spec.kind != Kind::FailureCallback)
                    .filter(|m| m.spec.workflow.as_deref().is_some_and(mine))
                    .collect(),
                invoked: st
                    .runs
                    .active_runs()
                    .filter(|c| {
                        c.invoker
                            .as_ref()
                            .is_some_and(|i| i.run_id == run.id && i.created_at == run.created_at)
                    })
                    .collect(),
                facts: &page.messages,
            };
            let status = diagnose(&evidence);
            let waiters = evidence.waiters.into_iter().cloned().collect();
            let due = evidence
                .pending
                .iter()
                .map(|m| (m.id.clone(), m.not_before))
                .collect();
            Ok(RunReport {
                status,
                waiters,
                due,
                page,
            })
        })
    }
}

#[cfg(test)]
mod tests;
