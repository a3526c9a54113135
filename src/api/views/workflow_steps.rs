//! The step groups of a run in the workflow logs, from its history: the init step first, each
//! result step once (`concurrent == 1`: its own sequential group; a parallel set: one parallel
//! group, unfinished branches shown by their plan message), `context.call` results with the
//! call's request and response, invoke results with the child run, and while the run is going
//! (or after it failed) a `next` group with the message being delivered and its errors. The
//! SDK's step fields are shown as the SDK wrote them (any JSON). Fields are declared in the
//! alphabetical order of their JSON names, the order the server has always written them in.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::workflow_logs::{next_group, NextStep};
use crate::engine::store::logs::State;
use crate::engine::syntax::headers::{get, to_map};
use crate::engine::workflow::logs::{MessageFacts, RunLogPage};
use crate::engine::workflow::{CallType, RawStep, Run, RunState};

/// A group of steps: `sequential`, `parallel` or `next`.
#[derive(Serialize)]
pub(crate) struct Group<'a> {
    steps: Vec<Step<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Step<'a> {
    Done(Box<StepView>),
    Next(NextStep<'a>),
}

fn group(kind: &'static str, steps: Vec<StepView>) -> Group<'static> {
    let steps = steps.into_iter().map(|s| Step::Done(Box::new(s))).collect();
    Group { steps, kind }
}

type Map = BTreeMap<String, Vec<String>>;

/// A step of the history. The `Option<Value>` fields are the SDK's, as it wrote them.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct StepView {
    #[serde(skip_serializing_if = "Option::is_none")]
    call_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_method: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_response_body: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_response_headers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_response_status: Option<Value>,
    call_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_url: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    concurrent: Option<Value>,
    created_at: u64,
    headers: Map,
    #[serde(flatten)]
    invoked: Option<Invoked>,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<Value>,
    retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    sleep_for: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sleep_until: Option<Value>,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_name: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_type: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_event_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_timeout: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_timeout_duration: Option<Value>,
}

/// The child run of an invoke step (sorts between `headers` and `messageId`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invoked {
    invoked_workflow_created_at: u64,
    invoked_workflow_run_body: String,
    invoked_workflow_run_headers: Map,
    invoked_workflow_run_id: String,
    invoked_workflow_url: String,
}

/// The SDK's value of `key`, when present and not null.
fn field(v: &Value, key: &str) -> Option<Value> {
    v.get(key).filter(|x| !x.is_null()).cloned()
}

impl StepView {
    /// The SDK's step fields as they are (`timeout` as `waitTimeoutDuration`).
    fn copy_fields(&mut self, v: &Value) {
        self.step_id = field(v, "stepId");
        self.step_name = field(v, "stepName");
        self.step_type = field(v, "stepType");
        self.out = field(v, "out");
        self.concurrent = field(v, "concurrent");
        self.sleep_for = field(v, "sleepFor");
        self.sleep_until = field(v, "sleepUntil");
        self.wait_event_id = field(v, "waitEventId");
        self.wait_timeout = field(v, "waitTimeout");
        self.call_url = field(v, "callUrl");
        self.call_method = field(v, "callMethod");
        self.call_body = field(v, "callBody");
        self.call_headers = field(v, "callHeaders");
        self.wait_timeout_duration = field(v, "timeout");
    }
}

/// The steps of one `Promise.all`: targets `first .. first + n`.
struct ParSet<'r> {
    first: u64,
    n: u64,
    /// Where its group goes among the run's groups.
    slot: usize,
    plans: BTreeMap<u64, (&'r RawStep, Value)>,
    results: BTreeMap<u64, StepView>,
}

impl ParSet<'_> {
    fn contains(&self, id: u64) -> bool {
        id >= self.first && id < self.first.saturating_add(self.n)
    }
}

/// The set holding step `id`, made (with a placeholder group) when there is none.
fn set_for<'s, 'r>(
    sets: &'s mut Vec<ParSet<'r>>,
    groups: &mut Vec<Group<'_>>,
    id: u64,
    n: u64,
) -> &'s mut ParSet<'r> {
    let i = match sets.iter().position(|s| s.contains(id)) {
        Some(i) => i,
        None => {
            groups.push(group("parallel", Vec::new()));
            sets.push(ParSet {
                first: id,
                n,
                slot: groups.len() - 1,
                plans: BTreeMap::new(),
                results: BTreeMap::new(),
            });
            sets.len() - 1
        }
    };
    &mut sets[i]
}

struct Ctx<'a> {
    page: &'a RunLogPage,
    run: &'a Run,
}

/// The step groups of `run` (see the module doc).
pub(crate) fn step_groups<'a>(page: &'a RunLogPage, run: &'a Run) -> Vec<Group<'a>> {
    let ctx = Ctx { page, run };
    let mut groups = Vec::new();
    if let Some(first) = run.history.first() {
        groups.push(group("sequential", vec![ctx.init_step(first)]));
    }
    let mut sets: Vec<ParSet> = Vec::new();
    let mut seen = HashSet::new();
    for (i, raw) in run.history.iter().enumerate().skip(1) {
        if raw.call_type != CallType::Step {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&raw.body) else {
            continue;
        };
        let id = v["stepId"].as_u64().unwrap_or(0);
        let n = v["concurrent"].as_u64().unwrap_or(1).max(1);
        if id == 0 {
            let target = v["targetStep"].as_u64().unwrap_or(0);
            let set = set_for(&mut sets, &mut groups, target, n);
            set.plans.entry(target).or_insert((raw, v));
        } else if seen.insert(id) {
            let step = ctx.result_step(i, raw, &v);
            if n > 1 || sets.iter().any(|s| s.contains(id)) {
                set_for(&mut sets, &mut groups, id, n)
                    .results
                    .insert(id, step);
            } else {
                groups.push(group("sequential", vec![step]));
            }
        }
    }
    for mut set in sets {
        let steps = (set.first..set.first.saturating_add(set.n))
            .filter_map(|id| {
                set.results
                    .remove(&id)
                    .or_else(|| set.plans.get(&id).map(|(raw, v)| ctx.plan_step(raw, v)))
            })
            .collect();
        groups[set.slot] = group("parallel", steps);
    }
    groups.extend(next_group(page, run).map(|steps| Group {
        steps: steps.into_iter().map(Step::Next).collect(),
        kind: "next",
    }));
    groups
}

