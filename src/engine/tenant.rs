//! One tenant's state and the context of a transition on it.
//!
//! [`TenantState`] holds every component of a tenant: pending messages, queues, URL groups,
//! schedules, flow-control keys and the global line, the log, the DLQ, deduplication, signing
//! keys, workflow runs and waiters. Each component is a type with its own methods, and a step
//! that touches one component is one of them. [`Locked`] is one transition: the engine, the
//! tenant, its state under the tenant's lock and the instant the transition happens at, made
//! by `Engine::with` for the length of one closure; a step that touches several components
//! is a method of `Locked`.

use std::sync::Arc;

use crate::config::{Limits, TestUser};
use crate::engine::lifecycle::dedup::Dedup;
use crate::engine::lifecycle::message::Message;
use crate::engine::lifecycle::starter::Started;
use crate::engine::limits::flow::ops::Flows;
use crate::engine::limits::global::GlobalLine;
use crate::engine::limits::queues::Queues;
use crate::engine::limits::quota::Quotas;
use crate::engine::persister::{Change, Recorder};
use crate::engine::resources::schedules::Schedules;
use crate::engine::resources::topics::Topics;
use crate::engine::store::actions::BulkActions;
use crate::engine::store::dlq::Dlq;
use crate::engine::store::logs::{LogEntry, LogRing, Response, State};
use crate::engine::store::metrics::Metrics;
use crate::engine::workflow::registry::Runs;
use crate::engine::workflow::wait::Waits;
use crate::engine::{Engine, Error, Job, Messages, Result, SigningKeys, TenantId};

/// All state of one tenant, behind one lock: a transition takes the guard, changes the
/// state, and drops it before anything waits.
#[derive(Debug)]
pub(crate) struct TenantState {
    /// Only `store_message` and `take_message` change it, so `pending_body_bytes` stays true.
    /// Keyed by server-generated ids, so the fast non-keyed hasher is safe here.
    pub(crate) messages: Messages,
    /// Sum of the bodies of `messages`, checked against `max_pending_body_bytes`.
    pub(crate) pending_body_bytes: usize,
    pub(crate) logs: LogRing,
    pub(crate) dlq: Dlq,
    pub(crate) dedup: Dedup,
    pub(crate) keys: SigningKeys,
    pub(crate) topics: Topics,
    pub(crate) queues: Queues,
    pub(crate) schedules: Schedules,
    pub(crate) flows: Flows,
    /// Deliveries in flight for this tenant, and the ones waiting for global parallelism.
    pub(crate) line: GlobalLine,
    pub(crate) runs: Runs,
    /// Workflow waiters and stored run-scoped notifications.
    pub(crate) waits: Waits,
    /// The bulk actions of message cancels and of workflow-run cancels.
    pub(crate) actions: BulkActions,
    pub(crate) run_actions: BulkActions,
    /// Attempts started under the lock, handed to the starter once it is released.
    pub(crate) started: Started,
    /// Set by a transition that changed the definitions; see `engine::persister`.
    pub(crate) definitions_changed: bool,
    /// Counts for `/metrics`.
    pub(crate) metrics: Metrics,
    /// Pending messages kept and gone, for the persister (the log, the DLQ and
    /// deduplication record their own).
    pub(crate) changes: Recorder,
}

pub(crate) struct Tenant {
    pub(crate) user: TestUser,
    /// `std`'s mutex, not `parking_lot`'s: when the holder is preempted (the server shares
    /// its cores with its clients), `parking_lot` waiters spin through `sched_yield`, handing
    /// their core to any other thread, while `std` waiters sleep on a futex until the release
    /// wakes them, which keeps end-to-end throughput close to the bare pipeline's.
    pub(crate) state: std::sync::Mutex<TenantState>,
    pub(crate) quotas: Quotas,
}

impl TenantState {
    /// A fresh state; `record`: its changes are recorded for a persister.
    pub(crate) fn new(u: &TestUser, limits: &Limits, record: bool) -> Self {
        Self {
            messages: Messages::default(),
            pending_body_bytes: 0,
            logs: LogRing::new(limits.max_log_entries, limits.max_log_body_bytes, record),
            dlq: Dlq::new(record),
            dedup: Dedup::new(record),
            keys: SigningKeys {
                current: u.current_signing_key.into(),
                next: u.next_signing_key.into(),
            },
            topics: Default::default(),
            queues: Default::default(),
            schedules: Default::default(),
            flows: Default::default(),
            line: Default::default(),
            runs: Runs::new(limits.max_log_entries, record),
            waits: Waits::new(record),
            actions: BulkActions::default(),
            run_actions: BulkActions::default(),
            started: Started::default(),
            definitions_changed: false,
            metrics: Metrics::default(),
            changes: Recorder::new(record),
        }
    }

    /// Starts recording changes for a persister (see `engine::persister`).
    pub(crate) fn record_changes(&mut self) {
        self.changes = Recorder::new(true);
        self.logs.recorder = Recorder::new(true);
        self.dlq.recorder = Recorder::new(true);
        self.dedup.recorder = Recorder::new(true);
        self.runs.record_changes();
        self.waits.record_changes();
    }

    /// Every change recorded since the last call, in order: messages, log, DLQ, dedup, then
    /// workflow runs and waits as they are now.
    pub(crate) fn take_changes(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        self.changes.drain_into(&mut out);
        self.logs.recorder.drain_into(&mut out);
        self.dlq.recorder.drain_into(&mut out);
        self.dedup.recorder.drain_into(&mut out);
        self.runs.drain_changes(&mut out);
        if let Some(w) = self.waits.take_change() {
            out.push(Change::Waits(w));
        }
        out
    }

