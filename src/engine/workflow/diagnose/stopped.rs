//! Why a run stopped without a next step: how its failing step failed for good, or, for an
//! active run with nothing left to do, what its latest message met (cancelled, failed, or an
//! answer without the workflow protocol's response). Also the failures the workflow SDK words
//! itself, which a retrying delivery reports too.

use super::{answer_text, capital, count, label, Code, Evidence, Status};
use crate::clock::rfc3339;
use crate::engine::store::logs::{Response, State};
use crate::engine::workflow::logs::MessageFacts;
use crate::engine::workflow::{CallType, Run, NON_WORKFLOW_ERROR, PROTOCOL_VERSION};

/// What the workflow SDK answers when `Receiver.verify` rejects a delivery.
const SDK_SIGNATURE_FAILURE: &str = "Failed to verify that the Workflow request comes from QStash";
/// What the workflow SDK answers when the request's protocol version is not its own.
const SDK_PROTOCOL_FAILURE: &str = "Incompatible workflow sdk protocol version";
/// What the workflow SDK answers when the route returned before reaching a step.
const SDK_AUTH_FAILURE: &str = "Failed to authenticate Workflow request";

pub(super) fn failed(e: &Evidence) -> Status {
    let run = e.run;
    let Some((id, m)) = e.page.failed_step(run) else {
        let why = run.error.as_deref().unwrap_or("no reason was kept");
        return Status::new(Code::StepFailed, format!("The run failed: {why}."));
    };
    let (code, why) = if run.error.as_deref() == Some(NON_WORKFLOW_ERROR) {
        non_workflow(m)
    } else {
        failure(m)
    };
    let dlq = match run.dlq_id.as_deref().filter(|_| e.in_dlq) {
        Some(d) => format!(" Resume or restart it from the DLQ ({d})."),
        None => String::new(),
    };
    Status::new(code, format!("{why}{dlq}")).about(&id.into(), m.ended_at, None)
}

fn non_workflow(m: &MessageFacts) -> (Code, String) {
    let status = last_answer(m).map_or(0, |r| r.status);
    let msg = format!(
        "The first delivery reached {}, which answered HTTP {status} without the workflow SDK's \
         Upstash-Workflow-Sdk-Version header: it is not a workflow endpoint. Point the trigger \
         at the route served by serve().",
        m.spec.url
    );
    (Code::NonWorkflowDestination, msg)
}

/// The answer to the last failed attempt of `m` (none for a transport error).
fn last_answer(m: &MessageFacts) -> Option<&Response> {
    let last = m.errors.last();
    last.and_then(|l| l.response.as_deref())
        .or(m.response.as_ref())
        .filter(|r| r.status != 0)
}

/// Why the delivery of `m` failed for good.
fn failure(m: &MessageFacts) -> (Code, String) {
    let tries = count(m.retries + 1, "attempt");
    let Some(r) = last_answer(m) else {
        let err = m.errors.last().and_then(|l| l.error.as_deref());
        let msg = format!(
            "{} could not reach {} ({tries}): {}.",
            capital(&label(&m.spec)),
            m.spec.url,
            err.unwrap_or("no answer")
        );
        return (Code::Unreachable, msg);
    };
    if let Some(refusal) = refused(r) {
        return refusal;
    }
    let step = match m.error_step_name() {
        Some(name) => format!("step '{name}'"),
        None => format!("the step after {}", label(&m.spec)),
    };
    let (status, text) = (r.status, answer_text(&r.body));
    if status == 489 {
        let msg = format!(
            "{} threw a non-retryable error (HTTP 489: {text}); the run failed without retries.",
            capital(&step)
        );
        return (Code::NonRetryableError, msg);
    }
    let msg = format!(
        "{} failed ({tries}); the last answer was HTTP {status}: {text}.",
        capital(&step)
    );
    (Code::StepFailed, msg)
}

