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

use crate::clock::ClockError;
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
    let was_running = !clock.is_frozen();
    let from = clock.freeze();
    let to = match target {
        Target::By(d) => from.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        Target::At(ms) if ms < from => {
            if was_running {
                clock.resume();
            }
            return Err(ClockError::Backwards { to: ms, now: from });
        }
        Target::At(ms) => ms,
    };
    let started = engine.attempts_started();
    let until = tokio::time::Instant::now() + budget;
    let mut steps = 0;
    let mut settled = settle(engine, until).await;
    while settled {
        match engine.timer().next_deadline() {
            Some(at) if at <= to => {
                // Refused only when someone else moved the clock past `at` meanwhile.
                let _ = clock.set(at);
                steps += 1;
            }
            _ => break,
        }
        settled = settle(engine, until).await;
    }
    let _ = clock.set(to);
    if settled {
        settled = settle(engine, until).await;
    }
    if was_running {
        clock.resume();
    }
    Ok(Report {
        from,
        to,
        steps,
        deliveries: engine.attempts_started() - started,
        settled,
    })
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
    let before = (timer.taken(), engine.attempts_started());
    engine.in_flight() == 0
        && timer.quiet_at(engine.clock().now_ms())
        && before == (timer.taken(), engine.attempts_started())
}
