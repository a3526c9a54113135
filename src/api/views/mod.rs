//! JSON shapes of the API (§4): messages, DLQ entries and log entries, rendered from engine
//! snapshots. Optional fields are omitted when empty, as the hosted service (written in Go with
//! `omitempty`) does; the fields the SDKs index directly are always present. Redacted values
//! show as `REDACTED:<hex SHA-256 of the value>`.

pub mod workflow_logs;
mod workflow_steps;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::dlq::DlqEntry;
use crate::engine::flow::FlowSpec;
use crate::engine::headers::{to_map, Headers};
use crate::engine::logs::{LogEntry, Response};
use crate::engine::message::{Message, MessageSpec};
use crate::engine::options::CallbackOptions;

/// `REDACTED:<hex SHA-256 of the value>`, what API responses show for a redacted field.
pub fn redacted(value: &[u8]) -> String {
    let hex: String = Sha256::digest(value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("REDACTED:{hex}")
}

/// The header map of a message with the redacted ones hidden.
fn header_view(spec: &MessageSpec) -> Value {
    let shown: Headers = spec
        .header
        .iter()
        .map(|(k, v)| {
            let v = if spec.redact().hides_header(k) {
                redacted(v.as_bytes())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    json!(to_map(&shown))
}

fn put(m: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        m.insert(key.to_string(), v.into());
    }
}

fn callback_header(cb: &Option<Box<CallbackOptions>>) -> Option<Value> {
    cb.as_deref()
        .filter(|c| !c.forward.is_empty())
        .map(|c| json!(to_map(&c.forward)))
}

/// The fields every message-like object shares.
fn spec_fields(m: &mut Map<String, Value>, spec: &MessageSpec) {
    m.insert("url".into(), json!(spec.url));
    put(m, "topicName", spec.topic_name());
    put(m, "endpointName", spec.endpoint_name());
    m.insert("method".into(), json!(spec.method));
    m.insert("header".into(), header_view(spec));
    m.insert("maxRetries".into(), json!(spec.max_retries));
    put(
        m,
        "retryDelayExpression",
        spec.retry_delay.as_ref().map(|e| e.as_str().to_string()),
    );
    put(m, "callback", spec.callback.as_ref().map(|c| c.url.clone()));
    put(
        m,
        "failureCallback",
        spec.failure_callback.as_ref().map(|c| c.url.clone()),
    );
    put(m, "callbackHeader", callback_header(&spec.callback));
    put(
        m,
        "failureCallbackHeader",
        callback_header(&spec.failure_callback),
    );
    put(m, "queueName", spec.queue_name());
    put(m, "scheduleId", spec.schedule_id());
    m.insert("callerIP".into(), json!(spec.caller_ip));
    flow_fields(m, spec.flow.as_deref());
    put(m, "timeout", spec.timeout.map(|t| t.as_secs()));
    if let Some(first) = spec.labels.first() {
        m.insert("label".into(), json!(first));
        m.insert("labels".into(), json!(spec.labels));
    }
}

/// `flowControlKey`, `parallelism` and `rate` when set, `period` (seconds) with a key.
pub fn flow_fields(m: &mut Map<String, Value>, flow: Option<&FlowSpec>) {
    let Some(f) = flow else { return };
    m.insert("flowControlKey".into(), json!(f.key));
    put(m, "parallelism", f.parallelism);
    put(m, "rate", f.rate);
    m.insert("period".into(), json!(f.period));
}

/// `body` when UTF-8, else `bodyBase64`; redacted when asked.
fn body_fields(m: &mut Map<String, Value>, spec: &MessageSpec) {
    if spec.body.is_empty() {
        return;
    }
    if spec.redact().body {
        m.insert("body".into(), json!(redacted(&spec.body)));
    } else {
        match std::str::from_utf8(&spec.body) {
            Ok(s) => m.insert("body".into(), json!(s)),
            Err(_) => m.insert("bodyBase64".into(), json!(B64.encode(&spec.body))),
        };
    }
}

/// A lower bound of the JSON length of any view of `spec` with `response`: their bodies show
/// at least byte for byte (base64 and JSON strings only grow), unless the body is redacted.
pub fn body_floor(spec: &MessageSpec, response: Option<&Response>) -> usize {
    let body = if spec.redact().body {
        0
    } else {
        spec.body.len()
    };
    body.saturating_add(response.map_or(0, |r| r.body.len()))
}

/// §4.2.
pub fn message(msg: &Message) -> Value {
    let mut m = Map::new();
    m.insert("messageId".into(), json!(&*msg.id));
    spec_fields(&mut m, &msg.spec);
    body_fields(&mut m, &msg.spec);
    m.insert("notBefore".into(), json!(msg.not_before));
    m.insert("createdAt".into(), json!(msg.created_at));
    Value::Object(m)
}

/// §4.3.
pub fn dlq_entry(e: &DlqEntry) -> Value {
    let mut m = Map::new();
    m.insert("messageId".into(), json!(&*e.message_id));
    spec_fields(&mut m, &e.spec);
    body_fields(&mut m, &e.spec);
    m.insert("notBefore".into(), json!(e.not_before));
    m.insert("createdAt".into(), json!(e.created_at));
    m.insert("dlqId".into(), json!(e.dlq_id));
    m.insert("responseStatus".into(), json!(e.response_status()));
    if let Some(r) = &e.response {
        m.insert("responseHeader".into(), json!(r.headers.to_map()));
        match std::str::from_utf8(&r.body) {
            Ok(s) if !s.is_empty() => m.insert("responseBody".into(), json!(s)),
            Ok(_) => None,
            Err(_) => m.insert("responseBodyBase64".into(), json!(B64.encode(&r.body))),
        };
    }
    put(&mut m, "error", e.error.clone());
    Value::Object(m)
}

/// §4.7. Bodies are base64; both spellings of the conflicting keys are emitted.
pub fn log_entry(e: &LogEntry) -> Value {
    let spec = &e.spec;
    let mut m = Map::new();
    m.insert("time".into(), json!(e.time));
    m.insert("messageId".into(), json!(&*e.message_id));
    m.insert("state".into(), json!(e.state.as_str()));
    put(&mut m, "error", e.error.as_deref());
    put(
        &mut m,
        "nextDeliveryTime",
        e.next_delivery_time.map(std::num::NonZeroU64::get),
    );
    spec_fields(&mut m, spec);
    if let Some(expr) = &spec.retry_delay {
        m.insert("retryDelayExpr".into(), json!(expr.as_str()));
    }
    for key in ["callbackHeader", "failureCallbackHeader"] {
        if let Some(v) = m.remove(key) {
            m.insert(format!("{key}s"), v);
        }
    }
    if !spec.body.is_empty() {
        let body = if spec.redact().body {
            redacted(&spec.body).into_bytes()
        } else {
            spec.body.to_vec()
        };
        m.insert("body".into(), json!(B64.encode(body)));
    }
    if let Some(r) = &e.response {
        m.insert("responseStatus".into(), json!(r.status));
        m.insert("responseHeaders".into(), json!(r.headers.to_map()));
        m.insert("responseHeader".into(), json!(r.headers.to_map()));
        if !r.body.is_empty() {
            m.insert("responseBody".into(), json!(B64.encode(&r.body)));
        }
    }
    Value::Object(m)
}
