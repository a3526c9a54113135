//! What the server sends a workflow endpoint that it writes itself, as typed values: the run's
//! history (a JSON array of `WireStep`s, the body of every step delivery and of the lazy-fetch
//! lookup) and the result an invoked run hands back to its parent's invoke step.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Serialize;

use crate::engine::workflow::{RawStep, RunState};

/// One step of a run's history as the workflow SDK reads it. Fields in the alphabetical order
/// of their JSON names, the order the SDKs have always been sent.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireStep {
    /// Base64.
    pub(crate) body: String,
    pub(crate) call_type: &'static str,
    pub(crate) message_id: String,
}

impl WireStep {
    pub(crate) fn of(s: &RawStep) -> Self {
        Self {
            body: B64.encode(&s.body),
            call_type: s.call_type.as_str(),
            message_id: s.message_id.to_string(),
        }
    }
}

/// The `out` of a parent's invoke step when the invoked run ends: `body` only when it
/// succeeded with one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvokeResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
    pub(crate) is_canceled: bool,
    pub(crate) is_failed: bool,
}

impl InvokeResult {
    pub(crate) fn new(state: RunState, response: Option<&[u8]>) -> Self {
        let body = response
            .filter(|b| state == RunState::Success && !b.is_empty())
            .map(|b| String::from_utf8_lossy(b).into_owned());
        Self {
            body,
            is_canceled: state == RunState::Canceled,
            is_failed: state == RunState::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_steps_and_invoke_results_have_the_json_the_sdk_reads() {
        let step = WireStep {
            body: "eA==".into(),
            call_type: "step",
            message_id: "m".into(),
        };
        assert_eq!(
            serde_json::to_string(&step).ok(),
            Some(r#"{"body":"eA==","callType":"step","messageId":"m"}"#.to_string())
        );
        let ok = InvokeResult::new(RunState::Success, Some(b"done"));
        assert_eq!(
            serde_json::to_value(ok).ok(),
            Some(json!({"body": "done", "isCanceled": false, "isFailed": false}))
        );
        let failed = InvokeResult::new(RunState::Failed, Some(b"ignored"));
        assert_eq!(
            serde_json::to_value(failed).ok(),
            Some(json!({"isCanceled": false, "isFailed": true}))
        );
    }
}
