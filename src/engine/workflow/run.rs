//! Workflow runs inside the delivery state machine and the run API: what a delivery to the
//! workflow endpoint carries (history body, run headers), `WF_DetectTrigger`, `WF_NoDelete`
//! for `context.call`, failing a run when a step fails for good, and ending runs
//! (`DELETE /v2/workflows/runs/{id}`), with the lazy-fetch history lookup.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

use crate::engine::lifecycle::attempt::{AttemptResult, Verdict};
use crate::engine::lifecycle::callback::Payload;
use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::Headers;
use crate::engine::workflow::registry::Runs;
use crate::engine::workflow::wire::{InvokeResult, WireStep};
use crate::engine::workflow::{CallType, Run, RunState, WorkflowLink, NON_WORKFLOW_ERROR};
use crate::engine::{Engine, Error, Locked, Result, TenantId};

/// Whether a message goes to its workflow endpoint with the run's history as body.
fn carries_history(spec: &MessageSpec) -> bool {
    spec.kind == Kind::Normal
        && spec
            .workflow
            .as_ref()
            .is_some_and(|l| l.call_type == CallType::Step)
}

/// The body and run headers a delivery of message `id` of `run` carries.
fn as_delivered(
    id: &str,
    spec: &MessageSpec,
    link: &WorkflowLink,
    run: Option<&Run>,
) -> (Bytes, Headers) {
    let mut headers = Vec::new();
    if link.call_type != CallType::ToCallback {
        headers.push(("Upstash-Workflow-RunId".to_string(), link.run_id.clone()));
        headers.push((
            "Upstash-Workflow-CreatedAt".to_string(),
            link.created_at.to_string(),
        ));
    }
    let body = match run.filter(|_| carries_history(spec)) {
        Some(run) => json_bytes(&run.history(Some(id))),
        None => spec.body.clone(),
    };
    (body, headers)
}

impl Runs {
    /// The body and extra headers of an attempt of a workflow message; None when the message
    /// belongs to a run that has ended (it must be dropped).
    pub(crate) fn delivery(&self, msg: &Message) -> Option<(Bytes, Headers)> {
        let Some(link) = &msg.spec.workflow else {
            return Some((msg.spec.body.clone(), Vec::new()));
        };
        let run = self.active(&link.run_id);
        if run.is_none() && msg.spec.kind != Kind::FailureCallback {
            return None;
        }
        Some(as_delivered(&msg.id, &msg.spec, link, run))
    }

    /// What the attempts of a workflow message carried, for its timeline: as [`Self::delivery`]
    /// but from its run whether active or ended; None for a message of no run. A step of a run
    /// no longer kept whole shows its own body, not the history it carried.
    pub(crate) fn delivered(&self, id: &str, spec: &MessageSpec) -> Option<(Bytes, Headers)> {
        let link = spec.workflow.as_deref()?;
        let run = self.find_at(&link.run_id, link.created_at);
        Some(as_delivered(id, spec, link, run))
    }
}

/// `WF_DetectTrigger`: the first delivery of a run answered without the workflow SDK's header
/// means the destination is not a workflow endpoint: the run fails at once.
pub(crate) fn detect_trigger(msg: &Message, result: &mut AttemptResult) {
    let Some(link) = msg
        .spec
        .workflow
        .as_ref()
        .filter(|l| l.init && l.detect_trigger)
    else {
        return;
    };
    let Some(resp) = &result.response else { return };
    let from_sdk = resp.headers.contains("upstash-workflow-sdk-version");
    if !from_sdk && link.call_type == CallType::Step {
        result.verdict = Verdict::Fail;
        result.error = Some(NON_WORKFLOW_ERROR.to_string());
    }
}

impl Engine {
    /// The link of a callback made from `source`: a `context.call` result is part of the run's
    /// history (`fromCallback`); a failure callback is the run's `failureCall`.
    pub(crate) fn workflow_callback_link(
        &self,
        source: &Message,
        kind: Kind,
    ) -> Option<WorkflowLink> {
        let link = source.spec.workflow.as_ref()?;
        let call_type = match kind {
            Kind::Callback if link.call_type == CallType::ToCallback => CallType::FromCallback,
            Kind::FailureCallback => CallType::FailureCall,
            _ => return None,
        };
        Some(WorkflowLink {
            call_type,
            init: false,
            detect_trigger: false,
            ..(**link).clone()
        })
    }
}

