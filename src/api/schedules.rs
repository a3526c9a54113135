//! Schedules (`/v2/schedules…`, any case): create or overwrite (`POST /v2/schedules/{destination}`
//! with `Upstash-Cron`, optional `Upstash-Schedule-Id` and `Upstash-Queue-Name`, and the publish
//! headers), get, list, delete, and pause / resume with POST or PATCH (the docs say POST, every
//! SDK sends PATCH).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::auth::Auth;
use super::error::ApiResult;
use super::publish::{destination, header_pairs};
use super::views::redacted;
use super::{body, publish_headers, AppState};
use crate::engine::headers::{canonical, to_map, Headers};
use crate::engine::schedules::{Schedule, ScheduleRequest};
use crate::engine::{Error, TenantId};

/// §4.4.
pub fn schedule_json(s: &Schedule) -> Value {
    let o = &s.options;
    let redact = o.redact.clone().unwrap_or_default();
    let mut header: Headers = o
        .content_type
        .iter()
        .map(|ct| ("Content-Type".to_string(), ct.clone()))
        .collect();
    header.extend(o.forward.iter().cloned());
    let header: Headers = header
        .into_iter()
        .map(|(k, v)| {
            let v = if redact.hides_header(&k) {
                redacted(v.as_bytes())
            } else {
                v
            };
            (canonical(&k), v)
        })
        .collect();
    let mut m = Map::new();
    m.insert("scheduleId".into(), json!(s.id));
    m.insert("cron".into(), json!(s.cron.as_str()));
    m.insert("destination".into(), json!(s.destination));
    m.insert("createdAt".into(), json!(s.created_at));
    m.insert("method".into(), json!(o.method.unwrap_or("POST")));
    m.insert("header".into(), json!(to_map(&header)));
    if !s.body.is_empty() {
        match std::str::from_utf8(&s.body) {
            _ if redact.body => m.insert("body".into(), json!(redacted(&s.body))),
            Ok(text) => m.insert("body".into(), json!(text)),
            Err(_) => m.insert("bodyBase64".into(), json!(B64.encode(&s.body))),
        };
    }
    m.insert(
        "retries".into(),
        json!(o.retries.unwrap_or(crate::config::DEFAULT_RETRIES)),
    );
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("delay", o.delay.map(|d| json!(d.as_secs())));
    put("timeout", o.timeout.map(|d| json!(d.as_secs())));
    put(
        "retryDelayExpression",
        o.retry_delay.as_ref().map(|e| json!(e.as_str())),
    );
    put("callback", o.callback.as_ref().map(|c| json!(c.url)));
    put(
        "failureCallback",
        o.failure_callback.as_ref().map(|c| json!(c.url)),
    );
    put(
        "callbackHeader",
        o.callback
            .as_ref()
            .filter(|c| !c.forward.is_empty())
            .map(|c| json!(to_map(&c.forward))),
    );
    put(
        "failureCallbackHeader",
        o.failure_callback
            .as_ref()
            .filter(|c| !c.forward.is_empty())
            .map(|c| json!(to_map(&c.forward))),
    );
    put("queueName", s.queue.as_ref().map(|q| json!(q)));
    put("lastScheduleTime", s.last_schedule_time.map(|t| json!(t)));
    put("nextScheduleTime", s.next_schedule_time.map(|t| json!(t)));
    put("error", s.error.as_ref().map(|e| json!(e)));
    if let Some(labels) = o.labels.as_ref().filter(|l| !l.is_empty()) {
        put("label", Some(json!(labels[0])));
        put("labels", Some(json!(labels)));
    }
    let states: Map<String, Value> = s
        .last_schedule_states
        .iter()
        .map(|(id, st)| (id.to_string(), json!(st.as_str())))
        .collect();
    m.insert("lastScheduleStates".into(), Value::Object(states));
    m.insert("callerIP".into(), json!(s.caller_ip));
    m.insert("callerIp".into(), json!(s.caller_ip));
    m.insert("isPaused".into(), json!(s.paused));
    super::views::flow_fields(&mut m, o.flow.as_ref());
    Value::Object(m)
}

fn header(pairs: &[publish_headers::Pair<'_>], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
}

async fn create(
    s: &AppState,
    t: TenantId,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let (dest, config) = destination(uri, "/v2/schedules/");
    let mut pairs = publish_headers::merge_sources(header_pairs(headers), &config);
    let cron = header(&pairs, "upstash-cron")
        .ok_or_else(|| Error::bad("the Upstash-Cron header is required"))?;
    super::publish::add_group_defaults(s, t, &dest, &mut pairs);
    let options = publish_headers::parse(&pairs)?;
    let body = body::read(headers, raw, s.engine.limits().max_body_bytes).await?;
    let req = ScheduleRequest {
        id: header(&pairs, "upstash-schedule-id"),
        cron,
        destination: dest,
        options,
        body,
        queue: header(&pairs, "upstash-queue-name").filter(|q| !q.is_empty()),
        caller_ip: peer.ip().to_string(),
    };
    let id = s.engine.create_schedule(t, req)?;
    Ok(Json(json!({ "scheduleId": id })))
}

/// `<id>/pause` or `<id>/resume`: the id and whether to pause.
fn pause_target(rest: &str) -> Option<(&str, bool)> {
    let (id, action) = rest.rsplit_once('/')?;
    if id.contains('/') || id.contains(':') {
        return None;
    }
    match action {
        "pause" => Some((id, true)),
        "resume" => Some((id, false)),
        _ => None,
    }
}

async fn set_paused(s: &AppState, t: TenantId, rest: &str) -> ApiResult<Json<Value>> {
    let (id, paused) = pause_target(rest)
        .ok_or_else(|| Error::not_found(format!("no route for /v2/schedules/{rest}")))?;
    s.engine.set_schedule_paused(t, id, paused)?;
    Ok(Json(json!({})))
}

pub async fn post(
    State(s): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(rest): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    if pause_target(&rest).is_some() {
        return set_paused(&s, t, &rest).await;
    }
    create(&s, t, peer, &uri, &headers, raw).await
}

pub async fn patch(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(rest): Path<String>,
) -> ApiResult<Json<Value>> {
    set_paused(&s, t, &rest).await
}

pub async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(schedule_json(&s.engine.schedule(t, &id)?)))
}

/// The API returns every schedule in one array (no cursor); it is streamed, as schedules can
/// carry bodies of up to the preset's message size.
pub async fn list(State(s): State<AppState>, Auth(t): Auth) -> Response {
    super::page::streamed_array(s.engine.schedules(t), schedule_json)
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.delete_schedule(t, &id)?;
    Ok(Json(json!({})))
}
