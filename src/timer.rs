//! The one timer for everything that happens later: delayed deliveries, retries, cron fires,
//! flow-control periods and workflow wait timeouts. A sorted map of `(deadline ms, sequence)
//! -> job` on the server's [`Clock`], a `Notify` that wakes the runner when an earlier
//! deadline arrives, and `sleep` until exactly the next deadline: it never polls. The runner
//! also wakes whenever the clock is moved, frozen or resumed, and then hands over at once, in
//! deadline order, every job the move made due; while the clock stands frozen it sleeps until
//! the clock changes. Scheduling is synchronous so the engine can call it under no runtime. A
//! job already due when it is scheduled (an immediate publish, a freed slot) skips the map: it
//! joins a ready list the runner drains first, in the order scheduled. The runner hands each
//! due job to its caller's function on its own task, in batches: under load many jobs share
//! one wake-up. Imports only `clock` from the crate.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

pub struct Timer<J> {
    clock: Clock,
    inner: Mutex<Inner<J>>,
    notify: Notify,
}

struct Inner<J> {
    queue: BTreeMap<(u64, u64), J>,
    /// Jobs that were due when scheduled, in the order scheduled.
    ready: Vec<J>,
    seq: u64,
    /// Jobs taken by the runner and not yet handed over: neither waiting nor running.
    handing: bool,
    /// Jobs taken so far.
    taken: u64,
}

