//! Flow control inside the delivery state machine (admission, wake-ups) and the operations of
//! the flow-control API (info, list, pause, resume, pin, unpin, reset) and of global
//! parallelism. The limits themselves are in `flow`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::limits::flow::{FlowKey, FlowSpec};
use crate::engine::{Engine, Error, Job, Locked, Messages, Result, TenantId};

/// §4.9: what `GET /v2/flowControl/{key}` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlowInfo {
    pub(crate) key: String,
    pub(crate) wait_list_size: usize,
    pub(crate) parallelism_max: u32,
    pub(crate) parallelism_count: usize,
    pub(crate) rate_max: u32,
    pub(crate) rate_count: u32,
    /// Seconds.
    pub(crate) rate_period: u64,
    /// Unix seconds.
    pub(crate) rate_period_start: u64,
    pub(crate) is_paused: bool,
    pub(crate) is_pinned_parallelism: bool,
    pub(crate) is_pinned_rate: bool,
}

fn info(k: &FlowKey, now: u64) -> FlowInfo {
    let rate = k.rate();
    FlowInfo {
        key: k.key.clone(),
        wait_list_size: k.waitlist.len(),
        parallelism_max: k.parallelism().unwrap_or(0),
        parallelism_count: k.in_flight,
        rate_max: rate.map_or(0, |r| r.0),
        rate_count: k.rate_count(now),
        rate_period: rate.map_or(1, |r| r.1),
        rate_period_start: k.period_start() / 1000,
        is_paused: k.paused,
        is_pinned_parallelism: k.pinned_parallelism.is_some(),
        is_pinned_rate: k.pinned_rate.is_some(),
    }
}

fn not_found(key: &str) -> Error {
    Error::not_found(format!("flow control key {key} not found"))
}

/// The flow-control keys of a tenant by name.
#[derive(Debug, Default)]
pub(crate) struct Flows(HashMap<String, FlowKey>);

impl Flows {
    /// Counts a new message under its key, created if missing.
    pub(crate) fn register(&mut self, s: &FlowSpec, now: u64) {
        self.entry(&s.key, now).register(s);
    }

    /// The key, created if missing.
    pub(crate) fn entry(&mut self, key: &str, now: u64) -> &mut FlowKey {
        self.0
            .entry(key.to_string())
            .or_insert_with(|| FlowKey::new(key, now))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&FlowKey> {
        self.0.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut FlowKey> {
        self.0.get_mut(key)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &FlowKey> {
        self.0.values()
    }
}

impl Locked<'_> {
    /// Sends waiting message `id` its `Deliver` job, unless one is already on its way: every
    /// freed slot wakes the first ones in line, and without this a long line would get one
    /// more job per finished attempt for each of them.
    /// Takes the message map and the timer apart from the line being read, so waking needs no
    /// copy of the line (this runs after every finished attempt).
    fn wake_each<'a>(
        messages: &mut Messages,
        wake_at: impl Fn(Arc<str>),
        ids: impl Iterator<Item = &'a Arc<str>>,
    ) {
        for id in ids {
            if let Some(m) = messages.get_mut(id).filter(|m| !m.woken) {
                m.woken = true;
                wake_at(id.clone());
            }
        }
    }

    /// Flow control and global parallelism for a due attempt of `id`: true (and counted as
    /// started) when it may go now; otherwise it waits in line and is woken later.
    pub(crate) fn admit_limits(&mut self, id: &Arc<str>, flow: Option<&str>) -> bool {
        let now = self.now;
        if let Some(key) = flow {
            if self
                .st
                .flows
                .get_mut(key)
                .is_some_and(|k| !k.admits(id, now))
            {
                // Its key wakes it later; meanwhile it must not hold up the global line
                // (a paused key would block every other message of the tenant).
                if self.st.line.unwait(id) {
                    self.wake_global(0);
                }
                self.arm_flow_wake(key);
                return false;
            }
        }
        let max = self.limits().global_parallelism as usize;
        if !self.st.line.admits(id, max) {
            return false;
        }
        if let Some(k) = flow.and_then(|key| self.st.flows.get_mut(key)) {
            k.start(id);
        }
        self.st.line.start(id);
        // Slots may still be free for the ones behind it: they must not wait for a release.
        if let Some(key) = flow.filter(|key| {
            self.st
                .flows
                .get(key)
                .is_some_and(|k| !k.waitlist.is_empty())
        }) {
            self.wake_flow(key);
        }
        if self.st.line.has_waiting() {
            self.wake_global(0);
        }
        true
    }

    /// An attempt finished: frees its flow-control and global slots and wakes who waits.
    ///
    /// The first in the global line, when nothing woke it yet, is handed the freed slot: its
    /// id is returned for the caller to start at once on the task that just finished, without
    /// a round through the timer and the dispatcher (under load every message but the first
    /// hundred passes through the line).
    pub(crate) fn release_limits(&mut self, flow: Option<&str>) -> Option<Arc<str>> {
        self.st.line.finish();
        if let Some(key) = flow {
            if let Some(k) = self.st.flows.get_mut(key) {
                k.done();
            }
            self.wake_flow(key);
        }
        let messages = &mut self.st.messages;
        let handoff = self.st.line.front().cloned().filter(|id| {
            messages
                .get_mut(id)
                .is_some_and(|m| !std::mem::replace(&mut m.woken, true))
        });
        self.wake_global(usize::from(handoff.is_some()));
        handoff
    }

    /// A message is finished: it no longer counts for its key's config or waits anywhere.
    pub(crate) fn forget_limits(&mut self, id: &Arc<str>, flow: Option<&FlowSpec>) {
        self.st.line.unwait(id);
        if let Some(s) = flow {
            if let Some(k) = self.st.flows.get_mut(&s.key) {
                k.unregister(s, id);
            }
            self.wake_flow(&s.key);
        }
    }

    /// Starts as many waiting messages of `key` as the limits allow; arms the period wake-up
    /// when the rate holds the rest back.
    pub(crate) fn wake_flow(&mut self, key: &str) {
        let now = self.now;
        let Some(k) = self.st.flows.get_mut(key) else {
            return;
        };
        let room = k.room(now);
        let (engine, t) = (self.engine, self.t);
        let deliver = |id| engine.timer.schedule(now, Job::Deliver { tenant: t, id });
        let (flows, messages) = (&self.st.flows, &mut self.st.messages);
        if let Some(k) = flows.get(key) {
            Self::wake_each(messages, deliver, k.waitlist.iter().take(room));
        }
        self.arm_flow_wake(key);
    }

    fn arm_flow_wake(&mut self, key: &str) {
        let (now, t) = (self.now, self.t);
        let Some(k) = self.st.flows.get_mut(key) else {
            return;
        };
        if k.paused || k.waitlist.is_empty() {
            return;
        }
        if let Some(end) = k.period_end().filter(|end| *end > now) {
            if k.wake_at != Some(end) {
                k.wake_at = Some(end);
                let key = key.into();
                self.schedule(end, Job::FlowWake { tenant: t, key });
            }
        }
    }

    /// Wakes as many of the first in line as slots are free, less `reserved` slots already
    /// handed over.
    pub(crate) fn wake_global(&mut self, reserved: usize) {
        let max = self.limits().global_parallelism as usize;
        let (engine, t, now) = (self.engine, self.t, self.now);
        let deliver = |id| engine.timer.schedule(now, Job::Deliver { tenant: t, id });
        let (line, messages) = (&self.st.line, &mut self.st.messages);
        Self::wake_each(messages, deliver, line.next_up(max, reserved));
    }
}

impl Engine {
    /// Wakes the first in the global line if slots are free (after a handed-over slot was not
    /// taken).
    pub(crate) fn wake_line(&self, t: TenantId) {
        self.with(t, |cx| cx.wake_global(0));
    }

