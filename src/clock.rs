//! Time: the server's one [`Clock`], the "now" of everything the server decides (the engine,
//! the timer, quotas, logs, retention and windows), and the real wall clock ([`wall_ms`],
//! [`wall_time`]) for the few things the outside world checks against its own time. The only
//! place that reads the system time. Imports nothing from the rest of the crate.
//!
//! The clock either runs at real speed, as the wall clock plus an offset (zero by default), or
//! stands frozen at an instant; it can be moved forward (`advance`, `set`), frozen and resumed,
//! but never moved back: what is already due stays due, and deadlines keep their order. Every
//! change is announced on a watch channel, so whatever sleeps until a deadline of this clock
//! (the timer) wakes up and looks again.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::watch;

/// The real wall clock in milliseconds since the Unix epoch. Only for what is checked against
/// real time outside the server: a signature's `iat`/`exp`, a destination's `Retry-After`
/// date. Everything the server itself decides uses its [`Clock`].
pub fn wall_ms() -> u64 {
    wall_time()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The real wall clock as a `SystemTime`; see [`wall_ms`].
pub fn wall_time() -> SystemTime {
    SystemTime::now()
}

/// The latest instant the clock reaches: the year 9999. Far enough for any test, and every
/// instant up to it is a date and fits the `i64` arithmetic of offsets.
pub const MAX_MS: u64 = 253_402_300_799_999;

/// An instant given as Unix ms or RFC 3339 (`2026-03-07T12:00:00Z`), at most [`MAX_MS`].
pub fn parse_instant(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let ms = match s.parse::<u64>() {
        Ok(ms) => Some(ms),
        Err(_) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| u64::try_from(t.timestamp_millis()).ok()),
    };
    match ms {
        Some(ms) if ms <= MAX_MS => Ok(ms),
        Some(_) => Err(format!("{s:?} is after the year 9999")),
        None => Err(format!(
            "{s:?} is neither Unix milliseconds nor an RFC 3339 instant such as 2026-03-07T12:00:00Z"
        )),
    }
}

/// Unix ms as an RFC 3339 instant to the second (`2026-12-11T12:00:00Z`), for people.
pub fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `frozen` when the clock runs.
const RUNNING: u64 = u64::MAX;

/// The server's clock: a cheap handle (clones share one clock).
#[derive(Clone)]
pub struct Clock(Arc<Shared>);

struct Shared {
    /// Milliseconds added to the wall clock while running.
    offset: AtomicI64,
    /// The instant the clock stands at, or `RUNNING`. Stored after `offset` (release) and
    /// loaded before it (acquire), so a reader that sees the clock running sees its offset.
    frozen: AtomicU64,
    /// Serialises changes: each reads the clock and writes it back.
    change: Mutex<()>,
    /// Counts changes; receivers wake on each.
    changed: watch::Sender<u64>,
}

/// What the clock reads and how it runs, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// Unix milliseconds.
    pub now: u64,
    /// `now` minus the wall clock.
    pub offset_ms: i64,
    pub frozen: bool,
}

/// A change the clock refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("the clock only moves forward: {to} is before its current time {now}")]
    Backwards { to: u64, now: u64 },
}

impl Clock {
    /// Real time: the wall clock, running.
    pub fn real() -> Self {
        Self::with(0, RUNNING)
    }

    /// Running at real speed from `ms` (Unix ms) now.
    pub fn starting_at(ms: u64) -> Self {
        Self::with(offset_to(ms), RUNNING)
    }

    /// Standing at `ms` (Unix ms) until moved or resumed.
    pub fn frozen_at(ms: u64) -> Self {
        Self::with(0, ms.min(MAX_MS))
    }

    fn with(offset: i64, frozen: u64) -> Self {
        Self(Arc::new(Shared {
            offset: AtomicI64::new(offset),
            frozen: AtomicU64::new(frozen),
            change: Mutex::new(()),
            changed: watch::Sender::new(0),
        }))
    }

