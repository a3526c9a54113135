//! The transitions of workflow events (see `wait` for what a waiter is): registering a wait
//! with its deadline, notifying every waiter of an event or the first of one run (storing
//! the notification when nobody waits yet), webhook calls, and a waiter's deadline passing.
//! Each notified or timed-out waiter becomes a server step of its run.

use bytes::Bytes;

use crate::engine::workflow::run::ServerStep;
use crate::engine::workflow::wait::{
    parse_timeout, result_step, run_gone, Notified, RunNotify, StoredNotify, WaitRequest, Waiter,
};
use crate::engine::{Engine, Error, Job, Locked, Result, TenantId};

impl Engine {
    /// `POST /v2/wait/{eventId}`: registers the waiter and arms its deadline; a stored
    /// notification for the run and event is consumed at once. 400 unless the run is active.
    pub(crate) fn register_wait(&self, t: TenantId, req: WaitRequest) -> Result<()> {
        let timeout = parse_timeout(req.timeout.as_deref())?;
        if !req.step.is_object() {
            return Err(Error::bad("the wait request needs a step object"));
        }
        self.with(t, |cx| {
            if !cx.st.runs.is_active(&req.run_id) {
                return Err(Error::bad(format!(
                    "workflow run {} does not exist or has already ended",
                    req.run_id
                )));
            }
            let timeout_ms = timeout.as_millis().try_into().unwrap_or(u64::MAX);
            let deadline = cx.now.saturating_add(timeout_ms);
            let waiter = Waiter {
                id: 0,
                event_id: req.event_id,
                run_id: req.run_id,
                timeout_url: req.timeout_url.unwrap_or_else(|| req.url.clone()),
                url: req.url,
                headers: req.headers,
                deadline,
                since: cx.now,
                timeout_body: req.timeout_body,
                timeout_headers: req.timeout_headers,
                step: req.step,
            };
            match cx.st.waits.register(waiter) {
                (id, Some(data)) => {
                    cx.deliver_notify(id, &data);
                }
                (id, None) => cx.schedule(deadline, Job::WaitTimeout { tenant: t, id }),
            }
            Ok(())
        })
    }

    /// `POST /v2/notify/{eventId}`: every waiter of the event gets it; nobody waiting loses it.
    pub(crate) fn notify(&self, t: TenantId, event_id: &str, data: &[u8]) -> Vec<Notified> {
        self.with(t, |cx| {
            let ids: Vec<u64> = cx.st.waits.of_event(event_id).map(|w| w.id).collect();
            ids.into_iter()
                .filter_map(|id| cx.deliver_notify(id, data))
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
        self.with(t, |cx| {
            let created = cx
                .st
                .runs
                .active(run_id)
                .map(|r| r.created_at)
                .ok_or_else(|| run_gone(run_id))?;
            if let Some(id) = cx.st.waits.first_of(run_id, event_id) {
                if let Some(n) = cx.deliver_notify(id, &data) {
                    return Ok(RunNotify::Delivered(Box::new(n)));
                }
            }
            cx.st.waits.store(StoredNotify {
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
        self.with(t, |cx| {
            let Some(w) = cx.st.waits.remove(id) else {
                return;
            };
            if !cx.st.runs.is_active(&w.run_id) {
                return;
            }
            let s = ServerStep {
                run_id: w.run_id.clone(),
                url: w.timeout_url.clone(),
                headers: w.timeout_headers.clone(),
                step: result_step(&w, None),
            };
            if let Err(e) = cx.server_step(s) {
                tracing::warn!(target: "qstash::workflow", "wait timeout of run {} not delivered: {e}", w.run_id);
            }
        })
    }

    /// `GET /v2/waiters/{eventId}`.
    pub(crate) fn waiters(&self, t: TenantId, event_id: &str) -> Vec<Waiter> {
        self.with(t, |cx| cx.st.waits.of_event(event_id).cloned().collect())
    }
}

impl Locked<'_> {
    /// Removes waiter `id` and delivers `data` to its run; None when it is gone.
    fn deliver_notify(&mut self, id: u64, data: &[u8]) -> Option<Notified> {
        let waiter = self.st.waits.remove(id)?;
        let run_created_at = self.st.runs.active(&waiter.run_id)?.created_at;
        let s = ServerStep {
            run_id: waiter.run_id.clone(),
            url: waiter.url.clone(),
            headers: waiter.headers.clone(),
            step: result_step(&waiter, Some(data)),
        };
        let (message_id, error) = match self.server_step(s) {
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
