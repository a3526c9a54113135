//! The workflow DLQ: the DLQ entries of workflow steps (a run failed on them), listed with their
//! run and the fate of the run's failure callback; deleted; resumed (a new run with the failed
//! run's history up to the failed message, which is published again) or restarted (a new run
//! from its first message), with publish headers overriding the run config; and the failure
//! callback published again or, while in progress, cancelled. Must not import axum, reqwest or
//! tokio::net.

use std::sync::Arc;

use crate::engine::lifecycle::manage::apply_overrides;
use crate::engine::lifecycle::message::MessageSpec;
use crate::engine::lifecycle::publish::{build_spec, check_options, first_delivery};
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::filter::Filter;
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::{merge, Headers};
use crate::engine::syntax::options::{CallbackOptions, PublishOptions};
use crate::engine::workflow::logs::{callback_state, collect, failure_call};
use crate::engine::workflow::{CallType, Run, RunConfig, RunState, WorkflowLink, PROTOCOL_VERSION};
use crate::engine::{Engine, Error, Locked, Result, TenantId, TenantState};

/// A workflow DLQ entry with its run and failure callback.
#[derive(Debug, Clone)]
pub(crate) struct WorkflowDlqEntry {
    pub(crate) entry: DlqEntry,
    pub(crate) run_id: String,
    pub(crate) created_at: u64,
    pub(crate) url: String,
    pub(crate) failure: Option<FailureInfo>,
}

/// How the run's failure callback fared.
#[derive(Debug, Clone)]
pub(crate) struct FailureInfo {
    pub(crate) state: &'static str,
    pub(crate) response: Option<Response>,
}

/// Filters of the workflow DLQ: the message filter plus the run's fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkflowDlqFilter {
    pub(crate) base: Filter,
    pub(crate) run_ids: Vec<String>,
    pub(crate) urls: Vec<String>,
    pub(crate) created_at: Option<u64>,
    pub(crate) failure_states: Vec<String>,
}

impl WorkflowDlqFilter {
    fn matches(&self, w: &WorkflowDlqEntry) -> bool {
        let state = w.failure.as_ref().map(|f| f.state);
        (self.run_ids.is_empty() || self.run_ids.contains(&w.run_id))
            && (self.urls.is_empty() || self.urls.contains(&w.url))
            && self.created_at.is_none_or(|c| c == w.created_at)
            && (self.failure_states.is_empty()
                || self
                    .failure_states
                    .iter()
                    .any(|s| Some(s.as_str()) == state))
    }
}

/// Explicit ids win over the filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkflowDlqSelection {
    pub(crate) dlq_ids: Vec<String>,
    pub(crate) filter: WorkflowDlqFilter,
    pub(crate) cursor: Option<String>,
    pub(crate) count: usize,
}

/// A run's id and creation time (Unix ms).
pub(crate) type RunKey = (String, u64);

/// What to do with a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rerun {
    Resume,
    Restart,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("workflow dlq message {id} not found"))
}

/// The failure callback now carries the new run's id.
fn with_run_id(cb: &mut CallbackOptions, run_id: &str) {
    for (k, v) in cb.forward.iter_mut() {
        if k.eq_ignore_ascii_case("Upstash-Workflow-RunId") {
            *v = run_id.to_string();
        }
    }
}

/// The override of a failure callback replaces its URL and keeps the workflow headers.
fn failure_override(base: Option<&CallbackOptions>, o: &PublishOptions) -> Option<CallbackOptions> {
    let over = o.failure_callback.as_ref()?;
    Some(match base {
        Some(b) => CallbackOptions {
            url: over.url.clone(),
            ..b.clone()
        },
        None => over.clone(),
    })
}

fn label_header(labels: &[String]) -> Headers {
    vec![("Upstash-Label".to_string(), labels.join(","))]
}

/// The run config of the new run: the old one with the overrides.
fn new_config(c: &RunConfig, o: &PublishOptions, run_id: &str) -> RunConfig {
    let mut c = c.clone();
    c.retries = o.retries.or(c.retries);
    if o.retry_delay.is_some() {
        c.retry_delay = o.retry_delay.clone();
    }
    if o.flow.is_some() {
        c.flow = o.flow.clone();
    }
    if let Some(l) = &o.labels {
        c.labels = Some(l.clone());
        c.forward = merge(&c.forward, &label_header(l));
    }
    if let Some(f) = failure_override(c.failure_callback.as_ref(), o) {
        c.failure_callback = Some(f);
    }
    if let Some(f) = &mut c.failure_callback {
        with_run_id(f, run_id);
    }
    c
}