impl<'a> Ctx<'a> {
    fn info(&self, id: &str) -> Option<&'a MessageFacts> {
        self.page.messages.get(id)
    }

    /// `messageId`, `callType`, `createdAt`, `retries`, `headers` of a history entry.
    fn base(&self, raw: &RawStep) -> StepView {
        let info = self.info(&raw.message_id);
        StepView {
            message_id: raw.message_id.to_string(),
            call_type: "step",
            created_at: raw.created_at,
            retries: info.map_or(0, |i| i.retries),
            headers: info.map(|i| to_map(&i.spec.header)).unwrap_or_default(),
            ..StepView::default()
        }
    }

    fn init_step(&self, raw: &RawStep) -> StepView {
        StepView {
            step_name: Some("init".into()),
            step_type: Some("Initial".into()),
            out: Some(String::from_utf8_lossy(&self.run.initial_body).into()),
            concurrent: Some(1.into()),
            state: "STEP_SUCCESS",
            ..self.base(raw)
        }
    }

    /// A finished step: the SDK's (or the server's) result for step `stepId`.
    fn result_step(&self, index: usize, raw: &RawStep, v: &Value) -> StepView {
        let mut m = self.base(raw);
        m.copy_fields(v);
        m.state = "STEP_SUCCESS";
        match v["stepType"].as_str() {
            Some("Call") => self.call_fields(&mut m, index, v),
            Some("Invoke") => m.invoked = self.invoked(v),
            _ => {}
        }
        m
    }

    /// A parallel branch without a result yet, shown by its plan message.
    fn plan_step(&self, raw: &RawStep, v: &Value) -> StepView {
        let mut m = self.base(raw);
        m.copy_fields(v);
        m.out = None;
        if let Some(t) = v.get("targetStep") {
            m.step_id = Some(t.clone());
        }
        m.state = match self.info(&raw.message_id).and_then(|i| i.last) {
            Some(State::Failed) => "STEP_FAILED",
            Some(State::Canceled | State::CancelRequested) => "STEP_CANCELED",
            _ if self.run.state == RunState::Canceled => "STEP_CANCELED",
            _ => "STEP_PROGRESS",
        };
        m
    }

    /// The call's request (from its `toCallback` message) and response (the result's `out`).
    fn call_fields(&self, m: &mut StepView, index: usize, v: &Value) {
        let step_id = v["stepId"].as_u64().unwrap_or(0).to_string();
        let calls: Vec<&RawStep> = self.run.history[..index]
            .iter()
            .rev()
            .filter(|s| s.call_type == CallType::ToCallback)
            .collect();
        let by_id = calls.iter().find(|s| {
            self.info(&s.message_id)
                .and_then(|i| i.spec.callback.as_ref())
                .and_then(|cb| get(&cb.forward, "Upstash-Workflow-StepId"))
                == Some(step_id.as_str())
        });
        if let Some(call) = by_id.or(calls.first()) {
            m.call_body = Some(String::from_utf8_lossy(&call.body).into());
            if let Some(i) = self.info(&call.message_id) {
                m.call_url = Some(i.spec.url.clone().into());
                m.call_method = Some(i.spec.method.as_str().into());
                m.call_headers = Some(Value::from_iter(to_map(&i.spec.header)));
            }
        }
        let out: Value = v["out"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        m.call_response_status = Some(out["status"].clone());
        m.call_response_body = Some(out["body"].clone());
        m.call_response_headers = Some(out["header"].clone());
    }

    /// The child run an invoke step started.
    fn invoked(&self, v: &Value) -> Option<Invoked> {
        let step_id = v["stepId"].as_u64();
        let parent = (self.run.id.clone(), self.run.created_at);
        let c = self
            .page
            .invoked
            .iter()
            .find(|c| c.parent == parent && c.step_id == step_id)?;
        Some(Invoked {
            invoked_workflow_created_at: c.created_at,
            invoked_workflow_run_body: String::from_utf8_lossy(&c.body).into_owned(),
            invoked_workflow_run_headers: to_map(&c.headers),
            invoked_workflow_run_id: c.id.clone(),
            invoked_workflow_url: c.url.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::views::tests::assert_sorted;

    #[test]
    fn step_fields_are_declared_in_alphabetical_order() {
        let mut v = StepView::default();
        let all = [
            "stepId",
            "stepName",
            "stepType",
            "out",
            "concurrent",
            "sleepFor",
            "sleepUntil",
            "waitEventId",
            "waitTimeout",
            "callUrl",
            "callMethod",
            "callBody",
            "callHeaders",
            "timeout",
        ];
        v.copy_fields(&Value::from_iter(all.map(|k| (k, 1))));
        v.call_response_status = Some(Value::Null);
        v.call_response_body = Some(Value::Null);
        v.call_response_headers = Some(Value::Null);
        v.invoked = Some(Invoked {
            invoked_workflow_created_at: 1,
            invoked_workflow_run_body: String::new(),
            invoked_workflow_run_headers: Map::new(),
            invoked_workflow_run_id: String::new(),
            invoked_workflow_url: String::new(),
        });
        assert_sorted(&v);
    }
}
