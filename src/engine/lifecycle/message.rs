//! A message: its immutable specification (shared by the message, its log entries and its DLQ
//! entry through one `Arc`) and its runtime state while it waits or is being delivered.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::engine::expr::RetryDelayExpr;
use crate::engine::limits::flow::FlowSpec;
use crate::engine::syntax::headers::Headers;
use crate::engine::syntax::options::{CallbackOptions, Redact};
use crate::engine::workflow::WorkflowLink;

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Kind {
    Normal,
    /// Carries the §4.11 payload to an `Upstash-Callback` URL.
    Callback,
    /// Carries the §4.12 payload to an `Upstash-Failure-Callback` URL.
    FailureCallback,
}

/// Everything fixed at publish time. Kept compact because a pending message holds one: the
/// options most messages do not use are boxed (8 bytes when absent instead of up to 208),
/// and the method is one of the few valid ones. Its serde form (`-persist`) leaves out the
/// body, kept apart as bytes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct MessageSpec {
    pub(crate) url: String,
    pub(crate) method: crate::engine::syntax::method::Method,
    /// Headers delivered to the destination, `Content-Type` included.
    pub(crate) header: Headers,
    #[serde(skip)]
    pub(crate) body: Bytes,
    pub(crate) max_retries: u32,
    pub(crate) retry_delay: Option<Box<RetryDelayExpr>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) callback: Option<Box<CallbackOptions>>,
    pub(crate) failure_callback: Option<Box<CallbackOptions>>,
    pub(crate) labels: Vec<String>,
    pub(crate) caller_ip: String,
    /// What API responses hide; see `redact()`.
    pub(crate) redact: Option<Box<Redact>>,
    pub(crate) kind: Kind,
    /// The URL group, queue or schedule it came from; see `set_origin()`.
    pub(crate) origin: Option<Box<Origin>>,
    pub(crate) flow: Option<Box<FlowSpec>>,
    /// The workflow run this message belongs to.
    #[serde(default)]
    pub(crate) workflow: Option<Box<WorkflowLink>>,
}

/// The URL group (and endpoint), queue or schedule a message came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Origin {
    pub(crate) topic_name: Option<String>,
    pub(crate) endpoint_name: Option<String>,
    pub(crate) queue_name: Option<String>,
    pub(crate) schedule_id: Option<String>,
}

static NO_REDACT: Redact = Redact {
    body: false,
    all_headers: false,
    headers: Vec::new(),
};

impl MessageSpec {
    pub(crate) fn redact(&self) -> &Redact {
        self.redact.as_deref().unwrap_or(&NO_REDACT)
    }

    pub(crate) fn set_origin(&mut self, o: Origin) {
        self.origin = (o != Origin::default()).then(|| Box::new(o));
    }

    pub(crate) fn topic_name(&self) -> Option<&str> {
        self.origin.as_ref()?.topic_name.as_deref()
    }

    pub(crate) fn endpoint_name(&self) -> Option<&str> {
        self.origin.as_ref()?.endpoint_name.as_deref()
    }

    pub(crate) fn queue_name(&self) -> Option<&str> {
        self.origin.as_ref()?.queue_name.as_deref()
    }

    pub(crate) fn schedule_id(&self) -> Option<&str> {
        self.origin.as_ref()?.schedule_id.as_deref()
    }
}

/// A message that is pending, being delivered or waiting for a retry.
#[derive(Debug, Clone)]
pub struct Message {
    pub(crate) id: Arc<str>,
    pub(crate) spec: Arc<MessageSpec>,
    pub(crate) created_at: u64,
    /// Earliest delivery time of the next attempt (Unix ms).
    pub(crate) not_before: u64,
    /// Attempts already failed and retried.
    pub(crate) retried: u32,
    /// A delivery attempt is running.
    pub(crate) active: bool,
    pub(crate) cancel_requested: bool,
    /// A wake-up (a `Deliver` job) is already on its way for this waiting message, so a
    /// freed slot does not send it another one.
    pub(crate) woken: bool,
    /// For a callback of a queued message: the queue and the message whose slot it holds.
    pub(crate) slot: Option<Box<(String, Arc<str>)>>,
}

impl Message {
    /// The queue slot this message counts under: its own when it belongs to a queue, its
    /// source message's when it is that message's callback.
    pub(crate) fn slot_key(&self) -> Option<(String, Arc<str>)> {
        if let Some(slot) = &self.slot {
            return Some((**slot).clone());
        }
        match (self.spec.queue_name(), self.spec.kind) {
            (Some(q), Kind::Normal) => Some((q.to_string(), self.id.clone())),
            _ => None,
        }
    }
}
