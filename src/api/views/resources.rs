//! The views of the resources a tenant manages: URL groups (§4.5), queues (§4.6), flow-control
//! keys, and workflow waiters with what a notify reached. Fields are declared in the
//! alphabetical order of their JSON names, the order the server has always written them in.

use serde::Serialize;

use super::HeaderMap;
use crate::engine::limits::flow::ops::FlowInfo;
use crate::engine::limits::queues::Queue;
use crate::engine::resources::topics::{Endpoint, UrlGroup};
use crate::engine::syntax::headers::to_map;
use crate::engine::workflow::wait::{Notified, Waiter};

/// An endpoint carries exactly `name` (when set) and `url`.
#[derive(Serialize)]
struct EndpointView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    url: &'a str,
}

impl<'a> EndpointView<'a> {
    fn of(e: &'a Endpoint) -> Self {
        Self {
            name: e.name.as_deref(),
            url: &e.url,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UrlGroupView<'a> {
    created_at: u64,
    endpoints: Vec<EndpointView<'a>>,
    name: &'a str,
    updated_at: u64,
}

impl<'a> UrlGroupView<'a> {
    pub(crate) fn of(g: &'a UrlGroup) -> Self {
        Self {
            created_at: g.created_at,
            endpoints: g.endpoints.iter().map(EndpointView::of).collect(),
            name: &g.name,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueView<'a> {
    created_at: u64,
    lag: usize,
    name: &'a str,
    parallelism: u32,
    paused: bool,
    updated_at: u64,
}

impl<'a> QueueView<'a> {
    pub(crate) fn of(q: &'a Queue) -> Self {
        Self {
            created_at: q.created_at,
            lag: q.lag(),
            name: &q.name,
            parallelism: q.parallelism,
            paused: q.paused,
            updated_at: q.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowInfoView<'a> {
    flow_control_key: &'a str,
    is_paused: bool,
    is_pinned_parallelism: bool,
    is_pinned_rate: bool,
    parallelism_count: usize,
    parallelism_max: u32,
    rate_count: u32,
    rate_max: u32,
    rate_period: u64,
    rate_period_start: u64,
    wait_list_size: usize,
}

impl<'a> FlowInfoView<'a> {
    pub(crate) fn of(i: &'a FlowInfo) -> Self {
        Self {
            flow_control_key: &i.key,
            is_paused: i.is_paused,
            is_pinned_parallelism: i.is_pinned_parallelism,
            is_pinned_rate: i.is_pinned_rate,
            parallelism_count: i.parallelism_count,
            parallelism_max: i.parallelism_max,
            rate_count: i.rate_count,
            rate_max: i.rate_max,
            rate_period: i.rate_period,
            rate_period_start: i.rate_period_start,
            wait_list_size: i.wait_list_size,
        }
    }
}

/// A waiter as the API shows it (`deadline` in Unix seconds).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WaiterView<'a> {
    deadline: u64,
    headers: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_body: Option<&'a str>,
    timeout_headers: HeaderMap,
    timeout_url: &'a str,
    url: &'a str,
}

impl<'a> WaiterView<'a> {
    pub(crate) fn of(w: &'a Waiter) -> Self {
        Self {
            deadline: w.deadline / 1000,
            headers: to_map(&w.headers),
            timeout_body: w.timeout_body.as_deref(),
            timeout_headers: to_map(&w.timeout_headers),
            timeout_url: &w.timeout_url,
            url: &w.url,
        }
    }
}

/// What a notify reached: the waiter (absent when the notification was stored until the run
/// waits) and the step message it published.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotifiedView<'a> {
    error: &'a str,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiter: Option<WaiterView<'a>>,
    workflow_created_at: u64,
    workflow_run_id: &'a str,
}

impl<'a> NotifiedView<'a> {
    pub(crate) fn of(n: &'a Notified) -> Self {
        Self {
            error: &n.error,
            message_id: &n.message_id,
            waiter: Some(WaiterView::of(&n.waiter)),
            workflow_created_at: n.run_created_at,
            workflow_run_id: &n.waiter.run_id,
        }
    }

    /// A notification stored until run `run_id` waits for it.
    pub(crate) fn stored(run_id: &'a str, run_created_at: u64) -> Self {
        Self {
            error: "",
            message_id: "",
            waiter: None,
            workflow_created_at: run_created_at,
            workflow_run_id: run_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::views::tests::assert_sorted;

    #[test]
    fn fields_are_declared_in_alphabetical_order() {
        let e = EndpointView {
            name: Some("n"),
            url: "u",
        };
        assert_sorted(&UrlGroupView {
            created_at: 1,
            endpoints: vec![e],
            name: "g",
            updated_at: 2,
        });
        assert_sorted(&QueueView {
            created_at: 1,
            lag: 0,
            name: "q",
            parallelism: 1,
            paused: false,
            updated_at: 2,
        });
        assert_sorted(&FlowInfoView::of(&FlowInfo {
            key: "k".into(),
            wait_list_size: 0,
            parallelism_max: 1,
            parallelism_count: 0,
            rate_max: 1,
            rate_count: 0,
            rate_period: 1,
            rate_period_start: 0,
            is_paused: false,
            is_pinned_parallelism: false,
            is_pinned_rate: false,
        }));
        let waiter = WaiterView {
            deadline: 1,
            headers: HeaderMap::new(),
            timeout_body: Some("b"),
            timeout_headers: HeaderMap::new(),
            timeout_url: "t",
            url: "u",
        };
        assert_sorted(&NotifiedView {
            waiter: Some(waiter),
            ..NotifiedView::stored("wfr", 1)
        });
    }
}
