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
pub(crate) mod tenant;
pub(crate) mod workflow;

use std::sync::{Arc, OnceLock};

use crate::clock::Clock;
use crate::config::{Config, Limits, TEST_USERS};
use crate::timer::Timer;

pub(crate) use error::{Error, Result};
pub(crate) use lifecycle::starter::Starter;
pub(crate) use tenant::{Locked, LogExtra, Tenant, TenantState};

use lifecycle::message::Message;
use store::logs::{self, State};

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
        self.with(t, |cx| {
            let st = &mut *cx.st;
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

    /// Runs the transition `f` under the tenant's lock, at the clock's `now`. What `f` leaves
    /// for later is done once the lock is released, so that the lock is held as briefly as
    /// possible: attempts it started are handed to the starter (spawning may wake a parked
    /// worker thread), and log entries it evicted are dropped (freeing old message bodies,
    /// long out of cache).
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
        logs::EVICTED.with(|spare| {
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
        self.with(t, |cx| cx.st.keys.clone())
    }

    /// Next becomes current and a fresh next key is made. State is in memory only.
    pub(crate) fn rotate_keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |cx| {
            let keys = &mut cx.st.keys;
            *keys = SigningKeys {
                current: keys.next.clone(),
                next: crate::ids::signing_key().into(),
            };
            keys.clone()
        })
    }

    /// Number of messages waiting or in delivery for a tenant.
    pub fn pending(&self, t: TenantId) -> usize {
        self.with(t, |cx| cx.st.messages.len())
    }
}
