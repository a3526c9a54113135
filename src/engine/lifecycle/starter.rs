//! Attempts the engine starts itself. A plain message due when it is published (no queue, no
//! flow-control key, no workflow step) starts its first attempt inside the publish's own lock,
//! with the same admission a timer job's `start_attempt` runs; the attempt is handed to the
//! [`Starter`] once the lock is released. That saves a timer job, a second lock and its
//! lookups, and the delivery task starts on the worker that holds the body in cache.

use crate::engine::lifecycle::attempt::Attempt;

/// Takes an attempt the engine has just started (marked ACTIVE and logged) and sends it on
/// its own task, as the dispatcher does with the attempts of timer jobs.
pub(crate) trait Starter: Send + Sync {
    /// False once shutdown has begun: the engine then leaves new attempts to the timer.
    fn open(&self) -> bool;
    fn start(&self, attempt: Attempt);
    /// Attempts sent and not yet finished.
    fn in_flight(&self) -> usize;
}

/// Attempts started under a tenant's lock, sent once it is released (`Engine::with`); nearly
/// always one, so the first needs no allocation.
#[derive(Debug, Default)]
pub(crate) struct Started {
    first: Option<Attempt>,
    rest: Vec<Attempt>,
}

impl Started {
    pub(crate) fn push(&mut self, a: Attempt) {
        match self.first {
            None => self.first = Some(a),
            Some(_) => self.rest.push(a),
        }
    }

    /// Everything pushed so far, if anything; leaves this empty.
    pub(crate) fn take(&mut self) -> Option<Self> {
        self.first.is_some().then(|| std::mem::take(self))
    }

    /// Hands every attempt to `starter`, in the order started.
    pub(crate) fn send(self, starter: &dyn Starter) {
        for a in self.first.into_iter().chain(self.rest) {
            starter.start(a);
        }
    }
}
