//! `context.waitForEvent`, `context.notify` and webhooks on the server side. A wait
//! (`POST /v2/wait/{eventId}`) registers a waiter of an active run with a deadline and arms a
//! timer job for it. A notify removes the waiter and appends a `Wait` result step with
//! `out = base64(event data)` to the run, delivered to the waiter's URL with its headers; the
//! deadline instead delivers the step with `waitTimeout: true` and no `out` to the timeout URL.
//! A run-scoped notify (and a webhook call, which is one) for which nobody waits yet is stored
//! until the run waits for that event ("safe notify"); stored notifications are bounded per
//! tenant. Ending a run drops its waiters and stored notifications.
//! Must not import axum, reqwest, tokio::net, `api` or `delivery`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::engine::syntax::duration::parse_duration;
use crate::engine::syntax::headers::Headers;
use crate::engine::{Error, Result};

/// Run-scoped notifications kept per tenant until someone waits; the oldest go first.
pub(crate) const STORED_CAP: usize = 10_000;

/// How long a wait lasts when it does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A run waiting for an event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Waiter {
    pub(crate) id: u64,
    pub(crate) event_id: String,
    pub(crate) run_id: String,
    pub(crate) url: String,
    /// The wait request's headers (`Name: value`); `Upstash-Forward-X` reaches the endpoint.
    pub(crate) headers: Headers,
    /// Unix ms.
    pub(crate) deadline: u64,
    /// When the wait was registered (Unix ms; 0 when kept by a `-persist` file that predates it).
    #[serde(default)]
    pub(crate) since: u64,
    pub(crate) timeout_url: String,
    pub(crate) timeout_body: Option<String>,
    pub(crate) timeout_headers: Headers,
    /// The SDK's step (`stepId`, `stepName`, `stepType`, `concurrent`).
    pub(crate) step: Value,
}

/// A wait as the API hands it over.
#[derive(Debug, Clone, Default)]
pub(crate) struct WaitRequest {
    pub(crate) event_id: String,
    pub(crate) run_id: String,
    pub(crate) url: String,
    pub(crate) headers: Headers,
    /// A duration such as `30s`; 7 days when absent.
    pub(crate) timeout: Option<String>,
    pub(crate) timeout_url: Option<String>,
    pub(crate) timeout_body: Option<String>,
    pub(crate) timeout_headers: Headers,
    pub(crate) step: Value,
}

/// One waiter a notify reached.
#[derive(Debug, Clone)]
pub(crate) struct Notified {
    pub(crate) waiter: Waiter,
    /// The delivered step's message id; empty when it could not be published.
    pub(crate) message_id: String,
    pub(crate) error: String,
    pub(crate) run_created_at: u64,
}

/// What a run-scoped notify did.
#[derive(Debug, Clone)]
pub(crate) enum RunNotify {
    Delivered(Box<Notified>),
    /// Nobody waits yet: kept until the run waits for the event.
    Stored {
        run_id: String,
        run_created_at: u64,
    },
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredNotify {
    pub(crate) run_id: String,
    pub(crate) event_id: String,
    #[serde(with = "crate::engine::persister::b64")]
    pub(crate) data: Bytes,
}

/// A tenant's waiters (in registration order) and stored run-scoped notifications. Its serde
/// form is what `-persist` keeps.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Waits {
    waiters: BTreeMap<u64, Waiter>,
    stored: VecDeque<StoredNotify>,
    next_id: u64,
    /// Changes are recorded for a persister.
    #[serde(skip)]
    recording: bool,
    /// Changed since the last `take_change`.
    #[serde(skip)]
    dirty: bool,
}

impl Waits {
    /// None yet; `record`: changes are recorded for a persister.
    pub(crate) fn new(record: bool) -> Self {
        Self {
            recording: record,
            ..Self::default()
        }
    }

    pub(crate) fn record_changes(&mut self) {
        self.recording = true;
    }

    /// The whole of it, if it changed since the last call and changes are recorded.
    pub(crate) fn take_change(&mut self) -> Option<Box<Waits>> {
        (self.recording && std::mem::take(&mut self.dirty)).then(|| Box::new(self.clone()))
    }

    /// Puts back what an earlier run of the server kept (`-persist`), keeping the recording
    /// flag; returns each waiter's id and deadline, to arm their timeouts again.
    pub(crate) fn restore(&mut self, kept: Waits) -> Vec<(u64, u64)> {
        let recording = self.recording;
        *self = kept;
        self.recording = recording;
        self.waiters.values().map(|w| (w.id, w.deadline)).collect()
    }

    /// Forgets every waiter and notification but keeps the id counter, so the timer jobs of
    /// the old waiters stay stale (`/dev/reset`).
    pub(crate) fn clear(&mut self) {
        self.dirty = true;
        self.waiters.clear();
        self.stored.clear();
    }

    /// Drops what belongs to a run that ended.
    pub(crate) fn drop_run(&mut self, run_id: &str) {
        self.dirty = true;
        self.waiters.retain(|_, w| w.run_id != run_id);
        self.stored.retain(|s| s.run_id != run_id);
    }

