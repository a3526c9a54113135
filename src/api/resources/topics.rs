//! URL groups (`/v2/topics…`): add and remove endpoints, get, list, delete, and PATCH default
//! headers. Endpoint objects carry exactly `name` (when set) and `url`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::body::Strings;
use crate::api::views::UrlGroupView;
use crate::api::{extract::body, AppState};
use crate::engine::resources::topics::{Endpoint, EndpointRef};
use crate::engine::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointIn {
    name: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointsBody {
    endpoints: Vec<EndpointIn>,
}

#[derive(Debug, Deserialize)]
struct HeadersBody {
    #[serde(default)]
    headers: std::collections::BTreeMap<String, Strings>,
}

async fn endpoints_body(headers: &HeaderMap, raw: Body) -> Result<Vec<EndpointIn>> {
    let bytes = body::read(headers, raw, 1024 * 1024).await?;
    body::json::<EndpointsBody>(&bytes)?
        .map(|b| b.endpoints)
        .ok_or_else(|| Error::bad("a JSON body with \"endpoints\" is required"))
}

pub(crate) async fn add_endpoints(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let mut endpoints = Vec::new();
    for e in endpoints_body(&headers, raw).await? {
        let url = e
            .url
            .ok_or_else(|| Error::bad("each endpoint needs a url"))?;
        endpoints.push(Endpoint {
            name: e.name.filter(|n| !n.is_empty()),
            url,
        });
    }
    s.engine.add_endpoints(t, &name, endpoints)?;
    Ok(Json(json!({})))
}

pub(crate) async fn remove_endpoints(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let refs: Vec<EndpointRef> = endpoints_body(&headers, raw)
        .await?
        .into_iter()
        .map(|e| EndpointRef {
            name: e.name.filter(|n| !n.is_empty()),
            url: e.url.filter(|u| !u.is_empty()),
        })
        .collect();
    s.engine.remove_endpoints(t, &name, &refs)?;
    Ok(Json(json!({})))
}

pub(crate) async fn list(State(s): State<AppState>, Auth(t): Auth) -> Response {
    let groups = s.engine.url_groups(t);
    Json(groups.iter().map(UrlGroupView::of).collect::<Vec<_>>()).into_response()
}

pub(crate) async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let group = s.engine.url_group(t, &name)?;
    Ok(Json(UrlGroupView::of(&group)).into_response())
}

pub(crate) async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> Json<Value> {
    s.engine.delete_url_group(t, &name);
    Json(json!({}))
}

/// `PATCH /v2/topics/{name}` `{"headers": {"Upstash-Retries": "3", "X": ["a"]}}`: defaults for
/// every publish to the group; the request's own headers win.
pub(crate) async fn set_headers(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Value>> {
    let bytes = body::read(&headers, raw, 1024 * 1024).await?;
    let b: HeadersBody = body::json(&bytes)?
        .ok_or_else(|| Error::bad("a JSON body with \"headers\" is required"))?;
    let pairs: Vec<(String, String)> = b
        .headers
        .into_iter()
        .flat_map(|(k, Strings(v))| v.into_iter().map(move |v| (k.to_ascii_lowercase(), v)))
        .collect();
    crate::api::publish::upstash::parse(&pairs)?;
    s.engine.set_url_group_headers(t, &name, pairs)?;
    Ok(Json(json!({})))
}
