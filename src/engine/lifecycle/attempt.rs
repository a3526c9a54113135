//! The delivery state machine: starting an attempt (CREATED/RETRY -> ACTIVE) and finishing it
//! with the dispatcher's verdict (DELIVERED, or ERROR then RETRY, or FAILED into the DLQ),
//! firing callbacks and failure callbacks on the way.
//!
//! Every attempt starts in [`Locked::start`], reached three ways: a timer `Deliver` job,
//! through the dispatcher and [`Engine::start_attempt`]; a plain message due when published,
//! inside its publish (`Locked::enqueue`), handed to the `Starter` once the lock is released;
//! and a global-parallelism slot handed over by a finished attempt, whose id
//! [`Engine::finish_attempt`] returns for the dispatcher to start at once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::Region;
use crate::engine::lifecycle::backoff::next_delay_scaled;
use crate::engine::lifecycle::callback;
use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::persister::{Change, Pending};
use crate::engine::store::dlq::{DlqBounds, DlqEntry};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::Headers;
use crate::engine::workflow::run;
use crate::engine::workflow::CallType;
use crate::engine::{Engine, Locked, LogExtra, State, TenantId};

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
    /// The `Upstash-Region` value to send (`-region`), if any.
    pub(crate) region: Option<&'static str>,
}

impl Attempt {
    pub(crate) fn url(&self) -> &str {
        &self.spec.url
    }

    pub(crate) fn method(&self) -> &str {
        self.spec.method.as_str()
    }

    /// Calls `f` with every header to send but `Upstash-Signature` ([`request_headers`]).
    pub(crate) fn headers(&self, f: impl FnMut(&str, &str)) {
        let (id, spec, run) = (&*self.id, &*self.spec, &self.run_headers);
        request_headers(id, spec, self.retried, self.region, run, f);
    }
}

