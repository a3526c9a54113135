//! Reading and managing what a tenant has: pending messages (get, cancel), the event log and
//! the DLQ (list, get, delete, retry with overrides).

use std::sync::Arc;

use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::lifecycle::publish::{check_options, first_delivery, Published};
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::filter::Filter;
use crate::engine::store::logs::{Cursor, LogEntry};
use crate::engine::syntax::headers::merge;
use crate::engine::syntax::options::PublishOptions;
use crate::engine::{Engine, Error, LogExtra, Result, State, TenantId, TenantState};

/// What to select in a bulk DLQ operation: explicit ids win over the filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct DlqSelection {
    pub(crate) dlq_ids: Vec<String>,
    pub(crate) filter: Filter,
    pub(crate) cursor: Option<String>,
    pub(crate) count: usize,
}

impl Engine {
    /// Cancels one message: at once when idle, after its attempt when in flight.
    pub(crate) fn cancel_locked(
        &self,
        t: TenantId,
        st: &mut TenantState,
        id: &str,
        now: u64,
    ) -> bool {
        let Some(msg) = st.messages.get_mut(id) else {
            return false;
        };
        if msg.cancel_requested {
            return false;
        }
        msg.cancel_requested = true;
        let msg = msg.clone();
        st.log(now, State::CancelRequested, &msg, LogExtra::default());
        if !msg.active {
            st.take_message(id);
            st.log(now, State::Canceled, &msg, LogExtra::default());
            self.on_terminal(t, st, &msg, now, None);
        }
        true
    }

    /// A pending message; delivered, failed and cancelled ones are gone.
    pub fn message(&self, t: TenantId, id: &str) -> Result<Message> {
        self.with(t, |st| {
            st.messages.get(id).filter(|m| !m.cancel_requested).cloned()
        })
        .ok_or_else(|| Error::not_found(format!("message {id} not found")))
    }

    pub(crate) fn cancel(&self, t: TenantId, id: &str) -> Result<()> {
        let now = self.now();
        if self.with(t, |st| self.cancel_locked(t, st, id, now)) {
            Ok(())
        } else {
            Err(Error::not_found(format!("message {id} not found")))
        }
    }

    /// Cancels pending messages by id or filter, oldest first, at most `count` (None: all).
    pub(crate) fn cancel_many(
        &self,
        t: TenantId,
        ids: &[String],
        filter: &Filter,
        count: Option<usize>,
    ) -> usize {
        let now = self.now();
        self.with(t, |st| {
            let mut chosen: Vec<(u64, Arc<str>)> = st
                .messages
                .values()
                .filter(|m| !m.cancel_requested)
                .filter(|m| {
                    if ids.is_empty() {
                        filter.matches_time(m.created_at) && filter.matches_message(&m.id, &m.spec)
                    } else {
                        ids.iter().any(|i| **i == *m.id)
                    }
                })
                .map(|m| (m.created_at, m.id.clone()))
                .collect();
            chosen.sort();
            chosen.truncate(count.unwrap_or(usize::MAX));
            chosen
                .iter()
                .filter(|(_, id)| self.cancel_locked(t, st, id, now))
                .count()
        })
    }

    /// A page of the event log, newest first.
    pub fn logs(
        &self,
        t: TenantId,
        filter: &Filter,
        cursor: Option<Cursor>,
        count: usize,
    ) -> (Vec<LogEntry>, Option<String>) {
        self.with(t, |st| st.logs.list(filter, cursor, count))
    }

    fn expire_dlq(&self, st: &mut TenantState) {
        let keep = self
            .now()
            .saturating_sub(self.limits().dlq_retention.as_millis() as u64);
        st.dlq.expire(keep);
    }

    pub fn dlq_list(
        &self,
        t: TenantId,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
    ) -> (Vec<DlqEntry>, Option<String>) {
        self.with(t, |st| {
            self.expire_dlq(st);
            st.dlq.list(filter, cursor, count)
        })
    }

    pub(crate) fn dlq_get(&self, t: TenantId, dlq_id: &str) -> Result<DlqEntry> {
        self.with(t, |st| {
            self.expire_dlq(st);
            st.dlq.get(dlq_id).cloned()
        })
        .ok_or_else(|| dlq_not_found(dlq_id))
    }

