//! Bulk actions: the record of each filter-based bulk cancel (of messages, or of workflow
//! runs), as the API's `/v2/bulkActions` and `/v2/workflows/bulkActions` list them. A local
//! cancel finishes inside its request, so an action is recorded `FINISHED`, with every
//! matching item processed; its id, listing and fields behave as documented. Actions are kept
//! 7 days, newest first.

use std::collections::{BTreeMap, VecDeque};

use crate::engine::{Engine, Error, Result, TenantId, TenantState};

/// How long an action is kept after it was created.
const RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;

/// Actions kept per list; past it the oldest go first.
const MAX_KEPT: usize = 10_000;

/// One bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkAction {
    pub(crate) id: String,
    /// `cancel` (the only kind the reference names), or for the DLQ's async bulks `delete`,
    /// `retry`, `resume` or `restart` (their kind is not documented).
    pub(crate) kind: &'static str,
    pub(crate) total: usize,
    pub(crate) processed: usize,
    pub(crate) created_at: u64,
    /// None while in progress; a local action has finished when it is recorded.
    pub(crate) completed_at: Option<u64>,
    /// The filter the action was created with: each parameter's values, as given.
    pub(crate) filter: BTreeMap<String, Vec<String>>,
}

impl BulkAction {
    pub(crate) fn state(&self) -> &'static str {
        match self.completed_at {
            Some(_) => "FINISHED",
            None => "IN_PROGRESS",
        }
    }
}

/// One list of bulk actions, oldest first.
#[derive(Debug, Default)]
pub(crate) struct BulkActions(VecDeque<BulkAction>);

impl BulkActions {
    /// Records an action of `kind` on `n` items by `filter` that finished at `now`; returns it.
    pub(crate) fn record(
        &mut self,
        kind: &'static str,
        filter: BTreeMap<String, Vec<String>>,
        n: usize,
        now: u64,
    ) -> BulkAction {
        self.expire(now);
        if self.0.len() >= MAX_KEPT {
            self.0.pop_front();
        }
        let action = BulkAction {
            id: format!("act_{}", crate::ids::base58(22)),
            kind,
            total: n,
            processed: n,
            created_at: now,
            completed_at: Some(now),
            filter,
        };
        self.0.push_back(action.clone());
        action
    }

    pub(crate) fn get(&mut self, id: &str, now: u64) -> Option<BulkAction> {
        self.expire(now);
        self.0.iter().find(|a| a.id == id).cloned()
    }

    /// A page of `count` actions, newest first, from the one `cursor` names (from the newest
    /// when it names none), those in `state` only; and the cursor of the next page. As
    /// documented, `state` filters each page: a page may hold fewer than `count`.
    pub(crate) fn page(
        &mut self,
        cursor: Option<&str>,
        count: usize,
        state: Option<&str>,
        now: u64,
    ) -> (Vec<BulkAction>, Option<String>) {
        self.expire(now);
        let newest_first = self.0.iter().rev();
        let from = cursor
            .and_then(|c| self.0.iter().rev().position(|a| a.id == c))
            .unwrap_or(0);
        let mut scanned = newest_first.skip(from);
        let page: Vec<&BulkAction> = scanned.by_ref().take(count).collect();
        let next = scanned.next().map(|a| a.id.clone());
        let shown = page
            .into_iter()
            .filter(|a| state.is_none_or(|s| a.state() == s));
        (shown.cloned().collect(), next)
    }

    fn expire(&mut self, now: u64) {
        let oldest_kept = now.saturating_sub(RETENTION_MS);
        while self.0.front().is_some_and(|a| a.created_at < oldest_kept) {
            self.0.pop_front();
        }
    }
}

/// The two lists: bulk cancels of messages and of workflow runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Messages,
    Runs,
}

impl TenantState {
    fn actions_of(&mut self, scope: Scope) -> &mut BulkActions {
        match scope {
            Scope::Messages => &mut self.actions,
            Scope::Runs => &mut self.run_actions,
        }
    }
}

impl Engine {
    /// Records a filter-based bulk action of `kind` on `n` items as a finished action.
    pub(crate) fn record_action(
        &self,
        t: TenantId,
        (scope, kind): (Scope, &'static str),
        filter: BTreeMap<String, Vec<String>>,
        n: usize,
    ) -> BulkAction {
        self.with(t, |cx| {
            cx.st.actions_of(scope).record(kind, filter, n, cx.now)
        })
    }

    pub(crate) fn bulk_action(&self, t: TenantId, scope: Scope, id: &str) -> Result<BulkAction> {
        self.with(t, |cx| cx.st.actions_of(scope).get(id, cx.now))
            .ok_or_else(|| Error::not_found(format!("bulk action {id} not found")))
    }

    /// A page of actions (see [`BulkActions::page`]).
    pub(crate) fn bulk_actions(
        &self,
        t: TenantId,
        scope: Scope,
        cursor: Option<&str>,
        count: usize,
        state: Option<&str>,
    ) -> (Vec<BulkAction>, Option<String>) {
        self.with(t, |cx| {
            cx.st.actions_of(scope).page(cursor, count, state, cx.now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_page_newest_first_filter_by_state_and_expire_after_7_days() {
        let mut list = BulkActions::default();
        let ids: Vec<String> = (0..5)
            .map(|i| {
                list.record("cancel", BTreeMap::new(), i, 1_000 + i as u64)
                    .id
            })
            .collect();
        let (page, next) = list.page(None, 2, None, 2_000);
        assert_eq!(
            page.iter().map(|a| &a.id).collect::<Vec<_>>(),
            [&ids[4], &ids[3]]
        );
        assert_eq!(next.as_deref(), Some(ids[2].as_str()));
        let (page, next) = list.page(next.as_deref(), 10, None, 2_000);
        assert_eq!(page.len(), 3);
        assert_eq!(next, None);
        assert!(list.page(None, 10, Some("IN_PROGRESS"), 2_000).0.is_empty());
        assert_eq!(list.page(None, 10, Some("FINISHED"), 2_000).0.len(), 5);
        let a = list.get(&ids[0], 2_000).expect("kept");
        assert_eq!(
            (a.state(), a.total, a.processed, a.completed_at),
            ("FINISHED", 0, 0, Some(1_000))
        );
        assert!(
            list.get(&ids[0], 1_000 + RETENTION_MS + 1).is_none(),
            "gone after 7 days"
        );
    }
}
