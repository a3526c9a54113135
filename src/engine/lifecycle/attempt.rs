//! The delivery state machine: starting an attempt (CREATED/RETRY -> ACTIVE) and finishing it
//! with the dispatcher's verdict (DELIVERED, or ERROR then RETRY, or FAILED into the DLQ),
//! firing callbacks and failure callbacks on the way.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::engine::lifecycle::backoff::next_delay_scaled;
use crate::engine::lifecycle::callback;
use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::store::dlq::{DlqBounds, DlqEntry};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::Headers;
use crate::engine::workflow::run;
use crate::engine::{Engine, Job, LogExtra, State, TenantId, TenantState};

/// Everything the dispatcher needs to send one attempt (the signature aside). Shares the
/// message's specification instead of copying its URL and headers.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) tenant: TenantId,
    pub(crate) id: Arc<str>,
    pub(crate) spec: Arc<MessageSpec>,
    /// Headers of the workflow run the message belongs to (empty for other messages).
    pub(crate) run_headers: Headers,
    pub(crate) body: Bytes,
    pub(crate) timeout: Duration,
    pub(crate) signing_key: Arc<str>,
    /// Retries done before this attempt.
    pub(crate) retried: u32,
}

impl Attempt {
    pub(crate) fn url(&self) -> &str {
        &self.spec.url
    }

    pub(crate) fn method(&self) -> &str {
        self.spec.method
    }

    /// Calls `f` with every header to send but `Upstash-Signature`, in order: ours first,
    /// then the message's own (which replace ours of the same name, e.g. a forwarded
    /// `User-Agent`), then the workflow run's (which replace both). Copies nothing.
    pub(crate) fn headers(&self, mut f: impl FnMut(&str, &str)) {
        let s = &self.spec;
        let mut digits = itoa::Buffer::new();
        let ours = [
            ("User-Agent", Some("Upstash-QStash")),
            ("Upstash-Message-Id", Some(&*self.id)),
            ("Upstash-Retried", Some(digits.format(self.retried))),
            (
                "Upstash-Caller-Ip",
                Some(s.caller_ip.as_str()).filter(|ip| !ip.is_empty()),
            ),
            ("Upstash-Topic-Name", s.topic_name()),
            ("Upstash-Schedule-Id", s.schedule_id()),
        ];
        let named =
            |list: &Headers, name: &str| list.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        for (k, v) in ours {
            if let Some(v) = v.filter(|_| !named(&s.header, k) && !named(&self.run_headers, k)) {
                f(k, v);
            }
        }
        for (k, v) in s
            .header
            .iter()
            .filter(|(k, _)| !named(&self.run_headers, k))
        {
            f(k, v);
        }
        for (k, v) in &self.run_headers {
            f(k, v);
        }
    }
}

/// How the dispatcher judged an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A 2xx response.
    Delivered,
    /// Failed; retry if retries remain, after `hint` when the destination gave one.
    Retry { hint: Option<Duration> },
    /// Failed for good (489 with `Upstash-NonRetryable-Error: true`).
    Fail,
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub(crate) struct AttemptResult {
    pub(crate) verdict: Verdict,
    pub(crate) response: Option<Response>,
    /// What went wrong, for failed attempts (transport error or status).
    pub(crate) error: Option<String>,
}

impl Engine {
    /// Marks a due message ACTIVE and describes the attempt; None if it is gone (cancelled,
    /// delivered) or already in flight.
    pub(crate) fn start_attempt(&self, t: TenantId, id: &str) -> Option<Attempt> {
        let now = self.now();
        self.with(t, |st| self.start_locked(t, st, id, now))
    }

