//! A line of message ids waiting for a slot (a flow-control key's waitlist, a tenant's global
//! parallelism line): first come, first served, with O(1) membership, O(1) removal from the
//! front (the normal case: only the first in line is admitted) and amortised O(1) removal from
//! anywhere else (a cancelled or delivered message), however long the line grows.
//!
//! Removal from the middle is lazy: the id leaves `members`, and its entry in `order` becomes
//! stale (its sequence no longer matches) until it reaches the front or the line is compacted.
//! The front entry is always live.

use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub(crate) struct WaitLine {
    /// Arrival order: `(sequence, id)`; entries whose sequence is not in `members` are stale.
    order: VecDeque<(u64, Arc<str>)>,
    /// The ids waiting, with the sequence of their live entry.
    members: rustc_hash::FxHashMap<Arc<str>, u64>,
    seq: u64,
}

impl WaitLine {
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The first id in line.
    pub(crate) fn front(&self) -> Option<&Arc<str>> {
        self.order.front().map(|(_, id)| id)
    }

    /// Whether `id` may go first: it is first in line, or nobody waits.
    pub(crate) fn is_turn_of(&self, id: &str) -> bool {
        self.front().is_none_or(|f| &**f == id)
    }

    /// Puts `id` at the back of the line unless it already waits; true if it was added.
    pub(crate) fn push(&mut self, id: &Arc<str>) -> bool {
        if self.members.contains_key(&**id) {
            return false;
        }
        self.seq += 1;
        self.members.insert(id.clone(), self.seq);
        self.order.push_back((self.seq, id.clone()));
        true
    }

    /// Takes `id` out of the line; false if it was not in it.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        if self.members.remove(id).is_none() {
            return false;
        }
        self.drop_stale_front();
        if self.order.len() > 64 && self.order.len() > 2 * self.members.len() {
            let members = &self.members;
            self.order
                .retain(|(seq, id)| members.get(&**id) == Some(seq));
        }
        true
    }

    /// The ids in line, first first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        self.order
            .iter()
            .filter(|(seq, id)| self.members.get(&**id) == Some(seq))
            .map(|(_, id)| id)
    }

    fn drop_stale_front(&mut self) {
        while let Some((seq, id)) = self.order.front() {
            if self.members.get(&**id) == Some(seq) {
                break;
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(l: &WaitLine) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_arrival_order_and_ignores_repeats() {
        let mut l = WaitLine::default();
        for id in ["a", "b", "a", "c"] {
            l.push(&Arc::from(id));
        }
        assert_eq!(ids(&l), ["a", "b", "c"]);
        assert_eq!(l.len(), 3);
        assert!(l.is_turn_of("a"));
        assert!(!l.is_turn_of("b"));
    }

    #[test]
    fn removal_from_the_middle_keeps_the_rest_in_order() {
        let mut l = WaitLine::default();
        for id in ["a", "b", "c", "d"] {
            l.push(&Arc::from(id));
        }
        assert!(l.remove("c"));
        assert!(!l.remove("c"));
        assert_eq!(ids(&l), ["a", "b", "d"]);
        assert!(l.remove("a"));
        assert_eq!(l.front().map(|s| &**s), Some("b"));
        assert!(l.remove("b"));
        assert_eq!(
            l.front().map(|s| &**s),
            Some("d"),
            "stale entries never lead"
        );
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn an_id_that_left_and_came_back_waits_at_the_back() {
        let mut l = WaitLine::default();
        for id in ["a", "b", "c"] {
            l.push(&Arc::from(id));
        }
        l.remove("b");
        l.push(&Arc::from("b"));
        assert_eq!(ids(&l), ["a", "c", "b"]);
        l.remove("a");
        l.remove("c");
        assert!(l.is_turn_of("b"));
        assert!(!l.is_empty());
        l.remove("b");
        assert!(l.is_empty() && l.is_turn_of("anyone"));
    }

    #[test]
    fn compaction_bounds_stale_entries() {
        let mut l = WaitLine::default();
        l.push(&Arc::from("head"));
        for i in 0..10_000 {
            let id: Arc<str> = Arc::from(format!("m{i}"));
            l.push(&id);
            l.remove(&id);
        }
        assert_eq!(l.len(), 1);
        assert!(l.order.len() <= 130, "order kept {} entries", l.order.len());
        assert_eq!(ids(&l), ["head"]);
    }
}
