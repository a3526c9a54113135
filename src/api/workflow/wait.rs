//! Workflow events over HTTP: `POST /v2/wait/{eventId}` (a run waits), `POST /v2/notify/{eventId}`
//! (every waiter of the event), `POST /v2/notify/{workflowRunId}/{eventId}` (safe notify: the
//! run's waiter, or stored until it waits), `GET /v2/waiters/{eventId}`, and the webhooks
//! `ANY /v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}`, which take no token and turn
//! the whole request into the event data. Never calls `delivery`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::views::{NotifiedView, WaiterView};
use crate::api::{extract::body, AppState};
use crate::engine::syntax::headers::{canonical, to_map, Headers};
use crate::engine::syntax::urls::check_not_link_local;
use crate::engine::workflow::wait::{RunNotify, WaitRequest};
use crate::engine::Error;

/// Request headers never kept from a wait request or a webhook call (`Authorization` is
/// dropped from waits only: a webhook's caller may want its own checked).
const HOP_BY_HOP: [&str; 10] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authorization",
];

/// The headers of a request as `Canonical-Name: value` pairs, minus hop-by-hop ones.
fn kept_headers(headers: &HeaderMap, drop_auth: bool) -> Headers {
    headers
        .iter()
        .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()))
        .filter(|(k, _)| !(drop_auth && k.as_str() == "authorization"))
        .map(|(k, v)| {
            (
                canonical(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `{"Name": ["v"]}` (or `"v"`) into pairs; names repeated in another case are merged.
fn header_pairs(v: Option<&Value>) -> Headers {
    let mut out: Headers = Vec::new();
    let Some(Value::Object(map)) = v else {
        return out;
    };
    for (k, vals) in map {
        if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)) {
            continue;
        }
        match vals {
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (k.clone(), s.to_string())),
            ),
            Value::String(s) => out.push((k.clone(), s.clone())),
            _ => {}
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WaitBody {
    url: String,
    #[serde(default)]
    timeout: Option<Value>,
    #[serde(default)]
    timeout_url: Option<String>,
    #[serde(default)]
    timeout_body: Option<String>,
    #[serde(default)]
    timeout_headers: Option<Value>,
    #[serde(default)]
    step: Value,
}

/// `POST /v2/wait/{eventId}`.
pub(crate) async fn wait(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let bytes = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let b: WaitBody = body::json(&bytes)?.ok_or_else(|| Error::bad("a wait needs a body"))?;
    let run_id = headers
        .get("upstash-workflow-runid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::bad("missing Upstash-Workflow-RunId header"))?;
    let timeout = match b.timeout {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // Both URLs get a step later: refused now, not when a notify or the deadline comes.
    check_not_link_local(&b.url, "wait")?;
    if let Some(u) = &b.timeout_url {
        check_not_link_local(u, "timeoutUrl")?;
    }
    let req = WaitRequest {
        event_id,
        run_id: run_id.to_string(),
        url: b.url,
        headers: kept_headers(&headers, true),
        timeout,
        timeout_url: b.timeout_url.filter(|u| !u.is_empty()),
        timeout_body: b.timeout_body,
        timeout_headers: header_pairs(b.timeout_headers.as_ref()),
        step: b.step,
    };
    s.engine.register_wait(t, req)?;
    Ok(Json(json!({})))
}

/// `POST /v2/notify/{eventId}`: 201 with one entry per waiter reached (`[]` for none).
pub(crate) async fn notify(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(event_id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let data = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let reached = s.engine.notify(t, &event_id, &data);
    let out: Vec<NotifiedView> = reached.iter().map(NotifiedView::of).collect();
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `POST /v2/notify/{workflowRunId}/{eventId}`: 201 with the reached waiter, or with an empty
/// `messageId` when the notification is stored until the run waits.
pub(crate) async fn notify_run(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path((run_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let data = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let out = s.engine.notify_run(t, &run_id, &event_id, data)?;
    let view = match &out {
        RunNotify::Delivered(n) => NotifiedView::of(n),
        RunNotify::Stored {
            run_id,
            run_created_at,
        } => NotifiedView::stored(run_id, *run_created_at),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /v2/waiters/{eventId}`.
pub(crate) async fn waiters(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(event_id): Path<String>,
) -> ApiResult<Response> {
    let waiters = s.engine.waiters(t, &event_id);
    let out: Vec<WaiterView> = waiters.iter().map(WaiterView::of).collect();
    Ok(Json(out).into_response())
}

/// The event data of a webhook call: the request as the SDK rebuilds it
/// (`proto://host` + `url`, the method, the headers and the base64 body).
fn hook_event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Bytes {
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let url = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let event = json!({
        "method": method.as_str(),
        "header": to_map(&kept_headers(headers, false)),
        "body": B64.encode(body),
        "proto": "http",
        "host": host,
        "url": url,
    });
    Bytes::from(event.to_string())
}

/// `ANY /v2/workflows/hooks/{userId}/{workflowRunId}/{eventId}`: no token; a safe notify of
/// the run with the whole request as event data. 404 for an unknown user or an ended run.
pub(crate) async fn hook(
    State(s): State<AppState>,
    Path((user_id, run_id, event_id)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let bytes = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let data = hook_event(&method, &uri, &headers, &bytes);
    s.engine.notify_hook(&user_id, &run_id, &event_id, data)?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_headers_merge_names_in_any_case() {
        let v = json!({"Upstash-Workflow-RunId": ["wfr_a"], "Upstash-Workflow-Runid": ["wfr_a"], "X": "y"});
        let h = header_pairs(Some(&v));
        assert_eq!(h.len(), 2);
        assert!(h.contains(&("X".to_string(), "y".to_string())));
    }

    #[test]
    fn a_hook_call_becomes_the_request_the_sdk_rebuilds() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-h", "hv".parse().unwrap());
        headers.insert("content-length", "2".parse().unwrap());
        let uri: Uri = "/v2/workflows/hooks/u/r/e?z=1".parse().unwrap();
        let data = hook_event(&Method::PUT, &uri, &headers, b"{}");
        let v: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(v["method"], "PUT");
        assert_eq!(v["host"], "127.0.0.1:8080");
        assert_eq!(v["url"], "/v2/workflows/hooks/u/r/e?z=1");
        assert_eq!(v["body"], "e30=");
        assert_eq!(v["header"]["X-H"], json!(["hv"]));
        assert!(v["header"].get("Host").is_none());
        assert!(v["header"].get("Content-Length").is_none());
    }
}