    /// [`Engine::start_attempt`] under the tenant's lock.
    pub(crate) fn start_locked(
        &self,
        t: TenantId,
        st: &mut TenantState,
        id: &str,
        now: u64,
    ) -> Option<Attempt> {
        let default_timeout = self.limits().max_timeout;
        st.messages.get_mut(id)?.woken = false;
        let msg = st.messages.get(id)?;
        if msg.active || msg.not_before > now {
            return None;
        }
        if st.workflow_delivery(msg).is_none() {
            self.drop_ended(t, st, id, now);
            return None;
        }
        let (key, slot) = (msg.id.clone(), msg.slot_key());
        if let Some((q, owner)) = slot.filter(|(_, owner)| *owner == key) {
            if !st.queue_admits(&q, &owner, now) {
                return None;
            }
        }
        let flow = st
            .messages
            .get(id)?
            .spec
            .flow
            .as_ref()
            .map(|f| f.key.clone());
        if !self.admit_limits(t, st, &key, flow.as_deref(), now) {
            return None;
        }
        let msg = st.messages.get_mut(id)?;
        msg.active = true;
        let msg = msg.clone();
        st.log(now, State::Active, &msg, LogExtra::default());
        let (body, run_headers) = st.workflow_delivery(&msg)?;
        Some(Attempt {
            tenant: t,
            timeout: msg.spec.timeout.unwrap_or(default_timeout),
            id: msg.id,
            spec: msg.spec,
            run_headers,
            body,
            signing_key: st.keys.current.clone(),
            retried: msg.retried,
        })
    }

    /// Applies the result of an attempt started by `start_attempt`. Returns the id of a
    /// waiting message its slot was handed to, for the caller to start next (see
    /// `release_limits`).
    pub(crate) fn finish_attempt(
        &self,
        t: TenantId,
        id: &str,
        mut result: AttemptResult,
    ) -> Option<Arc<str>> {
        let now = self.now();
        let mut next = None;
        self.with(t, |st| {
            let Some(mut msg) = st.take_message(id) else {
                return;
            };
            msg.active = false;
            run::detect_trigger(&msg, &mut result);
            let flow = msg.spec.flow.as_ref().map(|f| f.key.clone());
            next = self.release_limits(t, st, flow.as_deref(), now);
            let response = result.response.map(Arc::new);
            if result.verdict == Verdict::Delivered {
                st.log(
                    now,
                    State::Delivered,
                    &msg,
                    LogExtra {
                        response: response.clone(),
                        ..Default::default()
                    },
                );
                self.fire_callback(t, st, &msg, response.as_deref(), None, now);
                self.on_terminal(t, st, &msg, now, Some(true));
                return;
            }
            let extra = LogExtra {
                error: result.error.clone(),
                response: response.clone(),
                ..Default::default()
            };
            st.log(now, State::Error, &msg, extra);
            if response.is_some() {
                self.fire_callback(
                    t,
                    st,
                    &msg,
                    response.as_deref(),
                    result.error.as_deref(),
                    now,
                );
            }
            if msg.cancel_requested {
                st.log(now, State::Canceled, &msg, LogExtra::default());
                self.on_terminal(t, st, &msg, now, None);
                return;
            }
            match result.verdict {
                Verdict::Retry { hint } if msg.retried < msg.spec.max_retries => {
                    let scale = self.config().backoff_scale;
                    let delay = next_delay_scaled(
                        hint,
                        msg.spec.retry_delay.as_deref(),
                        msg.retried,
                        scale,
                    );
                    msg.retried += 1;
                    msg.not_before = now.saturating_add(delay.as_millis() as u64);
                    let extra = LogExtra {
                        next_delivery_time: Some(msg.not_before),
                        ..Default::default()
                    };
                    st.log(now, State::Retry, &msg, extra);
                    self.timer.schedule(
                        msg.not_before,
                        Job::Deliver {
                            tenant: t,
                            id: msg.id.clone(),
                        },
                    );
                    st.store_message(msg);
                }
                _ if run::is_workflow_call(&msg) => {
                    // WF_NoDelete: the run goes on with the failing status.
                    if response.is_none() {
                        let none = run::no_response();
                        self.fire_callback(t, st, &msg, Some(&none), result.error.as_deref(), now);
                    }
                    st.log(
                        now,
                        State::Failed,
                        &msg,
                        LogExtra {
                            error: result.error,
                            response,
                            ..Default::default()
                        },
                    );
                    self.on_terminal(t, st, &msg, now, Some(false));
                }
                _ => {
                    self.dead_letter(t, st, &msg, response, result.error, now);
                    self.on_terminal(t, st, &msg, now, Some(false));
                }
            }
        });
        next
    }

