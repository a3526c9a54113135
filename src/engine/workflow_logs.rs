//! Workflow logs (`GET /v2/workflows/events|logs`): runs newest first, filtered and paged, each
//! rendered as a WorkflowRunLog from the run (history, config, outcome) and what the tenant's
//! message log says about each of its messages (state, retries, errors, responses). The step
//! groups are built in `workflow_steps`. Also the run filter shared with bulk cancel.
//! Must not import axum, reqwest or tokio::net.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::logs::{LogEntry, Response, State};
use super::message::MessageSpec;
use super::workflow::{CallType, Run, RunState, WorkflowLink};
use super::{Engine, TenantId, TenantState};

/// What the message log says about one message of a run.
#[derive(Debug, Default)]
pub(crate) struct MsgInfo<'a> {
    pub spec: Option<&'a Arc<MessageSpec>>,
    pub last: Option<State>,
    /// When it was first logged (Unix ms).
    pub created: u64,
    pub retries: u32,
    pub errors: Vec<&'a LogEntry>,
    pub next_delivery: Option<u64>,
    pub response: Option<&'a Response>,
}

impl MsgInfo<'_> {
    pub fn link(&self) -> Option<&WorkflowLink> {
        self.spec.and_then(|s| s.workflow.as_deref())
    }

    /// Whether this message belongs to `run` (a run id may be reused after a run ends).
    pub fn of_run(&self, run: &Run) -> bool {
        self.link()
            .is_some_and(|l| l.run_id == run.id && l.created_at == run.created_at)
    }

    pub fn call_type(&self) -> Option<CallType> {
        self.link().map(|l| l.call_type)
    }

    /// Still waiting or being delivered.
    pub fn pending(&self) -> bool {
        matches!(
            self.last,
            Some(State::Created | State::Active | State::Retry | State::Error)
        )
    }
}

/// Messages by id.
pub(crate) type Infos<'a> = HashMap<&'a str, MsgInfo<'a>>;

/// One pass over the tenant's log, for the workflow messages whose link `wanted` accepts.
pub(crate) fn collect<'a>(
    st: &'a TenantState,
    wanted: impl Fn(&WorkflowLink) -> bool,
) -> Infos<'a> {
    let mut out: Infos<'a> = HashMap::new();
    for e in st.logs.iter() {
        if !e.spec.workflow.as_deref().is_some_and(&wanted) {
            continue;
        }
        let i = out.entry(&*e.message_id).or_default();
        if i.spec.is_none() {
            i.spec = Some(&e.spec);
            i.created = e.time;
        }
        i.last = Some(e.state);
        match e.state {
            State::Retry => {
                i.retries += 1;
                i.next_delivery = e.next_delivery_time.map(std::num::NonZeroU64::get);
            }
            State::Error => i.errors.push(e),
            _ => {}
        }
        if let Some(r) = &e.response {
            i.response = Some(r);
        }
    }
    out
}

/// The latest failure-callback message of `run`.
pub(crate) fn failure_call<'a, 'b>(
    infos: &'b Infos<'a>,
    run_id: &str,
    created_at: u64,
) -> Option<(&'a str, &'b MsgInfo<'a>)> {
    infos
        .iter()
        .filter(|(_, i)| {
            i.link().is_some_and(|l| {
                l.call_type == CallType::FailureCall
                    && l.run_id == run_id
                    && l.created_at == created_at
            })
        })
        .max_by_key(|(_, i)| i.created)
        .map(|(id, i)| (*id, i))
}

/// A step's state from its message's last log state.
pub(crate) fn step_state(s: Option<State>) -> &'static str {
    match s {
        Some(State::Delivered) => "STEP_SUCCESS",
        Some(State::Failed) => "STEP_FAILED",
        Some(State::Canceled | State::CancelRequested) => "STEP_CANCELED",
        Some(State::Retry | State::Error) => "STEP_RETRY",
        _ => "STEP_PROGRESS",
    }
}

/// A failure callback's state from its message's last log state.
pub(crate) fn callback_state(s: Option<State>) -> &'static str {
    match s {
        Some(State::Delivered) => "CALLBACK_SUCCESS",
        Some(State::Failed) => "CALLBACK_FAIL",
        Some(State::Canceled | State::CancelRequested) => "CALLBACK_CANCELED",
        _ => "CALLBACK_INPROGRESS",
    }
}

