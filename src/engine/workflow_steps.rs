//! The step groups of a run in the workflow logs, from its history: the init step first, each
//! result step once (`concurrent == 1`: its own sequential group; a parallel set: one parallel
//! group, unfinished branches shown by their plan message), `context.call` results with the
//! call's request and response, invoke results with the child run, and while the run is going
//! (or after it failed) a `next` group with the message being delivered and its errors.
//! Must not import axum, reqwest or tokio::net.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use super::headers::{get, to_map};
use super::logs::State;
use super::message::Kind;
use super::workflow::{CallType, RawStep, Run, RunState};
use super::workflow_logs::{error_json, error_step_name, step_state, Infos, MsgInfo};
use super::TenantState;

/// Fields of the SDK's step JSON shown as they are.
const STEP_FIELDS: [&str; 13] = [
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
];

fn group(kind: &str, steps: Vec<Value>) -> Value {
    json!({ "type": kind, "steps": steps })
}

/// The steps of one `Promise.all`: targets `first .. first + n`.
struct ParSet<'r> {
    first: u64,
    n: u64,
    /// Where its group goes among the run's groups.
    slot: usize,
    plans: BTreeMap<u64, (&'r RawStep, Value)>,
    results: BTreeMap<u64, Value>,
}

impl ParSet<'_> {
    fn contains(&self, id: u64) -> bool {
        id >= self.first && id < self.first.saturating_add(self.n)
    }
}

