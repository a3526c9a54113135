//! Queues: FIFO delivery with parallelism N. A message of a queue waits until it is the oldest
//! due message of its queue and one of the N slots is free; it keeps its slot through its
//! retries and until its callbacks and failure callback are finished, then the next message
//! goes. A paused queue accepts messages but starts nothing; resuming continues from the
//! oldest. Deleting a queue cancels the messages still in it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::config::Limits;
use crate::engine::resources::names::check_name;
use crate::engine::{Engine, Error, Locked, Result, TenantId};

#[derive(Debug, Clone)]
pub(crate) struct Queue {
    pub(crate) name: String,
    pub(crate) parallelism: u32,
    pub(crate) paused: bool,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    /// Messages waiting for a slot, oldest first.
    waiting: VecDeque<Arc<str>>,
    /// Slot holders and how many of their messages (itself, callbacks) are unfinished.
    holders: HashMap<Arc<str>, usize>,
}

impl Queue {
    fn new(name: &str, parallelism: u32, paused: bool, now: u64) -> Self {
        Self {
            name: name.to_string(),
            parallelism: parallelism.max(1),
            paused,
            created_at: now,
            updated_at: now,
            waiting: VecDeque::new(),
            holders: HashMap::new(),
        }
    }

    /// Messages not yet delivered: waiting plus holding a slot.
    pub(crate) fn lag(&self) -> usize {
        self.waiting.len() + self.holders.len()
    }

    fn free_slots(&self) -> usize {
        (self.parallelism as usize).saturating_sub(self.holders.len())
    }
}

/// The queues of a tenant by name.
#[derive(Debug, Default)]
pub(crate) struct Queues(BTreeMap<String, Queue>);

/// Upsert settings of `POST /v2/queues`.
#[derive(Debug, Clone)]
pub(crate) struct QueueSettings {
    pub(crate) name: String,
    pub(crate) parallelism: Option<u32>,
    pub(crate) paused: Option<bool>,
}

fn queue_not_found(name: &str) -> Error {
    Error::not_found(format!("queue {name} not found"))
}

fn check_parallelism(p: u32, limits: &Limits) -> Result<()> {
    if p > limits.max_queue_parallelism {
        return Err(Error::QuotaExceeded(format!(
            "queue parallelism {p} exceeds the maximum of {} allowed by the quota",
            limits.max_queue_parallelism
        )));
    }
    Ok(())
}