impl<J: Send + 'static> Timer<J> {
    /// A timer on `clock`: deadlines are its Unix ms.
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner {
                queue: BTreeMap::new(),
                ready: Vec::new(),
                seq: 0,
                handing: false,
                taken: 0,
            }),
            notify: Notify::new(),
        }
    }

    /// The clock the deadlines are read on.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `job` once the clock reads `at_ms` (Unix ms); a deadline in the past runs at once.
    pub(crate) fn schedule(&self, at_ms: u64, job: J) {
        let now = self.clock.now_ms();
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
    pub(crate) fn take_due(&self, now: u64) -> Vec<J> {
        let mut inner = self.inner.lock();
        let mut due = std::mem::take(&mut inner.ready);
        while let Some(entry) = inner.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        inner.handing = !due.is_empty();
        inner.taken += due.len() as u64;
        due
    }

    /// Jobs taken by the runner so far: unchanged between two looks, nothing fell due.
    pub(crate) fn taken(&self) -> u64 {
        self.inner.lock().taken
    }

    /// Whether nothing is due at `now`: no job ready, none with a deadline at or before it,
    /// and none taken but not yet handed over.
    pub(crate) fn quiet_at(&self, now: u64) -> bool {
        let inner = self.inner.lock();
        !inner.handing
            && inner.ready.is_empty()
            && inner.queue.first_key_value().is_none_or(|(k, _)| k.0 > now)
    }

    /// The earliest deadline waiting (0 when jobs are ready to run), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let inner = self.inner.lock();
        match inner.ready.is_empty() {
            true => inner.queue.first_key_value().map(|(k, _)| k.0),
            false => Some(0),
        }
    }

    /// Calls `on_due` with each job when it is due, on this task, until `cancel` fires.
    pub(crate) async fn run(&self, mut on_due: impl FnMut(J), cancel: CancellationToken) {
        // Subscribed before the first look, so no change of the clock goes unseen.
        let mut moved = self.clock.changes();
        loop {
            for job in self.take_due(self.clock.now_ms()) {
                if cancel.is_cancelled() {
                    return;
                }
                on_due(job);
            }
            self.inner.lock().handing = false;
            // Nothing waiting, or a frozen clock: only a new job or a clock change can make
            // anything due; the hour is a backstop.
            let wait = self
                .next_deadline()
                .and_then(|at| self.clock.until(at))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.notify.notified() => {}
                // The sender lives in the clock this timer holds: `changed` cannot fail.
                _ = moved.changed() => {}
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

    const T: u64 = 1_800_000_000_000;

    fn frozen() -> Timer<&'static str> {
        Timer::new(Clock::frozen_at(T))
    }

    /// A timer's runner on its own task, sending every job it hands over to `rx`.
    struct Runner<J> {
        rx: mpsc::UnboundedReceiver<J>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    fn start<J: Send + 'static>(t: &Arc<Timer<J>>) -> Runner<J> {
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let (t, c) = (t.clone(), cancel.clone());
        let task = tokio::spawn(async move { t.run(move |j| tx.send(j).unwrap(), c).await });
        Runner { rx, cancel, task }
    }

    impl<J> Runner<J> {
        async fn next(&mut self) -> J {
            tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
                .await
                .expect("a job in time")
                .expect("the runner runs")
        }

        /// Cancels the runner and waits for it to return.
        async fn stop(self) {
            self.cancel.cancel();
            self.task.await.unwrap();
        }
    }

    #[test]
    fn take_due_returns_jobs_in_deadline_order_and_keeps_later_ones() {
        let t = frozen();
        let base = T + 60_000;
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
        let t = Timer::new(Clock::frozen_at(T));
        let at = T + 60_000;
        for i in 0..100 {
            t.schedule(at, i);
        }
        assert_eq!(t.take_due(at), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_due_when_scheduled_come_first_in_the_order_scheduled() {
        let t = frozen();
        t.schedule(T + 60_000, "later");
        t.schedule(T + 5, "soon");
        t.schedule(T, "now");
        t.schedule(1, "overdue");
        t.schedule(T - 10, "past");
        assert_eq!(t.len(), 5);
        assert_eq!(t.next_deadline(), Some(0), "ready jobs wait for nothing");
        assert_eq!(t.take_due(T), vec!["now", "overdue", "past"]);
        assert_eq!(t.next_deadline(), Some(T + 5));
        assert_eq!(t.take_due(T + 5), vec!["soon"]);
        assert_eq!(t.take_due(T + 60_000), vec!["later"]);
        assert!(t.is_empty());
    }

    #[tokio::test]
    async fn runner_hands_over_jobs_scheduled_while_it_runs() {
        let t = Arc::new(Timer::new(Clock::real()));
        let mut r = start(&t);
        for i in 0..1000 {
            t.schedule(0, i);
            if i % 100 == 0 {
                tokio::task::yield_now().await;
            }
        }
        for i in 0..1000 {
            assert_eq!(r.next().await, i);
        }
        r.stop().await;
    }

    #[tokio::test]
    async fn runner_wakes_for_an_earlier_deadline_added_while_sleeping() {
        let clock = Clock::real();
        let t = Arc::new(Timer::new(clock.clone()));
        t.schedule(clock.now_ms() + 60_000, "late");
        let mut r = start(&t);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let start = clock.now_ms();
        t.schedule(start + 30, "soon");
        assert_eq!(r.next().await, "soon");
        assert!(clock.now_ms() >= start + 30, "fired before its deadline");
        r.stop().await;
    }

    #[tokio::test]
    async fn a_frozen_clock_fires_nothing_until_it_is_moved() {
        let t = Arc::new(frozen());
        t.schedule(T + 1, "one ms later");
        t.schedule(T, "due");
        let mut r = start(&t);
        assert_eq!(r.next().await, "due");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            r.rx.try_recv().is_err(),
            "the frozen clock never reached T + 1"
        );
        t.clock().advance(Duration::from_millis(1));
        assert_eq!(r.next().await, "one ms later");
        r.stop().await;
    }

    #[tokio::test]
    async fn moving_the_clock_hands_over_what_fell_due_at_once_in_deadline_order() {
        let t = Arc::new(frozen());
        let mut r = start(&t);
        let day = 86_400_000;
        t.schedule(T + 3 * day, "third");
        t.schedule(T + day, "first");
        t.schedule(T + 8 * day, "after the week");
        t.schedule(T + 2 * day, "second");
        tokio::task::yield_now().await;
        t.clock().advance(Duration::from_millis(7 * day));
        for expected in ["first", "second", "third"] {
            assert_eq!(r.next().await, expected);
        }
        assert_eq!(t.len(), 1);
        t.clock().set(T + 8 * day).unwrap();
        assert_eq!(r.next().await, "after the week");
        r.stop().await;
    }

    #[tokio::test]
    async fn a_running_clock_moved_forward_wakes_the_runner_before_its_real_deadline() {
        let clock = Clock::real();
        let t = Arc::new(Timer::new(clock.clone()));
        let mut r = start(&t);
        t.schedule(clock.now_ms() + 3_600_000, "in an hour");
        tokio::time::sleep(Duration::from_millis(20)).await;
        clock.advance(Duration::from_secs(3600));
        assert_eq!(r.next().await, "in an hour");
        r.stop().await;
    }

    #[tokio::test]
    async fn a_resumed_clock_reaches_deadlines_in_real_time_again() {
        let t = Arc::new(frozen());
        let mut r = start(&t);
        t.schedule(T + 30, "soon");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(r.rx.try_recv().is_err());
        t.clock().resume();
        assert_eq!(r.next().await, "soon");
        assert!(t.clock().now_ms() >= T + 30);
        r.stop().await;
    }
}
