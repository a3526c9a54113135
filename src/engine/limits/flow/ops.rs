//! Flow control inside the delivery state machine (admission, wake-ups) and the operations of
//! the flow-control API (info, list, pause, resume, pin, unpin, reset) and of global
//! parallelism. The limits themselves are in `flow`.

use std::sync::Arc;

use crate::engine::limits::flow::{FlowKey, FlowSpec};
use crate::engine::{Engine, Error, Job, Result, TenantId, TenantState};

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

impl TenantState {
    pub(crate) fn flow_register(&mut self, s: &FlowSpec, now: u64) {
        self.flows
            .entry(s.key.clone())
            .or_insert_with(|| FlowKey::new(&s.key, now))
            .register(s);
    }

    /// Global parallelism: whether `id` may start; if not, it waits in line.
    fn global_admits(&mut self, id: &Arc<str>, max: usize) -> bool {
        if self.global_waitlist.is_turn_of(id) && self.global_in_flight < max {
            return true;
        }
        self.global_waitlist.push(id);
        false
    }

    /// Whether a message due now would have to wait in the global line.
    pub(crate) fn global_line_busy(&self, max: usize) -> bool {
        !self.global_waitlist.is_empty() || self.global_in_flight >= max
    }

    /// Takes `id` out of the global line; false if it was not in it.
    fn global_unwait(&mut self, id: &Arc<str>) -> bool {
        self.global_waitlist.remove(id)
    }
}

/// Sends a waiting message its `Deliver` job, unless one is already on its way: every freed
/// slot wakes the first ones in line, and without this a long line would get one more job per
/// finished attempt for each of them.
fn wake(
    timer: &crate::timer::Timer<Job>,
    t: TenantId,
    messages: &mut crate::engine::Messages,
    id: &Arc<str>,
    now: u64,
) {
    if let Some(m) = messages.get_mut(id).filter(|m| !m.woken) {
        m.woken = true;
        timer.schedule(
            now,
            Job::Deliver {
                tenant: t,
                id: id.clone(),
            },
        );
    }
}

impl Engine {
    /// Flow control and global parallelism for a due attempt of `id`: true (and counted as
    /// started) when it may go now; otherwise it waits in line and is woken later.
    pub(crate) fn admit_limits(
        &self,
        t: TenantId,
        st: &mut TenantState,
        id: &Arc<str>,
        flow: Option<&str>,
        now: u64,
    ) -> bool {
        if let Some(key) = flow {
            if st.flows.get_mut(key).is_some_and(|k| !k.admits(id, now)) {
                // Its key wakes it later; meanwhile it must not hold up the global line
                // (a paused key would block every other message of the tenant).
                if st.global_unwait(id) {
                    self.wake_global(t, st, now, 0);
                }
                self.arm_flow_wake(t, st, key, now);
                return false;
            }
        }
        if !st.global_admits(id, self.limits().global_parallelism as usize) {
            return false;
        }
        if let Some(k) = flow.and_then(|key| st.flows.get_mut(key)) {
            k.start(id);
        }
        st.global_unwait(id);
        st.global_in_flight += 1;
        // Slots may still be free for the ones behind it: they must not wait for a release.
        if let Some(key) =
            flow.filter(|key| st.flows.get(*key).is_some_and(|k| !k.waitlist.is_empty()))
        {
            self.wake_flow(t, st, key, now);
        }
        if !st.global_waitlist.is_empty() {
            self.wake_global(t, st, now, 0);
        }
        true
    }

    /// An attempt finished: frees its flow-control and global slots and wakes who waits.
    ///
    /// The first in the global line, when nothing woke it yet, is handed the freed slot: its
    /// id is returned for the caller to start at once on the task that just finished, without
    /// a round through the timer and the dispatcher (under load every message but the first
    /// hundred passes through the line).
    pub(crate) fn release_limits(
        &self,
        t: TenantId,
        st: &mut TenantState,
        flow: Option<&str>,
        now: u64,
    ) -> Option<Arc<str>> {
        st.global_in_flight = st.global_in_flight.saturating_sub(1);
        if let Some(key) = flow {
            if let Some(k) = st.flows.get_mut(key) {
                k.done();
            }
            self.wake_flow(t, st, key, now);
        }
        let handoff = st.global_waitlist.front().cloned().filter(|id| {
            st.messages
                .get_mut(id)
                .is_some_and(|m| !std::mem::replace(&mut m.woken, true))
        });
        self.wake_global(t, st, now, usize::from(handoff.is_some()));
        handoff
    }

