//! Starting and cancelling runs through the run API: a trigger (`/v2/trigger`, whose request the
//! API has already turned into the first message of a run) answers with the run it started or
//! the active run it found; bulk cancel (`DELETE /v2/workflows/runs`) ends the chosen active
//! runs as cancelled. Must not import axum, reqwest or tokio::net.

use crate::engine::lifecycle::publish::PublishRequest;
use crate::engine::workflow::logs::RunFilter;
use crate::engine::workflow::RunState;
use crate::engine::{Engine, Error, Result, TenantId};

/// The run a trigger started, or the active one with that id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Triggered {
    pub(crate) run_id: String,
    pub(crate) created_at: u64,
    pub(crate) deduplicated: bool,
}

impl Engine {
    /// Publishes the first message of a run (`req.options.workflow` with `init`).
    pub(crate) fn trigger(&self, t: TenantId, req: PublishRequest) -> Result<Triggered> {
        let run_id = req
            .options
            .workflow
            .as_ref()
            .filter(|w| w.init)
            .map(|w| w.run_id.clone())
            .ok_or_else(|| Error::bad("a workflow run id is required"))?;
        self.with(t, |cx| {
            let out = cx.publish(req)?;
            let deduplicated = out.messages().iter().all(|p| p.deduplicated);
            let active = cx.st.runs.active(&run_id);
            let created_at = active.map_or(cx.now, |r| r.created_at);
            Ok(Triggered {
                run_id,
                created_at,
                deduplicated,
            })
        })
    }

    /// Cancels active runs: those in `ids`, else every one matching `f` (oldest first).
    /// Returns how many were cancelled.
    pub(crate) fn cancel_runs(&self, t: TenantId, ids: &[String], f: &RunFilter) -> usize {
        self.with(t, |cx| {
            let mut chosen: Vec<(u64, String)> = cx
                .st
                .runs
                .active_runs()
                .filter(|r| r.is_active())
                .filter(|r| {
                    if ids.is_empty() {
                        f.matches(r)
                    } else {
                        ids.contains(&r.id)
                    }
                })
                .map(|r| (r.created_at, r.id.clone()))
                .collect();
            chosen.sort();
            for (_, id) in &chosen {
                cx.end_run(id, RunState::Canceled, None);
            }
            chosen.len()
        })
    }
}
