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
pub(crate) mod persister;
pub mod resources;
pub mod store;
pub mod syntax;
pub(crate) mod tenant;
pub(crate) mod workflow;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::clock::Clock;
use crate::config::{Config, Limits, TEST_USERS};
use crate::timer::Timer;

pub(crate) use error::{Error, Result};
pub(crate) use lifecycle::starter::Starter;
pub(crate) use persister::Persister;
pub(crate) use tenant::{Locked, LogExtra, Tenant, TenantState};

use lifecycle::message::Message;
use store::logs::State;

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

pub struct Engine {
    config: Arc<Config>,
    tenants: Vec<Tenant>,
    /// The registry of tenants by token: the auth lookup of every request reads it without a
    /// global lock, and a token can be added while the server runs.
    by_token: dashmap::DashMap<Box<str>, TenantId>,
    /// The timer's clock: every "now" of the engine, so that what it records and what it
    /// schedules are read on the same clock.
    clock: Clock,
    timer: Arc<Timer<Job>>,
    /// Sends attempts the engine starts itself (see [`Starter`]); none under tests that
    /// drive the engine alone, and then every attempt waits for its timer job.
    starter: OnceLock<Box<dyn Starter>>,
    /// Saves changed definitions (`-persist`); none by default.
    persister: OnceLock<Box<dyn Persister>>,
    /// Attempts started since the server started: tells a quiet moment from a busy one
    /// between two looks (see `crate::catch_up`).
    attempts: AtomicU64,
}

impl Engine {
    /// An engine on `timer`, and on the timer's clock.
    pub(crate) fn new(config: Arc<Config>, timer: Arc<Timer<Job>>) -> Self {
        let limits = config.limits();
        let users = config.users();
        let tenants = users
            .iter()
            .map(|u| Tenant {
                user: u.clone(),
                quotas: Default::default(),
                state: std::sync::Mutex::new(TenantState::new(u, limits, false)),
            })
            .collect();
        Self {
            config,
            by_token: TEST_USERS
                .iter()
                .chain(&users)
                .enumerate()
                .map(|(i, u)| (u.token.into(), TenantId(i % users.len())))
                .collect(),
            tenants,
            clock: timer.clock().clone(),
            timer,
            starter: OnceLock::new(),
            persister: OnceLock::new(),
            attempts: AtomicU64::new(0),
        }
    }

    /// From now on, plain messages due when published start at once through `starter`.
    /// Set once; later calls are ignored.
    pub(crate) fn set_starter(&self, starter: Box<dyn Starter>) {
        let _ = self.starter.set(starter);
    }

    /// From now on, every change is saved through `p`. Set once.
    pub(crate) fn set_persister(&self, p: Box<dyn Persister>) {
        for t in self.tenant_ids() {
            self.with(t, |cx| cx.st.record_changes());
        }
        let _ = self.persister.set(p);
    }

