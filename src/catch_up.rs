//! Moving the server's clock forward as if the time had passed: every timer job that falls
//! due in between runs at its own deadline, in deadline order, with the clock standing at that
//! deadline, and the next deadline is taken only once what the last one started has finished
//! (its attempts answered, the retries, callbacks and workflow steps they caused scheduled).
//! So a daily schedule advanced by a week fires seven times, each at its own time, and a
//! failing message walks its whole retry ladder with the backoff between attempts in its log
//! times. Destinations are still called for real; only the waiting is skipped.
//!
//! While it steps, the clock stands frozen at each deadline; once at the target it runs again
//! if it ran before. A step waits for the attempts in flight only within the caller's budget:
//! a destination that does not answer in time leaves the rest of the way to be taken in one
//! jump, and what is due then runs at the target's time (the report says so).

use std::time::Duration;

use std::ops::Not;

use crate::clock::{Clock, ClockError, MAX_MS};
use crate::engine::Engine;

/// How often a step looks whether what it started has finished, once yielding to the tasks
/// at work (the timer's runner, the deliveries) did not let it finish.
const POLL: Duration = Duration::from_millis(1);
/// Looks between yields before a step sleeps between looks.
const YIELDS: u32 = 64;

/// Where to move the clock.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    By(Duration),
    At(u64),
}

/// What a move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) from: u64,
    pub(crate) to: u64,
    /// Deadlines stepped through on the way.
    pub(crate) steps: usize,
    /// Attempts started while moving.
    pub(crate) deliveries: u64,
    /// False when the budget ran out before everything due had finished.
    pub(crate) settled: bool,
}

/// Moves the clock to `target` through every deadline in between; see the module doc.
/// Refuses a target before the current time. Callers serialise moves, and run a move to its
/// end (a move dropped half-way leaves the clock frozen where it stepped to).
pub(crate) async fn advance(
    engine: &Engine,
    target: Target,
    budget: Duration,
) -> Result<Report, ClockError> {
    let clock = engine.clock();
    if !clock.is_frozen() {
        next_millisecond(clock).await;
    }
    let _resume = Resume(clock.is_frozen().not().then(|| clock.clone()));
    let from = clock.freeze();
    let to = resolve(from, target)?;
    let started = engine.attempts_started();
    let until = tokio::time::Instant::now() + budget;
    let mut steps = 0;
    let mut settled = settle(engine, until).await;
    while settled && tokio::time::Instant::now() < until {
        match engine.timer().next_deadline() {
            // Refused only when someone else moved the clock past `at` meanwhile.
            Some(at) if at <= to => steps += usize::from(clock.set(at).is_ok_and(|n| n == at)),
            _ => break,
        }
        settled = settle(engine, until).await;
    }
    let _ = clock.set(to);
    if settled {
        settled = settle(engine, until).await;
    }
    Ok(Report {
        from,
        to,
        steps,
        deliveries: engine.attempts_started() - started,
        settled,
    })
}

/// Waits until a running clock enters its next millisecond. A move then starts after the
/// millisecond of every request answered before it: a delay published in that millisecond,
/// which a running clock arms one millisecond late so it never fires early (see
/// `Locked::enqueue`), is then due by `from` + the delay, and an advance by the delay delivers.
async fn next_millisecond(clock: &Clock) {
    let ms = clock.now_ms();
    while clock.now_ms() == ms {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The instant a move goes to, from `from`; never past [`MAX_MS`].
fn resolve(from: u64, target: Target) -> Result<u64, ClockError> {
    match target {
        Target::By(d) => {
            let by = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            Ok(from.saturating_add(by).min(MAX_MS))
        }
        Target::At(ms) if ms < from => Err(ClockError::Backwards { to: ms, now: from }),
        Target::At(ms) => Ok(ms.min(MAX_MS)),
    }
}

/// Lets a clock that ran before the move run again when the move ends, however it ends.
struct Resume(Option<Clock>);

impl Drop for Resume {
    fn drop(&mut self) {
        if let Some(clock) = &self.0 {
            clock.resume();
        }
    }
}

/// Waits until nothing is due on the clock and no attempt is in flight, or `until` passes
/// (false then).
async fn settle(engine: &Engine, until: tokio::time::Instant) -> bool {
    for look in 0.. {
        if quiet(engine) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        match look < YIELDS {
            true => tokio::task::yield_now().await,
            false => tokio::time::sleep(POLL).await,
        }
    }
    false
}

/// One look: no attempt in flight and nothing due, with no job taken and no attempt started
/// in between (either would mean work moved while looking).
fn quiet(engine: &Engine) -> bool {
    let timer = engine.timer();
    let now = engine.clock().now_ms();
    let before = (timer.taken(), engine.attempts_started());
    // Nothing due before and after the in-flight count: a job being handed over (counted as
    // started, its task not yet spawned) keeps the timer from being quiet meanwhile.
    timer.quiet_at(now)
        && engine.in_flight() == 0
        && timer.quiet_at(now)
        && before == (timer.taken(), engine.attempts_started())
}
