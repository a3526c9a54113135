//! Response bodies of the API (§4) as `Serialize` structs, built from data the engine copied
//! out, after its lock is released: messages, DLQ and log entries (`messages`), schedules
//! (`schedules`), URL groups, queues, flow-control keys and waiters (`resources`), the workflow
//! logs (`workflow_logs`, `workflow_steps`). Small fixed answers (`{}`, `{"deleted": n}`) stay
//! `json!` literals in their handlers. Redacted values show as
//! `REDACTED:<hex SHA-256 of the value>`.

mod answers;
mod messages;
pub mod page;
mod resources;
mod schedules;
pub(crate) mod workflow_logs;
mod workflow_steps;

pub(crate) use answers::{Deleted, Reruns, RunRef};
pub(crate) use messages::MessageView;
pub(crate) use resources::{FlowInfoView, NotifiedView, QueueView, UrlGroupView, WaiterView};
pub(crate) use schedules::ScheduleView;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::engine::lifecycle::message::MessageSpec;
use crate::engine::store::logs::Response;
use crate::engine::syntax::headers::{to_map, Headers};

/// `REDACTED:<hex SHA-256 of the value>`, what API responses show for a redacted field.
pub(crate) fn redacted(value: &[u8]) -> String {
    let hex: String = Sha256::digest(value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("REDACTED:{hex}")
}

/// Headers as JSON shows them: each name with its values, names in order.
pub(crate) type HeaderMap = BTreeMap<String, Vec<String>>;

/// The header map of a message with the redacted ones hidden.
fn header_view(spec: &MessageSpec) -> HeaderMap {
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
    to_map(&shown)
}

/// A lower bound of the JSON length of any view of `spec` with `response`: their bodies show
/// at least byte for byte (base64 and JSON strings only grow), unless the body is redacted.
pub(crate) fn body_floor(spec: &MessageSpec, response: Option<&Response>) -> usize {
    let body = if spec.redact().body {
        0
    } else {
        spec.body.len()
    };
    body.saturating_add(response.map_or(0, |r| r.body.len()))
}

#[cfg(test)]
pub(crate) mod tests {
    use serde::Serialize;

    /// `v` written as declared is written as the sorted JSON map the API has always sent.
    pub(crate) fn assert_sorted(v: &impl Serialize) {
        let direct = serde_json::to_string(v).expect("serializes");
        let sorted = serde_json::to_value(v).expect("serializes").to_string();
        assert_eq!(direct, sorted);
    }
}