impl TenantState {
    fn workflow_entry(&self, e: &DlqEntry) -> Option<WorkflowDlqEntry> {
        let link = e.spec.workflow.as_ref()?;
        let url = self
            .runs
            .find_at(&link.run_id, link.created_at)
            .map_or_else(|| e.spec.url.clone(), |r| r.url.clone());
        Some(WorkflowDlqEntry {
            entry: e.clone(),
            run_id: link.run_id.clone(),
            created_at: link.created_at,
            url,
            failure: None,
        })
    }

    /// Adds what the log says about the failure callbacks of the entries' runs.
    fn with_failures(&self, mut list: Vec<WorkflowDlqEntry>) -> Vec<WorkflowDlqEntry> {
        let infos = collect(self, |l| l.call_type == CallType::FailureCall);
        for w in &mut list {
            w.failure = failure_call(&infos, &w.run_id, w.created_at).map(|(_, i)| FailureInfo {
                state: callback_state(i.last),
                response: i.response.cloned(),
            });
        }
        list
    }

    /// The selected workflow entries, and the cursor of the rest.
    fn workflow_select(
        &self,
        sel: &WorkflowDlqSelection,
    ) -> (Vec<WorkflowDlqEntry>, Option<String>) {
        if !sel.dlq_ids.is_empty() {
            let found = sel
                .dlq_ids
                .iter()
                .filter_map(|id| self.dlq.get(id))
                .filter_map(|e| self.workflow_entry(e))
                .collect();
            return (self.with_failures(found), None);
        }
        let (all, _) = self
            .dlq
            .list(&sel.filter.base, sel.cursor.as_deref(), usize::MAX);
        let matching = all.iter().filter_map(|e| self.workflow_entry(e));
        let matching = self.with_failures(matching.collect());
        let mut page = Vec::new();
        for w in matching.into_iter().filter(|w| sel.filter.matches(w)) {
            if page.len() == sel.count {
                return (page, Some(w.entry.dlq_id));
            }
            page.push(w);
        }
        (page, None)
    }
}

impl Engine {
    pub(crate) fn workflow_dlq_list(
        &self,
        t: TenantId,
        sel: &WorkflowDlqSelection,
    ) -> (Vec<WorkflowDlqEntry>, Option<String>) {
        self.with(t, |cx| {
            cx.dlq();
            cx.st.workflow_select(sel)
        })
    }

    pub(crate) fn workflow_dlq_get(&self, t: TenantId, dlq_id: &str) -> Result<WorkflowDlqEntry> {
        let sel = WorkflowDlqSelection {
            dlq_ids: vec![dlq_id.to_string()],
            ..Default::default()
        };
        let (mut found, _) = self.workflow_dlq_list(t, &sel);
        found.pop().ok_or_else(|| not_found(dlq_id))
    }

    pub(crate) fn workflow_dlq_delete_many(
        &self,
        t: TenantId,
        sel: &WorkflowDlqSelection,
    ) -> (usize, Option<String>) {
        self.with(t, |cx| {
            cx.dlq();
            let (page, cursor) = cx.st.workflow_select(sel);
            for w in &page {
                cx.st.dlq.remove(&w.entry.dlq_id);
            }
            (page.len(), cursor)
        })
    }

    /// Resumes or restarts the selected failed runs: `(new run id, its creation time)` each.
    pub(crate) fn workflow_dlq_rerun(
        &self,
        t: TenantId,
        sel: &WorkflowDlqSelection,
        mode: Rerun,
        o: &PublishOptions,
    ) -> Result<(Vec<RunKey>, Option<String>)> {
        check_options(o, self.limits(), self.now())?;
        self.with(t, |cx| {
            cx.dlq();
            let (page, cursor) = cx.st.workflow_select(sel);
            if page.is_empty() && sel.dlq_ids.len() == 1 {
                return Err(not_found(&sel.dlq_ids[0]));
            }
            let mut runs = Vec::with_capacity(page.len());
            for w in &page {
                runs.push(cx.rerun(&w.entry, mode, o)?);
            }
            Ok((runs, cursor))
        })
    }

    /// Publishes the failure callback of a failed run again (its last one must have failed).
    pub(crate) fn workflow_dlq_callback(&self, t: TenantId, dlq_id: &str) -> Result<RunKey> {
        self.with(t, |cx| {
            let (run, call) = failure_of(cx.st, dlq_id)?;
            if call.state != "CALLBACK_FAIL" {
                return Err(Error::bad("the failure callback has not failed"));
            }
            let spec = call
                .spec
                .ok_or_else(|| Error::bad("the failure callback is gone"))?;
            cx.enqueue(spec, cx.now);
            Ok(run)
        })
    }

    /// Cancels the failure callback of a failed run while it is in progress (a retried one
    /// waiting for its next attempt); anything else is a 400, as the reference documents.
    pub(crate) fn workflow_dlq_callback_cancel(&self, t: TenantId, dlq_id: &str) -> Result<RunKey> {
        self.with(t, |cx| {
            let (run, call) = failure_of(cx.st, dlq_id)?;
            if call.state != "CALLBACK_INPROGRESS" || !cx.cancel(&call.message_id) {
                return Err(Error::bad("the failure callback is not in progress"));
            }
            Ok(run)
        })
    }
}

