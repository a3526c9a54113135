//! The server side of Upstash Workflow: runs and their history. A run starts with a message
//! carrying `Upstash-Workflow-Init: true` and a run id; it keeps the run config of that first
//! message (retries, retry delay, flow control, failure callback, forwarded user headers) and
//! applies it to every later step (`WF_TriggerOnConfig`). Every message of the run is appended
//! to its history in publish order, and every delivery to the workflow endpoint carries that
//! history, cut at the message being delivered, as a JSON array of `wire::WireStep`s
//! `{messageId, body: base64, callType}`. The `context.call` message goes to the third party as
//! a plain message, and its callback carries the raw callback JSON. A run ends when the SDK
//! deletes it (`?cancel=false` on success, `true` on cancel) or when a step fails for good;
//! messages for an ended run are refused with 400.

pub(crate) mod admin;
pub(crate) mod diagnose;
pub(crate) mod dlq;
pub(crate) mod logs;
pub(crate) mod notify;
pub(crate) mod registry;
pub(crate) mod run;
pub(crate) mod wait;
pub(crate) mod wire;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::engine::expr::RetryDelayExpr;
use crate::engine::lifecycle::callback::Payload;
use crate::engine::limits::flow::FlowSpec;
use crate::engine::syntax::headers::{merge, Headers};
use crate::engine::syntax::options::{CallbackOptions, PublishOptions, WorkflowHeaders};
use crate::engine::workflow::registry::Runs;
use crate::engine::workflow::wire::WireStep;
use crate::engine::{Error, Result};

/// The workflow protocol version this server speaks (`Upstash-Workflow-Sdk-Version`).
pub(crate) const PROTOCOL_VERSION: &str = "1";

/// The error of `WF_DetectTrigger`, as the workflow SDK's tests expect it.
pub(crate) const NON_WORKFLOW_ERROR: &str =
    "detected a non-workflow destination for trigger/invoke. make sure you are sending the request to the correct endpoint";

/// Request headers never forwarded from a run's first message to its steps.
const NOT_KEPT: [&str; 12] = [
    "Upstash-Workflow-Sdk-Version",
    "Host",
    "Content-Length",
    "Connection",
    "Transfer-Encoding",
    "Keep-Alive",
    "Upgrade",
    "Te",
    "Trailer",
    "Accept-Encoding",
    "Proxy-Connection",
    "Proxy-Authorization",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RunState {
    Running,
    Success,
    Failed,
    Canceled,
}

impl RunState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUN_STARTED",
            Self::Success => "RUN_SUCCESS",
            Self::Failed => "RUN_FAILED",
            Self::Canceled => "RUN_CANCELED",
        }
    }
}

/// How a message takes part in its run's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum CallType {
    Step,
    ToCallback,
    FromCallback,
    FailureCall,
}

impl CallType {
    pub(crate) fn parse(s: Option<&str>) -> Self {
        match s.map(str::to_ascii_lowercase).as_deref() {
            Some("tocallback") => Self::ToCallback,
            Some("fromcallback") => Self::FromCallback,
            Some("failurecall") => Self::FailureCall,
            _ => Self::Step,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::ToCallback => "toCallback",
            Self::FromCallback => "fromCallback",
            Self::FailureCall => "failureCall",
        }
    }
}

/// The link from a message to its run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct WorkflowLink {
    pub(crate) run_id: String,
    pub(crate) created_at: u64,
    pub(crate) call_type: CallType,
    /// The run's first message (checked by `WF_DetectTrigger`).
    pub(crate) init: bool,
    pub(crate) detect_trigger: bool,
}

/// One entry of a run's history.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct RawStep {
    pub(crate) message_id: Arc<str>,
    #[serde(with = "crate::engine::persister::b64")]
    pub(crate) body: Bytes,
    pub(crate) call_type: CallType,
    pub(crate) created_at: u64,
}

/// The settings of a run's first message, applied to its later steps.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct RunConfig {
    pub(crate) retries: Option<u32>,
    pub(crate) retry_delay: Option<RetryDelayExpr>,
    pub(crate) flow: Option<FlowSpec>,
    pub(crate) failure_callback: Option<CallbackOptions>,
    pub(crate) forward: Headers,
    pub(crate) labels: Option<Vec<String>>,
}

/// The parent of a run started by `context.invoke`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Invoker {
    pub(crate) run_id: String,
    pub(crate) url: String,
    pub(crate) created_at: u64,
    /// The parent's step headers, as publish headers (`Name: [values]`).
    pub(crate) headers: Headers,
    /// The parent's invoke step (`stepId`, `stepName`, `stepType`, `concurrent`).
    pub(crate) step: Value,
}