impl Queues {
    pub(crate) fn get(&self, name: &str) -> Option<&Queue> {
        self.0.get(name)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Queue> {
        self.0.get_mut(name)
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &Queue> {
        self.0.values()
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Queue> {
        self.0.remove(name)
    }

    /// The queue, created with parallelism 1 if missing (after the quota check when `limits`).
    pub(crate) fn ensure(
        &mut self,
        name: &str,
        limits: Option<&Limits>,
        now: u64,
    ) -> Result<&mut Queue> {
        if !self.0.contains_key(name) {
            check_name("queue", name)?;
            if let Some(l) = limits {
                if self.0.len() >= l.max_queues as usize {
                    return Err(Error::QuotaExceeded(format!(
                        "queue limit reached: the quota allows {} queues",
                        l.max_queues
                    )));
                }
            }
            self.0
                .insert(name.to_string(), Queue::new(name, 1, false, now));
        }
        self.0.get_mut(name).ok_or_else(|| queue_not_found(name))
    }

    /// Whether message `id` of queue `q` may start now; takes a slot when it may. `due` says
    /// whether a waiting message is due.
    pub(crate) fn admits(&mut self, q: &str, id: &Arc<str>, due: impl Fn(&str) -> bool) -> bool {
        let Some(queue) = self.0.get_mut(q) else {
            return true;
        };
        if queue.paused {
            return false;
        }
        if queue.holders.contains_key(id) {
            return true;
        }
        if queue.free_slots() == 0 {
            return false;
        }
        match queue.waiting.iter().position(|w| due(w)) {
            Some(i) if queue.waiting[i] == *id => {
                queue.waiting.remove(i);
                queue.holders.insert(id.clone(), 1);
                true
            }
            _ => false,
        }
    }

    /// Adds a new message to its queue's waiting line.
    pub(crate) fn push(&mut self, q: &str, id: Arc<str>, now: u64) {
        if let Ok(queue) = self.ensure(q, None, now) {
            queue.waiting.push_back(id);
        }
    }

    /// One more unfinished message (a callback) under `owner`'s slot.
    pub(crate) fn hold(&mut self, q: &str, owner: &Arc<str>) {
        if let Some(n) = self
            .0
            .get_mut(q)
            .and_then(|queue| queue.holders.get_mut(owner))
        {
            *n += 1;
        }
    }

    /// A message under `owner`'s slot finished; true when the slot became free.
    pub(crate) fn release(&mut self, q: &str, owner: &Arc<str>) -> bool {
        let Some(queue) = self.0.get_mut(q) else {
            return false;
        };
        let Some(n) = queue.holders.get_mut(owner) else {
            queue.waiting.retain(|w| w != owner);
            return false;
        };
        *n = n.saturating_sub(1);
        if *n == 0 {
            queue.holders.remove(owner);
            return true;
        }
        false
    }

    /// What may start now in queue `q`, as `due` says of each message: its due slot holders
    /// and the oldest due waiters for its free slots. Nothing when it is paused.
    pub(crate) fn startable(&self, q: &str, due: impl Fn(&str) -> bool) -> Vec<Arc<str>> {
        let Some(queue) = self.0.get(q).filter(|queue| !queue.paused) else {
            return Vec::new();
        };
        let holders = queue.holders.keys().filter(|id| due(id));
        let waiters = queue
            .waiting
            .iter()
            .filter(|id| due(id))
            .take(queue.free_slots());
        holders.chain(waiters).cloned().collect()
    }
}

impl Locked<'_> {
    /// Whether a waiting message is due now: stored, not in flight, its time come.
    fn due(&self) -> impl Fn(&str) -> bool + '_ {
        |id| {
            self.st
                .messages
                .get(id)
                .is_some_and(|m| !m.active && m.not_before <= self.now)
        }
    }

    /// Whether message `id` of queue `q` may start now; takes a slot when it may.
    pub(crate) fn queue_admits(&mut self, q: &str, id: &Arc<str>) -> bool {
        let (messages, now) = (&self.st.messages, self.now);
        self.st.queues.admits(q, id, |w| {
            messages.get(w).is_some_and(|m| m.not_before <= now)
        })
    }

    /// Wakes what may start now in queue `q`: due slot holders and the oldest due waiters.
    pub(crate) fn wake_queue(&self, q: &str) {
        for id in self.st.queues.startable(q, self.due()) {
            self.deliver_at(self.now, id);
        }
    }
}

impl Engine {
    pub(crate) fn upsert_queue(&self, t: TenantId, s: QueueSettings) -> Result<()> {
        check_name("queue", &s.name)?;
        let limits = self.limits();
        if let Some(p) = s.parallelism {
            check_parallelism(p, limits)?;
        }
        self.with(t, |cx| {
            let now = cx.now;
            cx.definitions_changed();
            let queue = cx.st.queues.ensure(&s.name, Some(limits), now)?;
            if let Some(p) = s.parallelism {
                queue.parallelism = p.max(1);
            }
            if let Some(p) = s.paused {
                queue.paused = p;
            }
            queue.updated_at = now;
            cx.wake_queue(&s.name);
            Ok(())
        })
    }

    pub(crate) fn queue(&self, t: TenantId, name: &str) -> Result<Queue> {
        check_name("queue", name)?;
        self.with(t, |cx| cx.st.queues.get(name).cloned())
            .ok_or_else(|| queue_not_found(name))
    }

    pub(crate) fn queues(&self, t: TenantId) -> Vec<Queue> {
        self.with(t, |cx| cx.st.queues.all().cloned().collect())
    }

    pub(crate) fn set_queue_paused(&self, t: TenantId, name: &str, paused: bool) -> Result<()> {
        check_name("queue", name)?;
        self.with(t, |cx| {
            let queue = cx
                .st
                .queues
                .get_mut(name)
                .ok_or_else(|| queue_not_found(name))?;
            queue.paused = paused;
            queue.updated_at = cx.now;
            cx.definitions_changed();
            cx.wake_queue(name);
            Ok(())
        })
    }

    /// Deletes a queue (200 even when it does not exist) and cancels its pending messages.
    pub(crate) fn delete_queue(&self, t: TenantId, name: &str) {
        self.with(t, |cx| {
            let Some(queue) = cx.st.queues.remove(name) else {
                return;
            };
            cx.definitions_changed();
            for id in queue.waiting.iter().chain(queue.holders.keys()) {
                cx.cancel(id);
            }
        });
    }
}
