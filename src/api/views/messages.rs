//! The message-like views (§4.2 message, §4.3 DLQ entry, §4.7 log entry): one struct holding
//! every field any of them shows, filled by one constructor per view. Optional fields are
//! omitted when empty, as the hosted service (written in Go with `omitempty`) does; the fields
//! the SDKs index directly are always present. Fields are declared in the alphabetical order of
//! their JSON names, the order the server has always written them in.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use super::{header_view, redacted, HeaderMap};
use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::logs::LogEntry;
use crate::engine::syntax::headers::to_map;
use crate::engine::syntax::options::CallbackOptions;
use crate::engine::workflow::dlq::WorkflowDlqEntry;

/// Every field of a message, DLQ entry or log entry.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_headers: Option<HeaderMap>,
    #[serde(rename = "callerIP")]
    caller_ip: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dlq_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback_headers: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_callback_info: Option<FailureCallbackInfo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_function_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_control_key: Option<&'a str>,
    header: HeaderMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a [String]>,
    max_retries: u32,
    message_id: &'a str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_delivery_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallelism: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_header: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_headers: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_delay_expr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_delay_expression: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic_name: Option<&'a str>,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_created_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_run_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_url: Option<&'a str>,
}

/// How the failure callback of a workflow DLQ entry's run fared.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureCallbackInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    response_body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_headers: Option<HeaderMap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_status: Option<u16>,
    state: &'static str,
}

fn callback_header(cb: &Option<Box<CallbackOptions>>) -> Option<HeaderMap> {
    cb.as_deref()
        .filter(|c| !c.forward.is_empty())
        .map(|c| to_map(&c.forward))
}

impl<'a> MessageView<'a> {
    /// The fields every message-like object shares.
    fn of_spec(message_id: &'a str, spec: &'a MessageSpec) -> Self {
        let flow = spec.flow.as_deref();
        let labels = Some(spec.labels.as_slice()).filter(|l| !l.is_empty());
        Self {
            callback: spec.callback.as_ref().map(|c| c.url.as_str()),
            callback_header: callback_header(&spec.callback),
            caller_ip: &spec.caller_ip,
            endpoint_name: spec.endpoint_name(),
            failure_callback: spec.failure_callback.as_ref().map(|c| c.url.as_str()),
            failure_callback_header: callback_header(&spec.failure_callback),
            flow_control_key: flow.map(|f| f.key.as_str()),
            header: header_view(spec),
            label: labels.and_then(|l| l.first()).map(String::as_str),
            labels,
            max_retries: spec.max_retries,
            message_id,
            method: spec.method.as_str(),
            parallelism: flow.and_then(|f| f.parallelism),
            period: flow.map(|f| f.period),
            queue_name: spec.queue_name(),
            rate: flow.and_then(|f| f.rate),
            retry_delay_expression: spec.retry_delay.as_ref().map(|e| e.as_str()),
            schedule_id: spec.schedule_id(),
            timeout: spec.timeout.map(|t| t.as_secs()),
            topic_name: spec.topic_name(),
            url: &spec.url,
            ..Self::default()
        }
    }

    /// `body` when UTF-8, else `bodyBase64`; redacted when asked.
    fn with_body(mut self, spec: &'a MessageSpec) -> Self {
        if spec.body.is_empty() {
            return self;
        }
        if spec.redact().body {
            self.body = Some(redacted(&spec.body).into());
        } else {
            match std::str::from_utf8(&spec.body) {
                Ok(s) => self.body = Some(s.into()),
                Err(_) => self.body_base64 = Some(B64.encode(&spec.body)),
            }
        }
        self
    }

    /// §4.2.
    pub(crate) fn message(msg: &'a Message) -> Self {
        Self {
            not_before: Some(msg.not_before),
            created_at: Some(msg.created_at),
            ..Self::of_spec(&msg.id, &msg.spec).with_body(&msg.spec)
        }
    }

