//! State put back after a restart (`-persist`). Pending messages join their queue and
//! flow-control key again and are armed for their due time, or at once when they fell due
//! while the server was down, oldest first; an attempt in flight at the crash was not
//! finished, so it runs again (at least once). The log and the DLQ come back with their ids
//! and sequence numbers, so cursors given out before the restart still work, and
//! deduplication ids with their expiry. Schedules, made again from their definitions, get
//! their creation and last firing times back; a firing missed while down is not replayed.
//! Workflow runs come back with their history, and waiters with their timeouts armed again.

use std::sync::Arc;

use crate::clock::rfc3339;
use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::persister::ScheduleTimes;
use crate::engine::store::dlq::{DlqBounds, DlqEntry};
use crate::engine::store::logs::LogEntry;
use crate::engine::workflow::wait::Waits;
use crate::engine::workflow::Run;
use crate::engine::{Engine, Job, Locked, TenantId};

/// What an earlier run kept of one user, each part oldest first.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    pub(crate) messages: Vec<Message>,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) dlq: Vec<DlqEntry>,
    /// (key, message id, expiry), by expiry.
    pub(crate) dedup: Vec<(String, Arc<str>, u64)>,
    /// The times of the schedules its definitions hold.
    pub(crate) schedules: Vec<ScheduleTimes>,
    /// Workflow runs, each with whether it ended, in the order of their last change.
    pub(crate) runs: Vec<(Run, bool)>,
    pub(crate) waits: Option<Waits>,
}

impl Message {
    /// A message as it was kept: waiting for its next attempt, `retried` already done.
    pub(crate) fn restored(
        id: Arc<str>,
        spec: Arc<MessageSpec>,
        created_at: u64,
        not_before: u64,
        retried: u32,
    ) -> Self {
        Self {
            id,
            spec,
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
    /// Puts back what an earlier run kept of `t`. Nothing is logged: the log comes back as it was.
    pub(crate) fn restore(&self, t: TenantId, r: Restored) {
        let limits = self.limits();
        let bounds = DlqBounds {
            max_entries: limits.max_dlq_entries,
            max_bytes: limits.max_dlq_body_bytes,
        };
        self.with(t, |cx| {
            let now = cx.now;
            for msg in r.messages {
                if let Some((q, _)) = msg.slot_key() {
                    cx.st.queues.push(&q, msg.id.clone(), msg.created_at);
                }
                if let Some(f) = &msg.spec.flow {
                    cx.st.flows.register(f, now);
                }
                cx.deliver_at(msg.not_before.max(now), msg.id.clone());
                cx.st.store_message(msg);
            }
            for e in r.log {
                cx.st.logs.restore(e);
            }
            for e in r.dlq {
                cx.st.dlq.restore(e, bounds);
            }
            for (key, id, expires) in r.dedup.into_iter().filter(|d| d.2 > now) {
                cx.st.dedup.restore(key, id, expires);
            }
            for times in r.schedules {
                cx.restore_schedule(times);
            }
            cx.st.runs.restore(r.runs);
            if let Some(w) = r.waits {
                for (id, deadline) in cx.st.waits.restore(w) {
                    cx.schedule(deadline.max(now), Job::WaitTimeout { tenant: t, id });
                }
            }
        });
    }
}

impl Locked<'_> {
    /// Gives a schedule (just created from its definition, so due at its next firing from
    /// now) its creation and last firing times back. A firing that fell due while the server
    /// was down is not replayed; a line says it was missed.
    fn restore_schedule(&mut self, times: ScheduleTimes) {
        let now = self.now;
        let Some(s) = self.st.schedules.get_mut(&times.id) else {
            return;
        };
        s.created_at = times.created_at;
        s.last_schedule_time = times.last;
        if let Some(missed) = times.next.filter(|n| *n < now && !s.paused) {
            let user = self.engine.tenant(self.t).user.user_id;
            tracing::info!(
                target: "qstash::persist",
                "schedule {} of {user} missed its firing at {} while the server was down; next at {}",
                times.id,
                rfc3339(missed),
                s.next_schedule_time.map_or_else(|| "never".into(), rfc3339),
            );
        }
    }
}