    /// Unix milliseconds on this clock. Two atomic loads and, when running, a read of the
    /// system clock: cheap enough for every publish and attempt.
    pub fn now_ms(&self) -> u64 {
        let frozen = self.0.frozen.load(Ordering::Acquire);
        if frozen != RUNNING {
            return frozen;
        }
        let offset = self.0.offset.load(Ordering::Relaxed);
        (wall_ms() as i64).saturating_add(offset).max(0) as u64
    }

    pub fn is_frozen(&self) -> bool {
        self.0.frozen.load(Ordering::Acquire) != RUNNING
    }

    /// Read under the change lock, so `now` and `frozen` belong together.
    pub fn state(&self) -> ClockState {
        let _guard = self.0.change.lock();
        let now = self.now_ms();
        ClockState {
            now,
            offset_ms: now as i64 - wall_ms() as i64,
            frozen: self.is_frozen(),
        }
    }

    /// How long, in real time, until the clock reads `at_ms`: zero when it already has, `None`
    /// while it stands frozen before it (only a change of the clock brings it then).
    pub fn until(&self, at_ms: u64) -> Option<Duration> {
        let now = self.now_ms();
        if at_ms <= now {
            return Some(Duration::ZERO);
        }
        (!self.is_frozen()).then(|| Duration::from_millis(at_ms - now))
    }

    /// Moves the clock forward by `by`, frozen or running; returns the new time.
    pub fn advance(&self, by: Duration) -> u64 {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.update(|now| Ok(now.saturating_add(by)))
            .unwrap_or_else(|_| self.now_ms())
    }

    /// Moves the clock to `to_ms` (Unix ms), frozen or running; refuses a time before the
    /// current one. Returns the new time.
    pub fn set(&self, to_ms: u64) -> Result<u64, ClockError> {
        self.update(|now| match to_ms >= now {
            true => Ok(to_ms),
            false => Err(ClockError::Backwards { to: to_ms, now }),
        })
    }

    /// Stops the clock where it is; returns that time.
    pub fn freeze(&self) -> u64 {
        let _guard = self.0.change.lock();
        let now = self.now_ms().min(MAX_MS);
        self.0.frozen.store(now, Ordering::Release);
        self.announce();
        now
    }

    /// Lets a frozen clock run again at real speed from where it stands (it does not jump back
    /// to the wall clock: that would move it backwards). Returns the current time.
    pub fn resume(&self) -> u64 {
        let _guard = self.0.change.lock();
        let frozen = self.0.frozen.load(Ordering::Acquire);
        if frozen != RUNNING {
            self.0.offset.store(offset_to(frozen), Ordering::Relaxed);
            self.0.frozen.store(RUNNING, Ordering::Release);
            self.announce();
        }
        self.now_ms()
    }

