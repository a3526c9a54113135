//! The schedule view (§4.4). It owns what it shows, so the whole list can be streamed one entry
//! at a time. Fields are declared in the alphabetical order of their JSON names, the order the
//! server has always written them in.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use super::{redacted, HeaderMap};
use crate::engine::resources::schedules::Schedule;
use crate::engine::syntax::headers::{canonical, to_map, Headers};
use crate::engine::syntax::options::{CallbackOptions, PublishOptions};

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleView {
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_header: Option<HeaderMap>,
    #[serde(rename = "callerIP")]
    caller_ip_upper: String,
    caller_ip: String,
    created_at: u64,
    cron: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay: Option<u64>,
    destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_control_key: Option<String>,
    header: HeaderMap,
    is_paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<String>>,
    last_schedule_states: BTreeMap<String, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_schedule_time: Option<u64>,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_schedule_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<u32>,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_delay_expression: Option<String>,
    schedule_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
}

/// The headers a schedule's messages carry (`Content-Type` first), redacted ones hidden.
fn header_view(o: &PublishOptions) -> HeaderMap {
    let redact = o.redact.clone().unwrap_or_default();
    let header: Headers = o
        .content_type
        .iter()
        .map(|ct| ("Content-Type".to_string(), ct.clone()))
        .chain(o.forward.iter().cloned())
        .map(|(k, v)| {
            let v = if redact.hides_header(&k) {
                redacted(v.as_bytes())
            } else {
                v
            };
            (canonical(&k), v)
        })
        .collect();
    to_map(&header)
}

fn callback_header(cb: Option<&CallbackOptions>) -> Option<HeaderMap> {
    cb.filter(|c| !c.forward.is_empty())
        .map(|c| to_map(&c.forward))
}

impl ScheduleView {
    /// `body` when UTF-8 (or redacted), else `bodyBase64`.
    fn with_body(mut self, s: &Schedule) -> Self {
        if s.body.is_empty() {
            return self;
        }
        let hidden = s.options.redact.as_ref().is_some_and(|r| r.body);
        match std::str::from_utf8(&s.body) {
            _ if hidden => self.body = Some(redacted(&s.body)),
            Ok(text) => self.body = Some(text.to_string()),
            Err(_) => self.body_base64 = Some(B64.encode(&s.body)),
        }
        self
    }

    /// §4.4.
    pub(crate) fn of(s: &Schedule) -> Self {
        let o = &s.options;
        let flow = o.flow.as_ref();
        let labels = o.labels.clone().filter(|l| !l.is_empty());
        Self {
            callback: o.callback.as_ref().map(|c| c.url.clone()),
            callback_header: callback_header(o.callback.as_ref()),
            caller_ip_upper: s.caller_ip.clone(),
            caller_ip: s.caller_ip.clone(),
            created_at: s.created_at,
            cron: s.cron.as_str().to_string(),
            delay: o.delay.map(|d| d.as_secs()),
            destination: s.destination.clone(),
            error: s.error.clone(),
            failure_callback: o.failure_callback.as_ref().map(|c| c.url.clone()),
            failure_callback_header: callback_header(o.failure_callback.as_ref()),
            flow_control_key: flow.map(|f| f.key.clone()),
            header: header_view(o),
            is_paused: s.paused,
            label: labels.as_ref().and_then(|l| l.first()).cloned(),
            labels,
            last_schedule_states: s
                .last_schedule_states
                .iter()
                .map(|(id, st)| (id.to_string(), st.as_str()))
                .collect(),
            last_schedule_time: s.last_schedule_time,
            method: o.method.unwrap_or("POST"),
            next_schedule_time: s.next_schedule_time,
            parallelism: flow.and_then(|f| f.parallelism),
            period: flow.map(|f| f.period),
            queue_name: s.queue.clone(),
            rate: flow.and_then(|f| f.rate),
            retries: o.retries.unwrap_or(crate::config::DEFAULT_RETRIES),
            retry_delay_expression: o.retry_delay.as_ref().map(|e| e.as_str().to_string()),
            schedule_id: s.id.clone(),
            timeout: o.timeout.map(|d| d.as_secs()),
            ..Self::default()
        }
        .with_body(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::views::tests::assert_sorted;

    #[test]
    fn fields_are_declared_in_alphabetical_order() {
        let s = || Some("x".to_string());
        let v = ScheduleView {
            body: s(),
            body_base64: s(),
            callback: s(),
            callback_header: Some(HeaderMap::new()),
            delay: Some(1),
            error: s(),
            failure_callback: s(),
            failure_callback_header: Some(HeaderMap::new()),
            flow_control_key: s(),
            label: s(),
            labels: Some(vec![]),
            last_schedule_time: Some(1),
            next_schedule_time: Some(1),
            parallelism: Some(1),
            period: Some(1),
            queue_name: s(),
            rate: Some(1),
            retry_delay_expression: s(),
            timeout: Some(1),
            ..ScheduleView::default()
        };
        assert_sorted(&v);
    }
}
