//! `POST /v2/batch`: many publishes and enqueues in one request. Items are
//! `{destination, headers?, body?, queue?}`; header names in any case and values as strings or
//! arrays of strings; `null` fields count as absent. The answer lists one result per item in
//! request order (an array for a URL group); a bad item gets `{"error": …}` in its slot and the
//! others still go out (an item that is not an object too). A body that is not a JSON array is
//! a 400.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Auth;
use super::error::ApiResult;
use super::publish::{outcome_json, publish_with, Pair};
use super::{body, AppState};
use crate::engine::{Error, Result, TenantId};

/// The largest batch request (the hosted service documents 100 MB per batch).
pub const MAX_BATCH_BYTES: usize = 100 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct Item {
    destination: Option<String>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    /// A string is the raw body; any other JSON value (the workflow SDK sends `context.call`
    /// bodies as objects) is sent as its compact JSON text.
    body: Option<Value>,
    queue: Option<String>,
}

/// Lower-cased header pairs from an item's `headers` object.
fn item_pairs(headers: Option<Map<String, Value>>) -> Result<Vec<Pair<'static>>> {
    let mut pairs = Vec::new();
    for (k, v) in headers.unwrap_or_default() {
        let k = k.to_ascii_lowercase();
        match v {
            Value::String(s) => pairs.push((Cow::Owned(k), Cow::Owned(s))),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) => pairs.push((Cow::Owned(k.clone()), Cow::Owned(s))),
                        other => {
                            return Err(Error::bad(format!(
                                "header {k:?}: expected strings, got {other}"
                            )))
                        }
                    }
                }
            }
            Value::Null => {}
            other => pairs.push((Cow::Owned(k), Cow::Owned(other.to_string()))),
        }
    }
    Ok(pairs)
}

/// A JSON `body` field as message bytes: a string is the raw body; any other value (the
/// workflow SDK sends `context.call` bodies as objects) is its compact JSON text.
pub fn body_bytes(v: Option<Value>) -> Bytes {
    match v {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => Bytes::from(s),
        Some(other) => Bytes::from(other.to_string()),
    }
}

/// One batch item as read from the request, before it is published.
#[derive(Debug)]
pub struct ParsedItem {
    pub destination: String,
    pub queue: Option<String>,
    /// Lower-cased header pairs.
    pub pairs: Vec<Pair<'static>>,
    pub body: Bytes,
}

/// Reads one batch item (any JSON value; a bad one is a 400).
pub fn parse_item(raw: Value) -> Result<ParsedItem> {
    let item: Item =
        serde_json::from_value(raw).map_err(|e| Error::bad(format!("invalid batch item: {e}")))?;
    let pairs = item_pairs(item.headers)?;
    let body = body_bytes(item.body);
    Ok(ParsedItem {
        destination: item.destination.unwrap_or_default(),
        queue: item.queue.filter(|q| !q.is_empty()),
        pairs,
        body,
    })
}

fn one(state: &AppState, t: TenantId, raw: Value, caller_ip: &str) -> Result<Value> {
    let ParsedItem {
        destination,
        queue,
        pairs,
        body,
    } = parse_item(raw)?;
    let limit = state.engine.limits().max_body_bytes;
    if body.len() > limit {
        return Err(Error::PayloadTooLarge(format!(
            "message size exceeds the limit of {limit} bytes"
        )));
    }
    let o = publish_with(
        state,
        t,
        destination,
        queue,
        pairs,
        None,
        body,
        caller_ip.to_string(),
    )?;
    Ok(outcome_json(&o))
}

pub async fn batch(
    State(state): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let bytes = body::read(&headers, raw, MAX_BATCH_BYTES).await?;
    let items: Vec<Value> =
        body::json(&bytes)?.ok_or_else(|| Error::bad("a JSON array of messages is required"))?;
    let quota = super::limits::daily(&state, t, items.len() as u64)?;
    let caller_ip = peer.ip().to_string();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        match one(&state, t, item, &caller_ip) {
            Ok(v) => results.push(v),
            // The workflow SDK submits a step as a one-item batch and reads a 400 as "the
            // run is over"; an error slot in a 200 would look like success to it.
            Err(e @ Error::RunEnded(_)) => return Err(e.into()),
            Err(e) => results.push(json!({ "error": e.to_string() })),
        }
    }
    Ok((quota, Json(Value::Array(results))).into_response())
}
