//! Why a workflow run is where it is, in plain words (`GET /dev/workflows/runs/{id}`): while it
//! runs, what it waits for (an event, a sleep, a retry, a delivery, a run it invoked); when it
//! stopped without a next step, why (the endpoint answered without the workflow protocol's
//! response, its SDK speaks another protocol version, it rejected the signature, a step failed
//! for good, …). Read from the run, its pending messages, its waiters and what the log says of
//! its messages; nothing is kept for it, so it reaches as far back as the log does.
//! Must not import axum, reqwest or tokio::net.

use std::sync::Arc;

use serde_json::Value;

use crate::clock::rfc3339;
use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::workflow::logs::{InvokedRun, RunLogPage};
use crate::engine::workflow::wait::Waiter;
use crate::engine::workflow::{CallType, Run, RunState};

mod report;
mod stopped;
pub(crate) use report::RunReport;
use stopped::{failed, refused, stalled};

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
    StepCanceled,
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
            Self::StepCanceled => "stepCanceled",
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
    /// Runs its steps invoked that are still active.
    pub(crate) invoked: Vec<&'a InvokedRun>,
    /// What the log says of the run's messages.
    pub(crate) page: &'a RunLogPage,
    /// The run's DLQ entry is still there (a resume, restart or delete takes it away).
    pub(crate) in_dlq: bool,
}

/// Where the run is, and why (see the module doc).
pub(crate) fn diagnose(e: &Evidence) -> Status {
    let run = e.run;
    match run.state {
        RunState::Success => {
            let result = run.response.as_deref().map(short).unwrap_or_default();
            let returned = if result.is_empty() {
                String::new()
            } else {
                format!(" It returned {result}.")
            };
            ended(run, Code::Finished, format!("Finished at {{}}.{returned}"))
        }
        RunState::Canceled => ended(run, Code::Canceled, "Canceled at {}.".to_string()),
        RunState::Failed => failed(e),
        RunState::Running => running(e).unwrap_or_else(|| stalled(e)),
    }
}

/// The status of a run that ended: `text` with its end time for `{}`.
fn ended(run: &Run, code: Code, text: String) -> Status {
    let at = run.completed_at;
    let mut s = Status::new(code, text.replacen("{}", &rfc3339(at.unwrap_or(0)), 1));
    s.at = at;
    s
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

/// What an active run waits for, if anything: a failing delivery first (a wait or a sleep
/// beside it would hide it), then a wait, then the next delivery, then a run it invoked.
fn running(e: &Evidence) -> Option<Status> {
    let failing = e.pending.iter().filter(|m| m.retried > 0 && !m.active);
    if let Some(m) = failing.min_by_key(|m| m.not_before) {
        return Some(retrying(e, m));
    }
    if let Some(w) = e.waiters.first() {
        return Some(waiting(w));
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

fn waiting(w: &Waiter) -> Status {
    let step = w.step["stepName"].as_str().unwrap_or("?");
    let since = (w.since != 0).then_some(w.since);
    let msg = format!(
        "Waits for event '{}' (step '{step}'){}; it times out at {}.",
        w.event_id,
        since.map_or(String::new(), |t| format!(" since {}", rfc3339(t))),
        rfc3339(w.deadline)
    );
    let mut s = Status::new(Code::WaitingForEvent, msg);
    s.at = since;
    s.until = Some(w.deadline);
    s
}

/// A delivery of the run that failed and waits for its next attempt.
fn retrying(e: &Evidence, m: &Message) -> Status {
    let facts = e.page.messages.get(&m.id);
    let last = facts.and_then(|f| f.errors.last());
    let answer = last
        .and_then(|l| l.response.as_deref())
        .filter(|r| r.status != 0);
    let why = match (answer, last.and_then(|l| l.error.as_deref())) {
        (Some(r), _) => refused(r).map_or_else(
            || format!("last: HTTP {}: {}.", r.status, answer_text(&r.body)),
            |(_, why)| why,
        ),
        (None, Some(err)) => format!("last: {err}."),
        (None, None) => "no answer.".to_string(),
    };
    let step = facts.and_then(|f| f.error_step_name());
    let msg = format!(
        "Delivering {} to {} failed {}{}; the next attempt is at {}. {why}",
        label(&m.spec),
        m.spec.url,
        count(m.retried, "time"),
        step.map_or(String::new(), |s| format!(" (step '{s}' threw)")),
        rfc3339(m.not_before),
    );
    let until = (m.not_before > e.now).then_some(m.not_before);
    Status::new(Code::Retrying, msg).about(&m.id, None, until)
}

/// What a pending message of the run that has not failed is doing.
fn pending(e: &Evidence, m: &Message) -> Status {
    let what = label(&m.spec);
    if m.active {
        let msg = format!(
            "Delivering {what} to {} (attempt {}).",
            m.spec.url,
            m.retried + 1
        );
        return Status::new(Code::Delivering, msg).about(&m.id, None, None);
    }
    let later = (m.not_before > e.now).then_some(m.not_before);
    let v: Value = serde_json::from_slice(&m.spec.body).unwrap_or(Value::Null);
    let sleeps = v.get("sleepFor").is_some() || v.get("sleepUntil").is_some();
    let (code, msg) = match later {
        Some(t) if sleeps => {
            let name = v["stepName"].as_str().unwrap_or("?");
            let msg = format!("Step '{name}' sleeps until {}.", rfc3339(t));
            (Code::Sleeping, msg)
        }
        Some(t) => (
            Code::Due,
            format!("{} is due at {}.", capital(&what), rfc3339(t)),
        ),
        None => {
            let msg = format!(
                "{} is due now: it goes out as soon as a delivery slot is free (a queue, a \
                 flow-control key or the parallelism limit may hold it).",
                capital(&what)
            );
            (Code::Due, msg)
        }
    };
    Status::new(code, msg).about(&m.id, None, later)
}

#[cfg(test)]
mod tests;
