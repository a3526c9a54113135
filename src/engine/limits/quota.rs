//! Throughput limits of the quota preset, per tenant: the daily message quota (publish,
//! enqueue and batch items; `RateLimit-*`) and the burst limit on every other endpoint
//! (requests per one-second window; `Burst-RateLimit-*`). Both only count; they never slow
//! anything down, and `Config::throughput_limits` turns them off.

use parking_lot::Mutex;

use crate::engine::{Engine, TenantId};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The state of one limit after a request, for its response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitState {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    /// Unix seconds when the window resets.
    pub(crate) reset: u64,
    /// False when this request is over the limit (429).
    pub(crate) allowed: bool,
}

/// A fixed window counter.
#[derive(Debug, Default)]
pub(crate) struct Window {
    start: u64,
    used: u64,
}

impl Window {
    /// Takes `n` from a window of `len_ms` aligned to multiples of `len_ms`.
    fn take(&mut self, n: u64, limit: u64, len_ms: u64, now: u64) -> LimitState {
        let start = now - now % len_ms;
        if start != self.start {
            self.start = start;
            self.used = 0;
        }
        let allowed = self.used + n <= limit;
        if allowed {
            self.used += n;
        }
        LimitState {
            limit,
            remaining: limit.saturating_sub(self.used),
            reset: (start + len_ms).div_ceil(1000),
            allowed,
        }
    }
}

/// The counters of one tenant.
#[derive(Debug, Default)]
pub(crate) struct Quotas {
    daily: Mutex<Window>,
    burst: Mutex<Window>,
}

impl Engine {
    /// Counts `n` messages against the daily quota; None when no finite quota is emulated.
    pub(crate) fn take_daily(&self, t: TenantId, n: u64) -> Option<LimitState> {
        let limit = self.config().daily_quota()?;
        Some(
            self.tenant(t)
                .quotas
                .daily
                .lock()
                .take(n, limit, DAY_MS, self.now()),
        )
    }

    /// Counts one management request against the burst limit; None when not emulated.
    pub(crate) fn take_burst(&self, t: TenantId) -> Option<LimitState> {
        let limit = u64::from(self.config().burst_limit()?);
        Some(
            self.tenant(t)
                .quotas
                .burst
                .lock()
                .take(1, limit, 1000, self.now()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_up_to_its_limit_then_resets() {
        let mut w = Window::default();
        let a = w.take(2, 3, 1000, 5_000);
        assert!(a.allowed && a.remaining == 1 && a.reset == 6);
        assert!(w.take(1, 3, 1000, 5_500).allowed);
        let over = w.take(1, 3, 1000, 5_999);
        assert!(!over.allowed && over.remaining == 0);
        assert!(w.take(1, 3, 1000, 6_000).allowed, "a new window");
    }
}