    pub(crate) fn dlq_delete(&self, t: TenantId, dlq_id: &str) -> Result<()> {
        self.with(t, |st| st.dlq.remove(dlq_id))
            .map(drop)
            .ok_or_else(|| dlq_not_found(dlq_id))
    }

    /// Removes the selected entries; returns them and the cursor of the rest.
    fn take_dlq(
        &self,
        st: &mut TenantState,
        sel: &DlqSelection,
    ) -> (Vec<DlqEntry>, Option<String>) {
        self.expire_dlq(st);
        if !sel.dlq_ids.is_empty() {
            let taken = sel
                .dlq_ids
                .iter()
                .filter_map(|id| st.dlq.remove(id))
                .collect();
            return (taken, None);
        }
        let (page, cursor) = st.dlq.list(&sel.filter, sel.cursor.as_deref(), sel.count);
        for e in &page {
            st.dlq.remove(&e.dlq_id);
        }
        (page, cursor)
    }

    pub(crate) fn dlq_delete_many(
        &self,
        t: TenantId,
        sel: &DlqSelection,
    ) -> (usize, Option<String>) {
        self.with(t, |st| {
            let (taken, cursor) = self.take_dlq(st, sel);
            (taken.len(), cursor)
        })
    }

    /// Publishes a DLQ entry again as a new message, with `overrides` applied, and removes it.
    pub(crate) fn dlq_retry(
        &self,
        t: TenantId,
        dlq_id: &str,
        overrides: &PublishOptions,
    ) -> Result<Published> {
        let now = self.now();
        check_options(overrides, self.limits(), now)?;
        self.with(t, |st| {
            let e = st.dlq.remove(dlq_id).ok_or_else(|| dlq_not_found(dlq_id))?;
            Ok(self.republish(t, st, &e, overrides, now))
        })
    }

    pub(crate) fn dlq_retry_many(
        &self,
        t: TenantId,
        sel: &DlqSelection,
        overrides: &PublishOptions,
    ) -> Result<(Vec<Published>, Option<String>)> {
        let now = self.now();
        check_options(overrides, self.limits(), now)?;
        Ok(self.with(t, |st| {
            let (taken, cursor) = self.take_dlq(st, sel);
            let done = taken
                .iter()
                .map(|e| self.republish(t, st, e, overrides, now))
                .collect();
            (done, cursor)
        }))
    }

    fn republish(
        &self,
        t: TenantId,
        st: &mut TenantState,
        e: &DlqEntry,
        o: &PublishOptions,
        now: u64,
    ) -> Published {
        let spec = Arc::new(apply_overrides(&e.spec, o));
        let at = first_delivery(o, now);
        let id = self.enqueue(t, st, spec.clone(), now, at);
        Published {
            message_id: id,
            url: Some(spec.url.clone()),
            deduplicated: false,
        }
    }
}

fn dlq_not_found(id: &str) -> Error {
    Error::not_found(format!("dlq message {id} not found"))
}

/// The original specification with every option present in `o` replacing its setting.
pub(crate) fn apply_overrides(base: &MessageSpec, o: &PublishOptions) -> MessageSpec {
    let mut s = base.clone();
    if let Some(m) = o.method {
        s.method = m;
    }
    if !o.forward.is_empty() {
        s.header = merge(&s.header, &o.forward);
    }
    if let Some(r) = o.retries {
        s.max_retries = r;
    }
    if o.retry_delay.is_some() {
        s.retry_delay = o.retry_delay.clone().map(Box::new);
    }
    if o.timeout.is_some() {
        s.timeout = o.timeout;
    }
    if let Some(l) = &o.labels {
        s.labels = l.clone();
    }
    if o.callback.is_some() {
        s.callback = o.callback.clone().map(Box::new);
    }
    if o.failure_callback.is_some() {
        s.failure_callback = o.failure_callback.clone().map(Box::new);
    }
    if o.flow.is_some() {
        s.flow = o.flow.clone().map(Box::new);
    }
    s
}
