//! Where a tenant's workflow runs live: the active runs by id, the most recent ended runs
//! (whole, for logs and lookups), and the ids of many more ended runs. The ids let ending a run
//! again (`DELETE /v2/workflows/runs/{id}`, which the workflow SDK repeats when a trigger is
//! deduplicated) answer 200 as the hosted service does, however long after the first call,
//! while a run id never seen is still a 404. They are bounded like the log: at most the
//! preset's `max_log_entries` ids per user (a few MB at most), the oldest ended run forgotten
//! first. Must not import axum, reqwest or tokio::net.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::engine::persister::Change;
use crate::engine::workflow::{Run, RunState};

/// Ended runs kept whole for logs and lookups, per tenant.
const ENDED_KEPT: usize = 1000;

/// Active runs by id, the most recent ended ones, and the ids of many more ended ones. Every
/// change of a run goes through a method that notes it, for the persister.
#[derive(Debug)]
pub(crate) struct Runs {
    active: HashMap<String, Run>,
    ended: VecDeque<Run>,
    pub(crate) ended_ids: EndedIds,
    /// Ids of the runs changed since the last `drain_changes`; `None`: not recording.
    changed: Option<Vec<String>>,
    /// Runs started, and ended by state, so far (`/metrics`).
    pub(crate) counts: RunCounts,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RunCounts {
    pub(crate) started: u64,
    pub(crate) success: u64,
    pub(crate) failed: u64,
    pub(crate) canceled: u64,
}

impl Runs {
    /// No runs; the ids of up to `ended_ids` ended runs will be kept. `record`: changed runs
    /// are recorded for a persister.
    pub(crate) fn new(ended_ids: usize, record: bool) -> Self {
        Self {
            active: HashMap::new(),
            ended: VecDeque::new(),
            ended_ids: EndedIds::new(ended_ids),
            changed: record.then(Vec::new),
            counts: RunCounts::default(),
        }
    }

    pub(crate) fn record_changes(&mut self) {
        self.changed.get_or_insert_with(Vec::new);
    }

    fn note(&mut self, id: &str) {
        if let Some(c) = &mut self.changed {
            c.push(id.to_string());
        }
    }

    pub(crate) fn active(&self, id: &str) -> Option<&Run> {
        self.active.get(id)
    }

    pub(crate) fn is_active(&self, id: &str) -> bool {
        self.active.contains_key(id)
    }

    pub(crate) fn active_mut(&mut self, id: &str) -> Option<&mut Run> {
        self.note(id);
        self.active.get_mut(id)
    }

    /// An active run, or else the most recent ended run of that id.
    pub(crate) fn find(&self, id: &str) -> Option<&Run> {
        self.active
            .get(id)
            .or_else(|| self.ended.iter().rev().find(|r| r.id == id))
    }

    /// The run `id` created at `created_at`, active or ended: a run id may be reused once its
    /// run has ended.
    pub(crate) fn find_at(&self, id: &str, created_at: u64) -> Option<&Run> {
        self.active(id)
            .filter(|r| r.created_at == created_at)
            .or_else(|| {
                self.ended_newest_first()
                    .find(|r| r.id == id && r.created_at == created_at)
            })
    }

    pub(crate) fn find_mut(&mut self, id: &str) -> Option<&mut Run> {
        self.note(id);
        match self.active.get_mut(id) {
            Some(run) => Some(run),
            None => self.ended.iter_mut().rev().find(|r| r.id == id),
        }
    }

    pub(crate) fn active_runs(&self) -> impl Iterator<Item = &Run> {
        self.active.values()
    }

    pub(crate) fn ended_newest_first(&self) -> impl Iterator<Item = &Run> {
        self.ended.iter().rev()
    }

    /// Every run kept whole: the active ones, then the ended ones, oldest first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Run> {
        self.active.values().chain(self.ended.iter())
    }

    pub(crate) fn start(&mut self, run: Run) {
        self.note(&run.id);
        self.counts.started += 1;
        self.active.insert(run.id.clone(), run);
    }

    /// Moves a run from active to ended.
    pub(crate) fn end(&mut self, id: &str) -> Option<&Run> {
        let run = self.active.remove(id)?;
        self.note(id);
        match run.state {
            RunState::Success => self.counts.success += 1,
            RunState::Failed => self.counts.failed += 1,
            RunState::Canceled => self.counts.canceled += 1,
            RunState::Running => {}
        }
        self.ended_ids.insert(id);
        if self.ended.len() == ENDED_KEPT {
            self.ended.pop_front();
        }
        self.ended.push_back(run);
        self.ended.back()
    }

    /// The runs changed since the last call, each once, as they are now.
    pub(crate) fn drain_changes(&mut self, out: &mut Vec<Change>) {
        let Some(changed) = &mut self.changed else {
            return;
        };
        let mut ids = std::mem::take(changed);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let (run, ended) = match self.active.get(&id) {
                Some(run) => (run, false),
                None => match self.ended.iter().rev().find(|r| r.id == id) {
                    Some(run) => (run, true),
                    None => continue,
                },
            };
            out.push(Change::Run {
                run: Box::new(run.clone()),
                ended,
            });
        }
    }

    /// Puts back runs kept by an earlier run of the server (`-persist`): the active ones, and
    /// the ended ones oldest first (only the newest are kept whole; all count as ended).
    pub(crate) fn restore(&mut self, runs: Vec<(Run, bool)>) {
        for (run, ended) in runs {
            if !ended {
                self.active.insert(run.id.clone(), run);
                continue;
            }
            self.ended_ids.insert(&run.id);
            if self.ended.len() == ENDED_KEPT {
                self.ended.pop_front();
            }
            self.ended.push_back(run);
        }
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
