//! What `GET /metrics` reports of a tenant beside what its state already holds (pending
//! messages, the DLQ, active runs): how many messages reached each state, counted where the log
//! records the transition; and how long delivery attempts took, as a histogram. Kept under the
//! tenant's lock with the rest; a reset starts them again from zero (Prometheus reads that as
//! a counter reset).

use std::time::Duration;

use crate::engine::store::logs::State;
use crate::engine::workflow::registry::RunCounts;
use crate::engine::{Engine, TenantId};

/// Upper bounds (seconds) of the attempt-duration histogram's buckets; `+Inf` is implied.
pub(crate) const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every state a message can be logged in, in the order of [`Metrics::logged`]'s counts.
pub(crate) const STATES: [State; 8] = [
    State::Created,
    State::Active,
    State::Retry,
    State::Error,
    State::Delivered,
    State::Failed,
    State::CancelRequested,
    State::Canceled,
];

#[derive(Debug, Default, Clone)]
pub(crate) struct Metrics {
    /// Transitions into each of [`STATES`].
    logged: [u64; STATES.len()],
    /// Attempts whose duration fell at or under each of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len() + 1],
    attempts: u64,
    attempt_seconds: f64,
}

impl Metrics {
    pub(crate) fn log(&mut self, state: State) {
        if let Some(i) = STATES.iter().position(|s| *s == state) {
            self.logged[i] += 1;
        }
    }

    /// Transitions into `state` so far.
    pub(crate) fn logged(&self, state: State) -> u64 {
        STATES
            .iter()
            .position(|s| *s == state)
            .map_or(0, |i| self.logged[i])
    }

    pub(crate) fn attempt(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
        self.attempts += 1;
        self.attempt_seconds += s;
    }

    /// The histogram as Prometheus writes it: the cumulative count at each bound (`+Inf`
    /// last), the count and the sum in seconds.
    pub(crate) fn histogram(&self) -> (Vec<u64>, u64, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|n| {
                total += n;
                total
            })
            .collect();
        (cumulative, self.attempts, self.attempt_seconds)
    }
}

/// What `/metrics` shows of one tenant, read in one transition.
pub(crate) struct Snapshot {
    pub(crate) user: &'static str,
    pub(crate) metrics: Metrics,
    pub(crate) pending: usize,
    pub(crate) dlq: usize,
    pub(crate) schedules_fired: u64,
    pub(crate) runs_active: usize,
    pub(crate) runs: RunCounts,
}

impl Engine {
    pub(crate) fn metrics(&self, t: TenantId) -> Snapshot {
        let user = self.tenant(t).user.user_id;
        self.with(t, |cx| Snapshot {
            user,
            metrics: cx.st.metrics.clone(),
            pending: cx.st.messages.len(),
            dlq: cx.dlq().len(),
            schedules_fired: cx.st.schedules.fired,
            runs_active: cx.st.runs.active_runs().count(),
            runs: cx.st.runs.counts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_fall_in_their_bucket_and_the_histogram_is_cumulative() {
        let mut m = Metrics::default();
        for ms in [3, 5, 40, 2_000, 60_000] {
            m.attempt(Duration::from_millis(ms));
        }
        let (buckets, count, sum) = m.histogram();
        assert_eq!(buckets.len(), BUCKETS.len() + 1);
        assert_eq!(buckets[0], 2, "3 ms and 5 ms are at or under 5 ms");
        assert_eq!(buckets[3], 3, "40 ms is under 50 ms");
        assert_eq!(buckets[8], 4, "2 s is under 2.5 s");
        assert_eq!(buckets[BUCKETS.len()], 5, "+Inf counts every attempt");
        assert_eq!(count, 5);
        assert!((sum - 62.048).abs() < 1e-9);
        m.log(State::Delivered);
        m.log(State::Delivered);
        assert_eq!(m.logged(State::Delivered), 2);
        assert_eq!(m.logged(State::Failed), 0);
    }
}
