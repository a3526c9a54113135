//! Pending messages put back after a restart (`-persist`): each joins its queue and its
//! flow-control key again and is armed for its due time, or at once when it fell due while
//! the server was down, oldest first. An attempt in flight at the crash was not finished, so
//! it runs again (at least once). Nothing is logged: the log starts anew.

use std::sync::Arc;

use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::{Engine, TenantId};

impl Message {
    /// A message as it was kept: waiting for its next attempt, `retried` already done.
    pub(crate) fn restored(
        id: Arc<str>,
        spec: MessageSpec,
        created_at: u64,
        not_before: u64,
        retried: u32,
    ) -> Self {
        Self {
            id,
            spec: Arc::new(spec),
            created_at,
            not_before,
            retried,
            active: false,
            cancel_requested: false,
            woken: false,
            slot: None,
        }
    }
}

impl Engine {
    /// Puts `messages` (oldest first) back as pending messages of `t`.
    pub(crate) fn restore_messages(&self, t: TenantId, messages: Vec<Message>) {
        self.with(t, |cx| {
            let now = cx.now;
            for msg in messages {
                if let Some((q, _)) = msg.slot_key() {
                    cx.st.queues.push(&q, msg.id.clone(), msg.created_at);
                }
                if let Some(f) = &msg.spec.flow {
                    cx.st.flows.register(f, now);
                }
                cx.deliver_at(msg.not_before.max(now), msg.id.clone());
                cx.st.store_message(msg);
            }
        });
    }
}