    /// Wakes the first in the global line if slots are free (after a handed-over slot was not
    /// taken).
    pub(crate) fn wake_line(&self, t: TenantId) {
        let now = self.now();
        self.with(t, |st| self.wake_global(t, st, now, 0));
    }

    /// A message is finished: it no longer counts for its key's config or waits anywhere.
    pub(crate) fn forget_limits(
        &self,
        t: TenantId,
        st: &mut TenantState,
        id: &Arc<str>,
        flow: Option<&FlowSpec>,
        now: u64,
    ) {
        st.global_unwait(id);
        if let Some(s) = flow {
            if let Some(k) = st.flows.get_mut(&s.key) {
                k.unregister(s, id);
            }
            self.wake_flow(t, st, &s.key, now);
        }
    }

    /// Starts as many waiting messages of `key` as the limits allow; arms the period wake-up
    /// when the rate holds the rest back.
    fn wake_flow(&self, t: TenantId, st: &mut TenantState, key: &str, now: u64) {
        let Some(k) = st.flows.get_mut(key) else {
            return;
        };
        let room = k.room(now);
        for id in k.waitlist.iter().take(room) {
            wake(&self.timer, t, &mut st.messages, id, now);
        }
        self.arm_flow_wake(t, st, key, now);
    }

    fn arm_flow_wake(&self, t: TenantId, st: &mut TenantState, key: &str, now: u64) {
        let Some(k) = st.flows.get_mut(key) else {
            return;
        };
        if k.paused || k.waitlist.is_empty() {
            return;
        }
        if let Some(end) = k.period_end().filter(|end| *end > now) {
            if k.wake_at != Some(end) {
                k.wake_at = Some(end);
                self.timer.schedule(
                    end,
                    Job::FlowWake {
                        tenant: t,
                        key: key.into(),
                    },
                );
            }
        }
    }

    /// Wakes as many of the first in line as slots are free, less `reserved` slots already
    /// handed over.
    fn wake_global(&self, t: TenantId, st: &mut TenantState, now: u64, reserved: usize) {
        let max = self.limits().global_parallelism as usize;
        let free = max
            .saturating_sub(st.global_in_flight)
            .saturating_sub(reserved);
        for id in st.global_waitlist.iter().take(free) {
            wake(&self.timer, t, &mut st.messages, id, now);
        }
    }

    /// The timer's wake-up at the end of a key's rate period.
    pub(crate) fn wake_flow_key(&self, t: TenantId, key: &str) {
        let now = self.now();
        self.with(t, |st| {
            if let Some(k) = st.flows.get_mut(key) {
                k.wake_at = None;
            }
            self.wake_flow(t, st, key, now);
        });
    }

    pub(crate) fn flow_info(&self, t: TenantId, key: &str) -> Result<FlowInfo> {
        let now = self.now();
        self.with(t, |st| st.flows.get(key).map(|k| info(k, now)))
            .ok_or_else(|| not_found(key))
    }

    /// Every key, or those whose name contains `search`.
    pub(crate) fn flow_list(&self, t: TenantId, search: Option<&str>) -> Vec<FlowInfo> {
        let now = self.now();
        let mut list: Vec<FlowInfo> = self.with(t, |st| {
            st.flows
                .values()
                .filter(|k| search.is_none_or(|s| k.key.contains(s)))
                .map(|k| info(k, now))
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
        let now = self.now();
        self.with(t, |st| {
            let k = st
                .flows
                .entry(key.to_string())
                .or_insert_with(|| FlowKey::new(key, now));
            f(k, now);
            self.wake_flow(t, st, key, now);
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
        if !self.with(t, |st| st.flows.contains_key(key)) {
            return Err(not_found(key));
        }
        self.flow_update(t, key, |k, now| k.reset_rate(now))
    }

    /// `(parallelismMax, parallelismCount)` of the tenant.
    pub(crate) fn global_parallelism(&self, t: TenantId) -> (u32, usize) {
        let max = self.limits().global_parallelism;
        (max, self.with(t, |st| st.global_in_flight))
    }
}
