//! Where a tenant's workflow runs live: the active runs by id, the most recent ended runs
//! (whole, for logs and lookups), and the ids of many more ended runs. The ids let ending a run
//! again (`DELETE /v2/workflows/runs/{id}`, which the workflow SDK repeats when a trigger is
//! deduplicated) answer 200 as the hosted service does, however long after the first call,
//! while a run id never seen is still a 404. They are bounded like the log: at most the
//! preset's `max_log_entries` ids per user (a few MB at most), the oldest ended run forgotten
//! first. Must not import axum, reqwest or tokio::net.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::engine::workflow::Run;

/// Ended runs kept whole for logs and lookups, per tenant.
const ENDED_KEPT: usize = 1000;

/// Active runs by id, the most recent ended ones, and the ids of many more ended ones.
#[derive(Debug)]
pub(crate) struct Runs {
    pub(crate) active: HashMap<String, Run>,
    pub(crate) ended: VecDeque<Run>,
    pub(crate) ended_ids: EndedIds,
}

impl Runs {
    /// No runs; the ids of up to `ended_ids` ended runs will be kept.
    pub(crate) fn new(ended_ids: usize) -> Self {
        Self {
            active: HashMap::new(),
            ended: VecDeque::new(),
            ended_ids: EndedIds::new(ended_ids),
        }
    }

    /// Moves a run from active to ended.
    pub(crate) fn end(&mut self, id: &str) -> Option<&Run> {
        let run = self.active.remove(id)?;
        self.ended_ids.insert(id);
        if self.ended.len() == ENDED_KEPT {
            self.ended.pop_front();
        }
        self.ended.push_back(run);
        self.ended.back()
    }
}

/// The ids of the runs that ended most recently, at most `capacity` of them.
#[derive(Debug, Default)]
pub(crate) struct EndedIds {
    order: VecDeque<Arc<str>>,
    set: HashSet<Arc<str>>,
    capacity: usize,
}

impl EndedIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// Remembers that the run `id` ended; a run id reused after it ended keeps its place.
    pub(crate) fn insert(&mut self, id: &str) {
        if self.capacity == 0 || self.set.contains(id) {
            return;
        }
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        let id: Arc<str> = id.into();
        self.order.push_back(id.clone());
        self.set.insert(id);
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_ended_run_is_forgotten_first() {
        let mut e = EndedIds::new(2);
        e.insert("a");
        e.insert("b");
        e.insert("a");
        assert!(e.contains("a") && e.contains("b"));
        e.insert("c");
        assert!(!e.contains("a"), "a ended first");
        assert!(e.contains("b") && e.contains("c"));
        assert!(!e.contains("never"));
    }
}