/// Calls `f` with every header attempt `retried` of message `id` sends but
/// `Upstash-Signature`, in order: ours first, then the message's own (which replace ours of
/// the same name, e.g. a forwarded `User-Agent`), then the workflow run's (which replace both).
/// Copies nothing. The dispatcher sends these; the message timeline shows them.
pub(crate) fn request_headers(
    id: &str,
    s: &MessageSpec,
    retried: u32,
    region: Option<&str>,
    run_headers: &Headers,
    mut f: impl FnMut(&str, &str),
) {
    let mut digits = itoa::Buffer::new();
    let ours = [
        ("User-Agent", Some("Upstash-QStash")),
        ("Upstash-Message-Id", Some(id)),
        ("Upstash-Retried", Some(digits.format(retried))),
        (
            "Upstash-Caller-Ip",
            Some(s.caller_ip.as_str()).filter(|ip| !ip.is_empty()),
        ),
        ("Upstash-Topic-Name", s.topic_name()),
        ("Upstash-Schedule-Id", s.schedule_id()),
        ("Upstash-Region", region),
    ];
    let named = |list: &Headers, name: &str| list.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    for (k, v) in ours {
        if let Some(v) = v.filter(|_| !named(&s.header, k) && !named(run_headers, k)) {
            f(k, v);
        }
    }
    for (k, v) in s.header.iter().filter(|(k, _)| !named(run_headers, k)) {
        f(k, v);
    }
    for (k, v) in run_headers {
        f(k, v);
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
    /// From sending the request to its answer (or the error).
    pub(crate) took: std::time::Duration,
}

impl Engine {
    /// Marks a due message ACTIVE and describes the attempt; None if it is gone (cancelled,
    /// delivered) or already in flight. The timer's `Deliver` job comes here through the
    /// dispatcher.
    pub(crate) fn start_attempt(&self, t: TenantId, id: &str) -> Option<Attempt> {
        self.with(t, |cx| cx.start(id))
    }

    /// Applies the result of an attempt. Returns the id of a waiting message its slot was
    /// handed to, for the caller to start next (see `Locked::release_limits`).
    pub(crate) fn finish_attempt(
        &self,
        t: TenantId,
        id: &str,
        result: AttemptResult,
    ) -> Option<Arc<str>> {
        self.with(t, |cx| cx.finish(id, result))
    }
}

impl Locked<'_> {
    /// [`Engine::start_attempt`] within a transition: every attempt starts here.
    pub(crate) fn start(&mut self, id: &str) -> Option<Attempt> {
        let now = self.now;
        self.st.messages.get_mut(id)?.woken = false;
        let msg = self.st.messages.get(id)?;
        if msg.active || msg.not_before > now {
            return None;
        }
        if self.st.runs.delivery(msg).is_none() {
            self.drop_ended(id);
            return None;
        }
        let (key, slot) = (msg.id.clone(), msg.slot_key());
        let flow = msg.spec.flow.as_ref().map(|f| f.key.clone());
        if let Some((q, owner)) = slot.filter(|(_, owner)| *owner == key) {
            if !self.queue_admits(&q, &owner) {
                return None;
            }
        }
        if !self.admit_limits(&key, flow.as_deref()) {
            return None;
        }
        let msg = self.st.messages.get_mut(id)?;
        msg.active = true;
        let msg = msg.clone();
        self.engine.count_attempt();
        self.log(State::Active, &msg, LogExtra::default());
        let (body, run_headers) = self.st.runs.delivery(&msg)?;
        Some(Attempt {
            tenant: self.t,
            timeout: msg.spec.timeout.unwrap_or(self.limits().max_timeout),
            id: msg.id,
            spec: msg.spec,
            run_headers,
            body,
            signing_key: self.st.keys.current.clone(),
            retried: msg.retried,
            region: self.engine.config().region.map(Region::header_value),
        })
    }

    /// [`Engine::finish_attempt`] within a transition; the message is then kept again (a
    /// retry) or gone, and the persister told which.
    fn finish(&mut self, id: &str, result: AttemptResult) -> Option<Arc<str>> {
        let next = self.settle(id, result);
        if self.st.changes.is_on() {
            let change = match self.st.messages.get(id) {
                Some(m) => Change::Kept(Pending::of(m, false)),
                None => Change::Gone(Arc::from(id)),
            };
            self.journal(|| change);
        }
        next
    }

    /// Applies an attempt's result: delivered, retried or failed.
    fn settle(&mut self, id: &str, mut result: AttemptResult) -> Option<Arc<str>> {
        let mut msg = self.st.take_message(id)?;
        msg.active = false;
        self.st.metrics.attempt(result.took);
        run::detect_trigger(&msg, &mut result);
        let flow = msg.spec.flow.as_ref().map(|f| f.key.clone());
        let next = self.release_limits(flow.as_deref());
        let response = result.response.take().map(Arc::new);
        if result.verdict == Verdict::Delivered {
            let extra = LogExtra {
                response: response.clone(),
                ..Default::default()
            };
            self.log(State::Delivered, &msg, extra);
            self.fire_callback(&msg, response.as_deref(), None);
            self.on_terminal(&msg, Some(true));
            return next;
        }
        let extra = LogExtra {
            error: result.error.clone(),
            response: response.clone(),
            ..Default::default()
        };
        self.log(State::Error, &msg, extra);
        if response.is_some() {
            self.fire_callback(&msg, response.as_deref(), result.error.as_deref());
        }
        if msg.cancel_requested {
            self.log(State::Canceled, &msg, LogExtra::default());
            self.on_terminal(&msg, None);
            return next;
        }
        match result.verdict {
            Verdict::Retry { hint } if msg.retried < msg.spec.max_retries => self.retry(msg, hint),
            _ if run::is_workflow_call(&msg) => {
                // WF_NoDelete: the run goes on with the failing status.
                if response.is_none() {
                    let none = run::no_response();
                    self.fire_callback(&msg, Some(&none), result.error.as_deref());
                }
                let extra = LogExtra {
                    error: result.error,
                    response,
                    ..Default::default()
                };
                self.log(State::Failed, &msg, extra);
                self.on_terminal(&msg, Some(false));
            }
            _ => {
                self.dead_letter(&msg, response, result.error);
                self.on_terminal(&msg, Some(false));
            }
        }
        next
    }

    /// RETRY: stored again, its next attempt after the backoff.
    fn retry(&mut self, mut msg: Message, hint: Option<Duration>) {
        let scale = self.engine.config().backoff_scale;
        let delay = next_delay_scaled(hint, msg.spec.retry_delay.as_deref(), msg.retried, scale);
        msg.retried += 1;
        msg.not_before = self.now.saturating_add(delay.as_millis() as u64);
        let extra = LogExtra {
            next_delivery_time: Some(msg.not_before),
            ..Default::default()
        };
        self.log(State::Retry, &msg, extra);
        self.deliver_at(msg.not_before, msg.id.clone());
        self.st.store_message(msg);
    }

    /// FAILED: into the DLQ (normal messages only), then the failure callback.
    fn dead_letter(
        &mut self,
        msg: &Message,
        response: Option<Arc<Response>>,
        error: Option<String>,
    ) {
        let now = self.now;
        let extra = LogExtra {
            error: error.clone(),
            response: response.clone(),
            ..Default::default()
        };
        self.log(State::Failed, msg, extra);
        if msg.spec.kind != Kind::Normal {
            return;
        }
        let limits = self.limits();
        self.st
            .dlq
            .expire(now.saturating_sub(limits.dlq_retention.as_millis() as u64));
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
            max_entries: limits.max_dlq_entries,
            max_bytes: limits.max_dlq_body_bytes,
        };
        let dlq_id = self.st.dlq.insert(entry, now, bounds);
        self.workflow_failed(msg, Some(dlq_id.clone()), error.clone());
        if let Some(cb) = msg.spec.failure_callback.clone() {
            let mut body =
                callback::payload(msg, response.as_deref(), error.as_deref(), Some(&dlq_id));
            self.st.runs.payload(msg, &mut body);
            self.st.runs.record_failure_report(msg, &body);
            let spec = callback::message_spec(&cb, &msg.spec, &body, Kind::FailureCallback);
            let at = now.saturating_add(cb.delay.map_or(0, |d| d.as_millis() as u64));
            self.enqueue_callback(msg, spec, at);
        }
    }

    /// After every attempt that got a response, the callback (if the message has one).
    fn fire_callback(&mut self, msg: &Message, response: Option<&Response>, error: Option<&str>) {
        let Some(cb) = msg.spec.callback.as_ref() else {
            return;
        };
        let mut body = callback::payload(msg, response, error, None);
        self.st.runs.payload(msg, &mut body);
        let spec = callback::message_spec(cb, &msg.spec, &body, Kind::Callback);
        let at = self
            .now
            .saturating_add(cb.delay.map_or(0, |d| d.as_millis() as u64));
        self.enqueue_callback(msg, spec, at);
    }

    /// Enqueues a callback of `source`; it holds `source`'s queue slot until it finishes.
    fn enqueue_callback(&mut self, source: &Message, spec: Arc<MessageSpec>, at: u64) {
        let mut spec = Arc::unwrap_or_clone(spec);
        spec.workflow = self
            .engine
            .workflow_callback_link(source, spec.kind)
            .map(Box::new);
        let (link, body) = (spec.workflow.clone(), spec.body.clone());
        let id = self.enqueue(Arc::new(spec), at);
        if let Some(l) = link.filter(|l| l.call_type == CallType::FromCallback) {
            self.st.runs.append(&l, &id, &body, self.now);
        }
        if let Some((q, owner)) = source.slot_key() {
            self.st.queues.hold(&q, &owner);
            if let Some(m) = self.st.messages.get_mut(&id) {
                m.slot = Some(Box::new((q, owner)));
            }
        }
    }

    /// After a message is delivered, failed or cancelled: records the outcome on its schedule,
    /// and frees its queue slot (waking the next message) once nothing under it is left.
    /// `delivered` is Some(true) when delivered, Some(false) when failed, None when cancelled.
    pub(crate) fn on_terminal(&mut self, msg: &Message, delivered: Option<bool>) {
        if let (Some(sid), Some(ok), Kind::Normal) =
            (msg.spec.schedule_id(), delivered, msg.spec.kind)
        {
            self.st.schedules.record_outcome(sid, &msg.id, ok);
        }
        self.forget_limits(&msg.id, msg.spec.flow.as_deref());
        if let Some((q, owner)) = msg.slot_key() {
            if self.st.queues.release(&q, &owner) {
                self.wake_queue(&q);
            }
        }
    }
}
