//! Callback and failure-callback messages: the §4.11 / §4.12 JSON payload about an attempt of
//! a source message, and the message that carries it to the callback URL. Callbacks are
//! ordinary messages: retried, signed and logged like any other.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::engine::lifecycle::message::{Kind, Message, MessageSpec};
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::to_map;
use crate::engine::syntax::options::CallbackOptions;

/// The payload describing `response` to `source`'s attempt (`dlq_id` for failure callbacks).
pub(crate) fn payload(
    source: &Message,
    response: Option<&Response>,
    error: Option<&str>,
    dlq_id: Option<&str>,
) -> Value {
    let s = &source.spec;
    let mut p = Map::new();
    p.insert("status".into(), json!(response.map_or(0, |r| r.status)));
    if let Some(r) = response {
        p.insert("header".into(), json!(r.headers.to_map()));
        p.insert("body".into(), json!(B64.encode(&r.body)));
    }
    if let Some(e) = error {
        p.insert("error".into(), json!(e));
    }
    if source.retried > 0 {
        p.insert("retried".into(), json!(source.retried));
    }
    p.insert("maxRetries".into(), json!(s.max_retries));
    p.insert("sourceMessageId".into(), json!(&*source.id));
    for (key, val) in [
        ("topicName", s.topic_name()),
        ("endpointName", s.endpoint_name()),
        ("scheduleId", s.schedule_id()),
    ] {
        if let Some(v) = val {
            p.insert(key.into(), json!(v));
        }
    }
    p.insert("url".into(), json!(s.url));
    p.insert("method".into(), json!(s.method));
    p.insert("sourceHeader".into(), json!(to_map(&s.header)));
    p.insert("sourceBody".into(), json!(B64.encode(&s.body)));
    p.insert("notBefore".into(), json!(source.not_before));
    p.insert("createdAt".into(), json!(source.created_at));
    p.insert("callerIP".into(), json!(s.caller_ip));
    if let Some(id) = dlq_id {
        p.insert("dlqId".into(), json!(id));
    }
    Value::Object(p)
}

/// The message that carries `payload` to a callback URL. Retries and retry delay default to
/// the source message's, as the hosted service documents.
pub(crate) fn message_spec(
    cb: &CallbackOptions,
    source: &MessageSpec,
    payload: &Value,
    kind: Kind,
) -> Arc<MessageSpec> {
    let mut header = vec![("Content-Type".to_string(), "application/json".to_string())];
    header.extend(cb.forward.iter().cloned());
    Arc::new(MessageSpec {
        url: cb.url.clone(),
        method: cb.method.unwrap_or("POST"),
        header,
        body: Bytes::from(payload.to_string()),
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
