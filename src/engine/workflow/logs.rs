//! Workflow logs (`GET /v2/workflows/events|logs`): runs newest first, filtered and paged, copied
//! out of the tenant's state with what its message log says about each of their messages
//! (state, retries, errors, responses) and the runs their steps invoked; the API renders them
//! after the lock is released. Also the run filter shared with bulk cancel.
//! Must not import axum, reqwest or tokio::net.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::lifecycle::message::{Kind, MessageSpec};
use crate::engine::store::logs::{LogEntry, Response, State};
use crate::engine::syntax::headers::Headers;
use crate::engine::workflow::{CallType, Run, RunState, WorkflowLink};
use crate::engine::{Engine, TenantId, TenantState};

/// What the message log says about one message of a run.
#[derive(Debug, Default)]
pub(crate) struct MsgInfo<'a> {
    pub(crate) spec: Option<&'a Arc<MessageSpec>>,
    pub(crate) last: Option<State>,
    /// When it was first logged (Unix ms).
    pub(crate) created: u64,
    /// When its first attempt started, and when it was delivered, failed or was cancelled.
    pub(crate) attempted_at: Option<u64>,
    pub(crate) ended_at: Option<u64>,
    pub(crate) retries: u32,
    pub(crate) errors: Vec<&'a LogEntry>,
    pub(crate) next_delivery: Option<u64>,
    pub(crate) response: Option<&'a Response>,
}

impl MsgInfo<'_> {
    pub(crate) fn link(&self) -> Option<&WorkflowLink> {
        self.spec.and_then(|s| s.workflow.as_deref())
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
            State::Active => {
                i.attempted_at.get_or_insert(e.time);
            }
            State::Retry => {
                i.retries += 1;
                i.next_delivery = e.next_delivery_time.map(std::num::NonZeroU64::get);
            }
            State::Error => i.errors.push(e),
            State::Delivered | State::Failed | State::Canceled => i.ended_at = Some(e.time),
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

/// A failure callback's state from its message's last log state.
pub(crate) fn callback_state(s: Option<State>) -> &'static str {
    match s {
        Some(State::Delivered) => "CALLBACK_SUCCESS",
        Some(State::Failed) => "CALLBACK_FAIL",
        Some(State::Canceled | State::CancelRequested) => "CALLBACK_CANCELED",
        _ => "CALLBACK_INPROGRESS",
    }
}

/// `RUN_STARTED`, … as a filter value.
pub(crate) fn parse_run_state(s: &str) -> Option<RunState> {
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
pub(crate) struct RunFilter {
    pub(crate) run_ids: Vec<String>,
    pub(crate) urls: Vec<String>,
    /// `urls` match exactly; otherwise they are prefixes.
    pub(crate) url_exact: bool,
    pub(crate) created_at: Option<u64>,
    /// `id@createdAt` pairs.
    pub(crate) runs: Vec<(String, u64)>,
    pub(crate) states: Vec<RunState>,
    pub(crate) labels: Vec<String>,
    pub(crate) caller_ips: Vec<String>,
    pub(crate) flow_keys: Vec<String>,
    pub(crate) message_ids: Vec<String>,
    pub(crate) hosts: Vec<String>,
    pub(crate) paths: Vec<String>,
    pub(crate) from_date: Option<u64>,
    pub(crate) to_date: Option<u64>,
}

fn any_or_empty(wanted: &[String], have: impl Fn(&str) -> bool) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| have(w))
}

