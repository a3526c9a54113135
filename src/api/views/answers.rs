//! The answers of bulk operations on the DLQs: how many entries were deleted and which runs
//! were started again, with the cursor of what is left when the operation stopped at its
//! count. Fields are declared in the alphabetical order of their JSON names, the order the
//! server has always written them in.

use serde::Serialize;

/// `{"cursor"?, "deleted": n}`.
#[derive(Serialize)]
pub(crate) struct Deleted {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    pub(crate) deleted: usize,
}

/// A run started again from the workflow DLQ.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunRef<'a> {
    workflow_created_at: u64,
    workflow_run_id: &'a str,
}

impl<'a> RunRef<'a> {
    pub(crate) fn of((id, at): &'a (String, u64)) -> Self {
        Self {
            workflow_created_at: *at,
            workflow_run_id: id,
        }
    }
}

/// `{"cursor"?, "workflowRuns": [...]}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Reruns<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    pub(crate) workflow_runs: Vec<RunRef<'a>>,
}
