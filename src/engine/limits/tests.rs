//! The tenant's global-parallelism line, driven through the engine without a runtime: who
//! waits, and who gets a freed slot.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::lifecycle::attempt::{AttemptResult, Verdict};
use crate::engine::{Engine, TenantId};
use crate::timer::Timer;

const T: TenantId = TenantId(0);

fn engine() -> Engine {
    Engine::new(
        Arc::new(Config::default()),
        Arc::new(Timer::new(Clock::real())),
    )
}

fn publish(e: &Engine) -> Arc<str> {
    crate::engine::lifecycle::test_publish::publish(e, T, Default::default(), None)
}

fn delivered() -> AttemptResult {
    AttemptResult {
        verdict: Verdict::Delivered,
        response: None,
        error: None,
        took: std::time::Duration::ZERO,
    }
}

#[test]
fn a_finished_attempt_hands_its_slot_to_the_first_in_line() {
    let e = engine();
    let max = e.limits().global_parallelism as usize;
    let running: Vec<_> = (0..max).map(|_| publish(&e)).collect();
    for id in &running {
        assert!(e.start_attempt(T, id).is_some(), "a free slot starts {id}");
    }
    let (first, second) = (publish(&e), publish(&e));
    assert!(e.start_attempt(T, &first).is_none(), "every slot is taken");
    assert!(e.start_attempt(T, &second).is_none());

    let next = e.finish_attempt(T, &running[0], delivered());
    assert_eq!(
        next.as_deref(),
        Some(&*first),
        "the first in line, not the second"
    );
    assert!(
        e.start_attempt(T, &second).is_none(),
        "the freed slot is not the second's"
    );
    let a = e
        .start_attempt(T, &first)
        .expect("the handed-over slot starts it");
    assert_eq!(a.id, first);

    let next = e.finish_attempt(T, &running[1], delivered());
    assert_eq!(next.as_deref(), Some(&*second));
    assert!(e.start_attempt(T, &second).is_some());
    // With nobody waiting, a finish hands nothing over.
    assert_eq!(e.finish_attempt(T, &running[2], delivered()), None);
}