    /// Registers `w` with a fresh id, and takes the stored notification of its run and event
    /// if there is one. A retried delivery registers the same wait again: it replaces the
    /// first one, so a notify delivers the step once.
    pub(crate) fn register(&mut self, mut w: Waiter) -> (u64, Option<Bytes>) {
        self.dirty = true;
        self.next_id += 1;
        w.id = self.next_id;
        self.waiters.retain(|_, old| {
            !(old.run_id == w.run_id && old.event_id == w.event_id && old.step == w.step)
        });
        let stored = self.take_stored(&w.run_id, &w.event_id);
        self.waiters.insert(w.id, w);
        (self.next_id, stored)
    }

    /// The waiters of an event, in registration order.
    pub(crate) fn of_event<'a>(&'a self, event_id: &'a str) -> impl Iterator<Item = &'a Waiter> {
        self.waiters
            .values()
            .filter(move |w| w.event_id == event_id)
    }

    /// The waiters of a run, in registration order.
    pub(crate) fn of_run<'a>(&'a self, run_id: &'a str) -> impl Iterator<Item = &'a Waiter> {
        self.waiters.values().filter(move |w| w.run_id == run_id)
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Waiter> {
        self.dirty = true;
        self.waiters.remove(&id)
    }

    pub(crate) fn first_of(&self, run_id: &str, event_id: &str) -> Option<u64> {
        self.waiters
            .values()
            .find(|w| w.run_id == run_id && w.event_id == event_id)
            .map(|w| w.id)
    }

    pub(crate) fn store(&mut self, s: StoredNotify) {
        self.dirty = true;
        while self.stored.len() >= STORED_CAP {
            self.stored.pop_front();
        }
        self.stored.push_back(s);
    }

    fn take_stored(&mut self, run_id: &str, event_id: &str) -> Option<Bytes> {
        let i = self
            .stored
            .iter()
            .position(|s| s.run_id == run_id && s.event_id == event_id)?;
        self.stored.remove(i).map(|s| s.data)
    }

    #[cfg(test)]
    pub(crate) fn stored_len(&self) -> usize {
        self.stored.len()
    }
}

/// `{...step, waitEventId, out?, waitTimeout}`: the step delivered when a wait ends.
pub(crate) fn result_step(w: &Waiter, data: Option<&[u8]>) -> Value {
    let mut step = w.step.clone();
    if let Value::Object(m) = &mut step {
        m.insert("waitEventId".into(), json!(w.event_id));
        match data {
            Some(d) => {
                m.insert("out".into(), json!(B64.encode(d)));
                m.insert("waitTimeout".into(), json!(false));
            }
            None => {
                m.remove("out");
                m.insert("waitTimeout".into(), json!(true));
            }
        }
    }
    step
}

pub(crate) fn parse_timeout(t: Option<&str>) -> Result<Duration> {
    match t.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(s) => parse_duration(s).map_err(|e| Error::bad(format!("invalid timeout: {e}"))),
    }
}

pub(crate) fn run_gone(run_id: &str) -> Error {
    Error::not_found(format!(
        "workflow run {run_id} does not exist or has already ended"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> Waiter {
        Waiter {
            id: 1,
            event_id: "evt".into(),
            run_id: "wfr_1".into(),
            url: "http://x/wf".into(),
            headers: Vec::new(),
            deadline: 0,
            since: 0,
            timeout_url: "http://x/wf".into(),
            timeout_body: None,
            timeout_headers: Vec::new(),
            step: json!({"stepId": 3, "stepName": "w", "stepType": "Wait", "concurrent": 1}),
        }
    }

    #[test]
    fn a_waiter_kept_before_it_had_a_start_time_loads_with_none() {
        let mut kept = serde_json::to_value(waiter()).expect("a waiter serialises");
        kept.as_object_mut().expect("an object").remove("since");
        let w: Waiter = serde_json::from_value(kept).expect("it loads without since");
        assert_eq!(w.since, 0);
        assert_eq!(w, waiter());
    }

    #[test]
    fn a_notified_step_carries_the_event_data_in_base64() {
        let s = result_step(&waiter(), Some(b"{\"a\":1}"));
        assert_eq!(s["out"], B64.encode(b"{\"a\":1}"));
        assert_eq!(s["waitTimeout"], false);
        assert_eq!(s["waitEventId"], "evt");
        assert_eq!(s["stepId"], 3);
    }

    #[test]
    fn a_timed_out_step_has_no_out() {
        let s = result_step(&waiter(), None);
        assert!(s.get("out").is_none());
        assert_eq!(s["waitTimeout"], true);
    }

    #[test]
    fn timeouts_default_to_seven_days() {
        assert_eq!(parse_timeout(None).unwrap(), DEFAULT_TIMEOUT);
        assert_eq!(parse_timeout(Some("30s")).unwrap(), Duration::from_secs(30));
        assert!(parse_timeout(Some("soon")).is_err());
    }

    #[test]
    fn stored_notifications_are_bounded_and_consumed_once() {
        let mut w = Waits::default();
        for i in 0..STORED_CAP + 5 {
            w.store(StoredNotify {
                run_id: "r".into(),
                event_id: format!("e{i}"),
                data: Bytes::new(),
            });
        }
        assert_eq!(w.stored_len(), STORED_CAP);
        assert!(w.take_stored("r", "e0").is_none());
        assert!(w.take_stored("r", "e5").is_some());
        assert!(w.take_stored("r", "e5").is_none());
        w.drop_run("r");
        assert_eq!(w.stored_len(), 0);
    }
}