/// The refusals the workflow SDK words itself (and a receiver refusing the signature with 401
/// or 403), with what to do about them.
pub(super) fn refused(r: &Response) -> Option<(Code, String)> {
    let raw = String::from_utf8_lossy(&r.body);
    let (status, text) = (r.status, answer_text(&r.body));
    let signature = raw.contains(SDK_SIGNATURE_FAILURE)
        || (matches!(status, 401 | 403) && raw.to_ascii_lowercase().contains("signature"));
    let (code, advice) = if signature {
        let advice = "Its QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be this \
                      user's signing keys, as printed at start; the Verify tab explains a \
                      signature.";
        (
            Code::SignatureRejected,
            format!(
                "The endpoint rejected the request's signature (HTTP {status}: {text}). {advice}"
            ),
        )
    } else if raw.contains(SDK_PROTOCOL_FAILURE) {
        let msg = format!(
            "The endpoint's workflow SDK refused the request's protocol version (HTTP {status}: \
             {text}). This server speaks protocol {PROTOCOL_VERSION}: upgrade @upstash/workflow."
        );
        (Code::ProtocolMismatch, msg)
    } else if raw.contains(SDK_AUTH_FAILURE) {
        let msg = format!(
            "The endpoint answered HTTP {status} \"{SDK_AUTH_FAILURE}\": the route returned \
             before reaching a step, usually because code outside context.run decided \
             differently on this call."
        );
        (Code::AuthFailed, msg)
    } else {
        return None;
    };
    Some((code, advice))
}

/// An active run with nothing pending, no waiter and no invoked run: its latest message
/// (failure calls apart) says why nothing follows it.
pub(super) fn stalled(e: &Evidence) -> Status {
    let run = e.run;
    let latest = e
        .page
        .messages
        .iter()
        .filter(|(_, m)| m.of_run(run) && m.call_type() != Some(CallType::FailureCall))
        .filter(|(_, m)| m.ended_at.is_some())
        .max_by_key(|(_, m)| (m.ended_at, m.created));
    let Some((id, m)) = latest else {
        let msg = "Nothing is pending or waiting for this run, and the log no longer holds its \
                   deliveries.";
        return Status::new(Code::Unknown, msg.to_string());
    };
    let (code, msg) = match m.last {
        Some(State::Canceled | State::CancelRequested) => {
            let msg = format!(
                "{} was cancelled at {} (a message cancel, from the API or the Pending tab), so \
                 the run has nothing left to deliver: cancel the run, or trigger it again.",
                capital(&label(&m.spec)),
                rfc3339(m.ended_at.unwrap_or(0))
            );
            (Code::StepCanceled, msg)
        }
        Some(State::Failed) => failure(m),
        _ => unanswered(run, m),
    };
    Status::new(code, msg).about(id, m.ended_at, None)
}

/// Why the answer to `m`, the run's latest delivered message, led nowhere.
fn unanswered(run: &Run, m: &MessageFacts) -> (Code, String) {
    let r = m.response.as_ref();
    let status = r.map_or(0, |r| r.status);
    let header = |name: &str| r.and_then(|r| r.headers.get(name)).map(|v| v.into_owned());
    let what = label(&m.spec);
    let at = m.ended_at.map(rfc3339).unwrap_or_default();
    if m.call_type() == Some(CallType::ToCallback) {
        let msg = format!(
            "{} answered HTTP {status} at {at}, but its result never came back to the run.",
            capital(&what)
        );
        return (Code::NoNextStep, msg);
    }
    match header("Upstash-Workflow-Sdk-Version") {
        None => {
            let msg = format!(
                "{} answered HTTP {status} to {what} at {at} without the workflow protocol's \
                 response (no Upstash-Workflow-Sdk-Version header), and no next step came. Is \
                 {} served by serve() from @upstash/workflow?",
                m.spec.url, run.url
            );
            (Code::NotWorkflowResponse, msg)
        }
        Some(v) if v != PROTOCOL_VERSION => {
            let sdk = header("Upstash-Workflow-Sdk").map_or(String::new(), |s| format!(" ({s})"));
            let msg = format!(
                "The endpoint's workflow SDK{sdk} answered {what} with protocol version {v}; \
                 this server speaks protocol {PROTOCOL_VERSION}. Upgrade @upstash/workflow."
            );
            (Code::OldProtocol, msg)
        }
        Some(_) => {
            let msg = format!(
                "The endpoint answered HTTP {status} to {what} at {at} but published no next \
                 step and did not end the run. The endpoint's own log says why: the workflow \
                 SDK logs a publish of its next step that this server refused."
            );
            (Code::NoNextStep, msg)
        }
    }
}