impl Runs {
    /// Keeps what the failure callback of `source`'s run reports, for the run's logs.
    pub(crate) fn record_failure_report(&mut self, source: &Message, payload: &Payload) {
        let Some(link) = &source.spec.workflow else {
            return;
        };
        if let Some(run) = self.find_mut(&link.run_id) {
            run.failure_report = Some(Box::new(payload.clone()));
        }
    }

    /// Adds the workflow fields to a callback payload about `source`: the run id and creation
    /// time, and (`InitialBody`) the run's initial payload as `sourceBody`.
    pub(crate) fn payload(&self, source: &Message, payload: &mut Payload) {
        let Some(link) = &source.spec.workflow else {
            return;
        };
        payload.workflow_run_id = Some(link.run_id.clone());
        payload.workflow_created_at = Some(link.created_at);
        let initial = self.find(&link.run_id).map(|r| r.initial_body.clone());
        if let Some(body) = initial {
            payload.source_body = B64.encode(&body);
        }
    }
}

impl Locked<'_> {
    /// Drops a message of an ended run instead of delivering it.
    pub(crate) fn drop_ended(&mut self, id: &str) {
        self.cancel(id);
    }

    /// A workflow step failed for good: the run fails (its DLQ entry and failure callback are
    /// made by the caller), and what is left of it is dropped.
    pub(crate) fn workflow_failed(
        &mut self,
        msg: &Message,
        dlq_id: Option<String>,
        error: Option<String>,
    ) {
        let Some(link) = &msg.spec.workflow else {
            return;
        };
        if msg.spec.kind != Kind::Normal || link.call_type != CallType::Step {
            return;
        }
        let Some(run) = self.st.runs.active_mut(&link.run_id) else {
            return;
        };
        run.dlq_id = dlq_id;
        run.error = error;
        self.end_run(&link.run_id.clone(), RunState::Failed, None);
    }

    /// Ends a run: records how, drops its pending messages, waiters and stored notifications,
    /// moves it to the ended runs.
    pub(crate) fn end_run(&mut self, id: &str, state: RunState, response: Option<Bytes>) {
        let Some(run) = self.st.runs.active_mut(id) else {
            return;
        };
        run.state = state;
        run.completed_at = Some(self.now);
        run.response = response;
        let pending: Vec<Arc<str>> = self
            .st
            .messages
            .values()
            .filter(|m| m.spec.kind != Kind::FailureCallback)
            .filter(|m| m.spec.workflow.as_ref().is_some_and(|l| l.run_id == id))
            .map(|m| m.id.clone())
            .collect();
        for m in pending {
            self.cancel(&m);
        }
        self.st.waits.drop_run(id);
        if let Some(run) = self.st.runs.end(id).cloned() {
            self.resolve_invoker(&run);
        }
    }
}

impl Engine {
    /// `DELETE /v2/workflows/runs/{id}`: `cancel=false` completes the run with `body` as its
    /// result, `cancel=true` cancels it. A run that has already ended (however it ended) is
    /// left as it is and the call succeeds, as on the hosted service: the SDK ends a run again
    /// when its trigger was deduplicated. Only an id never seen (or ended so long ago that it
    /// left the bounded record of ended runs) is not found.
    pub(crate) fn finish_run(
        &self,
        t: TenantId,
        id: &str,
        cancel: bool,
        body: Bytes,
    ) -> Result<()> {
        self.with(t, |cx| {
            if !cx.st.runs.is_active(id) {
                if cx.st.runs.ended_ids.contains(id) {
                    return Ok(());
                }
                return Err(Error::not_found(format!("workflow run {id} not found")));
            }
            let (state, response) = if cancel {
                (RunState::Canceled, None)
            } else {
                (RunState::Success, Some(body))
            };
            cx.end_run(id, state, response);
            Ok(())
        })
    }

    /// The history of an active run (lazy fetch); 404 once it has ended.
    pub(crate) fn run_history(&self, t: TenantId, id: &str) -> Result<Vec<WireStep>> {
        self.with(t, |cx| cx.st.runs.active(id).map(|r| r.history(None)))
            .ok_or_else(|| Error::not_found(format!("workflow run {id} not found")))
    }
}