    /// Forgets everything of a tenant (`/dev/reset`): messages, logs, DLQ, resources, runs,
    /// and rotated keys. Timer jobs of the old state find nothing and do nothing.
    pub(crate) fn reset(&self, t: TenantId) {
        let limits = self.limits();
        let user = self.tenants[t.0].user.clone();
        self.with(t, |cx| {
            let st = &mut *cx.st;
            let record = st.changes.is_on();
            let mut fresh = TenantState::new(&user, limits, record);
            fresh.schedules = std::mem::take(&mut st.schedules);
            fresh.schedules.clear();
            fresh.waits = std::mem::take(&mut st.waits);
            fresh.waits.clear();
            *st = fresh;
            cx.definitions_changed();
            cx.journal(|| persister::Change::Cleared);
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

    /// The tenant whose token this is. A hash lookup, not a constant-time comparison: the
    /// test users' tokens are public (printed in the banner, written in the docs), so a token
    /// tells test users apart rather than keeping a secret, and timing reveals nothing that
    /// is not already known.
    pub fn authenticate(&self, token: &str) -> Option<TenantId> {
        self.by_token.get(token).map(|t| *t)
    }

    pub(crate) fn tenant(&self, t: TenantId) -> &Tenant {
        &self.tenants[t.0]
    }

    pub(crate) fn tenant_ids(&self) -> impl Iterator<Item = TenantId> {
        (0..self.tenants.len()).map(TenantId)
    }

    /// Runs the transition `f` under the tenant's lock, at the clock's `now`. Attempts it
    /// started are handed to the starter once the lock is released, so that the lock is not
    /// held while spawning (which may wake a parked worker thread).
    pub(crate) fn with<R>(&self, t: TenantId, f: impl FnOnce(&mut Locked<'_>) -> R) -> R {
        // A panic under the lock is a bug; the server keeps serving the user with the state as
        // it is rather than failing each of their later requests.
        let mut guard = self.tenants[t.0]
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now();
        let r = f(&mut Locked {
            engine: self,
            t,
            st: &mut guard,
            now,
        });
        let started = guard.started.take();
        let changed = std::mem::take(&mut guard.definitions_changed);
        if let Some(p) = self.persister.get() {
            let changes = guard.take_changes();
            if !changes.is_empty() {
                p.changed(t, changes);
            }
        }
        drop(guard);
        if let (Some(s), Some(starter)) = (started, self.starter.get()) {
            s.send(starter.as_ref());
        }
        if let (true, Some(p)) = (changed, self.persister.get()) {
            p.definitions_changed(self, t);
        }
        r
    }

    pub(crate) fn keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |cx| cx.st.keys.clone())
    }

    /// Next becomes current and a fresh next key is made.
    pub(crate) fn rotate_keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |cx| {
            cx.definitions_changed();
            let keys = &mut cx.st.keys;
            *keys = SigningKeys {
                current: keys.next.clone(),
                next: crate::ids::signing_key().into(),
            };
            keys.clone()
        })
    }

    /// Puts back keys saved by an earlier run (`-persist`).
    pub(crate) fn set_keys(&self, t: TenantId, keys: SigningKeys) {
        self.with(t, |cx| cx.st.keys = keys);
    }

    /// Attempts started so far, of every tenant.
    pub(crate) fn attempts_started(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    /// Counts an attempt started (`Locked::start`).
    pub(crate) fn count_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Release);
    }

    /// Attempts sent and not yet finished (none without a starter).
    pub(crate) fn in_flight(&self) -> usize {
        self.starter.get().map_or(0, |s| s.in_flight())
    }

    /// Number of messages waiting or in delivery for a tenant.
    pub fn pending(&self, t: TenantId) -> usize {
        self.with(t, |cx| cx.st.messages.len())
    }

    /// Of a tenant's pending messages, how many are in delivery or due by `horizon` (Unix ms
    /// on the clock), and how many there are in all.
    pub(crate) fn pending_by(&self, t: TenantId, horizon: u64) -> (usize, usize) {
        self.with(t, |cx| {
            let all = cx.st.messages.len();
            let due = match all {
                0 => 0,
                _ => cx
                    .st
                    .messages
                    .values()
                    .filter(|m| m.active || m.not_before <= horizon)
                    .count(),
            };
            (due, all)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[test]
    fn every_test_token_finds_its_tenant_and_nothing_else_does() {
        let e = Engine::new(Arc::default(), Arc::new(Timer::new(Clock::real())));
        for (i, u) in TEST_USERS.iter().enumerate() {
            assert_eq!(e.authenticate(u.token), Some(TenantId(i)));
        }
        let first = TEST_USERS[0].token;
        assert_eq!(e.authenticate(&first[..first.len() - 1]), None);
        assert_eq!(e.authenticate(""), None);
    }

    /// What the registry relies on: a `&str` looks up a `Box<str>` key, and an entry inserted
    /// through a shared reference is seen by a reader on another thread without a lock of ours.
    #[test]
    fn dashmap_lookups_by_str_see_inserts_from_other_threads() {
        let map: Arc<dashmap::DashMap<Box<str>, TenantId>> = Arc::default();
        let writer = {
            let map = map.clone();
            std::thread::spawn(move || map.entry("pinned".into()).or_insert(TenantId(0)).0)
        };
        assert_eq!(writer.join().ok(), Some(0));
        assert_eq!(map.get("pinned").map(|t| *t), Some(TenantId(0)));
        map.entry("pinned".into()).or_insert(TenantId(3));
        assert_eq!(
            map.get("pinned").map(|t| *t),
            Some(TenantId(0)),
            "first insert wins"
        );
        assert!(map.get("other").is_none());
    }
}
