//! Reading and managing what a tenant has: pending messages (get, cancel), the event log and
//! the DLQ (list, get, delete, retry with overrides).

use std::sync::Arc;

use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::lifecycle::publish::{check_options, first_delivery, Published};
use crate::engine::persister::{Change, Pending};
use crate::engine::store::dlq::{Dlq, DlqEntry, DlqSelection};
use crate::engine::store::filter::Filter;
use crate::engine::store::logs::{Cursor, LogEntry};
use crate::engine::syntax::headers::merge;
use crate::engine::syntax::options::PublishOptions;
use crate::engine::{Engine, Error, Locked, LogExtra, Result, State, TenantId};

impl Locked<'_> {
    /// Cancels one message: at once when idle, after its attempt when in flight.
    pub(crate) fn cancel(&mut self, id: &str) -> bool {
        let Some(msg) = self.st.messages.get_mut(id) else {
            return false;
        };
        if msg.cancel_requested {
            return false;
        }
        msg.cancel_requested = true;
        let msg = msg.clone();
        self.log(State::CancelRequested, &msg, LogExtra::default());
        if !msg.active {
            self.st.take_message(id);
            self.journal(|| Change::Gone(msg.id.clone()));
            self.log(State::Canceled, &msg, LogExtra::default());
            self.on_terminal(&msg, None);
        }
        true
    }

    /// The DLQ, without the entries past the quota's retention.
    pub(crate) fn dlq(&mut self) -> &mut Dlq {
        let retention = self.limits().dlq_retention.as_millis() as u64;
        self.st.dlq.expire(self.now.saturating_sub(retention));
        &mut self.st.dlq
    }

    /// Publishes a DLQ entry again as a new message, with `o` applied.
    fn republish(&mut self, e: &DlqEntry, o: &PublishOptions) -> Published {
        let spec = Arc::new(apply_overrides(&e.spec, o));
        let at = first_delivery(o, self.now);
        let id = self.enqueue(spec.clone(), at);
        Published {
            message_id: id,
            url: Some(spec.url.clone()),
            deduplicated: false,
        }
    }
}

impl Engine {
    /// A pending message; delivered, failed and cancelled ones are gone.
    pub fn message(&self, t: TenantId, id: &str) -> Result<Message> {
        self.with(t, |cx| {
            let m = cx.st.messages.get(id);
            m.filter(|m| !m.cancel_requested).cloned()
        })
        .ok_or_else(|| Error::not_found(format!("message {id} not found")))
    }

    /// Makes a pending message (delayed, or waiting for a retry) due now and arms its next
    /// attempt; returns its new `notBefore`. A message waiting for its queue, flow-control key
    /// or the global line is due already and starts when they let it, as before. 409 while an
    /// attempt is in flight.
    pub(crate) fn deliver_now(&self, t: TenantId, id: &str) -> Result<u64> {
        self.with(t, |cx| {
            let now = cx.now;
            let msg = cx.st.messages.get_mut(id);
            let msg = msg.filter(|m| !m.cancel_requested);
            let msg = msg.ok_or_else(|| Error::not_found(format!("message {id} not found")))?;
            if msg.active {
                return Err(Error::Conflict(format!(
                    "message {id} is being delivered; its next attempt, if any, is armed when this one ends"
                )));
            }
            if msg.not_before > now {
                msg.not_before = now;
                let msg = msg.clone();
                cx.journal(|| Change::Kept(Pending::of(&msg, false)));
                cx.deliver_at(now, msg.id);
            }
            Ok(now)
        })
    }

    pub(crate) fn cancel(&self, t: TenantId, id: &str) -> Result<()> {
        if self.with(t, |cx| cx.cancel(id)) {
            Ok(())
        } else {
            Err(Error::not_found(format!("message {id} not found")))
        }
    }

    /// Cancels every pending message named by id, or else matching the filter, oldest first.
    pub(crate) fn cancel_many(&self, t: TenantId, ids: &[String], filter: &Filter) -> usize {
        self.with(t, |cx| {
            let mut chosen: Vec<(u64, Arc<str>)> = cx
                .st
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
            chosen.iter().filter(|(_, id)| cx.cancel(id)).count()
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
        self.with(t, |cx| cx.st.logs.list(filter, cursor, count))
    }

    pub fn dlq_list(
        &self,
        t: TenantId,
        filter: &Filter,
        cursor: Option<&str>,
        count: usize,
    ) -> (Vec<DlqEntry>, Option<String>) {
        self.with(t, |cx| cx.dlq().list(filter, cursor, count))
    }

    pub(crate) fn dlq_get(&self, t: TenantId, dlq_id: &str) -> Result<DlqEntry> {
        self.with(t, |cx| cx.dlq().get(dlq_id).cloned())
            .ok_or_else(|| dlq_not_found(dlq_id))
    }

    pub(crate) fn dlq_delete(&self, t: TenantId, dlq_id: &str) -> Result<()> {
        self.with(t, |cx| cx.st.dlq.remove(dlq_id))
            .map(drop)
            .ok_or_else(|| dlq_not_found(dlq_id))
    }

    pub(crate) fn dlq_delete_many(
        &self,
        t: TenantId,
        sel: &DlqSelection,
    ) -> (usize, Option<String>) {
        self.with(t, |cx| {
            let (taken, cursor) = cx.dlq().take(sel);
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
        self.with(t, |cx| {
            let e = cx
                .dlq()
                .remove(dlq_id)
                .ok_or_else(|| dlq_not_found(dlq_id))?;
            Ok(cx.republish(&e, overrides))
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
        Ok(self.with(t, |cx| {
            let (taken, cursor) = cx.dlq().take(sel);
            let done = taken.iter().map(|e| cx.republish(e, overrides)).collect();
            (done, cursor)
        }))
    }
}

fn dlq_not_found(id: &str) -> Error {
    Error::not_found(format!("dlq message {id} not found"))
}

/// The original specification with every option present in `o` replacing its setting.
pub(crate) fn apply_overrides(base: &MessageSpec, o: &PublishOptions) -> MessageSpec {
    let mut s = base.clone();
    if let Some(m) = o.method {
        s.method = crate::engine::syntax::method::Method(m);
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