/// The latest failure-callback message of a workflow DLQ entry's run, owned.
struct FailureCall {
    message_id: String,
    state: &'static str,
    spec: Option<Arc<MessageSpec>>,
}

/// The run of a workflow DLQ entry and its failure callback; 404 for an unknown entry, 400
/// when the run has no failure callback.
fn failure_of(st: &TenantState, dlq_id: &str) -> Result<(RunKey, FailureCall)> {
    let w = st
        .dlq
        .get(dlq_id)
        .and_then(|e| st.workflow_entry(e))
        .ok_or_else(|| not_found(dlq_id))?;
    let infos = collect(st, |l| l.call_type == CallType::FailureCall);
    let (id, info) = failure_call(&infos, &w.run_id, w.created_at)
        .ok_or_else(|| Error::bad("the workflow run has no failure callback"))?;
    let call = FailureCall {
        message_id: id.to_string(),
        state: callback_state(info.last),
        spec: info.spec.cloned(),
    };
    Ok(((w.run_id, w.created_at), call))
}

impl Locked<'_> {
    /// Starts a new run from a failed run's DLQ entry: resumed from the failed step, or
    /// restarted from its first message.
    fn rerun(&mut self, e: &DlqEntry, mode: Rerun, o: &PublishOptions) -> Result<RunKey> {
        let now = self.now;
        let link = e
            .spec
            .workflow
            .clone()
            .ok_or_else(|| not_found(&e.dlq_id))?;
        let old = self
            .st
            .runs
            .find_at(&link.run_id, link.created_at)
            .cloned()
            .ok_or_else(|| Error::bad(format!("the run of dlq message {} is gone", e.dlq_id)))?;
        let new_id = format!("wfr_{}", crate::ids::base58(21));
        let (keep, base, init) = match mode {
            Rerun::Resume => {
                let at = old
                    .history
                    .iter()
                    .position(|s| s.message_id == e.message_id);
                (
                    at.unwrap_or(old.history.len()),
                    (*e.spec).clone(),
                    link.init,
                )
            }
            Rerun::Restart => (0, self.init_spec(&old), true),
        };
        let mut spec = apply_overrides(
            &base,
            &PublishOptions {
                failure_callback: None,
                ..o.clone()
            },
        );
        spec.failure_callback = failure_override(base.failure_callback.as_deref(), o)
            .map(Box::new)
            .or(spec.failure_callback);
        if let Some(f) = &mut spec.failure_callback {
            with_run_id(f, &new_id);
        }
        if let Some(l) = &o.labels {
            spec.header = merge(&spec.header, &label_header(l));
        }
        let new_link = WorkflowLink {
            run_id: new_id.clone(),
            created_at: now,
            call_type: CallType::Step,
            init,
            detect_trigger: link.detect_trigger
                || (init && old.feature_set.contains("WF_DetectTrigger")),
        };
        spec.workflow = Some(Box::new(new_link.clone()));
        let mut run = old.clone();
        run.id = new_id.clone();
        run.created_at = now;
        run.state = RunState::Running;
        run.completed_at = None;
        run.response = None;
        run.dlq_id = None;
        run.error = None;
        run.failure_report = None;
        run.invoker = None;
        run.config = new_config(&old.config, o, &new_id);
        run.history.truncate(keep);
        self.st.runs.start(run);
        let body = spec.body.clone();
        let id = self.enqueue(Arc::new(spec), first_delivery(o, now));
        self.st.runs.append(&new_link, &id, &body, now);
        self.st.dlq.remove(&e.dlq_id);
        Ok((new_id, now))
    }

    /// The first message of `run` as it was published (from the log), else rebuilt from its
    /// config.
    fn init_spec(&self, run: &Run) -> MessageSpec {
        let logged = self
            .st
            .logs
            .iter()
            .find(|e| e.message_id == run.init_message)
            .map(|e| (*e.spec).clone());
        logged.unwrap_or_else(|| {
            let c = &run.config;
            let sdk = [(
                "Upstash-Workflow-Sdk-Version".to_string(),
                PROTOCOL_VERSION.to_string(),
            )];
            let o = PublishOptions {
                content_type: Some("application/json".into()),
                forward: merge(&c.forward, &sdk),
                retries: c.retries,
                retry_delay: c.retry_delay.clone(),
                flow: c.flow.clone(),
                failure_callback: c.failure_callback.clone(),
                labels: c.labels.clone(),
                ..Default::default()
            };
            let (url, body, ip) = (
                run.url.clone(),
                run.initial_body.clone(),
                run.caller_ip.clone(),
            );
            build_spec(url, o, body, ip, self.limits())
        })
    }
}
