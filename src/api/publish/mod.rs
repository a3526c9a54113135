//! `POST /v2/publish/{destination}`: the destination is the raw rest of the path plus the
//! request's query string (without `qstash_token` and `upstash-*` config params).

pub mod batch;
pub(crate) mod trigger;
pub mod upstash;

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::{extract::body, AppState};
use crate::engine::lifecycle::publish::{PublishOutcome, PublishRequest, Published};
use crate::engine::syntax::options::PublishOptions;
use crate::engine::Result;
use crate::engine::{Engine, TenantId};
use axum::routing::post;
use axum::Router;
pub(crate) use upstash::Pair;

/// The destination after `prefix` in the raw path, with its own query string rebuilt.
/// `https:/x` (a proxy collapsed the slashes) and percent-encoded URLs are repaired.
pub fn destination(uri: &Uri, prefix: &str) -> (String, Vec<(String, String)>) {
    let raw = uri.path().get(prefix.len()..).unwrap_or("");
    let mut dest = if raw.starts_with("http%3A") || raw.starts_with("https%3A") {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        raw.to_string()
    };
    for scheme in ["http:/", "https:/"] {
        if dest.starts_with(scheme) && !dest[scheme.len()..].starts_with('/') {
            dest.insert(scheme.len(), '/');
        }
    }
    let mut config = Vec::new();
    let mut kept = Vec::new();
    for part in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let key = part.split('=').next().unwrap_or("");
        let decoded = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .to_ascii_lowercase();
        if decoded == "qstash_token" {
            continue;
        }
        if decoded.starts_with("upstash-") {
            let value = part.split_once('=').map_or("", |(_, v)| v);
            let value = url::form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            config.push((decoded, value));
        } else {
            kept.push(part);
        }
    }
    if !kept.is_empty() {
        dest.push('?');
        dest.push_str(&kept.join("&"));
    }
    (dest, config)
}

/// The header pairs of a request: names are lower case already (`http` keeps them so);
/// values are borrowed unless they are not UTF-8.
pub(crate) fn header_pairs(headers: &HeaderMap) -> Vec<Pair<'_>> {
    headers
        .iter()
        .map(|(k, v)| {
            // `from_utf8` checks ASCII a word at a time; the lossy decoder goes byte by byte.
            let v = match std::str::from_utf8(v.as_bytes()) {
                Ok(v) => Cow::Borrowed(v),
                Err(_) => String::from_utf8_lossy(v.as_bytes()),
            };
            (Cow::Borrowed(k.as_str()), v)
        })
        .collect()
}

/// Publish options from headers plus query config params.
pub(crate) fn options(headers: &HeaderMap, config: &[(String, String)]) -> Result<PublishOptions> {
    upstash::parse(&upstash::merge_sources(header_pairs(headers), config))
}

/// §4.1 for one message, serialised straight from the outcome.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublishedView<'a> {
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deduplicated: bool,
}

impl<'a> From<&'a Published> for PublishedView<'a> {
    fn from(p: &'a Published) -> Self {
        Self {
            message_id: &p.message_id,
            url: p.url.as_deref(),
            deduplicated: p.deduplicated,
        }
    }
}

/// A publish outcome: an object for a URL, an array for a URL group.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum OutcomeView<'a> {
    One(PublishedView<'a>),
    Group(Vec<PublishedView<'a>>),
}

impl<'a> From<&'a PublishOutcome> for OutcomeView<'a> {
    fn from(o: &'a PublishOutcome) -> Self {
        match o {
            PublishOutcome::One(p) => Self::One(p.into()),
            PublishOutcome::Group(v) => Self::Group(v.iter().map(Into::into).collect()),
        }
    }
}

/// §4.1 for one message, as a JSON value.
pub(crate) fn published_json(p: &Published) -> Value {
    serde_json::to_value(PublishedView::from(p)).unwrap_or(Value::Null)
}

/// The JSON value of a publish outcome.
pub(crate) fn outcome_json(o: &PublishOutcome) -> Value {
    serde_json::to_value(OutcomeView::from(o)).unwrap_or(Value::Null)
}

