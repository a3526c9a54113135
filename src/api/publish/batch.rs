//! `POST /v2/batch`: many publishes and enqueues in one request. Items are
//! `{destination, headers?, body?, queue?}`; header names in any case and values as strings or
//! arrays of strings; `null` fields count as absent. The body is read as one typed document, as
//! the hosted service reads it: a value of the wrong type anywhere (an item that is not an
//! object, a header that is an object) is a 400 naming its path (`[2].headers.Upstash-Delay`)
//! and nothing is published. The answer lists one result per item in request order (an array
//! for a URL group); an item the engine refuses (an unknown URL group, a bad header value) gets
//! `{"error": …}` in its slot and the others still go out.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::body::Strings;
use crate::api::publish::{outcome_json, publish_with, Draft, Pair};
use crate::api::{extract::body, AppState};
use crate::engine::{Error, Result, TenantId};

/// The largest batch request (the hosted service documents 100 MB per batch).
pub(crate) const MAX_BATCH_BYTES: usize = 100 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub(crate) struct Item {
    destination: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Strings>>,
    /// A string is the raw body; any other JSON value (the workflow SDK sends `context.call`
    /// bodies as objects) is sent as its compact JSON text.
    body: Option<Value>,
    queue: Option<String>,
}

/// Lower-cased header pairs from an item's `headers` object.
fn item_pairs(headers: Option<BTreeMap<String, Strings>>) -> Vec<Pair<'static>> {
    let mut pairs = Vec::new();
    for (k, Strings(values)) in headers.unwrap_or_default() {
        let k = k.to_ascii_lowercase();
        for v in values {
            pairs.push((Cow::Owned(k.clone()), Cow::Owned(v)));
        }
    }
    pairs
}

/// A JSON `body` field as message bytes: a string is the raw body; any other value (the
/// workflow SDK sends `context.call` bodies as objects) is its compact JSON text.
pub(crate) fn body_bytes(v: Option<Value>) -> Bytes {
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

/// Reads one batch item from any JSON value; a value of the wrong type is an error naming
/// its field.
pub fn parse_item(raw: Value) -> Result<ParsedItem> {
    Ok(ready(body::from_value("", raw)?))
}

/// One batch item, ready to publish.
fn ready(item: Item) -> ParsedItem {
    ParsedItem {
        destination: item.destination.unwrap_or_default(),
        queue: item.queue.filter(|q| !q.is_empty()),
        pairs: item_pairs(item.headers),
        body: body_bytes(item.body),
    }
}

fn one(state: &AppState, t: TenantId, item: Item, caller_ip: &str) -> Result<Value> {
    let ParsedItem {
        destination,
        queue,
        pairs,
        body,
    } = ready(item);
    let limit = state.engine.limits().max_body_bytes;
    if body.len() > limit {
        return Err(Error::PayloadTooLarge(format!(
            "message size exceeds the limit of {limit} bytes"
        )));
    }
    let draft = Draft {
        destination,
        queue,
        pairs,
        parsed: None,
        body,
        caller_ip: caller_ip.to_string(),
    };
    let o = publish_with(state, t, draft)?;
    Ok(outcome_json(&o))
}

pub(crate) async fn batch(
    State(state): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let bytes = body::read(&headers, raw, MAX_BATCH_BYTES).await?;
    let items: Vec<Item> =
        body::json(&bytes)?.ok_or_else(|| Error::bad("a JSON array of messages is required"))?;
    let quota = crate::api::edge::limits::daily(&state, t, items.len() as u64)?;
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
