//! Starting workflow runs over REST: `POST /v2/trigger/{workflowUrl}` (raw body) and
//! `POST /v2/batch/trigger` (`[{destination, body?, headers?}]`). The server fills in what the
//! workflow SDK's `client.trigger` would send: the init protocol headers, the forwarded SDK
//! protocol version and a failure callback to the workflow URL (unless one is given) carrying
//! the run id and copies of the user headers and retry settings. Then it publishes the run's
//! first message like any publish.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Auth;
use super::batch::MAX_BATCH_BYTES;
use super::body::Strings;
use super::error::ApiResult;
use super::publish::{destination, header_pairs};
use super::{body, publish_headers, AppState};
use crate::engine::publish::{check_url, PublishRequest};
use crate::engine::workflow_admin::Triggered;
use crate::engine::{Error, Result, TenantId};

/// The feature set `client.trigger` announces.
pub const FEATURES: &str = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig";

/// Settings copied onto the failure callback when it has none of its own.
const COPIED: [&str; 4] = [
    "retries",
    "retry-delay",
    "flow-control-key",
    "flow-control-value",
];

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn add(pairs: &mut Vec<(String, String)>, name: &str, v: &str) {
    if value(pairs, name).is_none() {
        pairs.push((name.to_string(), v.to_string()));
    }
}

/// The lower-case headers of the run's first message, from the caller's (lower-case) headers.
pub fn synthesize(url: &str, caller: Vec<(String, String)>) -> Vec<(String, String)> {
    let run_id = value(&caller, "upstash-workflow-runid")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("wfr_{}", crate::ids::base58(21)), String::from);
    let unknown_sdk = value(&caller, "upstash-workflow-unknown-sdk").map(String::from);
    let mut p: Vec<(String, String)> = caller
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("upstash-workflow-")
                && !matches!(
                    k.as_str(),
                    "upstash-feature-set" | "upstash-method" | "authorization"
                )
        })
        .collect();
    for (k, v) in [
        ("upstash-workflow-init", "true"),
        ("upstash-workflow-runid", run_id.as_str()),
        ("upstash-workflow-url", url),
        ("upstash-feature-set", FEATURES),
        ("upstash-forward-upstash-workflow-sdk-version", "1"),
        ("upstash-method", "POST"),
        ("content-type", "application/json"),
    ] {
        add(&mut p, k, v);
    }
    if let Some(v) = unknown_sdk {
        add(&mut p, "upstash-forward-upstash-workflow-unknown-sdk", &v);
    }
    if let Some(label) = value(&p, "upstash-label").map(String::from) {
        add(&mut p, "upstash-forward-upstash-label", &label);
    }
    add(&mut p, "upstash-failure-callback", url);
    let fc = |rest: &str| format!("upstash-failure-callback-{rest}");
    let user: Vec<(String, String)> = p
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("upstash-forward-")?, v)))
        .filter(|(k, _)| *k != "upstash-workflow-sdk-version")
        .map(|(k, v)| (fc(&format!("forward-{k}")), v.clone()))
        .collect();
    let copies: Vec<(String, String)> = COPIED
        .iter()
        .filter_map(|c| Some((fc(c), value(&p, &format!("upstash-{c}"))?.to_string())))
        .collect();
    for (k, v) in [
        ("forward-upstash-workflow-is-failure", "true"),
        ("forward-upstash-workflow-failure-callback", "true"),
        ("workflow-runid", run_id.as_str()),
        ("workflow-init", "false"),
        ("workflow-url", url),
        ("workflow-calltype", "failureCall"),
        ("feature-set", FEATURES),
    ] {
        add(&mut p, &fc(k), v);
    }
    for (k, v) in user.into_iter().chain(copies) {
        add(&mut p, &k, &v);
    }
    p
}

fn start(
    s: &AppState,
    t: TenantId,
    url: String,
    caller: Vec<(String, String)>,
    body: Bytes,
    ip: &str,
) -> Result<Triggered> {
    check_url(&url, "workflow")?;
    let options = publish_headers::parse(&synthesize(&url, caller))?;
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

fn triggered_json(r: &Triggered) -> Value {
    let mut m = Map::new();
    m.insert("workflowRunId".into(), json!(r.run_id));
    m.insert("workflowCreatedAt".into(), json!(r.created_at));
    if r.deduplicated {
        m.insert("deduplicated".into(), json!(true));
    }
    Value::Object(m)
}

/// `POST /v2/trigger/{workflowUrl}` → `{"workflowRunId", "workflowCreatedAt"}`.
pub async fn trigger(
    State(s): State<AppState>,
    Auth(t): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let (url, config) = destination(&uri, "/v2/trigger/");
    let caller = publish_headers::merge_sources(header_pairs(&headers), &config)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let body = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let quota = super::limits::daily(&s, t, 1)?;
    let r = start(&s, t, url, caller, body, &peer.ip().to_string())?;
    Ok((StatusCode::OK, quota, Json(triggered_json(&r))).into_response())
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
    (raw.destination, pairs, super::batch::body_bytes(raw.body))
}

/// `POST /v2/batch/trigger` → `201 [{"workflowRunId", "workflowCreatedAt", "deduplicated"?}]`.
pub async fn batch(
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
    let quota = super::limits::daily(&s, t, items.len() as u64)?;
    let ip = super::publish::caller_ip(peer);
    let results: Vec<Value> = items
        .into_iter()
        .map(
            |(url, pairs, body)| match start(&s, t, url, pairs, body, &ip) {
                Ok(r) => triggered_json(&r),
                Err(e) => json!({ "error": e.to_string() }),
            },
        )
        .collect();
    Ok((StatusCode::CREATED, quota, Json(Value::Array(results))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_trigger_gets_the_init_headers_and_a_failure_callback_to_the_workflow() {
        let p = synthesize(
            "http://h/wf",
            pairs(&[
                ("upstash-workflow-runid", "wfr_mine"),
                ("upstash-forward-x-user", "u"),
                ("upstash-label", "L"),
                ("upstash-retries", "1"),
            ]),
        );
        let v = |k: &str| value(&p, k).map(String::from);
        assert_eq!(v("upstash-workflow-init").as_deref(), Some("true"));
        assert_eq!(v("upstash-workflow-runid").as_deref(), Some("wfr_mine"));
        assert_eq!(
            v("upstash-failure-callback").as_deref(),
            Some("http://h/wf")
        );
        assert_eq!(
            v("upstash-failure-callback-workflow-runid").as_deref(),
            Some("wfr_mine")
        );
        assert_eq!(
            v("upstash-failure-callback-forward-x-user").as_deref(),
            Some("u")
        );
        assert_eq!(
            v("upstash-failure-callback-forward-upstash-label").as_deref(),
            Some("L")
        );
        assert_eq!(v("upstash-failure-callback-retries").as_deref(), Some("1"));
        assert_eq!(
            v("upstash-failure-callback-forward-upstash-workflow-sdk-version"),
            None
        );
        let o = publish_headers::parse(&p).unwrap();
        assert!(o.workflow.unwrap().init);
    }

    #[test]
    fn a_run_id_is_made_when_none_is_given() {
        let p = synthesize("http://h/wf", Vec::new());
        assert!(value(&p, "upstash-workflow-runid")
            .unwrap()
            .starts_with("wfr_"));
        assert_eq!(value(&p, "content-type"), Some("application/json"));
    }
}
