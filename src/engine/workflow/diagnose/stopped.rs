//! Why a run stopped without a next step: how its failing step failed for good, or, for an
//! active run with nothing left to do, what the answer to its last step lacked.

use super::{
    answer_text, capital, count, label, thrown_in, Code, Evidence, Status, PROTOCOL_VERSION,
    SDK_AUTH_FAILURE, SDK_PROTOCOL_FAILURE, SDK_SIGNATURE_FAILURE,
};
use crate::clock::rfc3339;
use crate::engine::lifecycle::message::Kind;
use crate::engine::store::logs::{Response, State};
use crate::engine::workflow::logs::MessageFacts;
use crate::engine::workflow::{CallType, Run, NON_WORKFLOW_ERROR};

pub(super) fn failed(e: &Evidence) -> Status {
    let run = e.run;
    let culprit = e
        .facts
        .iter()
        .filter(|(_, m)| m.of_run(run) && m.last == Some(State::Failed))
        .filter(|(_, m)| m.spec.kind == Kind::Normal && m.call_type() == Some(CallType::Step))
        .max_by_key(|(_, m)| m.created);
    let Some((id, m)) = culprit else {
        let why = run
            .error
            .clone()
            .unwrap_or_else(|| "no reason was kept".into());
        return Status::new(Code::StepFailed, format!("The run failed: {why}."));
    };
    let last = m.errors.last();
    let r = last
        .and_then(|l| l.response.as_deref())
        .or(m.response.as_ref());
    let (code, why) = failure_reason(run, m, r, last.and_then(|l| l.error.as_deref()));
    let dlq = run.dlq_id.as_deref().map_or(String::new(), |d| {
        format!(" Resume or restart it from the DLQ ({d}).")
    });
    Status::new(code, format!("{why}{dlq}")).about(id, m.ended_at, None)
}

/// Why the delivery of `m` failed for good, from its last answer (`r`) or transport error.
fn failure_reason(
    run: &Run,
    m: &MessageFacts,
    r: Option<&Response>,
    error: Option<&str>,
) -> (Code, String) {
    let tries = count(m.retries + 1, "attempt");
    let Some(r) = r.filter(|r| r.status != 0) else {
        let err = error.unwrap_or("no answer");
        let msg = format!(
            "{} could not reach {} ({tries}): {err}.",
            capital(&label(&m.spec)),
            m.spec.url
        );
        return (Code::Unreachable, msg);
    };
    let text = answer_text(&r.body);
    let raw = String::from_utf8_lossy(&r.body);
    let status = r.status;
    if run.error.as_deref() == Some(NON_WORKFLOW_ERROR) {
        let msg = format!(
            "The first delivery reached {}, which answered HTTP {status} without the workflow \
             SDK's Upstash-Workflow-Sdk-Version header: it is not a workflow endpoint. Point the \
             trigger at the route served by serve().",
            m.spec.url
        );
        return (Code::NonWorkflowDestination, msg);
    }
    let signature = raw.contains(SDK_SIGNATURE_FAILURE)
        || (matches!(status, 401 | 403) && raw.to_ascii_lowercase().contains("signature"));
    if signature {
        let msg = format!(
            "The endpoint rejected the request's signature (HTTP {status}: {text}). Its \
             QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be this user's signing \
             keys, as printed at start; the Verify tab explains a signature."
        );
        return (Code::SignatureRejected, msg);
    }
    if raw.contains(SDK_PROTOCOL_FAILURE) {
        let msg = format!(
            "The endpoint's workflow SDK refused the request's protocol version (HTTP {status}: \
             {text}). This server speaks protocol {PROTOCOL_VERSION}: upgrade @upstash/workflow."
        );
        return (Code::ProtocolMismatch, msg);
    }
    if raw.contains(SDK_AUTH_FAILURE) {
        let msg = format!(
            "The endpoint answered HTTP {status} \"{SDK_AUTH_FAILURE}\": the route returned \
             before reaching a step, usually because code outside context.run decided \
             differently on this call."
        );
        return (Code::AuthFailed, msg);
    }
    let step = thrown_in(Some(r)).unwrap_or_else(|| format!("the step after {}", label(&m.spec)));
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

/// An active run with nothing pending, no waiter and no invoked run: why no next step came,
/// from the answer to its last delivered step.
pub(super) fn stalled(e: &Evidence) -> Status {
    let run = e.run;
    let last = e
        .facts
        .iter()
        .filter(|(_, m)| m.of_run(run) && m.last == Some(State::Delivered))
        .filter(|(_, m)| m.spec.kind == Kind::Normal && m.call_type() == Some(CallType::Step))
        .max_by_key(|(_, m)| (m.ended_at, m.created));
    let Some((id, m)) = last.filter(|(_, m)| m.response.is_some()) else {
        let msg = "Nothing is pending or waiting for this run, and the log no longer holds its \
                   deliveries.";
        return Status::new(Code::Unknown, msg.to_string());
    };
    let (code, msg) = unanswered(run, m);
    Status::new(code, msg).about(id, m.ended_at, None)
}

/// Why the answer to `m`, the run's last delivered step, led nowhere.
fn unanswered(run: &Run, m: &MessageFacts) -> (Code, String) {
    let r = m.response.as_ref();
    let status = r.map_or(0, |r| r.status);
    let header = |name: &str| r.and_then(|r| r.headers.get(name)).map(|v| v.into_owned());
    let what = label(&m.spec);
    let at = m.ended_at.map(rfc3339).unwrap_or_default();
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
                 step and did not end the run. A step inside a try/catch that swallows \
                 WorkflowAbort does this."
            );
            (Code::NoNextStep, msg)
        }
    }
}
