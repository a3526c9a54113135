//! Replay (`POST /dev/messages/{messageId}/replay`): a message sent again as a new message, as
//! it was or with an edited destination, method, headers (the whole set delivered) or body. It
//! is found pending, else in the log (its newest entry), else in the DLQ, so anything the
//! dashboard shows can be replayed. The copy is a plain message: a callback's or a workflow
//! step's copy goes to the same URL with the same request, and its run is left alone.

use std::sync::Arc;

use bytes::Bytes;

use crate::engine::lifecycle::message::{Kind, MessageSpec};
use crate::engine::lifecycle::publish::{check_url, Published};
use crate::engine::syntax::headers::Headers;
use crate::engine::syntax::method::Method;
use crate::engine::{Engine, Error, Locked, Result, TenantId};

/// What a replay changes; `None` keeps the original's.
#[derive(Debug, Default)]
pub(crate) struct Edits {
    pub(crate) destination: Option<String>,
    pub(crate) method: Option<Method>,
    pub(crate) headers: Option<Headers>,
    pub(crate) body: Option<Bytes>,
}

impl Engine {
    pub(crate) fn replay(&self, t: TenantId, id: &str, edits: Edits) -> Result<Published> {
        if let Some(d) = &edits.destination {
            check_url(d, "destination")?;
        }
        let limits = self.limits();
        if edits
            .body
            .as_ref()
            .is_some_and(|b| b.len() > limits.max_body_bytes)
        {
            return Err(Error::PayloadTooLarge(format!(
                "body exceeds the limit of {} bytes",
                limits.max_body_bytes
            )));
        }
        self.with(t, |cx| {
            let original = cx.find_spec(id).ok_or_else(|| {
                Error::not_found(format!(
                    "message {id} not found in the pending messages, the log or the DLQ"
                ))
            })?;
            let spec = edited(&original, edits);
            let max = cx.engine.config().max_pending_messages();
            cx.st.check_pending(limits, max, 1, spec.body.len())?;
            let url = spec.url.clone();
            let now = cx.now;
            let message_id = cx.enqueue(Arc::new(spec), now);
            Ok(Published {
                message_id,
                url: Some(url),
                deduplicated: false,
            })
        })
    }
}

fn edited(original: &MessageSpec, edits: Edits) -> MessageSpec {
    let mut spec = original.clone();
    spec.kind = Kind::Normal;
    spec.workflow = None;
    if let Some(d) = edits.destination {
        spec.url = d;
    }
    if let Some(m) = edits.method {
        spec.method = m;
    }
    if let Some(h) = edits.headers {
        spec.header = h;
    }
    if let Some(b) = edits.body {
        spec.body = b;
    }
    spec
}

impl Locked<'_> {
    /// The spec of message `id`: pending, else its newest log entry, else its DLQ entry.
    fn find_spec(&self, id: &str) -> Option<Arc<MessageSpec>> {
        if let Some(m) = self.st.messages.get(id) {
            return Some(m.spec.clone());
        }
        let logged = self.st.logs.iter().rev().find(|e| &*e.message_id == id);
        logged
            .map(|e| e.spec.clone())
            .or_else(|| self.st.dlq.find_message(id).map(|e| e.spec.clone()))
    }
}
