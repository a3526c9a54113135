//! The engine's side of persistence. A transition that changes a user's definitions (URL
//! groups, queues, schedules, flow-control pins, signing keys) marks its tenant, and once the
//! tenant's lock is released the engine tells the [`Persister`], which saves them before the
//! request that made the change is answered. A pending message kept, retried or gone is told
//! as it happens, under the lock, in the order of the changes ([`Change`]); the persister
//! queues it and writes it soon after. No persister: nothing is saved.

use std::sync::Arc;

use crate::engine::lifecycle::message::Message;
use crate::engine::{Engine, TenantId};

/// A change of a tenant's pending messages.
pub(crate) enum Change<'a> {
    /// Stored, or stored again with a new retry count and due time.
    Kept(&'a Message),
    /// Delivered, dead-lettered or cancelled.
    Gone(&'a Arc<str>),
    /// Every message (`/dev/reset`).
    Cleared,
}

pub(crate) trait Persister: Send + Sync {
    /// `t`'s definitions or keys changed; called outside the tenant's lock.
    fn definitions_changed(&self, engine: &Engine, t: TenantId);
    /// `t`'s pending messages changed; called under the tenant's lock, so it must not block.
    fn messages_changed(&self, t: TenantId, change: Change<'_>);
}
