//! A tenant's global parallelism: how many of its deliveries are in flight, and the line of
//! its messages waiting for one of the quota's `global_parallelism` slots, first come, first
//! served.

use std::sync::Arc;

use crate::engine::limits::waitline::WaitLine;

#[derive(Debug, Default)]
pub(crate) struct GlobalLine {
    in_flight: usize,
    waiting: WaitLine,
}

impl GlobalLine {
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether `id` may start under `max` slots; if not, it waits in line.
    pub(crate) fn admits(&mut self, id: &Arc<str>, max: usize) -> bool {
        if self.waiting.is_turn_of(id) && self.in_flight < max {
            return true;
        }
        self.waiting.push(id);
        false
    }

    /// Whether a message due now would have to wait in line.
    pub(crate) fn busy(&self, max: usize) -> bool {
        !self.waiting.is_empty() || self.in_flight >= max
    }

    /// Puts `id` at the back of the line unless it already waits.
    pub(crate) fn push(&mut self, id: &Arc<str>) {
        self.waiting.push(id);
    }

    /// Takes `id` out of the line; false if it was not in it.
    pub(crate) fn unwait(&mut self, id: &Arc<str>) -> bool {
        self.waiting.remove(id)
    }

    /// An admitted delivery starts: it leaves the line and takes a slot.
    pub(crate) fn start(&mut self, id: &Arc<str>) {
        self.waiting.remove(id);
        self.in_flight += 1;
    }

    /// A delivery finished and freed its slot.
    pub(crate) fn finish(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub(crate) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The first in line.
    pub(crate) fn front(&self) -> Option<&Arc<str>> {
        self.waiting.front()
    }

    /// The first in line for the slots free under `max`, less `reserved` slots already
    /// handed over.
    pub(crate) fn next_up(&self, max: usize, reserved: usize) -> impl Iterator<Item = &Arc<str>> {
        let free = max.saturating_sub(self.in_flight).saturating_sub(reserved);
        self.waiting.iter().take(free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_waits_while_slots_are_full_or_others_are_ahead() {
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        let mut line = GlobalLine::default();
        assert!(line.admits(&a, 1));
        line.start(&a);
        assert!(line.busy(1));
        assert!(!line.admits(&b, 1), "no free slot");
        assert!(!line.admits(&c, 1));
        line.finish();
        assert!(!line.admits(&c, 1), "b is ahead of c");
        assert_eq!(line.next_up(1, 0).collect::<Vec<_>>(), vec![&b]);
        assert_eq!(
            line.next_up(1, 1).count(),
            0,
            "the one free slot is handed over"
        );
        assert!(line.admits(&b, 1));
        line.start(&b);
        assert_eq!((line.in_flight(), line.front()), (1, Some(&c)));
        assert!(line.unwait(&c) && !line.has_waiting());
    }
}