    /// §4.3.
    pub(crate) fn dlq_entry(e: &'a DlqEntry) -> Self {
        let mut v = Self {
            not_before: Some(e.not_before),
            created_at: Some(e.created_at),
            dlq_id: Some(&e.dlq_id),
            response_status: Some(e.response_status()),
            error: e.error.as_deref(),
            ..Self::of_spec(&e.message_id, &e.spec).with_body(&e.spec)
        };
        if let Some(r) = &e.response {
            v.response_header = Some(r.headers.to_map());
            match std::str::from_utf8(&r.body) {
                Ok("") => {}
                Ok(s) => v.response_body = Some(s.into()),
                Err(_) => v.response_body_base64 = Some(B64.encode(&r.body)),
            }
        }
        v
    }

    /// §4.7. Bodies are base64; both spellings of the conflicting keys are shown.
    pub(crate) fn log_entry(e: &'a LogEntry) -> Self {
        let spec = &e.spec;
        let mut v = Self::of_spec(&e.message_id, spec);
        v.time = Some(e.time);
        v.state = Some(e.state.as_str());
        v.error = e.error.as_deref();
        v.next_delivery_time = e.next_delivery_time.map(std::num::NonZeroU64::get);
        v.retry_delay_expr = v.retry_delay_expression;
        v.callback_headers = v.callback_header.take();
        v.failure_callback_headers = v.failure_callback_header.take();
        if !spec.body.is_empty() {
            let body = match spec.redact().body {
                true => B64.encode(redacted(&spec.body)),
                false => B64.encode(&spec.body),
            };
            v.body = Some(body.into());
        }
        if let Some(r) = &e.response {
            v.response_status = Some(r.status);
            v.response_headers = Some(r.headers.to_map());
            v.response_header = v.response_headers.clone();
            if !r.body.is_empty() {
                v.response_body = Some(B64.encode(&r.body).into());
            }
        }
        v
    }

    /// A workflow DLQ entry: the DLQ entry with its run and failure callback.
    pub(crate) fn workflow_dlq_entry(w: &'a WorkflowDlqEntry) -> Self {
        let failure = w.failure.as_ref();
        Self {
            workflow_run_id: Some(&w.run_id),
            workflow_created_at: Some(w.created_at),
            workflow_url: Some(&w.url),
            failure_function_state: failure.map(|f| f.state),
            failure_callback_info: failure.map(|f| {
                let r = f.response.as_ref();
                FailureCallbackInfo {
                    response_body: r.map(|r| String::from_utf8_lossy(&r.body)),
                    response_headers: r.map(|r| r.headers.to_map()),
                    response_status: r.map(|r| r.status),
                    state: f.state,
                }
            }),
            ..Self::dlq_entry(&w.entry)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::views::tests::assert_sorted;

    #[test]
    fn fields_are_declared_in_alphabetical_order() {
        let m = || Some(HeaderMap::new());
        let labels = ["l".to_string()];
        let v = MessageView {
            body: Some("b".into()),
            body_base64: Some("b".into()),
            callback: Some("c"),
            callback_header: m(),
            callback_headers: m(),
            created_at: Some(1),
            dlq_id: Some("d"),
            endpoint_name: Some("e"),
            error: Some("e"),
            failure_callback: Some("f"),
            failure_callback_header: m(),
            failure_callback_headers: m(),
            failure_callback_info: Some(FailureCallbackInfo {
                response_body: Some("r".into()),
                response_headers: m(),
                response_status: Some(200),
                state: "s",
            }),
            failure_function_state: Some("s"),
            flow_control_key: Some("k"),
            label: Some("l"),
            labels: Some(&labels),
            next_delivery_time: Some(1),
            not_before: Some(1),
            parallelism: Some(1),
            period: Some(1),
            queue_name: Some("q"),
            rate: Some(1),
            response_body: Some("r".into()),
            response_body_base64: Some("r".into()),
            response_header: m(),
            response_headers: m(),
            response_status: Some(1),
            retry_delay_expr: Some("r"),
            retry_delay_expression: Some("r"),
            schedule_id: Some("s"),
            state: Some("s"),
            time: Some(1),
            timeout: Some(1),
            topic_name: Some("t"),
            workflow_created_at: Some(1),
            workflow_run_id: Some("w"),
            workflow_url: Some("w"),
            ..MessageView::default()
        };
        assert_sorted(&v);
    }
}
