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
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::publish::{destination, header_pairs};
use crate::api::views::ScheduleView;
use crate::api::{extract::body, publish::upstash, AppState};
use crate::engine::resources::schedules::ScheduleRequest;
use crate::engine::{Engine, Error, Result, TenantId};

fn header(pairs: &[upstash::Pair<'_>], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Headers that are not a schedule's own fields (`Upstash-Cron`, `-Schedule-Id`, `-Queue-Name`).
pub(crate) const OWN_FIELDS: [&str; 3] =
    ["upstash-cron", "upstash-schedule-id", "upstash-queue-name"];

/// The headers that define a schedule's messages: `Upstash-*` (its own fields apart) and
/// `Content-Type`, lower-case names, as sent.
fn definition_headers(pairs: &[upstash::Pair<'_>]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("upstash-") && !OWN_FIELDS.contains(&k.as_ref())) || k == "content-type"
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A schedule to create from request headers (lower-case names), as `POST /v2/schedules` and
/// a seed file give it.
pub(crate) struct Input<'a> {
    pub(crate) destination: String,
    pub(crate) pairs: Vec<upstash::Pair<'a>>,
    pub(crate) body: bytes::Bytes,
    pub(crate) caller_ip: String,
}

/// Creates (or overwrites) a schedule from its headers: the one way both the API and a seed
/// file create one, URL-group defaults included.
pub(crate) fn create_from(engine: &Engine, t: TenantId, input: Input<'_>) -> Result<String> {
    let Input {
        destination,
        mut pairs,
        body,
        caller_ip,
    } = input;
    let cron = header(&pairs, "upstash-cron")
        .ok_or_else(|| Error::bad("the Upstash-Cron header is required"))?;
    let kept = definition_headers(&pairs);
    crate::api::publish::add_group_defaults(engine, t, &destination, &mut pairs);
    let req = ScheduleRequest {
        id: header(&pairs, "upstash-schedule-id"),
        cron,
        options: upstash::parse(&pairs)?,
        destination,
        headers: kept,
        body,
        queue: header(&pairs, "upstash-queue-name").filter(|q| !q.is_empty()),
        caller_ip,
    };
    engine.create_schedule(t, req)
}

async fn create(
    s: &AppState,
    t: TenantId,
    peer: SocketAddr,
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let (destination, config) = destination(uri, "/v2/schedules/");
    let pairs = upstash::merge_sources(header_pairs(headers), &config);
    if header(&pairs, "upstash-cron").is_none() {
        return Err(Error::bad("the Upstash-Cron header is required").into());
    }
    let body = body::read(headers, raw, s.engine.limits().max_body_bytes).await?;
    let input = Input {
        destination,
        pairs,
        body,
        caller_ip: peer.ip().to_string(),
    };
    let id = create_from(&s.engine, t, input)?;
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

pub(crate) async fn post(
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

pub(crate) async fn patch(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(rest): Path<String>,
) -> ApiResult<Json<Value>> {
    set_paused(&s, t, &rest).await
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(ScheduleView::of(&s.engine.schedule(t, &id)?)))
}

/// The API returns every schedule in one array (no cursor); it is streamed, as schedules can
/// carry bodies of up to the preset's message size.
pub(crate) async fn list(State(s): State<AppState>, Auth(t): Auth) -> Response {
    crate::api::views::page::streamed_array(s.engine.schedules(t), ScheduleView::of)
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.engine.delete_schedule(t, &id)?;
    Ok(Json(json!({})))
}
