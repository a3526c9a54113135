//! The one timer for everything that happens later: delayed deliveries, retries and, later,
//! cron fires and timeouts. A sorted map of `(deadline ms, sequence) -> job`, a `Notify`
//! that wakes the runner when an earlier deadline arrives, and `sleep` until exactly the next
//! deadline: it never polls. Scheduling is synchronous so the engine can call it under no
//! runtime. A job already due when it is scheduled (an immediate publish, a freed slot) skips
//! the map: it joins a ready list the runner drains first, in the order scheduled. The runner
//! hands each due job to its caller's function on its own task, in batches: under load many
//! jobs share one wake-up. Imports only `clock` from the crate.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;

pub struct Timer<J> {
    inner: Mutex<Inner<J>>,
    notify: Notify,
}

struct Inner<J> {
    queue: BTreeMap<(u64, u64), J>,
    /// Jobs that were due when scheduled, in the order scheduled.
    ready: Vec<J>,
    seq: u64,
}

impl<J: Send + 'static> Default for Timer<J> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                queue: BTreeMap::new(),
                ready: Vec::new(),
                seq: 0,
            }),
            notify: Notify::new(),
        }
    }
}

impl<J: Send + 'static> Timer<J> {
    /// Runs `job` at `at_ms` (Unix ms); a deadline in the past runs at once.
    pub fn schedule(&self, at_ms: u64, job: J) {
        let now = now_ms();
        let wake = {
            let mut inner = self.inner.lock();
            if at_ms <= now {
                // One wake-up for a whole batch: the runner drains the list at once.
                inner.ready.push(job);
                inner.ready.len() == 1
            } else {
                inner.seq += 1;
                let key = (at_ms, inner.seq);
                let earliest = inner.queue.first_key_value().is_none_or(|(k, _)| key < *k);
                inner.queue.insert(key, job);
                earliest
            }
        };
        if wake {
            self.notify.notify_one();
        }
    }

    /// Number of jobs waiting.
    pub fn len(&self) -> usize {
        let inner = self.inner.lock();
        inner.queue.len() + inner.ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every job due at `now`: those due when scheduled first, in the
    /// order scheduled, then the others in deadline order.
    pub fn take_due(&self, now: u64) -> Vec<J> {
        let mut inner = self.inner.lock();
        let mut due = std::mem::take(&mut inner.ready);
        while let Some(entry) = inner.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        due
    }

    fn next_deadline(&self) -> Option<u64> {
        let inner = self.inner.lock();
        match inner.ready.is_empty() {
            true => inner.queue.first_key_value().map(|(k, _)| k.0),
            false => Some(0),
        }
    }

    /// Calls `on_due` with each job when it is due, on this task, until `cancel` fires.
    pub async fn run(&self, mut on_due: impl FnMut(J), cancel: CancellationToken) {
        loop {
            for job in self.take_due(now_ms()) {
                if cancel.is_cancelled() {
                    return;
                }
                on_due(job);
            }
            let wait = match self.next_deadline() {
                Some(at) => Duration::from_millis(at.saturating_sub(now_ms())),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.notify.notified() => {}
                _ = cancel.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::mpsc;

    #[test]
    fn take_due_returns_jobs_in_deadline_order_and_keeps_later_ones() {
        let t = Timer::default();
        let base = now_ms() + 60_000;
        t.schedule(base + 30, "c");
        t.schedule(base + 10, "a");
        t.schedule(base + 20, "b");
        t.schedule(base + 40, "d");
        assert_eq!(t.take_due(base + 30), vec!["a", "b", "c"]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.take_due(base + 39), Vec::<&str>::new());
        assert_eq!(t.take_due(base + 40), vec!["d"]);
    }

    #[test]
    fn equal_deadlines_keep_insertion_order() {
        let t = Timer::default();
        let at = now_ms() + 60_000;
        for i in 0..100 {
            t.schedule(at, i);
        }
        assert_eq!(t.take_due(at), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_due_when_scheduled_come_first_in_the_order_scheduled() {
        let t = Timer::default();
        let now = now_ms();
        t.schedule(now + 60_000, "later");
        t.schedule(now + 5, "soon");
        t.schedule(now, "now");
        t.schedule(1, "overdue");
        t.schedule(now - 10, "past");
        assert_eq!(t.len(), 5);
        assert_eq!(t.take_due(now), vec!["now", "overdue", "past"]);
        assert_eq!(t.take_due(now + 5), vec!["soon"]);
        assert_eq!(t.take_due(now + 60_000), vec!["later"]);
        assert!(t.is_empty());
    }

    #[tokio::test]
    async fn runner_hands_over_jobs_scheduled_while_it_runs() {
        let t = Arc::new(Timer::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let runner = tokio::spawn({
            let (t, c) = (t.clone(), cancel.clone());
            async move { t.run(move |j| tx.send(j).unwrap(), c).await }
        });
        for i in 0..1000 {
            t.schedule(0, i);
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        for i in 0..1000 {
            let got = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
            assert_eq!(got.unwrap(), Some(i));
        }
        cancel.cancel();
        runner.await.unwrap();
    }

    #[tokio::test]
    async fn runner_wakes_for_an_earlier_deadline_added_while_sleeping() {
        let t = Arc::new(Timer::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        t.schedule(now_ms() + 60_000, "late");
        let runner = tokio::spawn({
            let (t, c) = (t.clone(), cancel.clone());
            async move { t.run(move |j| tx.send(j).unwrap(), c).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = now_ms();
        t.schedule(start + 30, "soon");
        let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap();
        assert_eq!(got, Some("soon"));
        assert!(now_ms() >= start + 30, "fired before its deadline");
        cancel.cancel();
        runner.await.unwrap();
    }
}