/// 202 when every message was a duplicate, else 200.
fn outcome_status(o: &PublishOutcome) -> StatusCode {
    let all_dup = o.messages().iter().all(|p| p.deduplicated) && !o.messages().is_empty();
    if all_dup {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

/// Adds a URL group's default headers under the request's own (which win); true if any
/// was added.
pub(crate) fn add_group_defaults(
    engine: &Engine,
    tenant: TenantId,
    destination: &str,
    pairs: &mut Vec<Pair<'_>>,
) -> bool {
    if destination.contains("://") {
        return false;
    }
    let defaults = engine.url_group_headers(tenant, destination.trim());
    let before = pairs.len();
    for (k, v) in defaults.unwrap_or_default() {
        if !pairs.iter().any(|(p, _)| *p == k) {
            pairs.push((Cow::Owned(k), Cow::Owned(v)));
        }
    }
    pairs.len() > before
}

/// A publish as a route read it, before a URL group's default headers are added.
pub(crate) struct Draft<'a> {
    pub(crate) destination: String,
    pub(crate) queue: Option<String>,
    /// Lower-case request headers.
    pub(crate) pairs: Vec<Pair<'a>>,
    /// What `pairs` alone parse to, when the caller has it already: used unless URL-group
    /// defaults change the picture.
    pub(crate) parsed: Option<PublishOptions>,
    pub(crate) body: Bytes,
    pub(crate) caller_ip: String,
}

/// Publishes a draft with its headers over a URL group's default headers.
pub(crate) fn publish_with(
    state: &AppState,
    tenant: TenantId,
    mut d: Draft<'_>,
) -> Result<PublishOutcome> {
    let added = add_group_defaults(&state.engine, tenant, &d.destination, &mut d.pairs);
    let options = match d.parsed {
        Some(o) if !added => o,
        _ => upstash::parse(&d.pairs)?,
    };
    let req = PublishRequest {
        destination: d.destination,
        options,
        body: d.body,
        caller_ip: d.caller_ip,
        queue: d.queue,
        schedule_id: None,
    };
    state.engine.publish(tenant, req)
}

/// The caller's IP as `Upstash-Caller-Ip` carries it, in one allocation of the right size.
pub(crate) fn caller_ip(peer: SocketAddr) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(39);
    let _ = write!(s, "{}", peer.ip());
    s
}

/// Shared by publish and enqueue: read, publish, answer as §4.1. For
/// `/v2/enqueue/{queue}/{destination}` the queue is the first segment after the prefix.
async fn handle(
    state: AppState,
    tenant: TenantId,
    peer: SocketAddr,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Response> {
    let (prefix, queue): (Cow<str>, _) = match uri.path().strip_prefix("/v2/enqueue/") {
        Some(rest) => {
            let queue = rest.split('/').next().unwrap_or("").to_string();
            (format!("/v2/enqueue/{queue}/").into(), Some(queue))
        }
        None => ("/v2/publish/".into(), None),
    };
    let (destination, config) = destination(&uri, &prefix);
    let pairs = upstash::merge_sources(header_pairs(&headers), &config);
    // Bad options fail before the body is read.
    let options = upstash::parse(&pairs)?;
    let body = body::read(&headers, raw, state.engine.limits().max_body_bytes).await?;
    let quota = crate::api::edge::limits::daily(&state, tenant, 1)?;
    let draft = Draft {
        destination,
        queue,
        pairs,
        parsed: Some(options),
        body,
        caller_ip: caller_ip(peer),
    };
    let o = publish_with(&state, tenant, draft)?;
    Ok((outcome_status(&o), quota, Json(OutcomeView::from(&o))).into_response())
}

/// `POST /v2/publish/{destination}`. Takes the request whole: its URI and headers move into
/// the handler (the `Uri` and `HeaderMap` extractors would copy them).
pub(crate) async fn publish(
    State(state): State<AppState>,
    Auth(tenant): Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, raw) = req.into_parts();
    handle(state, tenant, peer, parts.uri, parts.headers, raw).await
}

/// `POST /v2/enqueue/{queue}/{destination}`: like publish, into a queue (created if missing).
pub(crate) use publish as enqueue;

/// Publishing, enqueueing, batches and workflow triggers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/publish", post(publish))
        .route("/v2/publish/{*destination}", post(publish))
        .route("/v2/enqueue/{*rest}", post(enqueue))
        .route("/v2/batch", post(batch::batch))
        .route("/v2/trigger/{*workflow_url}", post(trigger::trigger))
        .route("/v2/batch/trigger", post(trigger::batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(s: &str) -> (String, Vec<(String, String)>) {
        destination(&s.parse().unwrap(), "/v2/publish/")
    }

    #[test]
    fn the_destination_keeps_its_query_without_config_params() {
        let (d, c) = dest(
            "/v2/publish/https://example.com/a?foo=bar&qstash_token=t&upstash-retries=3&x=%20y",
        );
        assert_eq!(d, "https://example.com/a?foo=bar&x=%20y");
        assert_eq!(c, vec![("upstash-retries".to_string(), "3".to_string())]);
    }

    #[test]
    fn collapsed_and_encoded_schemes_are_repaired() {
        assert_eq!(
            dest("/v2/publish/https:/example.com/x").0,
            "https://example.com/x"
        );
        assert_eq!(
            dest("/v2/publish/http%3A%2F%2F127.0.0.1%3A3000%2Fhook").0,
            "http://127.0.0.1:3000/hook"
        );
        assert_eq!(dest("/v2/publish/http:/h/x").0, "http://h/x");
        assert_eq!(dest("/v2/publish/http://h/x").0, "http://h/x");
        assert_eq!(dest("/v2/publish/my-group").0, "my-group");
    }

    #[test]
    fn header_values_are_borrowed_when_text_and_decoded_lossily_when_not() {
        let mut h = HeaderMap::new();
        h.insert("x-text", "caf\u{e9}".parse().unwrap());
        h.insert(
            "x-bytes",
            axum::http::HeaderValue::from_bytes(b"a\xffb").unwrap(),
        );
        let pairs = header_pairs(&h);
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert!(matches!(get("x-text"), Some(Cow::Borrowed("caf\u{e9}"))));
        assert_eq!(get("x-bytes").as_deref(), Some("a\u{fffd}b"));
    }
}
