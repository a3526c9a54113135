//! The engine's side of persistence. A transition that changes a user's definitions (URL
//! groups, queues, schedules, flow-control pins, signing keys) marks its tenant, and once the
//! tenant's lock is released the engine tells the [`Persister`], which saves them before the
//! request that made the change is answered. Everything else a transition changes (pending
//! messages, log entries, DLQ entries, deduplication ids) is recorded as [`Change`]s while it
//! runs and handed over in one piece, in order, before the lock is released; the persister
//! queues them and writes them soon after. No persister: nothing is recorded or saved.

use std::sync::Arc;

use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::logs::LogEntry;
use crate::engine::workflow::wait::Waits;
use crate::engine::workflow::Run;
use crate::engine::{Engine, TenantId};

/// One change of a tenant's state, as written to disk.
#[derive(Debug)]
pub(crate) enum Change {
    /// A message stored, or stored again with a new retry count and due time.
    Kept(Pending),
    /// A message delivered, dead-lettered or cancelled.
    Gone(Arc<str>),
    /// Everything of the tenant (`/dev/reset`).
    Cleared,
    Logged(LogEntry),
    DeadLettered(DlqEntry),
    /// A DLQ entry removed (deleted, retried, expired or pushed out by the bounds).
    DlqGone(String),
    /// A schedule created, overwritten, fired or triggered (its settings are definitions).
    Schedule(ScheduleTimes),
    ScheduleGone(String),
    /// A workflow run started, changed or ended, as it is now.
    Run {
        run: Box<Run>,
        ended: bool,
    },
    /// Every waiter and stored notification of the tenant, as they are now.
    Waits(Box<Waits>),
    /// A deduplication id remembered until `expires`.
    Deduplicated {
        key: String,
        id: Arc<str>,
        expires: u64,
    },
}

/// What is kept of a pending message: its spec and where it stands.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: Arc<str>,
    pub(crate) created_at: u64,
    pub(crate) not_before: u64,
    pub(crate) retried: u32,
    pub(crate) spec: Arc<MessageSpec>,
    /// Just published: its spec is written too (later changes are its due time and count).
    pub(crate) new: bool,
}

impl Pending {
    pub(crate) fn of(m: &Message, new: bool) -> Self {
        Self {
            id: m.id.clone(),
            created_at: m.created_at,
            not_before: m.not_before,
            retried: m.retried,
            spec: m.spec.clone(),
            new,
        }
    }
}

/// The times of a schedule that its definition does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScheduleTimes {
    pub(crate) id: String,
    pub(crate) created_at: u64,
    pub(crate) last: Option<u64>,
    pub(crate) next: Option<u64>,
}

/// The changes a component records while persistence is on; off, recording costs nothing.
#[derive(Debug)]
pub(crate) struct Recorder(Option<Vec<Change>>);

impl Recorder {
    pub(crate) fn new(on: bool) -> Self {
        Self(on.then(Vec::new))
    }

    pub(crate) fn is_on(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn record(&mut self, change: impl FnOnce() -> Change) {
        if let Some(v) = &mut self.0 {
            v.push(change());
        }
    }

    /// Moves what was recorded to the end of `out`.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Change>) {
        if let Some(v) = &mut self.0 {
            out.append(v);
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new(false)
    }
}

pub(crate) trait Persister: Send + Sync {
    /// `t`'s definitions or keys changed; called outside the tenant's lock.
    fn definitions_changed(&self, engine: &Engine, t: TenantId);
    /// The changes of one transition of `t`, in order; called under the tenant's lock, so it
    /// must not block.
    fn changed(&self, t: TenantId, changes: Vec<Change>);
}

/// Bytes as a base64 string, for the serde form of what is kept (`#[serde(with = "…")]`).
pub(crate) mod b64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }

    /// The same for an optional body.
    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(b: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
            match b {
                Some(b) => super::serialize(b, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Bytes>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| STANDARD.decode(text).map(Bytes::from))
                .transpose()
                .map_err(serde::de::Error::custom)
        }
    }
}