    /// FAILED: into the DLQ (normal messages only), then the failure callback.
    fn dead_letter(
        &self,
        t: TenantId,
        st: &mut TenantState,
        msg: &Message,
        response: Option<Arc<Response>>,
        error: Option<String>,
        now: u64,
    ) {
        let extra = LogExtra {
            error: error.clone(),
            response: response.clone(),
            ..Default::default()
        };
        st.log(now, State::Failed, msg, extra);
        if msg.spec.kind != Kind::Normal {
            return;
        }
        st.dlq
            .expire(now.saturating_sub(self.limits().dlq_retention.as_millis() as u64));
        let entry = DlqEntry {
            dlq_id: String::new(),
            message_id: msg.id.clone(),
            spec: msg.spec.clone(),
            created_at: msg.created_at,
            not_before: msg.not_before,
            failed_at: now,
            response: response.clone(),
            error: error.clone(),
        };
        let bounds = DlqBounds {
            max_entries: self.limits().max_dlq_entries,
            max_bytes: self.limits().max_dlq_body_bytes,
        };
        let dlq_id = st.dlq.insert(entry, now, bounds);
        self.workflow_failed(t, st, msg, Some(dlq_id.clone()), error.clone(), now);
        if let Some(cb) = msg.spec.failure_callback.clone() {
            let mut body =
                callback::payload(msg, response.as_deref(), error.as_deref(), Some(&dlq_id));
            self.workflow_payload(st, msg, &mut body);
            let spec = callback::message_spec(&cb, &msg.spec, &body, Kind::FailureCallback);
            let at = now.saturating_add(cb.delay.map_or(0, |d| d.as_millis() as u64));
            self.enqueue_callback(t, st, msg, spec, now, at);
        }
    }

    /// After every attempt that got a response, the callback (if the message has one).
    fn fire_callback(
        &self,
        t: TenantId,
        st: &mut TenantState,
        msg: &Message,
        response: Option<&Response>,
        error: Option<&str>,
        now: u64,
    ) {
        let Some(cb) = msg.spec.callback.as_ref() else {
            return;
        };
        let mut body = callback::payload(msg, response, error, None);
        self.workflow_payload(st, msg, &mut body);
        let spec = callback::message_spec(cb, &msg.spec, &body, Kind::Callback);
        let at = now.saturating_add(cb.delay.map_or(0, |d| d.as_millis() as u64));
        self.enqueue_callback(t, st, msg, spec, now, at);
    }

    /// Enqueues a callback of `source`; it holds `source`'s queue slot until it finishes.
    fn enqueue_callback(
        &self,
        t: TenantId,
        st: &mut TenantState,
        source: &Message,
        spec: Arc<crate::engine::lifecycle::message::MessageSpec>,
        now: u64,
        at: u64,
    ) {
        let mut spec = Arc::unwrap_or_clone(spec);
        spec.workflow = self.workflow_callback_link(source, spec.kind).map(Box::new);
        let (link, body) = (spec.workflow.clone(), spec.body.clone());
        let id = self.enqueue(t, st, Arc::new(spec), now, at);
        if let Some(l) =
            link.filter(|l| l.call_type == crate::engine::workflow::CallType::FromCallback)
        {
            st.workflow_append(&l, &id, &body, now);
        }
        if let Some((q, owner)) = source.slot_key() {
            st.queue_hold(&q, &owner);
            if let Some(m) = st.messages.get_mut(&id) {
                m.slot = Some(Box::new((q, owner)));
            }
        }
    }

    /// After a message is delivered, failed or cancelled: records the outcome on its schedule,
    /// and frees its queue slot (waking the next message) once nothing under it is left.
    /// `delivered` is Some(true) when delivered, Some(false) when failed, None when cancelled.
    pub(crate) fn on_terminal(
        &self,
        t: TenantId,
        st: &mut TenantState,
        msg: &Message,
        now: u64,
        delivered: Option<bool>,
    ) {
        if let (Some(sid), Some(ok), Kind::Normal) =
            (msg.spec.schedule_id(), delivered, msg.spec.kind)
        {
            st.schedule_outcome(sid, &msg.id, ok);
        }
        self.forget_limits(t, st, &msg.id, msg.spec.flow.as_deref(), now);
        if let Some((q, owner)) = msg.slot_key() {
            if st.queue_release(&q, &owner) {
                self.wake_queue(t, st, &q, now);
            }
        }
    }
}
