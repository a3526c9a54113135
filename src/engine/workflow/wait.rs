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
use crate::engine::workflow::run::ServerStep;
use crate::engine::{Engine, Error, Job, Result, TenantId, TenantState};

/// Run-scoped notifications kept per tenant until someone waits; the oldest go first.
pub(crate) const STORED_CAP: usize = 10_000;

/// How long a wait lasts when it does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A run waiting for an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Waiter {
    pub(crate) id: u64,
    pub(crate) event_id: String,
    pub(crate) run_id: String,
    pub(crate) url: String,
    /// The wait request's headers (`Name: value`); `Upstash-Forward-X` reaches the endpoint.
    pub(crate) headers: Headers,
    /// Unix ms.
    pub(crate) deadline: u64,
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

#[derive(Debug, Clone)]
struct StoredNotify {
    run_id: String,
    event_id: String,
    data: Bytes,
}

/// A tenant's waiters (in registration order) and stored run-scoped notifications.
#[derive(Debug, Default)]
pub(crate) struct Waits {
    waiters: BTreeMap<u64, Waiter>,
    stored: VecDeque<StoredNotify>,
    next_id: u64,
}

impl Waits {
    /// Forgets every waiter and notification but keeps the id counter, so the timer jobs of
    /// the old waiters stay stale (`/dev/reset`).
    pub(crate) fn clear(&mut self) {
        self.waiters.clear();
        self.stored.clear();
    }

    /// Drops what belongs to a run that ended.
    pub(crate) fn drop_run(&mut self, run_id: &str) {
        self.waiters.retain(|_, w| w.run_id != run_id);
        self.stored.retain(|s| s.run_id != run_id);
    }

    fn first_of(&self, run_id: &str, event_id: &str) -> Option<u64> {
        self.waiters
            .values()
            .find(|w| w.run_id == run_id && w.event_id == event_id)
            .map(|w| w.id)
    }

