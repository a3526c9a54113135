//! Typed publish options: what the `Upstash-*` headers of a publish, a DLQ retry override or a
//! callback configuration say, already parsed and checked for form. Every field is optional so
//! the same type serves as a full request and as a set of overrides. Parsing from HTTP lives
//! in `api::publish::upstash`; limits are checked by the engine.

use std::time::Duration;

use crate::engine::expr::RetryDelayExpr;
use crate::engine::limits::flow::FlowSpec;
use crate::engine::syntax::headers::Headers;

/// What `Upstash-Redact-Fields` hides from API responses (delivery still uses the real values).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redact {
    pub body: bool,
    pub all_headers: bool,
    /// Canonical names of single headers to hide.
    pub headers: Vec<String>,
}

impl Redact {
    pub(crate) fn is_empty(&self) -> bool {
        !self.body && !self.all_headers && self.headers.is_empty()
    }

    pub(crate) fn hides_header(&self, name: &str) -> bool {
        self.all_headers || self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Options of a publish-family request.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    pub method: Option<&'static str>,
    pub content_type: Option<String>,
    /// Headers delivered to the destination (forward prefix stripped, canonical names).
    pub forward: Headers,
    pub delay: Option<Duration>,
    /// `Upstash-Not-Before`, Unix seconds; wins over `delay`.
    pub not_before_s: Option<u64>,
    pub retries: Option<u32>,
    pub retry_delay: Option<RetryDelayExpr>,
    pub timeout: Option<Duration>,
    pub dedup_id: Option<String>,
    pub content_dedup: bool,
    pub labels: Option<Vec<String>>,
    pub redact: Option<Redact>,
    pub callback: Option<CallbackOptions>,
    pub failure_callback: Option<CallbackOptions>,
    pub flow: Option<FlowSpec>,
    /// The workflow protocol headers, when the message belongs to a workflow run.
    pub workflow: Option<WorkflowHeaders>,
}

/// `Upstash-Workflow-*` headers of a message sent by the workflow SDK.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowHeaders {
    pub(crate) run_id: String,
    /// `Upstash-Workflow-Init: true`: the first message of a run.
    pub(crate) init: bool,
    pub(crate) url: Option<String>,
    /// `step` (default), `toCallback`, `fromCallback`, `failureCall`.
    pub(crate) call_type: Option<String>,
    pub(crate) feature_set: String,
    /// `Upstash-Workflow-Invoke: true`: the body is an invoke request from a parent run.
    pub(crate) invoke: bool,
}

/// A callback or failure callback: its URL and the options of the message that carries it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CallbackOptions {
    pub(crate) url: String,
    pub(crate) method: Option<crate::engine::syntax::method::Method>,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_delay: Option<RetryDelayExpr>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) delay: Option<Duration>,
    /// Headers delivered to the callback URL.
    pub(crate) forward: Headers,
    pub(crate) flow: Option<FlowSpec>,
}
