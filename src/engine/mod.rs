//! The domain, synchronous: messages, their delivery state machine, the DLQ, the event log,
//! deduplication and signing keys, each tenant (test user) apart from the others. The engine
//! owns every state change. It never sends HTTP and never awaits: it writes jobs into the
//! timer, and the dispatcher (in `delivery`) asks it to start and finish attempts. Its every
//! "now" is read on the timer's clock (`Engine::now`), so a moved clock moves it too.
//! Must not import axum, reqwest, clap, tokio::net, `api`, `delivery`, `server` or `cli`.

pub mod cron;
pub mod error;
pub mod expr;
pub(crate) mod lifecycle;
pub mod limits;
pub mod resources;
pub mod store;
pub mod syntax;
pub(crate) mod workflow;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::clock::Clock;
use crate::config::{Config, Limits, TestUser, TEST_USERS};
use crate::timer::Timer;

pub(crate) use error::{Error, Result};
pub(crate) use lifecycle::starter::Starter;

use lifecycle::dedup::Dedup;
use lifecycle::message::Message;
use lifecycle::starter::Started;
use store::dlq::Dlq;
use store::logs::{LogEntry, LogRing, Response, State};

/// Index of a tenant (one per test user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub usize);

/// The pending messages of a tenant by id.
pub(crate) type Messages = rustc_hash::FxHashMap<Arc<str>, Message>;

/// Work the timer hands to the dispatcher when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Deliver {
        tenant: TenantId,
        id: Arc<str>,
    },
    /// A schedule's cron firing; `generation` tells stale jobs from current ones.
    Fire {
        tenant: TenantId,
        schedule: Arc<str>,
        generation: u64,
    },
    /// A flow-control key's rate period ended; start what waits.
    FlowWake {
        tenant: TenantId,
        key: Arc<str>,
    },
    /// A workflow waiter's deadline; a no-op when it was notified first.
    WaitTimeout {
        tenant: TenantId,
        id: u64,
    },
}

/// A tenant's signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SigningKeys {
    /// Shared with every attempt signed with it (no copy per attempt).
    pub(crate) current: Arc<str>,
    pub(crate) next: Arc<str>,
}

/// All state of one tenant, behind one lock: a transition takes the guard, changes the
/// state, and drops it before anything waits.
#[derive(Debug)]
pub(crate) struct TenantState {
    /// Only `store_message` and `take_message` change it, so `pending_body_bytes` stays true.
    /// Keyed by server-generated ids, so the fast non-keyed hasher is safe here.
    messages: Messages,
    /// Sum of the bodies of `messages`, checked against `max_pending_body_bytes`.
    pending_body_bytes: usize,
    logs: LogRing,
    dlq: Dlq,
    dedup: Dedup,
    keys: SigningKeys,
    topics: resources::topics::Topics,
    queues: limits::queues::Queues,
    schedules: resources::schedules::Schedules,
    flows: HashMap<String, limits::flow::FlowKey>,
    /// Deliveries in flight for this tenant, and the ones waiting for global parallelism.
    global_in_flight: usize,
    global_waitlist: limits::waitline::WaitLine,
    runs: workflow::registry::Runs,
    /// Workflow waiters and stored run-scoped notifications.
    waits: workflow::wait::Waits,
    /// Attempts started under the lock, handed to the starter once it is released.
    started: Started,
}

pub(crate) struct Tenant {
    pub(crate) user: TestUser,
    /// `std`'s mutex, not `parking_lot`'s: when the holder is preempted (the server shares
    /// its cores with its clients), `parking_lot` waiters spin through `sched_yield`, handing
    /// their core to any other thread, while `std` waiters sleep on a futex until the release
    /// wakes them, which keeps end-to-end throughput close to the bare pipeline's.
    state: std::sync::Mutex<TenantState>,
    quotas: limits::quota::Quotas,
}

pub struct Engine {
    config: Arc<Config>,
    tenants: Vec<Tenant>,
    /// The timer's clock: every "now" of the engine, so that what it records and what it
    /// schedules are read on the same clock.
    clock: Clock,
    timer: Arc<Timer<Job>>,
    /// Sends attempts the engine starts itself (see [`Starter`]); none under tests that
    /// drive the engine alone, and then every attempt waits for its timer job.
    starter: OnceLock<Box<dyn Starter>>,
}

impl Engine {
    /// An engine on `timer`, and on the timer's clock.
    pub(crate) fn new(config: Arc<Config>, timer: Arc<Timer<Job>>) -> Self {
        let limits = config.limits();
        let tenants = TEST_USERS
            .iter()
            .map(|u| Tenant {
                user: u.clone(),
                quotas: Default::default(),
                state: std::sync::Mutex::new(TenantState::new(u, limits)),
            })
            .collect();
        Self {
            config,
            tenants,
            clock: timer.clock().clone(),
            timer,
            starter: OnceLock::new(),
        }
    }

    /// From now on, plain messages due when published start at once through `starter`.
    /// Set once; later calls are ignored.
    pub(crate) fn set_starter(&self, starter: Box<dyn Starter>) {
        let _ = self.starter.set(starter);
    }