    fn store(&mut self, s: StoredNotify) {
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
fn result_step(w: &Waiter, data: Option<&[u8]>) -> Value {
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

fn parse_timeout(t: Option<&str>) -> Result<Duration> {
    match t.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(s) => parse_duration(s).map_err(|e| Error::bad(format!("invalid timeout: {e}"))),
    }
}

fn run_gone(run_id: &str) -> Error {
    Error::not_found(format!(
        "workflow run {run_id} does not exist or has already ended"
    ))
}

impl Engine {
    /// `POST /v2/wait/{eventId}`: registers the waiter and arms its deadline; a stored
    /// notification for the run and event is consumed at once. 400 unless the run is active.
    pub(crate) fn register_wait(&self, t: TenantId, req: WaitRequest) -> Result<()> {
        let now = self.now();
        let timeout = parse_timeout(req.timeout.as_deref())?;
        if !req.step.is_object() {
            return Err(Error::bad("the wait request needs a step object"));
        }
        self.with(t, |st| {
            if !st.runs.active.contains_key(&req.run_id) {
                return Err(Error::bad(format!(
                    "workflow run {} does not exist or has already ended",
                    req.run_id
                )));
            }
            st.waits.next_id += 1;
            let id = st.waits.next_id;
            let deadline = now.saturating_add(timeout.as_millis().try_into().unwrap_or(u64::MAX));
            let waiter = Waiter {
                id,
                event_id: req.event_id,
                run_id: req.run_id,
                timeout_url: req.timeout_url.unwrap_or_else(|| req.url.clone()),
                url: req.url,
                headers: req.headers,
                deadline,
                timeout_body: req.timeout_body,
                timeout_headers: req.timeout_headers,
                step: req.step,
            };
            // A retried delivery registers the same wait again: it replaces the first one, so
            // a notify delivers the step once.
            st.waits.waiters.retain(|_, w| {
                !(w.run_id == waiter.run_id
                    && w.event_id == waiter.event_id
                    && w.step == waiter.step)
            });
            let stored = st.waits.take_stored(&waiter.run_id, &waiter.event_id);
            st.waits.waiters.insert(id, waiter);
            match stored {
                Some(data) => {
                    self.deliver_notify(t, st, id, &data, now);
                }
                None => self
                    .timer
                    .schedule(deadline, Job::WaitTimeout { tenant: t, id }),
            }
            Ok(())
        })
    }

    /// `POST /v2/notify/{eventId}`: every waiter of the event gets it; nobody waiting loses it.
    pub(crate) fn notify(&self, t: TenantId, event_id: &str, data: &[u8]) -> Vec<Notified> {
        let now = self.now();
        self.with(t, |st| {
            let ids: Vec<u64> = st
                .waits
                .waiters
                .values()
                .filter(|w| w.event_id == event_id)
                .map(|w| w.id)
                .collect();
            ids.into_iter()
                .filter_map(|id| self.deliver_notify(t, st, id, data, now))
                .collect()
        })
    }

    /// `POST /v2/notify/{runId}/{eventId}` and webhooks: the run's first waiter of the event
    /// gets it, or it is stored until the run waits. 404 unless the run is active.
    pub(crate) fn notify_run(
        &self,
        t: TenantId,
        run_id: &str,
        event_id: &str,
        data: Bytes,
    ) -> Result<RunNotify> {
        let now = self.now();
        self.with(t, |st| {
            let created = st
                .runs
                .active
                .get(run_id)
                .map(|r| r.created_at)
                .ok_or_else(|| run_gone(run_id))?;
            if let Some(id) = st.waits.first_of(run_id, event_id) {
                if let Some(n) = self.deliver_notify(t, st, id, &data, now) {
                    return Ok(RunNotify::Delivered(Box::new(n)));
                }
            }
            st.waits.store(StoredNotify {
                run_id: run_id.to_string(),
                event_id: event_id.to_string(),
                data,
            });
            Ok(RunNotify::Stored {
                run_id: run_id.to_string(),
                run_created_at: created,
            })
        })
    }

    /// A webhook call (`/v2/workflows/hooks/{userId}/{runId}/{eventId}`, no token): the user
    /// id picks the tenant; 404 for an unknown user or a run that is not active.
    pub(crate) fn notify_hook(
        &self,
        user_id: &str,
        run_id: &str,
        event_id: &str,
        data: Bytes,
    ) -> Result<RunNotify> {
        let t = self
            .tenant_ids()
            .find(|t| self.tenant(*t).user.user_id == user_id)
            .ok_or_else(|| Error::not_found(format!("user {user_id} not found")))?;
        self.notify_run(t, run_id, event_id, data)
    }

    /// The timer job of a waiter's deadline: delivers the timeout step, unless it was notified.
    pub(crate) fn wait_timeout(&self, t: TenantId, id: u64) {
        let now = self.now();
        self.with(t, |st| {
            let Some(w) = st.waits.waiters.remove(&id) else {
                return;
            };
            if !st.runs.active.contains_key(&w.run_id) {
                return;
            }
            let s = ServerStep {
                run_id: w.run_id.clone(),
                url: w.timeout_url.clone(),
                headers: w.timeout_headers.clone(),
                step: result_step(&w, None),
            };
            if let Err(e) = self.server_step(t, st, s, now) {
                tracing::warn!(target: "qstash::workflow", "wait timeout of run {} not delivered: {e}", w.run_id);
            }
        })
    }

    /// `GET /v2/waiters/{eventId}`.
    pub(crate) fn waiters(&self, t: TenantId, event_id: &str) -> Vec<Waiter> {
        self.with(t, |st| {
            st.waits
                .waiters
                .values()
                .filter(|w| w.event_id == event_id)
                .cloned()
                .collect()
        })
    }

    /// Removes waiter `id` and delivers `data` to its run; None when it is gone.
    fn deliver_notify(
        &self,
        t: TenantId,
        st: &mut TenantState,
        id: u64,
        data: &[u8],
        now: u64,
    ) -> Option<Notified> {
        let waiter = st.waits.waiters.remove(&id)?;
        let run_created_at = st.runs.active.get(&waiter.run_id)?.created_at;
        let s = ServerStep {
            run_id: waiter.run_id.clone(),
            url: waiter.url.clone(),
            headers: waiter.headers.clone(),
            step: result_step(&waiter, Some(data)),
        };
        let (message_id, error) = match self.server_step(t, st, s, now) {
            Ok(id) => (id.to_string(), String::new()),
            Err(e) => (String::new(), e.to_string()),
        };
        Some(Notified {
            waiter,
            message_id,
            error,
            run_created_at,
        })
    }
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
            timeout_url: "http://x/wf".into(),
            timeout_body: None,
            timeout_headers: Vec::new(),
            step: json!({"stepId": 3, "stepName": "w", "stepType": "Wait", "concurrent": 1}),
        }
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