/// Its serde form is what `-persist` keeps, but for the failure callback's report (shown in
/// the run's logs until a restart).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Run {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) created_at: u64,
    pub(crate) state: RunState,
    pub(crate) completed_at: Option<u64>,
    /// The body of the completing DELETE (the workflow's return value).
    #[serde(with = "crate::engine::persister::b64::option")]
    pub(crate) response: Option<Bytes>,
    pub(crate) history: Vec<RawStep>,
    pub(crate) config: RunConfig,
    #[serde(with = "crate::engine::persister::b64")]
    pub(crate) initial_body: Bytes,
    pub(crate) feature_set: String,
    pub(crate) caller_ip: String,
    pub(crate) invoker: Option<Invoker>,
    pub(crate) init_message: Arc<str>,
    pub(crate) dlq_id: Option<String>,
    /// Why it failed.
    pub(crate) error: Option<String>,
    /// What its failure callback reported: the payload last sent to it.
    #[serde(skip)]
    pub(crate) failure_report: Option<Box<Payload>>,
}

impl Run {
    pub(crate) fn is_active(&self) -> bool {
        self.state == RunState::Running
    }

    fn has_feature(&self, f: &str) -> bool {
        self.feature_set.split(',').any(|x| x.trim() == f)
    }

    /// The history as delivered: up to and including `message_id` (all when not found).
    pub(crate) fn history(&self, upto: Option<&str>) -> Vec<WireStep> {
        let end = upto
            .and_then(|id| self.history.iter().position(|s| &*s.message_id == id))
            .map_or(self.history.len(), |i| i + 1);
        self.history[..end].iter().map(WireStep::of).collect()
    }
}

/// What publishing a workflow message decided.
pub(crate) enum Prepared {
    /// A message of the run, to be appended to its history once it has an id.
    Message(WorkflowLink),
    /// The first message of a run that already runs: nothing is published.
    Duplicate(Arc<str>),
}

fn keep_forward(forward: &Headers) -> Headers {
    forward
        .iter()
        .filter(|(k, _)| !NOT_KEPT.iter().any(|n| n.eq_ignore_ascii_case(k)))
        .cloned()
        .collect()
}

