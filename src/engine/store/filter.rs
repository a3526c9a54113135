//! Filters shared by logs, bulk cancel and the DLQ: values of one field are ORed, fields are
//! ANDed, dates are inclusive Unix ms.

use crate::engine::lifecycle::message::MessageSpec;
use crate::engine::store::logs::{LogEntry, State};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub message_ids: Vec<String>,
    pub states: Vec<State>,
    pub urls: Vec<String>,
    pub topic_names: Vec<String>,
    pub queue_names: Vec<String>,
    pub schedule_ids: Vec<String>,
    pub labels: Vec<String>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub caller_ips: Vec<String>,
    pub flow_control_keys: Vec<String>,
    pub response_statuses: Vec<u16>,
    pub from_date: Option<u64>,
    pub to_date: Option<u64>,
}

fn any_or_empty(wanted: &[String], have: Option<&str>) -> bool {
    wanted.is_empty() || have.is_some_and(|h| wanted.iter().any(|w| w == h))
}

impl Filter {
    /// Matches the message fields (everything but state, time and response status).
    pub(crate) fn matches_message(&self, id: &str, spec: &MessageSpec) -> bool {
        let parsed = url::Url::parse(&spec.url).ok();
        any_or_empty(&self.message_ids, Some(id))
            && any_or_empty(&self.urls, Some(&spec.url))
            && any_or_empty(&self.topic_names, spec.topic_name())
            && any_or_empty(&self.queue_names, spec.queue_name())
            && any_or_empty(&self.schedule_ids, spec.schedule_id())
            && any_or_empty(&self.caller_ips, Some(&spec.caller_ip))
            && any_or_empty(
                &self.flow_control_keys,
                spec.flow.as_ref().map(|f| f.key.as_str()),
            )
            && any_or_empty(&self.hosts, parsed.as_ref().and_then(|u| u.host_str()))
            && any_or_empty(&self.paths, parsed.as_ref().map(|u| u.path()))
            && (self.labels.is_empty() || spec.labels.iter().any(|l| self.labels.contains(l)))
    }

    pub(crate) fn matches_time(&self, t: u64) -> bool {
        self.from_date.is_none_or(|f| t >= f) && self.to_date.is_none_or(|to| t <= to)
    }

    pub(crate) fn matches_status(&self, status: u16) -> bool {
        self.response_statuses.is_empty() || self.response_statuses.contains(&status)
    }

    pub(crate) fn matches_log(&self, e: &LogEntry) -> bool {
        (self.states.is_empty() || self.states.contains(&e.state))
            && self.matches_time(e.time)
            && (self.response_statuses.is_empty()
                || e.response
                    .as_ref()
                    .is_some_and(|r| self.matches_status(r.status)))
            && self.matches_message(&e.message_id, &e.spec)
    }
}
