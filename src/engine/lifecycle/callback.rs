//! Callback and failure-callback messages: the §4.11 / §4.12 JSON payload about an attempt of
//! a source message, and the message that carries it to the callback URL. Callbacks are
//! ordinary messages: retried, signed and logged like any other.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::to_map;
use crate::engine::syntax::method::Method;
use crate::engine::syntax::options::CallbackOptions;
use crate::engine::workflow::run::json_bytes;

/// The §4.11 / §4.12 payload about an attempt of a source message. Fields in the alphabetical
/// order of their JSON names, the order the hosted service sends them in; absent ones are
/// left out.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload {
    /// The response body, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    #[serde(rename = "callerIP")]
    pub(crate) caller_ip: String,
    pub(crate) created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dlq_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) endpoint_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) header: Option<BTreeMap<String, Vec<String>>>,
    pub(crate) max_retries: u32,
    pub(crate) method: &'static str,
    pub(crate) not_before: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) retried: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) schedule_id: Option<String>,
    /// The source message's body, base64 (a workflow run's initial body for its callbacks).
    pub(crate) source_body: String,
    pub(crate) source_header: BTreeMap<String, Vec<String>>,
    pub(crate) source_message_id: String,
    pub(crate) status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) topic_name: Option<String>,
    pub(crate) url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workflow_created_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workflow_run_id: Option<String>,
}

/// The payload describing `response` to `source`'s attempt (`dlq_id` for failure callbacks).
pub(crate) fn payload(
    source: &Message,
    response: Option<&Response>,
    error: Option<&str>,
    dlq_id: Option<&str>,
) -> Payload {
    let s = &source.spec;
    Payload {
        body: response.map(|r| B64.encode(&r.body)),
        caller_ip: s.caller_ip.clone(),
        created_at: source.created_at,
        dlq_id: dlq_id.map(String::from),
        endpoint_name: s.endpoint_name().map(String::from),
        error: error.map(String::from),
        header: response.map(|r| r.headers.to_map()),
        max_retries: s.max_retries,
        method: s.method.as_str(),
        not_before: source.not_before,
        retried: (source.retried > 0).then_some(source.retried),
        schedule_id: s.schedule_id().map(String::from),
        source_body: B64.encode(&s.body),
        source_header: to_map(&s.header),
        source_message_id: source.id.to_string(),
        status: response.map_or(0, |r| r.status),
        topic_name: s.topic_name().map(String::from),
        url: s.url.clone(),
        workflow_created_at: None,
        workflow_run_id: None,
    }
}

/// The message that carries `payload` to a callback URL. Retries and retry delay default to
/// the source message's, as the hosted service documents.
pub(crate) fn message_spec(
    cb: &CallbackOptions,
    source: &MessageSpec,
    payload: &Payload,
    kind: Kind,
) -> Arc<MessageSpec> {
    let mut header = vec![("Content-Type".to_string(), "application/json".to_string())];
    header.extend(cb.forward.iter().cloned());
    Arc::new(MessageSpec {
        url: cb.url.clone(),
        method: cb.method.unwrap_or(Method::POST),
        header,
        body: json_bytes(payload),
        max_retries: cb.retries.unwrap_or(source.max_retries),
        retry_delay: cb
            .retry_delay
            .clone()
            .map(Box::new)
            .or_else(|| source.retry_delay.clone()),
        timeout: cb.timeout,
        callback: None,
        failure_callback: None,
        labels: source.labels.clone(),
        caller_ip: source.caller_ip.clone(),
        redact: None,
        kind,
        origin: None,
        flow: cb.flow.clone().map(Box::new),
        workflow: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_has_the_fields_of_the_hosted_service_in_its_order() {
        let p = Payload {
            caller_ip: "1.2.3.4".into(),
            created_at: 1,
            max_retries: 3,
            method: "POST",
            not_before: 2,
            source_body: "eA==".into(),
            source_message_id: "msg_1".into(),
            status: 500,
            url: "http://a".into(),
            dlq_id: Some("d".into()),
            retried: Some(3),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&p).ok().as_deref(),
            Some(
                r#"{"callerIP":"1.2.3.4","createdAt":1,"dlqId":"d","maxRetries":3,"method":"POST","notBefore":2,"retried":3,"sourceBody":"eA==","sourceHeader":{},"sourceMessageId":"msg_1","status":500,"url":"http://a"}"#
            )
        );
    }
}
