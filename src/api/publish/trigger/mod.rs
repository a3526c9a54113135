//! Starting workflow runs over REST: `POST /v2/trigger/{workflowUrl}` (raw body) and
//! `POST /v2/batch/trigger` (`[{destination, body?, headers?}]`). The server fills in what the
//! workflow SDK's `client.trigger` would send: the init protocol headers, the forwarded SDK
//! protocol version and a failure callback to the workflow URL (unless one is given) carrying
//! the run id and copies of the user headers and retry settings, all built as typed options in
//! `options`. Then it publishes the run's first message like any publish.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod options;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::body::Strings;
use crate::api::publish::batch::MAX_BATCH_BYTES;
use crate::api::publish::{destination, header_pairs};
use crate::api::{extract::body, publish::upstash, AppState};
use crate::engine::lifecycle::publish::{check_url, PublishRequest};
use crate::engine::workflow::admin::Triggered;
use crate::engine::{Error, Result, TenantId};

fn start(
    s: &AppState,
    t: TenantId,
    url: String,
    caller: Vec<(String, String)>,
    body: Bytes,
    ip: &str,
) -> Result<Triggered> {
    check_url(&url, "workflow")?;
    let options = options::trigger_options(&url, caller)?;
    let req = PublishRequest {
        destination: url,
        options,
        body,
        caller_ip: ip.to_string(),
        queue: None,
        schedule_id: None,
    };
    s.engine.trigger(t, req)
}

/// A started run (fields in alphabetical order, as the API has always written them), or why
/// one item of a batch started none.
#[derive(Serialize)]
#[serde(untagged)]
enum TriggeredView {
    #[serde(rename_all = "camelCase")]
    Started {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        deduplicated: bool,
        workflow_created_at: u64,
        workflow_run_id: String,
    },
    Refused {
        error: String,
    },
}

impl TriggeredView {
    fn of(r: Triggered) -> Self {
        Self::Started {
            deduplicated: r.deduplicated,
            workflow_created_at: r.created_at,
            workflow_run_id: r.run_id,
        }
    }
}

/// `POST /v2/trigger/{workflowUrl}` → `{"workflowRunId", "workflowCreatedAt"}`.
pub(crate) async fn trigger(
    State(s): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let (url, config) = destination(&uri, "/v2/trigger/");
    let caller = upstash::merge_sources(header_pairs(&headers), &config)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let body = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let quota = crate::api::edge::limits::daily(&s, t, 1)?;
    let r = start(&s, t, url, caller, body, &peer.ip().to_string())?;
    Ok((StatusCode::OK, quota, Json(TriggeredView::of(r))).into_response())
}

/// One item of `POST /v2/batch/trigger` as sent; other fields are ignored.
#[derive(Debug, Deserialize)]
struct TriggerItem {
    destination: String,
    #[serde(default)]
    headers: Option<BTreeMap<String, Strings>>,
    #[serde(default)]
    body: Option<Value>,
}

/// A trigger request: destination, lower-case headers, body.
type Item = (String, Vec<(String, String)>, Bytes);

fn item(raw: TriggerItem) -> Item {
    let pairs = raw
        .headers
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(k, Strings(v))| {
            let k = k.to_ascii_lowercase();
            v.into_iter().map(move |v| (k.clone(), v))
        })
        .collect();
    (
        raw.destination,
        pairs,
        crate::api::publish::batch::body_bytes(raw.body),
    )
}

/// `POST /v2/batch/trigger` → `201 [{"workflowRunId", "workflowCreatedAt", "deduplicated"?}]`.
pub(crate) async fn batch(
    State(s): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let bytes = body::read(&headers, raw, MAX_BATCH_BYTES).await?;
    let items: Vec<TriggerItem> =
        body::json(&bytes)?.ok_or_else(|| Error::bad("a JSON array of triggers is required"))?;
    let items: Vec<Item> = items.into_iter().map(item).collect();
    let quota = crate::api::edge::limits::daily(&s, t, items.len() as u64)?;
    let ip = crate::api::publish::caller_ip(peer);
    let results: Vec<TriggeredView> = items
        .into_iter()
        .map(
            |(url, pairs, body)| match start(&s, t, url, pairs, body, &ip) {
                Ok(r) => TriggeredView::of(r),
                Err(e) => TriggeredView::Refused {
                    error: e.to_string(),
                },
            },
        )
        .collect();
    Ok((StatusCode::CREATED, quota, Json(results)).into_response())
}