/// For a `context.call` that failed for good (`WF_NoDelete`): the run goes on with the failing
/// status, so the callback is sent even when the third party never answered.
pub(crate) fn is_workflow_call(msg: &Message) -> bool {
    msg.spec.kind == Kind::Normal
        && msg
            .spec
            .workflow
            .as_ref()
            .is_some_and(|l| l.call_type == CallType::ToCallback)
}

/// A response for a call that got none (connection refused, timeout): status 0.
pub(crate) fn no_response() -> Response {
    Response {
        status: 0,
        headers: Default::default(),
        body: Bytes::new(),
        signature: None,
        took_ms: 0,
    }
}

/// A step the server makes for a run: where it goes, with which protocol headers.
#[derive(Debug, Clone)]
pub(crate) struct ServerStep {
    pub(crate) run_id: String,
    pub(crate) url: String,
    /// `Name: value` pairs as the SDK sent them (`Upstash-Forward-X` reaches the endpoint).
    pub(crate) headers: Headers,
    /// The step JSON (`stepId`, `stepName`, `stepType`, `concurrent`, `out`, …).
    pub(crate) step: Value,
}

/// Publish options of a step the server makes from protocol headers (`Name: value` pairs as
/// the SDK sent them for a waiter or an invoker): `Upstash-Forward-X` reaches the endpoint as
/// `X`; everything else is the run's business.
fn server_step_options(
    headers: &Headers,
    run_id: &str,
) -> crate::engine::syntax::options::PublishOptions {
    let mut o = crate::engine::syntax::options::PublishOptions::default();
    for (k, v) in headers {
        let lower = k.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("upstash-forward-") {
            if !o.forward.iter().any(|(n, _)| n.eq_ignore_ascii_case(rest)) {
                o.forward
                    .push((crate::engine::syntax::headers::canonical(rest), v.clone()));
            }
        } else if lower == "content-type" && o.content_type.is_none() {
            o.content_type = Some(v.clone());
        }
    }
    o.content_type
        .get_or_insert_with(|| "application/json".to_string());
    o.workflow = Some(crate::engine::syntax::options::WorkflowHeaders {
        run_id: run_id.to_string(),
        ..Default::default()
    });
    o
}

impl Locked<'_> {
    /// Appends a step the server makes (a notify, a wait timeout, an invoke result) to an active
    /// run and delivers it like a step the SDK published, with the run's config.
    pub(crate) fn server_step(&mut self, s: ServerStep) -> Result<Arc<str>> {
        let caller_ip = self
            .st
            .runs
            .active(&s.run_id)
            .map(|r| r.caller_ip.clone())
            .unwrap_or_default();
        let req = crate::engine::lifecycle::publish::PublishRequest {
            destination: s.url,
            options: server_step_options(&s.headers, &s.run_id),
            body: Bytes::from(s.step.to_string()),
            caller_ip,
            queue: None,
            schedule_id: None,
        };
        let outcome = self.publish(req)?;
        outcome
            .messages()
            .first()
            .map(|p| p.message_id.clone())
            .ok_or_else(|| Error::bad("the step was not published"))
    }

    /// When an invoked run ends, its parent's invoke step gets the result:
    /// `out = {"body", "isFailed", "isCanceled"}` (no `body` unless it succeeded with one).
    fn resolve_invoker(&mut self, child: &crate::engine::workflow::Run) {
        let Some(inv) = &child.invoker else { return };
        if !self.st.runs.is_active(&inv.run_id) {
            return;
        }
        let result = InvokeResult::new(child.state, child.response.as_deref());
        let mut step = inv.step.clone();
        if let Value::Object(m) = &mut step {
            let out = serde_json::to_string(&result).unwrap_or_default();
            m.insert("out".into(), Value::String(out));
        }
        let s = ServerStep {
            run_id: inv.run_id.clone(),
            url: inv.url.clone(),
            headers: inv.headers.clone(),
            step,
        };
        let _ = self.server_step(s);
    }
}

/// `v` as JSON bytes: the body of a message the server writes itself.
pub(crate) fn json_bytes(v: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}