/// `{error, body, headers, status, time}` of a failed attempt.
pub(crate) fn error_json(e: &LogEntry) -> Value {
    let (status, body, headers) = match &e.response {
        Some(r) => (
            r.status,
            String::from_utf8_lossy(&r.body).into_owned(),
            json!(r.headers.to_map()),
        ),
        None => (0, String::new(), json!({})),
    };
    json!({
        "error": e.error.clone().unwrap_or_default(),
        "body": body,
        "headers": headers,
        "status": status,
        "time": e.time,
    })
}

/// `RUN_STARTED`, … as a filter value.
pub fn parse_run_state(s: &str) -> Option<RunState> {
    [
        RunState::Running,
        RunState::Success,
        RunState::Failed,
        RunState::Canceled,
    ]
    .into_iter()
    .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
}

/// Which runs a logs query or a bulk cancel selects: values of one field are ORed, fields ANDed.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub run_ids: Vec<String>,
    pub urls: Vec<String>,
    /// `urls` match exactly; otherwise they are prefixes.
    pub url_exact: bool,
    pub created_at: Option<u64>,
    /// `id@createdAt` pairs.
    pub runs: Vec<(String, u64)>,
    pub states: Vec<RunState>,
    pub labels: Vec<String>,
    pub caller_ips: Vec<String>,
    pub flow_keys: Vec<String>,
    pub message_ids: Vec<String>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
    pub from_date: Option<u64>,
    pub to_date: Option<u64>,
}

fn any_or_empty(wanted: &[String], have: impl Fn(&str) -> bool) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| have(w))
}

impl RunFilter {
    pub fn matches(&self, r: &Run) -> bool {
        let parsed = url::Url::parse(&r.url).ok();
        let labels = r.config.labels.as_deref().unwrap_or_default();
        let flow = r.config.flow.as_ref().map(|f| f.key.as_str());
        any_or_empty(&self.run_ids, |w| w == r.id)
            && any_or_empty(&self.urls, |w| {
                if self.url_exact {
                    w == r.url
                } else {
                    r.url.starts_with(w)
                }
            })
            && self.created_at.is_none_or(|c| c == r.created_at)
            && (self.runs.is_empty()
                || self
                    .runs
                    .iter()
                    .any(|(id, c)| *id == r.id && *c == r.created_at))
            && (self.states.is_empty() || self.states.contains(&r.state))
            && any_or_empty(&self.labels, |w| labels.iter().any(|l| l == w))
            && any_or_empty(&self.caller_ips, |w| w == r.caller_ip)
            && any_or_empty(&self.flow_keys, |w| flow == Some(w))
            && any_or_empty(&self.message_ids, |w| {
                r.history.iter().any(|s| &*s.message_id == w)
            })
            && any_or_empty(&self.hosts, |w| {
                parsed.as_ref().and_then(|u| u.host_str()) == Some(w)
            })
            && any_or_empty(&self.paths, |w| {
                parsed.as_ref().map(|u| u.path()) == Some(w)
            })
            && self.from_date.is_none_or(|f| r.created_at >= f)
            && self.to_date.is_none_or(|t| r.created_at <= t)
    }
}

/// A run as the logs show it.
fn run_log(st: &TenantState, run: &Run, infos: &Infos) -> Value {
    let mut m = Map::new();
    m.insert("workflowRunId".into(), json!(run.id));
    m.insert("workflowUrl".into(), json!(run.url));
    m.insert("workflowState".into(), json!(run.state.as_str()));
    m.insert("workflowRunCreatedAt".into(), json!(run.created_at));
    if let Some(c) = run.completed_at {
        m.insert("workflowRunCompletedAt".into(), json!(c));
    }
    if let Some(r) = run.response.as_ref().filter(|r| !r.is_empty()) {
        m.insert(
            "workflowRunResponse".into(),
            json!(String::from_utf8_lossy(r)),
        );
    }
    if let Some(inv) = &run.invoker {
        m.insert(
            "invoker".into(),
            json!({ "workflowRunId": inv.run_id, "workflowUrl": inv.url, "workflowRunCreatedAt": inv.created_at }),
        );
    }
    if let Some(f) = failure_function(run, infos) {
        m.insert("failureFunction".into(), f);
    }
    if let Some(d) = &run.dlq_id {
        m.insert("dlqId".into(), json!(d));
    }
    if let Some(first) = run.config.labels.as_ref().and_then(|l| l.first()) {
        m.insert("label".into(), json!(first));
        m.insert("labels".into(), json!(run.config.labels));
    }
    if let Some(f) = &run.config.flow {
        m.insert("flowControlKey".into(), json!(f.key));
    }
    if !run.caller_ip.is_empty() {
        m.insert("workflowRunCallerIp".into(), json!(run.caller_ip));
    }
    let steps = super::workflow_steps::step_groups(st, run, infos);
    m.insert("steps".into(), Value::Array(steps));
    Value::Object(m)
}

