//! `GET /dev/messages/{messageId}/timeline`: every attempt of one message with the gap before
//! it, the request sent (method, URL, headers, body, the signature and its decoded claims) and
//! the answer (status, headers, body, latency), the error, when the next attempt was due, and
//! the callbacks the message caused (`crate::engine::store::timeline`). Bodies are base64.

use axum::extract::{Path, State};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::AppState;
use crate::engine::lifecycle::message::Kind;
use crate::engine::store::timeline::{AttemptView, Timeline};
use crate::signature::explain::claims;

pub(crate) async fn timeline(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&s.engine.timeline(t, &id)?)))
}

fn render(tl: &Timeline) -> Value {
    let mut previous_end = tl.created_at;
    let attempts: Vec<Value> = tl
        .attempts
        .iter()
        .map(|a| {
            let gap = previous_end.map(|p| a.started_at.saturating_sub(p));
            previous_end = a.ended_at.or(Some(a.started_at));
            attempt(tl, a, gap)
        })
        .collect();
    let callbacks: Vec<Value> = tl
        .callbacks
        .iter()
        .map(|c| {
            let kind = if c.kind == Kind::FailureCallback { "failureCallback" } else { "callback" };
            json!({"messageId": &*c.message_id, "kind": kind, "url": c.url, "state": c.state.as_str()})
        })
        .collect();
    json!({
        "messageId": tl.message_id,
        "url": tl.spec.url,
        "method": tl.spec.method.as_str(),
        "createdAt": tl.created_at,
        "state": tl.state.as_str(),
        "attempts": attempts,
        "callbacks": callbacks,
    })
}

fn header_object<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        let entry = map.entry(k.to_string()).or_insert_with(|| json!([]));
        if let Value::Array(vs) = entry {
            vs.push(json!(v));
        }
    }
    Value::Object(map)
}

fn attempt(tl: &Timeline, a: &AttemptView, gap_ms: Option<u64>) -> Value {
    let signature = a.response.as_ref().and_then(|r| r.signature.clone());
    let headers = a.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let headers = headers.chain(signature.as_deref().map(|s| ("Upstash-Signature", s)));
    let response = a.response.as_ref().map(|r| {
        json!({
            "status": r.status,
            "headers": r.headers.to_map(),
            "body": B64.encode(&r.body),
            "latencyMs": r.took_ms,
        })
    });
    json!({
        "retried": a.retried,
        "startedAt": a.started_at,
        "endedAt": a.ended_at,
        "gapMs": gap_ms,
        "outcome": a.outcome.map(|s| s.as_str()),
        "request": {
            "method": tl.spec.method.as_str(),
            "url": tl.spec.url,
            "headers": header_object(headers),
            "body": B64.encode(&tl.body),
        },
        "claims": signature.as_deref().and_then(claims),
        "response": response,
        "error": a.error,
        "nextDeliveryTime": a.next_delivery_time,
    })
}
