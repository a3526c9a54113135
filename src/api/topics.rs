//! URL groups (`/v2/topics…`): add and remove endpoints, get, list, delete, and PATCH default
//! headers. Endpoint objects carry exactly `name` (when set) and `url`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Auth;
use super::body::Strings;
use super::error::ApiResult;
use super::{body, AppState};
use crate::engine::topics::{Endpoint, EndpointRef, UrlGroup};
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

fn group_json(g: &UrlGroup) -> Value {
    let endpoints: Vec<Value> = g
        .endpoints
        .iter()
        .map(|e| {
            let mut m = Map::new();
            if let Some(n) = &e.name {
                m.insert("name".into(), json!(n));
            }
            m.insert("url".into(), json!(e.url));
            Value::Object(m)
        })
        .collect();
    json!({ "name": g.name, "createdAt": g.created_at, "updatedAt": g.updated_at, "endpoints": endpoints })
}

async fn endpoints_body(headers: &HeaderMap, raw: Body) -> Result<Vec<EndpointIn>> {
    let bytes = body::read(headers, raw, 1024 * 1024).await?;
    body::json::<EndpointsBody>(&bytes)?
        .map(|b| b.endpoints)
        .ok_or_else(|| Error::bad("a JSON body with \"endpoints\" is required"))
}

pub async fn add_endpoints(
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

pub async fn remove_endpoints(
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

pub async fn list(State(s): State<AppState>, Auth(t): Auth) -> Json<Value> {
    Json(Value::Array(
        s.engine.url_groups(t).iter().map(group_json).collect(),
    ))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(group_json(&s.engine.url_group(t, &name)?)))
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(name): Path<String>,
) -> Json<Value> {
    s.engine.delete_url_group(t, &name);
    Json(json!({}))
}

/// `PATCH /v2/topics/{name}` `{"headers": {"Upstash-Retries": "3", "X": ["a"]}}`: defaults for
/// every publish to the group; the request's own headers win.
pub async fn set_headers(
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
    super::publish_headers::parse(&pairs)?;
    s.engine.set_url_group_headers(t, &name, pairs)?;
    Ok(Json(json!({})))
}