/// The run's failure callback: where it went, what it reported and how it fared.
fn failure_function(run: &Run, infos: &Infos) -> Option<Value> {
    let (id, info) = failure_call(infos, &run.id, run.created_at)?;
    let spec = info.spec?;
    let payload: Value = serde_json::from_slice(&spec.body).unwrap_or(Value::Null);
    let fail_body = payload["body"]
        .as_str()
        .and_then(|b| B64.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut m = Map::new();
    m.insert("messageId".into(), json!(id));
    m.insert("url".into(), json!(spec.url));
    m.insert("state".into(), json!(callback_state(info.last)));
    m.insert("failStatus".into(), payload["status"].clone());
    m.insert("failHeaders".into(), payload["header"].clone());
    m.insert("failResponse".into(), json!(fail_body));
    m.insert("dlqId".into(), payload["dlqId"].clone());
    m.insert("maxRetries".into(), json!(spec.max_retries));
    if let Some(r) = info.response {
        m.insert("responseStatus".into(), json!(r.status));
        m.insert("responseHeaders".into(), json!(r.headers.to_map()));
        m.insert(
            "responseBody".into(),
            json!(String::from_utf8_lossy(&r.body)),
        );
    }
    if !info.errors.is_empty() {
        let errors: Vec<Value> = info.errors.iter().map(|e| error_json(e)).collect();
        m.insert("errors".into(), Value::Array(errors));
    }
    if let (Some(t), Some(State::Retry)) = (info.next_delivery, info.last) {
        m.insert("nextDeliveryTime".into(), json!(t));
    }
    Some(Value::Object(m))
}

/// The step name the SDK reported with a failed attempt (`Upstash-Error-Step-Name`).
pub(crate) fn error_step_name(info: &MsgInfo) -> Option<String> {
    info.errors
        .iter()
        .rev()
        .find_map(|e| e.response.as_ref())
        .and_then(|r| r.headers.get("Upstash-Error-Step-Name"))
        .map(String::from)
}

/// A logs cursor: `<createdAt>:<runId>` of the last run shown.
fn parse_cursor(c: &str) -> Option<(u64, &str)> {
    let (at, id) = c.split_once(':')?;
    Some((at.parse().ok()?, id))
}

/// The logs of `runs`, in order, for as long as `take` accepts them.
fn run_logs(st: &TenantState, runs: &[&Run], mut take: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let ids: HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let infos = collect(st, |l| ids.contains(l.run_id.as_str()));
    let mut page = Vec::new();
    for r in runs {
        let v = run_log(st, r, &infos);
        if !take(&v) {
            break;
        }
        page.push(v);
    }
    page
}

impl Engine {
    /// A page of runs, newest first, and the cursor of the next page ("" on the last): up to
    /// `count` runs, fewer when `take` refuses one (the API's byte budget: it always takes the
    /// first, so paging makes progress).
    pub fn workflow_logs(
        &self,
        t: TenantId,
        f: &RunFilter,
        cursor: Option<&str>,
        count: usize,
        take: impl FnMut(&Value) -> bool,
    ) -> (Vec<Value>, String) {
        let after = cursor.and_then(parse_cursor);
        self.with(t, |st| {
            let mut runs: Vec<&Run> = st
                .runs
                .active
                .values()
                .chain(st.runs.ended.iter())
                .filter(|r| f.matches(r))
                .filter(|r| {
                    after.is_none_or(|(at, id)| {
                        r.created_at < at || (r.created_at == at && r.id.as_str() > id)
                    })
                })
                .collect();
            runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            runs.truncate(count.saturating_add(1));
            let page = run_logs(st, &runs[..runs.len().min(count)], take);
            let last = page.len().checked_sub(1).and_then(|i| runs.get(i));
            let next = match (page.len() < runs.len(), last) {
                (true, Some(r)) => format!("{}:{}", r.created_at, r.id),
                _ => String::new(),
            };
            (page, next)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_states_parse_in_any_case() {
        assert_eq!(parse_run_state("run_success"), Some(RunState::Success));
        assert_eq!(parse_run_state("RUN_STARTED"), Some(RunState::Running));
        assert_eq!(parse_run_state("STEP_SUCCESS"), None);
    }

    #[test]
    fn cursors_split_at_the_first_colon() {
        assert_eq!(parse_cursor("12:wfr_a:b"), Some((12, "wfr_a:b")));
        assert_eq!(parse_cursor("x:wfr"), None);
    }
}
