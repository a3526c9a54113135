//! One run for the dashboard's run view: the run with what the log says of its messages, where
//! it is and why ([`super::diagnose`]), its waiters, and when its pending messages are due,
//! gathered under one lock of the tenant.

use std::sync::Arc;

use super::{diagnose, Evidence, Status};
use crate::engine::lifecycle::message::{Kind, Message};
use crate::engine::workflow::logs::{page_of, RunLogPage};
use crate::engine::workflow::wait::Waiter;
use crate::engine::workflow::Run;
use crate::engine::{Engine, Error, Result, TenantId, TenantState};

pub(crate) struct RunReport {
    /// Holds the run alone.
    pub(crate) page: RunLogPage,
    pub(crate) status: Status,
    /// Its DLQ entry is still there: it can be resumed or restarted.
    pub(crate) in_dlq: bool,
    pub(crate) waiters: Vec<Waiter>,
    /// When each pending message of the run is due next (Unix ms).
    pub(crate) due: Vec<(Arc<str>, u64)>,
}

impl Engine {
    /// The run `id` created at `created_at` (without it: the active run of that id, else its
    /// latest ended one) with its diagnosis.
    pub(crate) fn run_report(
        &self,
        t: TenantId,
        id: &str,
        created_at: Option<u64>,
    ) -> Result<RunReport> {
        self.with(t, |cx| {
            let st = &*cx.st;
            let run = match created_at {
                Some(at) => st.runs.find_at(id, at),
                None => st.runs.find(id),
            }
            .ok_or_else(|| Error::not_found(format!("workflow run {id} not found")))?;
            let page = page_of(st, &[run], false);
            let e = evidence(st, run, &page, cx.now);
            let status = diagnose(&e);
            let in_dlq = e.in_dlq;
            let waiters = e.waiters.iter().map(|w| (*w).clone()).collect();
            let due = e
                .pending
                .iter()
                .map(|m| (m.id.clone(), m.not_before))
                .collect();
            Ok(RunReport {
                page,
                status,
                in_dlq,
                waiters,
                due,
            })
        })
    }
}

/// What the diagnosis of `run` reads from the tenant's state.
fn evidence<'a>(st: &'a TenantState, run: &'a Run, page: &'a RunLogPage, now: u64) -> Evidence<'a> {
    let active = run.is_active();
    let mine = |m: &&Message| {
        m.spec.kind != Kind::FailureCallback
            && m.spec
                .workflow
                .as_deref()
                .is_some_and(|l| l.run_id == run.id && l.created_at == run.created_at)
    };
    Evidence {
        run,
        now,
        waiters: st.waits.of_run(&run.id).filter(|_| active).collect(),
        pending: st.messages.values().filter(mine).collect(),
        invoked: page
            .invoked
            .iter()
            .filter(|c| {
                st.runs
                    .find_at(&c.id, c.created_at)
                    .is_some_and(Run::is_active)
            })
            .collect(),
        page,
        in_dlq: run
            .dlq_id
            .as_deref()
            .is_some_and(|d| st.dlq.get(d).is_some()),
    }
}