    /// Forgets everything of a tenant (`/dev/reset`): messages, logs, DLQ, resources, runs,
    /// and rotated keys. Timer jobs of the old state find nothing and do nothing.
    pub(crate) fn reset(&self, t: TenantId) {
        let limits = self.limits();
        let user = self.tenants[t.0].user.clone();
        self.with(t, |st| {
            let mut fresh = TenantState::new(&user, limits);
            fresh.schedules = std::mem::take(&mut st.schedules);
            fresh.schedules.clear();
            fresh.waits = std::mem::take(&mut st.waits);
            fresh.waits.clear();
            *st = fresh;
        });
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn limits(&self) -> &'static Limits {
        self.config.limits()
    }

    pub fn timer(&self) -> &Arc<Timer<Job>> {
        &self.timer
    }

    /// The server's clock.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Unix ms on the server's clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The tenant whose token this is. Compares against every token in constant time
    /// (`constant_time_eq` compares 16 bytes a step; `subtle` took an optimisation barrier
    /// per byte: four tokens of 72 bytes on every request).
    pub fn authenticate(&self, token: &str) -> Option<TenantId> {
        let mut found = None;
        for (i, t) in self.tenants.iter().enumerate() {
            if constant_time_eq::constant_time_eq(t.user.token.as_bytes(), token.as_bytes()) {
                found = Some(TenantId(i));
            }
        }
        found
    }

    pub(crate) fn tenant(&self, t: TenantId) -> &Tenant {
        &self.tenants[t.0]
    }

    pub(crate) fn tenant_ids(&self) -> impl Iterator<Item = TenantId> {
        (0..self.tenants.len()).map(TenantId)
    }

    /// Runs `f` under the tenant's lock. What `f` leaves for later is done once the lock is
    /// released, so that the lock is held as briefly as possible: attempts it started are
    /// handed to the starter (spawning may wake a parked worker thread), and log entries it
    /// evicted are dropped (freeing old message bodies, long out of cache).
    fn with<R>(&self, t: TenantId, f: impl FnOnce(&mut TenantState) -> R) -> R {
        // A panic under the lock is a bug; the server keeps serving the user with the state as
        // it is rather than failing each of their later requests (as before, with
        // `parking_lot`'s lock, which has no poisoning).
        let mut guard = self.tenants[t.0]
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let r = f(&mut guard);
        let started = guard.started.take();
        store::logs::EVICTED.with(|spare| {
            let mut spare = spare.borrow_mut();
            guard.logs.swap_evicted(&mut spare);
            drop(guard);
            spare.clear();
        });
        if let (Some(s), Some(starter)) = (started, self.starter.get()) {
            s.send(starter.as_ref());
        }
        r
    }

    pub(crate) fn keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |st| st.keys.clone())
    }

    /// Next becomes current and a fresh next key is made. State is in memory only.
    pub(crate) fn rotate_keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |st| {
            st.keys = SigningKeys {
                current: st.keys.next.clone(),
                next: crate::ids::signing_key().into(),
            };
            st.keys.clone()
        })
    }

    /// Number of messages waiting or in delivery for a tenant.
    pub fn pending(&self, t: TenantId) -> usize {
        self.with(t, |st| st.messages.len())
    }
}

impl TenantState {
    fn new(u: &TestUser, limits: &Limits) -> Self {
        Self {
            messages: Messages::default(),
            pending_body_bytes: 0,
            logs: LogRing::new(limits.max_log_entries, limits.max_log_body_bytes),
            dlq: Dlq::default(),
            dedup: Dedup::default(),
            keys: SigningKeys {
                current: u.current_signing_key.into(),
                next: u.next_signing_key.into(),
            },
            topics: Default::default(),
            queues: Default::default(),
            schedules: Default::default(),
            flows: HashMap::new(),
            global_in_flight: 0,
            global_waitlist: Default::default(),
            runs: workflow::registry::Runs::new(limits.max_log_entries),
            waits: Default::default(),
            started: Started::default(),
        }
    }

    /// Stores a pending message (new, or back after a failed attempt).
    fn store_message(&mut self, msg: Message) {
        self.pending_body_bytes = self.pending_body_bytes.saturating_add(msg.spec.body.len());
        if let Some(old) = self.messages.insert(msg.id.clone(), msg) {
            self.pending_body_bytes = self.pending_body_bytes.saturating_sub(old.spec.body.len());
        }
    }

    /// Removes a pending message.
    fn take_message(&mut self, id: &str) -> Option<Message> {
        let msg = self.messages.remove(id)?;
        self.pending_body_bytes = self.pending_body_bytes.saturating_sub(msg.spec.body.len());
        Some(msg)
    }

    /// Refuses `n` more messages of `body` bytes each when they would pass the bounds on
    /// pending messages (`max_messages`) or on their bodies (`limits`), before anything is stored.
    fn check_pending(
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
    fn log(&mut self, now: u64, state: State, msg: &Message, extra: LogExtra) {
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
struct LogExtra {
    error: Option<String>,
    next_delivery_time: Option<u64>,
    response: Option<Arc<Response>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PAYG;

    fn message(id: &str, body: &'static [u8]) -> Message {
        let spec = lifecycle::publish::build_spec(
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
        let mut st = TenantState::new(&TEST_USERS[0], &limits);
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
