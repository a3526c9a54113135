//! The engine starting a plain message's first attempt in its publish (see `Starter`),
//! driven without a runtime: which messages start at once, and which wait for the timer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::lifecycle::attempt::Attempt;
use crate::engine::store::filter::Filter;
use crate::engine::store::logs::State;
use crate::engine::syntax::options::PublishOptions;
use crate::engine::{Engine, Starter, TenantId};
use crate::timer::Timer;

const T: TenantId = TenantId(0);

#[derive(Default)]
struct Recorder {
    closed: AtomicBool,
    started: Mutex<Vec<Attempt>>,
}

impl Starter for Arc<Recorder> {
    fn open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }

    fn start(&self, attempt: Attempt) {
        self.started.lock().push(attempt);
    }

    fn in_flight(&self) -> usize {
        0
    }
}

fn engine() -> (Engine, Arc<Recorder>) {
    engine_on(Clock::real())
}

fn engine_on(clock: Clock) -> (Engine, Arc<Recorder>) {
    let e = Engine::new(Arc::new(Config::default()), Arc::new(Timer::new(clock)));
    let r = Arc::new(Recorder::default());
    e.set_starter(Box::new(r.clone()));
    (e, r)
}

fn publish(e: &Engine, options: PublishOptions, queue: Option<&str>) -> Arc<str> {
    crate::engine::lifecycle::test_publish::publish(e, T, options, queue)
}

fn delayed_a_minute() -> PublishOptions {
    PublishOptions {
        delay: Some(Duration::from_secs(60)),
        ..Default::default()
    }
}

fn states(e: &Engine, id: &str) -> Vec<State> {
    let (page, _) = e.logs(T, &Filter::default(), None, 100);
    let mut s: Vec<State> = page
        .iter()
        .filter(|l| &*l.message_id == id)
        .map(|l| l.state)
        .collect();
    s.reverse();
    s
}

#[test]
fn a_plain_message_due_now_starts_in_its_publish_without_a_timer_job() {
    let (e, r) = engine();
    let id = publish(&e, PublishOptions::default(), None);
    let started = r.started.lock();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].id, id);
    assert_eq!(started[0].retried, 0);
    assert_eq!(states(&e, &id), [State::Created, State::Active]);
    assert!(e.timer().is_empty(), "no job left for the timer");
    assert!(e.start_attempt(T, &id).is_none(), "already in flight");
}

#[test]
fn delayed_queued_or_closed_messages_wait_for_their_timer_job() {
    let (e, r) = engine();
    let delayed = delayed_a_minute();
    let late = publish(&e, delayed, None);
    let queued = publish(&e, PublishOptions::default(), Some("q"));
    assert!(r.started.lock().is_empty(), "neither started at once");
    assert_eq!(states(&e, &late), [State::Created]);
    assert_eq!(e.timer().len(), 2);
    assert!(e.start_attempt(T, &queued).is_some(), "its job starts it");

    r.closed.store(true, Ordering::Relaxed);
    let after = publish(&e, PublishOptions::default(), None);
    assert!(
        r.started.lock().is_empty(),
        "nothing starts once shutdown began"
    );
    assert_eq!(states(&e, &after), [State::Created]);
    assert_eq!(e.timer().len(), 3);
}

#[test]
fn a_delayed_message_is_due_once_its_not_before_millisecond_is_over() {
    let (e, _r) = engine();
    let delayed = delayed_a_minute();
    let id = publish(&e, delayed, None);
    let m = e.message(T, &id).expect("stored");
    assert_eq!(
        m.not_before,
        m.created_at + 60_000,
        "shown as createdAt + delay"
    );
    // The publish happened within the millisecond `created_at`: at `not_before` itself the
    // delay may not have passed yet.
    assert!(e.timer().take_due(m.not_before).is_empty());
    assert_eq!(e.timer().take_due(m.not_before + 1).len(), 1);
}

#[test]
fn on_a_frozen_clock_a_delayed_message_is_due_at_its_not_before() {
    let (e, _r) = engine_on(Clock::frozen_at(1_800_000_000_000));
    let id = publish(&e, delayed_a_minute(), None);
    let m = e.message(T, &id).expect("stored");
    assert_eq!(m.created_at, 1_800_000_000_000);
    assert_eq!(m.not_before, m.created_at + 60_000);
    // The publish happened at the frozen instant exactly: nothing of the delay is left at
    // `not_before`.
    assert!(e.timer().take_due(m.not_before - 1).is_empty());
    assert_eq!(e.timer().take_due(m.not_before).len(), 1);
}