impl RunFilter {
    pub(crate) fn matches(&self, r: &Run) -> bool {
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

/// What the log says about one message of a run, copied out of the tenant's state.
#[derive(Debug, Clone)]
pub(crate) struct MessageFacts {
    pub(crate) spec: Arc<MessageSpec>,
    pub(crate) last: Option<State>,
    /// When it was first logged (Unix ms).
    pub(crate) created: u64,
    /// When its first attempt started, and when it was delivered, failed or was cancelled.
    pub(crate) attempted_at: Option<u64>,
    pub(crate) ended_at: Option<u64>,
    pub(crate) retries: u32,
    /// Its failed attempts, oldest first.
    pub(crate) errors: Vec<LogEntry>,
    pub(crate) next_delivery: Option<u64>,
    pub(crate) response: Option<Response>,
}

impl MessageFacts {
    fn of(i: &MsgInfo) -> Option<Self> {
        Some(Self {
            spec: Arc::clone(i.spec?),
            last: i.last,
            created: i.created,
            attempted_at: i.attempted_at,
            ended_at: i.ended_at,
            retries: i.retries,
            errors: i.errors.iter().map(|e| (*e).clone()).collect(),
            next_delivery: i.next_delivery,
            response: i.response.cloned(),
        })
    }

    pub(crate) fn link(&self) -> Option<&WorkflowLink> {
        self.spec.workflow.as_deref()
    }

    /// Whether this message belongs to `run` (a run id may be reused after a run ends).
    pub(crate) fn of_run(&self, run: &Run) -> bool {
        self.link()
            .is_some_and(|l| l.run_id == run.id && l.created_at == run.created_at)
    }

    pub(crate) fn call_type(&self) -> Option<CallType> {
        self.link().map(|l| l.call_type)
    }

    /// The step the SDK named as the one that threw (`Upstash-Error-Step-Name` of its latest
    /// failed attempt that got an answer).
    pub(crate) fn error_step_name(&self) -> Option<String> {
        self.errors
            .iter()
            .rev()
            .find_map(|e| e.response.as_ref())
            .and_then(|r| r.headers.get("Upstash-Error-Step-Name"))
            .map(String::from)
    }

    /// Still waiting or being delivered.
    pub(crate) fn pending(&self) -> bool {
        matches!(
            self.last,
            Some(State::Created | State::Active | State::Retry | State::Error)
        )
    }
}

/// A run started by a step's `context.invoke`, as its parent's logs show it.
#[derive(Debug, Clone)]
pub(crate) struct InvokedRun {
    /// The parent run: id and creation time.
    pub(crate) parent: (String, u64),
    /// The parent's invoke step.
    pub(crate) step_id: Option<u64>,
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) created_at: u64,
    pub(crate) body: Bytes,
    pub(crate) headers: Headers,
}

/// A page of the workflow logs as data: the runs, newest first, the facts about their
/// messages by message id, and the runs they invoked.
#[derive(Debug, Default)]
pub(crate) struct RunLogPage {
    pub(crate) runs: Vec<Run>,
    pub(crate) messages: HashMap<Arc<str>, MessageFacts>,
    pub(crate) invoked: Vec<InvokedRun>,
    /// More runs match after these.
    pub(crate) more: bool,
}

impl RunLogPage {
    /// The step message that failed `run` for good: its latest failed step message.
    pub(crate) fn failed_step(&self, run: &Run) -> Option<(&str, &MessageFacts)> {
        self.messages
            .iter()
            .filter(|(_, m)| m.of_run(run) && m.last == Some(State::Failed))
            .filter(|(_, m)| m.spec.kind == Kind::Normal && m.call_type() == Some(CallType::Step))
            .max_by_key(|(_, m)| m.created)
            .map(|(id, m)| (&**id, m))
    }

    /// The cursor of the page after the first `shown` runs ("" when none are left).
    pub(crate) fn cursor_after(&self, shown: usize) -> String {
        let last = shown.checked_sub(1).and_then(|i| self.runs.get(i));
        match (shown < self.runs.len() || self.more, last) {
            (true, Some(r)) => format!("{}:{}", r.created_at, r.id),
            _ => String::new(),
        }
    }
}

/// A logs cursor: `<createdAt>:<runId>` of the last run shown.
fn parse_cursor(c: &str) -> Option<(u64, &str)> {
    let (at, id) = c.split_once(':')?;
    Some((at.parse().ok()?, id))
}

/// `runs` with the facts about their messages and the runs they invoked.
pub(crate) fn page_of(st: &TenantState, runs: &[&Run], more: bool) -> RunLogPage {
    let ids: HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let infos = collect(st, |l| ids.contains(l.run_id.as_str()));
    let messages = infos
        .iter()
        .filter_map(|(id, i)| Some((Arc::from(*id), MessageFacts::of(i)?)))
        .collect();
    let parents: HashSet<(&str, u64)> =
        runs.iter().map(|r| (r.id.as_str(), r.created_at)).collect();
    let invoked = all_runs(st)
        .filter_map(|c| {
            let i = c.invoker.as_ref()?;
            parents
                .contains(&(i.run_id.as_str(), i.created_at))
                .then(|| InvokedRun {
                    parent: (i.run_id.clone(), i.created_at),
                    step_id: i.step["stepId"].as_u64(),
                    id: c.id.clone(),
                    url: c.url.clone(),
                    created_at: c.created_at,
                    body: c.initial_body.clone(),
                    headers: c.config.forward.clone(),
                })
        })
        .collect();
    RunLogPage {
        runs: runs.iter().map(|r| (*r).clone()).collect(),
        messages,
        invoked,
        more,
    }
}

fn all_runs(st: &TenantState) -> impl Iterator<Item = &Run> {
    st.runs.all()
}

impl Engine {
    /// Up to `count` runs, newest first, after `cursor`, copied out with what the logs show of
    /// them (see [`RunLogPage`]).
    pub(crate) fn workflow_logs(
        &self,
        t: TenantId,
        f: &RunFilter,
        cursor: Option<&str>,
        count: usize,
    ) -> RunLogPage {
        let after = cursor.and_then(parse_cursor);
        self.with(t, |cx| {
            let st = &*cx.st;
            let mut runs: Vec<&Run> = all_runs(st)
                .filter(|r| f.matches(r))
                .filter(|r| {
                    after.is_none_or(|(at, id)| {
                        r.created_at < at || (r.created_at == at && r.id.as_str() > id)
                    })
                })
                .collect();
            runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            let more = runs.len() > count;
            runs.truncate(count);
            page_of(st, &runs, more)
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