/// The invoke request a parent publishes: `{body, headers, workflowRunId, workflowRunCreatedAt,
/// workflowUrl, step}`. Returns the child's initial body and its invoker.
fn parse_invoke(body: &[u8]) -> Result<(Bytes, Invoker)> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad(format!("invalid invoke request: {e}")))?;
    let initial = match v.get("body") {
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(Value::Null) | None => Bytes::new(),
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut headers = Headers::new();
    if let Some(Value::Object(map)) = v.get("headers") {
        for (k, vals) in map {
            match vals {
                Value::Array(items) => headers.extend(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(|s| (k.clone(), s.to_string())),
                ),
                Value::String(s) => headers.push((k.clone(), s.clone())),
                _ => {}
            }
        }
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let invoker = Invoker {
        run_id: text("workflowRunId"),
        url: text("workflowUrl"),
        created_at: v
            .get("workflowRunCreatedAt")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        headers,
        step: v.get("step").cloned().unwrap_or(Value::Null),
    };
    crate::engine::syntax::urls::check_not_link_local(&invoker.url, "invoking workflow")
        .map(|()| (initial, invoker))
}

impl Runs {
    /// Starts a run (first message) or checks that it is active and applies its config to a
    /// later message. `body` may be replaced (an invoke request is unwrapped).
    pub(crate) fn prepare(
        &mut self,
        wf: &WorkflowHeaders,
        o: &mut PublishOptions,
        body: &mut Bytes,
        url: &str,
        caller_ip: &str,
        now: u64,
    ) -> Result<Prepared> {
        let call_type = CallType::parse(wf.call_type.as_deref());
        if wf.init {
            if let Some(run) = self.active(&wf.run_id) {
                return Ok(Prepared::Duplicate(run.init_message.clone()));
            }
            let invoker = if wf.invoke {
                let (initial, invoker) = parse_invoke(body)?;
                *body = initial;
                Some(invoker)
            } else {
                None
            };
            let run = Run {
                id: wf.run_id.clone(),
                url: wf.url.clone().unwrap_or_else(|| url.to_string()),
                created_at: now,
                state: RunState::Running,
                completed_at: None,
                response: None,
                history: Vec::new(),
                config: RunConfig {
                    retries: o.retries,
                    retry_delay: o.retry_delay.clone(),
                    flow: o.flow.clone(),
                    failure_callback: o.failure_callback.clone(),
                    forward: keep_forward(&o.forward),
                    labels: o.labels.clone(),
                },
                initial_body: body.clone(),
                feature_set: wf.feature_set.clone(),
                caller_ip: caller_ip.to_string(),
                invoker,
                init_message: Arc::from(""),
                dlq_id: None,
                error: None,
                failure_report: None,
            };
            let link = WorkflowLink {
                run_id: run.id.clone(),
                created_at: now,
                call_type: CallType::Step,
                init: true,
                detect_trigger: run.has_feature("WF_DetectTrigger"),
            };
            self.start(run);
            return Ok(Prepared::Message(link));
        }
        let run = self.active(&wf.run_id).ok_or_else(|| {
            Error::RunEnded(format!(
                "workflow run {} does not exist or has already ended",
                wf.run_id
            ))
        })?;
        if call_type == CallType::Step {
            apply_config(o, &run.config);
        }
        Ok(Prepared::Message(WorkflowLink {
            run_id: run.id.clone(),
            created_at: run.created_at,
            call_type,
            init: false,
            detect_trigger: false,
        }))
    }

    /// Appends a message to its run's history.
    pub(crate) fn append(&mut self, link: &WorkflowLink, id: &Arc<str>, body: &Bytes, now: u64) {
        if let Some(run) = self.active_mut(&link.run_id) {
            if link.init {
                run.init_message = id.clone();
            }
            run.history.push(RawStep {
                message_id: id.clone(),
                body: body.clone(),
                call_type: link.call_type,
                created_at: now,
            });
        }
    }
}

/// Fills what a step message leaves out with the run's config (`WF_TriggerOnConfig`); the
/// message's own settings win.
fn apply_config(o: &mut PublishOptions, c: &RunConfig) {
    o.retries = o.retries.or(c.retries);
    if o.retry_delay.is_none() {
        o.retry_delay = c.retry_delay.clone();
    }
    if o.flow.is_none() {
        o.flow = c.flow.clone();
    }
    if o.failure_callback.is_none() {
        o.failure_callback = c.failure_callback.clone();
    }
    if o.labels.is_none() {
        o.labels = c.labels.clone();
    }
    o.forward = merge(&c.forward, &o.forward);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_types_parse_in_any_case_and_default_to_step() {
        assert_eq!(CallType::parse(Some("toCallback")), CallType::ToCallback);
        assert_eq!(
            CallType::parse(Some("FROMCALLBACK")),
            CallType::FromCallback
        );
        assert_eq!(CallType::parse(None), CallType::Step);
    }

    #[test]
    fn an_invoke_request_is_unwrapped_into_the_childs_body_and_its_invoker() {
        let req = br#"{"body":"payload","headers":{"Upstash-Workflow-RunId":["wfr_p"]},"workflowRunId":"wfr_p","workflowRunCreatedAt":7,"workflowUrl":"http://x/p","step":{"stepId":2,"stepName":"inv","stepType":"Invoke","concurrent":1}}"#;
        let (body, inv) = parse_invoke(req).unwrap();
        assert_eq!(&body[..], b"payload");
        assert_eq!(inv.run_id, "wfr_p");
        assert_eq!(inv.created_at, 7);
        assert_eq!(
            inv.headers,
            vec![("Upstash-Workflow-RunId".to_string(), "wfr_p".to_string())]
        );
        assert_eq!(inv.step["stepId"], 2);
    }

    #[test]
    fn the_history_is_cut_at_the_delivered_message() {
        let step = |id: &str| RawStep {
            message_id: id.into(),
            body: Bytes::from_static(b"x"),
            call_type: CallType::Step,
            created_at: 0,
        };
        let run = Run {
            id: "r".into(),
            url: "u".into(),
            created_at: 0,
            state: RunState::Running,
            completed_at: None,
            response: None,
            history: vec![step("a"), step("b"), step("c")],
            config: RunConfig::default(),
            initial_body: Bytes::new(),
            feature_set: String::new(),
            caller_ip: String::new(),
            invoker: None,
            init_message: "a".into(),
            dlq_id: None,
            error: None,
            failure_report: None,
        };
        assert_eq!(run.history(Some("b")).len(), 2);
        assert_eq!(run.history(None).len(), 3);
        assert_eq!(run.history(Some("a"))[0].body, "eA==");
    }
}