    /// Stores a pending message (new, or back after a failed attempt).
    pub(crate) fn store_message(&mut self, msg: Message) {
        self.pending_body_bytes = self.pending_body_bytes.saturating_add(msg.spec.body.len());
        if let Some(old) = self.messages.insert(msg.id.clone(), msg) {
            self.pending_body_bytes = self.pending_body_bytes.saturating_sub(old.spec.body.len());
        }
    }

    /// Removes a pending message.
    pub(crate) fn take_message(&mut self, id: &str) -> Option<Message> {
        let msg = self.messages.remove(id)?;
        self.pending_body_bytes = self.pending_body_bytes.saturating_sub(msg.spec.body.len());
        Some(msg)
    }

    /// Refuses `n` more messages of `body` bytes each when they would pass the bounds on
    /// pending messages (`max_messages`) or on their bodies (`limits`), before anything is stored.
    pub(crate) fn check_pending(
        &self,
        limits: &Limits,
        max_messages: usize,
        n: usize,
        body: usize,
    ) -> Result<()> {
        let count = self.messages.len().saturating_add(n);
        if count > max_messages {
            return Err(Error::QuotaExceeded(format!(
                "too many pending messages: {} are waiting or in delivery and the limit is \
                 {max_messages}; wait for deliveries or cancel messages",
                self.messages.len()
            )));
        }
        let bytes = self
            .pending_body_bytes
            .saturating_add(body.saturating_mul(n));
        if bytes > limits.max_pending_body_bytes {
            return Err(Error::QuotaExceeded(format!(
                "pending message bodies would take {bytes} bytes and the limit is {} bytes; \
                 wait for deliveries or cancel messages",
                limits.max_pending_body_bytes
            )));
        }
        Ok(())
    }

    /// Appends a log entry for `msg` in `state`.
    pub(crate) fn log(&mut self, now: u64, state: State, msg: &Message, extra: LogExtra) {
        self.metrics.log(state);
        self.logs.push(LogEntry {
            seq: 0,
            time: now,
            state,
            message_id: msg.id.clone(),
            spec: msg.spec.clone(),
            error: extra.error.map(String::into_boxed_str),
            next_delivery_time: extra.next_delivery_time.and_then(std::num::NonZeroU64::new),
            response: extra.response,
        });
    }
}

/// The optional parts of a log entry.
#[derive(Debug, Default)]
pub(crate) struct LogExtra {
    pub(crate) error: Option<String>,
    pub(crate) next_delivery_time: Option<u64>,
    pub(crate) response: Option<Arc<Response>>,
}

/// One transition of one tenant (see the module's first paragraph). Short-lived: it borrows
/// the state for the length of one `Engine::with` closure, so nothing can keep it across an
/// await or past the lock.
pub(crate) struct Locked<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) t: TenantId,
    pub(crate) st: &'a mut TenantState,
    /// The instant of the transition on the server's clock, read once when the lock was taken.
    pub(crate) now: u64,
}

impl Locked<'_> {
    pub(crate) fn limits(&self) -> &'static Limits {
        self.engine.limits()
    }

    /// Records for the persister, if any, that a pending message changed (see
    /// `engine::persister`).
    pub(crate) fn journal(&mut self, change: impl FnOnce() -> Change) {
        self.st.changes.record(change);
    }

    /// Marks the tenant's definitions (or keys) changed, to be saved once the lock is released.
    pub(crate) fn definitions_changed(&mut self) {
        self.st.definitions_changed = true;
    }

    /// Appends a log entry for `msg` at the transition's instant.
    pub(crate) fn log(&mut self, state: State, msg: &Message, extra: LogExtra) {
        self.st.log(self.now, state, msg, extra);
    }

    /// Arms a timer job at `at`.
    pub(crate) fn schedule(&self, at: u64, job: Job) {
        self.engine.timer.schedule(at, job);
    }

    /// Arms the next attempt of message `id` at `at`.
    pub(crate) fn deliver_at(&self, at: u64, id: Arc<str>) {
        self.schedule(at, Job::Deliver { tenant: self.t, id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PAYG, TEST_USERS};

    fn message(id: &str, body: &'static [u8]) -> Message {
        let spec = crate::engine::lifecycle::publish::build_spec(
            "https://example.com".into(),
            Default::default(),
            bytes::Bytes::from_static(body),
            String::new(),
            &PAYG,
        );
        Message {
            id: id.into(),
            spec: Arc::new(spec),
            created_at: 0,
            not_before: 0,
            retried: 0,
            active: false,
            cancel_requested: false,
            woken: false,
            slot: None,
        }
    }

    #[test]
    fn pending_bounds_count_messages_and_body_bytes_before_storing() {
        let limits = Limits {
            max_pending_body_bytes: 10,
            ..PAYG
        };
        let mut st = TenantState::new(&TEST_USERS[0], &limits, false);
        assert!(st.check_pending(&limits, 2, 2, 5).is_ok());
        let refused = |r: Result<()>| matches!(r, Err(Error::QuotaExceeded(_)));
        assert!(refused(st.check_pending(&limits, 2, 3, 0)), "count");
        assert!(refused(st.check_pending(&limits, 9, 2, 6)), "bytes");
        st.store_message(message("a", b"1234"));
        st.store_message(message("a", b"1234"));
        st.store_message(message("b", b"12"));
        assert_eq!((st.messages.len(), st.pending_body_bytes), (2, 6));
        assert!(refused(st.check_pending(&limits, 9, 1, 5)));
        assert!(st.take_message("a").is_some() && st.take_message("a").is_none());
        assert_eq!(st.pending_body_bytes, 2);
        assert!(st.check_pending(&limits, 3, 1, 8).is_ok());
    }
}
