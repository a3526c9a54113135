//! The one timer for everything that happens later: delayed deliveries, retries and, later,
//! cron fires and timeouts. A sorted map of `(deadline ms, sequence) -> job`, a `Notify`
//! that wakes the runner when an earlier deadline arrives, and `sleep` until exactly the next
//! deadline: it never polls. Scheduling is synchronous so the engine can call it under no
//! runtime. Imports only `clock` from the crate.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;

pub struct Timer<J> {
    inner: Mutex<Inner<J>>,
    notify: Notify,
}

struct Inner<J> {
    queue: BTreeMap<(u64, u64), J>,
    seq: u64,
}

impl<J: Send + 'static> Default for Timer<J> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                queue: BTreeMap::new(),
                seq: 0,
            }),
            notify: Notify::new(),
        }
    }
}

impl<J: Send + 'static> Timer<J> {
    /// Runs `job` at `at_ms` (Unix ms); a deadline in the past runs at once.
    pub fn schedule(&self, at_ms: u64, job: J) {
        let earliest = {
            let mut inner = self.inner.lock();
            inner.seq += 1;
            let key = (at_ms, inner.seq);
            let earliest = inner.queue.first_key_value().is_none_or(|(k, _)| key < *k);
            inner.queue.insert(key, job);
            earliest
        };
        if earliest {
            self.notify.notify_one();
        }
    }

    /// Number of jobs waiting.
    pub fn len(&self) -> usize {
        self.inner.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every job due at `now`, in deadline order.
    pub fn take_due(&self, now: u64) -> Vec<J> {
        let mut inner = self.inner.lock();
        let later = inner.queue.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut inner.queue, later);
        due.into_values().collect()
    }

    fn next_deadline(&self) -> Option<u64> {
        self.inner.lock().queue.first_key_value().map(|(k, _)| k.0)
    }

    /// Sends each job into `out` when it is due, until `cancel` fires or `out` closes.
    pub async fn run(&self, out: mpsc::UnboundedSender<J>, cancel: CancellationToken) {
        loop {
            for job in self.take_due(now_ms()) {
                if out.send(job).is_err() {
                    return;
                }
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

    #[test]
    fn take_due_returns_jobs_in_deadline_order_and_keeps_later_ones() {
        let t = Timer::default();
        t.schedule(30, "c");
        t.schedule(10, "a");
        t.schedule(20, "b");
        t.schedule(40, "d");
        assert_eq!(t.take_due(30), vec!["a", "b", "c"]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.take_due(39), Vec::<&str>::new());
        assert_eq!(t.take_due(40), vec!["d"]);
    }

    #[test]
    fn equal_deadlines_keep_insertion_order() {
        let t = Timer::default();
        for i in 0..100 {
            t.schedule(5, i);
        }
        assert_eq!(t.take_due(5), (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn runner_wakes_for_an_earlier_deadline_added_while_sleeping() {
        let t = Arc::new(Timer::default());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        t.schedule(now_ms() + 60_000, "late");
        let runner = tokio::spawn({
            let (t, c) = (t.clone(), cancel.clone());
            async move { t.run(tx, c).await }
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