    /// A receiver that wakes on every later change of the clock (`changed().await`).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.0.changed.subscribe()
    }

    /// Sets the clock to `to(now)`, keeping it frozen or running as it is.
    fn update(&self, to: impl FnOnce(u64) -> Result<u64, ClockError>) -> Result<u64, ClockError> {
        let _guard = self.0.change.lock();
        let now = self.now_ms();
        let target = to(now)?.min(MAX_MS);
        if target == now {
            return Ok(now);
        }
        match self.is_frozen() {
            true => self.0.frozen.store(target, Ordering::Release),
            false => {
                let delta = (target - now).min(i64::MAX as u64) as i64;
                self.0.offset.fetch_add(delta, Ordering::Relaxed);
            }
        }
        self.announce();
        Ok(target)
    }

    fn announce(&self) {
        self.0.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The offset that makes the wall clock read `ms` now.
fn offset_to(ms: u64) -> i64 {
    (ms as i64).saturating_sub(wall_ms() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000_000;

    #[test]
    fn the_real_clock_reads_the_wall_clock() {
        let c = Clock::real();
        let (before, now, after) = (wall_ms(), c.now_ms(), wall_ms());
        assert!(before <= now && now <= after);
        assert!(!c.is_frozen());
    }

    #[test]
    fn a_frozen_clock_stands_still_and_moves_only_when_told() {
        let c = Clock::frozen_at(T);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now_ms(), T);
        assert_eq!(c.advance(Duration::from_secs(90)), T + 90_000);
        assert_eq!(c.now_ms(), T + 90_000);
        assert_eq!(c.set(T + 100_000), Ok(T + 100_000));
        assert_eq!(c.now_ms(), T + 100_000);
        assert_eq!(c.state().now, T + 100_000);
        assert!(c.state().frozen);
    }

    #[test]
    fn the_clock_never_moves_back() {
        let c = Clock::frozen_at(T);
        assert_eq!(
            c.set(T - 1),
            Err(ClockError::Backwards { to: T - 1, now: T })
        );
        assert_eq!(c.set(T), Ok(T), "setting the current time is no change");
        assert_eq!(c.now_ms(), T);
        let r = Clock::real();
        assert!(r.set(r.now_ms().saturating_sub(60_000)).is_err());
    }

    #[test]
    fn a_running_clock_moved_forward_keeps_running_from_there() {
        let c = Clock::real();
        let to = wall_ms() + 86_400_000;
        assert_eq!(c.set(to), Ok(to));
        let now = c.now_ms();
        assert!(now >= to && now < to + 60_000, "{now} vs {to}");
        assert!(c.state().offset_ms >= 86_400_000 - 1_000);
        let before = c.now_ms();
        c.advance(Duration::from_secs(3600));
        assert!(c.now_ms() >= before + 3_600_000);
        assert!(!c.is_frozen());
    }

    #[test]
    fn freeze_then_resume_continues_from_the_frozen_instant() {
        let c = Clock::starting_at(T);
        let at = c.freeze();
        assert!((T..T + 60_000).contains(&at));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now_ms(), at);
        assert_eq!(c.freeze(), at, "freezing a frozen clock changes nothing");
        let resumed = c.resume();
        assert!(resumed >= at && resumed < at + 1_000, "{resumed} vs {at}");
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.now_ms() >= at + 20, "runs again");
        assert!(!c.is_frozen());
    }

    #[test]
    fn a_clock_started_in_the_past_runs_from_there() {
        let past = 1_000_000_000_000; // 2001
        let c = Clock::starting_at(past);
        let now = c.now_ms();
        assert!(now >= past && now < past + 60_000);
        assert!(c.state().offset_ms < 0);
    }

    #[test]
    fn until_is_real_time_when_running_and_none_when_frozen_before_the_deadline() {
        let f = Clock::frozen_at(T);
        assert_eq!(f.until(T), Some(Duration::ZERO));
        assert_eq!(f.until(T - 5), Some(Duration::ZERO));
        assert_eq!(f.until(T + 5), None);
        let r = Clock::starting_at(T);
        let d = r.until(r.now_ms() + 10_000).expect("running");
        assert!(d <= Duration::from_secs(10) && d > Duration::from_secs(9));
    }

    #[test]
    fn clones_share_one_clock() {
        let a = Clock::frozen_at(T);
        let b = a.clone();
        b.advance(Duration::from_millis(7));
        assert_eq!(a.now_ms(), T + 7);
    }

    #[tokio::test]
    async fn every_change_is_announced_and_refusals_are_not() {
        let c = Clock::frozen_at(T);
        let mut rx = c.changes();
        assert!(!rx.has_changed().unwrap());
        c.advance(Duration::from_secs(1));
        rx.changed().await.unwrap();
        assert!(c.set(T).is_err());
        c.set(T + 1_000).unwrap();
        assert!(
            !rx.has_changed().unwrap(),
            "a refusal or a no-op is no change"
        );
        c.resume();
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        c.freeze();
        assert!(rx.has_changed().unwrap());
    }
}
