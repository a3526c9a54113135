//! The timeline of one message (`GET /dev/messages/{id}/timeline`): its log entries grouped
//! into attempts, each with when it started and ended, the request it sent (the headers rebuilt
//! by the dispatcher's own header code, with the signature that was sent; a workflow step's
//! with its run's headers and its history as body), the answer and how long it took, the
//! error, and when the next attempt was due; and the callbacks the message caused. Built from
//! the log, so it reaches as far back as the log does.

use std::sync::Arc;

use bytes::Bytes;

use crate::engine::lifecycle::attempt;
use crate::engine::lifecycle::message::{Kind, MessageSpec};
use crate::engine::store::logs::{LogEntry, Response, State};
use crate::engine::syntax::headers::Headers;
use crate::engine::{Engine, Error, Result, TenantId};

pub(crate) struct AttemptView {
    /// Retries done before it: the `Upstash-Retried` it carried.
    pub(crate) retried: u32,
    pub(crate) started_at: u64,
    pub(crate) ended_at: Option<u64>,
    /// `DELIVERED` or `ERROR` once it ended.
    pub(crate) outcome: Option<State>,
    /// The request's headers as the dispatcher builds them, `Upstash-Signature` apart.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) response: Option<Arc<Response>>,
    pub(crate) error: Option<String>,
    pub(crate) next_delivery_time: Option<u64>,
}

/// A callback (or failure callback) message the message caused, and its latest state.
pub(crate) struct Caused {
    pub(crate) message_id: Arc<str>,
    pub(crate) kind: Kind,
    pub(crate) url: String,
    pub(crate) state: State,
}

pub(crate) struct Timeline {
    pub(crate) message_id: String,
    pub(crate) spec: Arc<MessageSpec>,
    /// The body its attempts carried: a workflow step's is its run's history.
    pub(crate) body: Bytes,
    /// The workflow run's headers its attempts carried.
    run_headers: Headers,
    pub(crate) created_at: Option<u64>,
    /// The latest state logged.
    pub(crate) state: State,
    pub(crate) attempts: Vec<AttemptView>,
    pub(crate) callbacks: Vec<Caused>,
}

impl Engine {
    pub(crate) fn timeline(&self, t: TenantId, id: &str) -> Result<Timeline> {
        let region = self.config().region.map(|r| r.header_value());
        self.with(t, |cx| {
            let entries: Vec<&LogEntry> =
                cx.st.logs.iter().filter(|e| &*e.message_id == id).collect();
            let last = entries
                .last()
                .ok_or_else(|| Error::not_found(format!("message {id} is not in the log")))?;
            let (body, run_headers) = cx
                .st
                .runs
                .delivered(id, &last.spec)
                .unwrap_or_else(|| (last.spec.body.clone(), Vec::new()));
            let mut timeline = Timeline {
                message_id: id.to_string(),
                spec: last.spec.clone(),
                body,
                run_headers,
                created_at: None,
                state: last.state,
                attempts: Vec::new(),
                callbacks: caused(cx.st.logs.iter(), id),
            };
            for e in entries {
                timeline.add(e, region);
            }
            Ok(timeline)
        })
    }
}

impl Timeline {
    fn add(&mut self, e: &LogEntry, region: Option<&'static str>) {
        match e.state {
            State::Created => self.created_at = Some(e.time),
            State::Active => {
                let retried = self.attempts.len() as u32;
                let mut headers = Vec::new();
                let push = |k: &str, v: &str| headers.push((k.to_string(), v.to_string()));
                let run = &self.run_headers;
                attempt::request_headers(&e.message_id, &e.spec, retried, region, run, push);
                self.attempts.push(AttemptView {
                    retried,
                    started_at: e.time,
                    ended_at: None,
                    outcome: None,
                    headers,
                    response: None,
                    error: None,
                    next_delivery_time: None,
                });
            }
            State::Delivered | State::Error => {
                if let Some(a) = self.attempts.last_mut().filter(|a| a.outcome.is_none()) {
                    a.ended_at = Some(e.time);
                    a.outcome = Some(e.state);
                    a.response = e.response.clone();
                    a.error = e.error.as_deref().map(str::to_string);
                }
            }
            State::Retry => {
                if let Some(a) = self.attempts.last_mut() {
                    a.next_delivery_time = e.next_delivery_time.map(|t| t.get());
                }
            }
            State::Failed | State::CancelRequested | State::Canceled => {}
        }
    }
}

/// The callback messages whose payload names `id` as its source, each with its latest state.
fn caused<'a>(entries: impl Iterator<Item = &'a LogEntry>, id: &str) -> Vec<Caused> {
    let mut out: Vec<Caused> = Vec::new();
    for e in entries.filter(|e| e.spec.kind != Kind::Normal) {
        if let Some(c) = out.iter_mut().find(|c| c.message_id == e.message_id) {
            c.state = e.state;
            continue;
        }
        let source = serde_json::from_slice::<serde_json::Value>(&e.spec.body).ok();
        if source.as_ref().and_then(|v| v["sourceMessageId"].as_str()) == Some(id) {
            out.push(Caused {
                message_id: e.message_id.clone(),
                kind: e.spec.kind,
                url: e.spec.url.clone(),
                state: e.state,
            });
        }
    }
    out
}