/// The set holding step `id`, made (with a placeholder group) when there is none.
fn set_for<'s, 'r>(
    sets: &'s mut Vec<ParSet<'r>>,
    groups: &mut Vec<Value>,
    id: u64,
    n: u64,
) -> &'s mut ParSet<'r> {
    let i = match sets.iter().position(|s| s.contains(id)) {
        Some(i) => i,
        None => {
            groups.push(Value::Null);
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

struct Ctx<'a, 'b> {
    st: &'a TenantState,
    run: &'a Run,
    infos: &'b Infos<'a>,
}

/// The step groups of `run` (see the module doc).
pub(crate) fn step_groups(st: &TenantState, run: &Run, infos: &Infos) -> Vec<Value> {
    let ctx = Ctx { st, run, infos };
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
    groups.extend(ctx.next_group());
    groups
}

impl Ctx<'_, '_> {
    fn info(&self, id: &str) -> Option<&MsgInfo<'_>> {
        self.infos.get(id)
    }

    /// `messageId`, `callType`, `createdAt`, `retries`, `headers` of a history entry.
    fn base(&self, raw: &RawStep) -> Map<String, Value> {
        let info = self.info(&raw.message_id);
        let headers = info
            .and_then(|i| i.spec)
            .map_or_else(|| json!({}), |s| json!(to_map(&s.header)));
        let mut m = Map::new();
        m.insert("messageId".into(), json!(&*raw.message_id));
        m.insert("callType".into(), json!("step"));
        m.insert("createdAt".into(), json!(raw.created_at));
        m.insert("retries".into(), json!(info.map_or(0, |i| i.retries)));
        m.insert("headers".into(), headers);
        m
    }

    fn init_step(&self, raw: &RawStep) -> Value {
        let mut m = self.base(raw);
        m.insert("stepName".into(), json!("init"));
        m.insert("stepType".into(), json!("Initial"));
        m.insert(
            "out".into(),
            json!(String::from_utf8_lossy(&self.run.initial_body)),
        );
        m.insert("concurrent".into(), json!(1));
        m.insert("state".into(), json!("STEP_SUCCESS"));
        Value::Object(m)
    }

    fn copy_fields(m: &mut Map<String, Value>, v: &Value) {
        for k in STEP_FIELDS {
            if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
                m.insert(k.into(), x.clone());
            }
        }
        if let Some(t) = v.get("timeout").filter(|x| !x.is_null()) {
            m.insert("waitTimeoutDuration".into(), t.clone());
        }
    }

    /// A finished step: the SDK's (or the server's) result for step `stepId`.
    fn result_step(&self, index: usize, raw: &RawStep, v: &Value) -> Value {
        let mut m = self.base(raw);
        Self::copy_fields(&mut m, v);
        m.insert("state".into(), json!("STEP_SUCCESS"));
        match v["stepType"].as_str() {
            Some("Call") => self.call_fields(&mut m, index, v),
            Some("Invoke") => self.invoke_fields(&mut m, v),
            _ => {}
        }
        Value::Object(m)
    }

    /// A parallel branch without a result yet, shown by its plan message.
    fn plan_step(&self, raw: &RawStep, v: &Value) -> Value {
        let mut m = self.base(raw);
        Self::copy_fields(&mut m, v);
        m.remove("out");
        if let Some(t) = v.get("targetStep") {
            m.insert("stepId".into(), t.clone());
        }
        let state = match self.info(&raw.message_id).and_then(|i| i.last) {
            Some(State::Failed) => "STEP_FAILED",
            Some(State::Canceled | State::CancelRequested) => "STEP_CANCELED",
            _ if self.run.state == RunState::Canceled => "STEP_CANCELED",
            _ => "STEP_PROGRESS",
        };
        m.insert("state".into(), json!(state));
        Value::Object(m)
    }

    /// The call's request (from its `toCallback` message) and response (the result's `out`).
    fn call_fields(&self, m: &mut Map<String, Value>, index: usize, v: &Value) {
        let step_id = v["stepId"].as_u64().unwrap_or(0).to_string();
        let calls: Vec<&RawStep> = self.run.history[..index]
            .iter()
            .rev()
            .filter(|s| s.call_type == CallType::ToCallback)
            .collect();
        let by_id = calls.iter().find(|s| {
            self.info(&s.message_id)
                .and_then(|i| i.spec)
                .and_then(|spec| spec.callback.as_ref())
                .and_then(|cb| get(&cb.forward, "Upstash-Workflow-StepId"))
                == Some(step_id.as_str())
        });
        if let Some(call) = by_id.or(calls.first()) {
            m.insert(
                "callBody".into(),
                json!(String::from_utf8_lossy(&call.body)),
            );
            if let Some(spec) = self.info(&call.message_id).and_then(|i| i.spec) {
                m.insert("callUrl".into(), json!(spec.url));
                m.insert("callMethod".into(), json!(spec.method));
                m.insert("callHeaders".into(), json!(to_map(&spec.header)));
            }
        }
        let out: Value = v["out"]
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        m.insert("callResponseStatus".into(), out["status"].clone());
        m.insert("callResponseBody".into(), out["body"].clone());
        m.insert("callResponseHeaders".into(), out["header"].clone());
    }

    /// The child run an invoke step started.
    fn invoke_fields(&self, m: &mut Map<String, Value>, v: &Value) {
        let step_id = v["stepId"].as_u64();
        let child = self
            .st
            .runs
            .active
            .values()
            .chain(self.st.runs.ended.iter())
            .find(|c| {
                c.invoker.as_ref().is_some_and(|i| {
                    i.run_id == self.run.id
                        && i.created_at == self.run.created_at
                        && i.step["stepId"].as_u64() == step_id
                })
            });
        let Some(c) = child else { return };
        m.insert("invokedWorkflowRunId".into(), json!(c.id));
        m.insert("invokedWorkflowUrl".into(), json!(c.url));
        m.insert("invokedWorkflowCreatedAt".into(), json!(c.created_at));
        m.insert(
            "invokedWorkflowRunBody".into(),
            json!(String::from_utf8_lossy(&c.initial_body)),
        );
        m.insert(
            "invokedWorkflowRunHeaders".into(),
            json!(to_map(&c.config.forward)),
        );
    }

    /// The message being delivered or retried (running), or the one that failed the run.
    fn next_group(&self) -> Option<Value> {
        let mine = self
            .infos
            .iter()
            .filter(|(_, i)| i.of_run(self.run) && i.call_type() != Some(CallType::FailureCall));
        let mut chosen: Vec<(&str, &MsgInfo)> = match self.run.state {
            RunState::Running => mine
                .filter(|(_, i)| i.pending())
                .map(|(k, i)| (*k, i))
                .collect(),
            RunState::Failed => mine
                .filter(|(_, i)| {
                    i.last == Some(State::Failed)
                        && i.spec.is_some_and(|s| s.kind == Kind::Normal)
                        && i.call_type() == Some(CallType::Step)
                })
                .max_by_key(|(_, i)| i.created)
                .map(|(k, i)| (*k, i))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        if chosen.is_empty() {
            return None;
        }
        chosen.sort_by_key(|(_, i)| i.created);
        let steps = chosen.iter().map(|(id, i)| next_step(id, i)).collect();
        Some(group("next", steps))
    }
}

fn next_step(id: &str, info: &MsgInfo) -> Value {
    let mut m = Map::new();
    m.insert("messageId".into(), json!(id));
    let planned = info
        .spec
        .and_then(|s| serde_json::from_slice::<Value>(&s.body).ok())
        .filter(|v| v["stepId"].as_u64() == Some(0))
        .and_then(|v| v["stepName"].as_str().map(String::from));
    if let Some(name) = error_step_name(info).or(planned) {
        m.insert("stepName".into(), json!(name));
    }
    m.insert("state".into(), json!(step_state(info.last)));
    m.insert("retries".into(), json!(info.retries));
    if let Some(expr) = info.spec.and_then(|s| s.retry_delay.as_ref()) {
        m.insert("retryDelay".into(), json!(expr.as_str()));
    }
    if !info.errors.is_empty() {
        let errors: Vec<Value> = info.errors.iter().map(|e| error_json(e)).collect();
        m.insert("errors".into(), Value::Array(errors));
    }
    if let (Some(t), Some(State::Retry)) = (info.next_delivery, info.last) {
        m.insert("nextDeliveryTime".into(), json!(t));
    }
    Value::Object(m)
}
