//! The engine's side of persistence: a transition that changes a user's definitions (URL
//! groups, queues, schedules, flow-control pins, signing keys) marks its tenant, and once the
//! tenant's lock is released the engine tells the [`Persister`], which saves them before the
//! request that made the change is answered. No persister: nothing is saved.

use crate::engine::{Engine, TenantId};

pub(crate) trait Persister: Send + Sync {
    /// `t`'s definitions or keys changed; called outside the tenant's lock.
    fn definitions_changed(&self, engine: &Engine, t: TenantId);
}