    /// The timer's wake-up at the end of a key's rate period.
    pub(crate) fn wake_flow_key(&self, t: TenantId, key: &str) {
        self.with(t, |cx| {
            if let Some(k) = cx.st.flows.get_mut(key) {
                k.wake_at = None;
            }
            cx.wake_flow(key);
        });
    }

    pub(crate) fn flow_info(&self, t: TenantId, key: &str) -> Result<FlowInfo> {
        self.with(t, |cx| cx.st.flows.get(key).map(|k| info(k, cx.now)))
            .ok_or_else(|| not_found(key))
    }

    /// Every key, or those whose name contains `search`.
    pub(crate) fn flow_list(&self, t: TenantId, search: Option<&str>) -> Vec<FlowInfo> {
        let mut list: Vec<FlowInfo> = self.with(t, |cx| {
            cx.st
                .flows
                .values()
                .filter(|k| search.is_none_or(|s| k.key.contains(s)))
                .map(|k| info(k, cx.now))
                .collect()
        });
        list.sort_by(|a, b| a.key.cmp(&b.key));
        list
    }

    /// Applies `f` to a key (created if missing, so a key can be paused or pinned before its
    /// first message) and wakes what may go.
    fn flow_update(&self, t: TenantId, key: &str, f: impl FnOnce(&mut FlowKey, u64)) -> Result<()> {
        if key.is_empty() {
            return Err(Error::bad("a flow control key is required"));
        }
        self.with(t, |cx| {
            let now = cx.now;
            f(cx.st.flows.entry(key, now), now);
            cx.definitions_changed();
            cx.wake_flow(key);
        });
        Ok(())
    }

    pub(crate) fn flow_pause(&self, t: TenantId, key: &str, paused: bool) -> Result<()> {
        self.flow_update(t, key, |k, _| k.paused = paused)
    }

    pub(crate) fn flow_pin(
        &self,
        t: TenantId,
        key: &str,
        parallelism: Option<u32>,
        rate: Option<u32>,
        period: Option<u64>,
    ) -> Result<()> {
        self.flow_update(t, key, |k, now| k.pin(parallelism, rate, period, now))
    }

    pub(crate) fn flow_unpin(
        &self,
        t: TenantId,
        key: &str,
        parallelism: bool,
        rate: bool,
    ) -> Result<()> {
        self.flow_update(t, key, |k, _| k.unpin(parallelism, rate))
    }

    /// Zeroes the rate count and starts a new period now. Deliveries in flight are facts, so
    /// `reset` (the changelog's name) does the same and leaves `parallelismCount` alone.
    pub(crate) fn flow_reset_rate(&self, t: TenantId, key: &str) -> Result<()> {
        if self.with(t, |cx| cx.st.flows.get(key).is_none()) {
            return Err(not_found(key));
        }
        self.flow_update(t, key, |k, now| k.reset_rate(now))
    }

    /// `(parallelismMax, parallelismCount)` of the tenant.
    pub(crate) fn global_parallelism(&self, t: TenantId) -> (u32, usize) {
        let max = self.limits().global_parallelism;
        (max, self.with(t, |cx| cx.st.line.in_flight()))
    }
}
