//! The domain, synchronous: messages, their delivery state machine, the DLQ, the event log,
//! deduplication and signing keys, each tenant (test user) apart from the others. The engine
//! owns every state change. It never sends HTTP and never awaits: it writes jobs into the
//! timer, and the dispatcher (in `delivery`) asks it to start and finish attempts.
//! Must not import axum, reqwest, clap, tokio::net, `api`, `delivery`, `server` or `cli`.

pub mod attempt;
pub mod backoff;
pub mod callback;
pub mod cron;
pub mod dedup;
pub mod dlq;
pub mod duration;
pub mod error;
pub mod expr;
pub mod filter;
pub mod flow;
pub mod flow_ops;
pub mod headers;
pub mod logs;
pub mod manage;
pub mod message;
pub mod names;
pub mod options;
pub mod publish;
pub mod queues;
pub mod quota;
pub mod schedules;
pub mod topics;
pub mod workflow;
pub mod workflow_admin;
pub mod workflow_dlq;
pub mod workflow_logs;
pub mod workflow_run;
pub mod workflow_steps;
pub mod workflow_wait;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use subtle::ConstantTimeEq;

use crate::config::{Config, Limits, TestUser, TEST_USERS};
use crate::timer::Timer;

pub use error::{Error, Result};

use dedup::Dedup;
use dlq::Dlq;
use logs::{LogEntry, LogRing, Response, State};
use message::Message;

/// Index of a tenant (one per test user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(pub usize);

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
pub struct SigningKeys {
    pub current: String,
    pub next: String,
}

/// All state of one tenant, behind one lock: a transition takes the guard, changes the
/// state, and drops it before anything waits.
#[derive(Debug)]
pub(crate) struct TenantState {
    messages: HashMap<Arc<str>, Message>,
    logs: LogRing,
    dlq: Dlq,
    dedup: Dedup,
    keys: SigningKeys,
    topics: topics::Topics,
    queues: queues::Queues,
    schedules: schedules::Schedules,
    flows: HashMap<String, flow::FlowKey>,
    /// Deliveries in flight for this tenant, and the ones waiting for global parallelism.
    global_in_flight: usize,
    global_waitlist: std::collections::VecDeque<Arc<str>>,
    runs: workflow::Runs,
    /// Workflow waiters and stored run-scoped notifications.
    waits: workflow_wait::Waits,
}

pub struct Tenant {
    pub user: TestUser,
    state: Mutex<TenantState>,
    quotas: quota::Quotas,
}

pub struct Engine {
    config: Arc<Config>,
    tenants: Vec<Tenant>,
    timer: Arc<Timer<Job>>,
}

impl Engine {
    pub fn new(config: Arc<Config>, timer: Arc<Timer<Job>>) -> Self {
        let cap = config.limits().max_log_entries;
        let tenants = TEST_USERS
            .iter()
            .map(|u| Tenant {
                user: u.clone(),
                quotas: Default::default(),
                state: Mutex::new(TenantState::new(u, cap)),
            })
            .collect();
        Self {
            config,
            tenants,
            timer,
        }
    }

    /// Forgets everything of a tenant (`/dev/reset`): messages, logs, DLQ, resources, runs,
    /// and rotated keys. Timer jobs of the old state find nothing and do nothing.
    pub fn reset(&self, t: TenantId) {
        let cap = self.limits().max_log_entries;
        let user = self.tenants[t.0].user.clone();
        self.with(t, |st| {
            let mut fresh = TenantState::new(&user, cap);
            fresh.schedules = std::mem::take(&mut st.schedules);
            fresh.schedules.clear();
            fresh.waits = std::mem::take(&mut st.waits);
            fresh.waits.clear();
            *st = fresh;
        });
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn limits(&self) -> &'static Limits {
        self.config.limits()
    }

    pub fn timer(&self) -> &Arc<Timer<Job>> {
        &self.timer
    }

    /// The tenant whose token this is. Compares against every token in constant time.
    pub fn authenticate(&self, token: &str) -> Option<TenantId> {
        let mut found = None;
        for (i, t) in self.tenants.iter().enumerate() {
            if bool::from(t.user.token.as_bytes().ct_eq(token.as_bytes())) {
                found = Some(TenantId(i));
            }
        }
        found
    }

    pub fn tenant(&self, t: TenantId) -> &Tenant {
        &self.tenants[t.0]
    }

    pub fn tenant_ids(&self) -> impl Iterator<Item = TenantId> {
        (0..self.tenants.len()).map(TenantId)
    }

    fn with<R>(&self, t: TenantId, f: impl FnOnce(&mut TenantState) -> R) -> R {
        let mut guard = self.tenants[t.0].state.lock();
        f(&mut guard)
    }

    pub fn keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |st| st.keys.clone())
    }

    /// Next becomes current and a fresh next key is made. State is in memory only.
    pub fn rotate_keys(&self, t: TenantId) -> SigningKeys {
        self.with(t, |st| {
            st.keys = SigningKeys {
                current: std::mem::take(&mut st.keys.next),
                next: crate::ids::signing_key(),
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
    fn new(u: &TestUser, cap: usize) -> Self {
        Self {
            messages: HashMap::new(),
            logs: LogRing::new(cap),
            dlq: Dlq::default(),
            dedup: Dedup::default(),
            keys: SigningKeys {
                current: u.current_signing_key.to_string(),
                next: u.next_signing_key.to_string(),
            },
            topics: Default::default(),
            queues: Default::default(),
            schedules: Default::default(),
            flows: HashMap::new(),
            global_in_flight: 0,
            global_waitlist: Default::default(),
            runs: Default::default(),
            waits: Default::default(),
        }
    }

    /// Appends a log entry for `msg` in `state`.
    fn log(&mut self, now: u64, state: State, msg: &Message, extra: LogExtra) {
        self.logs.push(LogEntry {
            seq: 0,
            time: now,
            state,
            message_id: msg.id.clone(),
            spec: msg.spec.clone(),
            error: extra.error,
            next_delivery_time: extra.next_delivery_time,
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
