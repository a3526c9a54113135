//! Parsing the `Upstash-*` configuration of a publish-family request into `PublishOptions`:
//! headers in any case, plus lower-case config query parameters (`?upstash-retries=3`); the
//! header wins when both are given. Pure: no I/O, every bad value is a 400 naming the header.

use std::borrow::Cow;

use crate::engine::expr::RetryDelayExpr;
use crate::engine::limits::flow::{self, FlowSpec};
use crate::engine::syntax::duration::parse_duration;
use crate::engine::syntax::headers::canonical;
use crate::engine::syntax::method::Method;
use crate::engine::syntax::options::{CallbackOptions, PublishOptions, Redact, WorkflowHeaders};
use crate::engine::syntax::urls;
use crate::engine::{Error, Result};

/// Request headers never forwarded by `Upstash-Header-Forward: true`: credentials for this
/// server, and hop-by-hop or framing headers that belong to one connection.
const NOT_FORWARDED: [&str; 12] = [
    "authorization",
    "host",
    "content-length",
    "content-type",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-connection",
];

fn bad(header: &str, value: &str, why: impl std::fmt::Display) -> Error {
    Error::bad(format!("invalid {} {value:?}: {why}", canonical(header)))
}

pub(crate) fn parse_bool(header: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(bad(header, v, "expected true or false")),
    }
}

fn parse_method(header: &str, v: &str) -> Result<&'static str> {
    match crate::engine::syntax::method::known(v) {
        Some(known) => Ok(known),
        None => Err(bad(
            header,
            v,
            "expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        )),
    }
}

fn parse_u32(header: &str, v: &str) -> Result<u32> {
    v.trim()
        .parse()
        .map_err(|_| bad(header, v, "expected a non-negative integer"))
}

fn parse_dur(header: &str, v: &str) -> Result<std::time::Duration> {
    parse_duration(v).map_err(|e| bad(header, v, e))
}

fn parse_expr(header: &str, v: &str) -> Result<RetryDelayExpr> {
    RetryDelayExpr::parse(v).map_err(|e| bad(header, v, e))
}

pub(crate) fn parse_url(header: &str, v: &str) -> Result<String> {
    let v = v.trim();
    urls::check_not_link_local(v, &canonical(header))?;
    urls::check_url(v, "callback")
        .map_err(|_| bad(header, v, "expected an absolute http(s) URL"))?;
    Ok(v.to_string())
}

/// The run's own URL: the SDK's business, but never a link-local host, since a restarted run
/// is delivered to it.
pub(crate) fn parse_workflow_url(header: &str, v: &str) -> Result<String> {
    let v = v.trim();
    urls::check_not_link_local(v, &canonical(header))?;
    Ok(v.to_string())
}

/// `body`, `header`/`headers` (all), `header[Name]`/`headers[Name]`, comma-separated.
pub fn parse_redact(header: &str, v: &str) -> Result<Redact> {
    let mut r = Redact::default();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lower = part.to_ascii_lowercase();
        if lower == "body" {
            r.body = true;
        } else if lower == "header" || lower == "headers" {
            r.all_headers = true;
        } else if let Some(name) = ["header[", "headers["]
            .iter()
            .find_map(|p| lower.starts_with(p).then(|| &part[p.len()..]))
            .and_then(|rest| rest.strip_suffix(']'))
            .filter(|n| !n.trim().is_empty())
        {
            r.headers.push(canonical(name.trim()));
        } else {
            return Err(bad(
                header,
                v,
                format!("unknown field {part:?} (use body, header or header[Name])"),
            ));
        }
    }
    Ok(r)
}

fn parse_labels(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Applies one `Upstash-Callback-<rest>` / `Upstash-Failure-Callback-<rest>` header. An
/// unknown `<rest>` is a header for the callback URL: the Python SDK sends callback headers
/// as `Upstash-Callback-<Name>`, without `-Forward-`.
fn callback_option(cb: &mut CallbackOptions, full: &str, rest: &str, v: &str) -> Result<()> {
    match rest {
        "method" => cb.method = Some(Method(parse_method(full, v)?)),
        "retries" => cb.retries = Some(parse_u32(full, v)?),
        "retry-delay" => cb.retry_delay = Some(parse_expr(full, v)?),
        "timeout" => cb.timeout = Some(parse_dur(full, v)?),
        "delay" => cb.delay = Some(parse_dur(full, v)?),
        "flow-control-key" => {
            let key = v.trim().to_string();
            match &mut cb.flow {
                Some(f) => f.key = key,
                None => {
                    cb.flow = Some(FlowSpec {
                        key,
                        parallelism: None,
                        rate: None,
                        period: 1,
                    })
                }
            }
        }
        "flow-control-value" => {
            let (parallelism, rate, period) = flow::parse_value(v).map_err(|e| bad(full, v, e))?;
            let f = cb.flow.get_or_insert_with(|| FlowSpec {
                key: String::new(),
                parallelism: None,
                rate: None,
                period: 1,
            });
            (f.parallelism, f.rate, f.period) = (parallelism, rate, period.unwrap_or(1));
        }
        // The workflow protocol's own settings for the callback message; not headers.
        "feature-set" => {}
        // `Upstash-Callback-Workflow-RunId` and friends reach the callback as
        // `Upstash-Workflow-RunId`, which is how the workflow SDK recognises its callbacks.
        _ if rest.starts_with("workflow-") => cb
            .forward
            .push((canonical(&format!("upstash-{rest}")), v.to_string())),
        _ => {
            let name = rest.strip_prefix("forward-").unwrap_or(rest);
            cb.forward.push((canonical(name), v.to_string()));
        }
    }
    Ok(())
}

/// A request header or config param as `(lower-case name, value)`, borrowed from the request
/// where it can be.
pub(crate) type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Merges query config params under the headers.
pub fn merge_sources<'a>(headers: Vec<Pair<'a>>, query: &'a [(String, String)]) -> Vec<Pair<'a>> {
    let mut all = headers;
    for (k, v) in query {
        let k = k.to_ascii_lowercase();
        if k.starts_with("upstash-") && !all.iter().any(|(h, _)| *h == k) {
            all.push((Cow::Owned(k), Cow::Borrowed(v)));
        }
    }
    all
}

/// Parses lower-cased `(name, value)` pairs into publish options.
pub fn parse<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<PublishOptions> {
    let (mut o, mut fcb) = parse_parts(pairs)?;
    fcb.flow = fcb.flow.filter(|f| !f.key.is_empty());
    o.failure_callback = (!fcb.url.is_empty()).then_some(fcb);
    Ok(o)
}

/// The options of `pairs` but the failure callback, and the failure callback's settings even
/// when no URL is given (a workflow trigger supplies its own).
pub(crate) fn parse_parts<K: AsRef<str>, V: AsRef<str>>(
    pairs: &[(K, V)],
) -> Result<(PublishOptions, CallbackOptions)> {
    let mut o = PublishOptions::default();
    let mut cb = CallbackOptions::default();
    let mut fcb = CallbackOptions::default();
    let mut header_forward = false;
    let (mut flow_key, mut flow_value) = (None, None);
    let mut wf = WorkflowHeaders::default();
    for (name, v) in pairs {
        let (n, v) = (name.as_ref(), v.as_ref());
        match n {
            "content-type" => o.content_type = Some(v.to_string()),
            "upstash-method" => o.method = Some(parse_method(n, v)?),
            "upstash-delay" => o.delay = Some(parse_dur(n, v)?),
            "upstash-not-before" => {
                o.not_before_s = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| bad(n, v, "expected Unix seconds"))?,
                )
            }
            "upstash-retries" => o.retries = Some(parse_u32(n, v)?),
            "upstash-retry-delay" => o.retry_delay = Some(parse_expr(n, v)?),
            "upstash-timeout" => o.timeout = Some(parse_dur(n, v)?),
            "upstash-deduplication-id" => {
                o.dedup_id = Some(v.trim().to_string()).filter(|s| !s.is_empty())
            }
            "upstash-content-based-deduplication" => o.content_dedup = parse_bool(n, v)?,
            "upstash-label" => o.labels = Some(parse_labels(v)),
            "upstash-header-forward" => header_forward = parse_bool(n, v)?,
            "upstash-redact-fields" => o.redact = Some(parse_redact(n, v)?),
            "upstash-callback" => cb.url = parse_url(n, v)?,
            "upstash-failure-callback" => fcb.url = parse_url(n, v)?,
            "upstash-workflow-runid" => wf.run_id = v.trim().to_string(),
            "upstash-workflow-init" => wf.init = parse_bool(n, v)?,
            "upstash-workflow-url" => wf.url = Some(parse_workflow_url(n, v)?),
            "upstash-workflow-calltype" => wf.call_type = Some(v.trim().to_string()),
            "upstash-feature-set" => wf.feature_set = v.trim().to_string(),
            "upstash-workflow-invoke" => wf.invoke = parse_bool(n, v)?,
            "upstash-flow-control-key" => {
                flow_key = Some(v.trim().to_string()).filter(|k| !k.is_empty())
            }
            "upstash-flow-control-value" => {
                flow_value = Some(flow::parse_value(v).map_err(|e| bad(n, v, e))?)
            }
            _ => {
                if let Some(rest) = n.strip_prefix("upstash-forward-") {
                    o.forward.push((canonical(rest), v.to_string()));
                } else if let Some(rest) = n.strip_prefix("upstash-callback-") {
                    callback_option(&mut cb, n, rest, v)?;
                } else if let Some(rest) = n.strip_prefix("upstash-failure-callback-") {
                    callback_option(&mut fcb, n, rest, v)?;
                }
            }
        }
    }
    if header_forward {
        for (n, v) in pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref())) {
            if !n.starts_with("upstash-") && !NOT_FORWARDED.contains(&n) {
                o.forward.push((canonical(n), v.to_string()));
            }
        }
    }
    o.flow = match (flow_key, flow_value) {
        (Some(key), Some((parallelism, rate, period))) => Some(FlowSpec {
            key,
            parallelism,
            rate,
            period: period.unwrap_or(1),
        }),
        (Some(_), None) => {
            return Err(Error::bad(
                "Upstash-Flow-Control-Value is required with Upstash-Flow-Control-Key",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::bad(
                "Upstash-Flow-Control-Key is required with Upstash-Flow-Control-Value",
            ))
        }
        (None, None) => None,
    };
    o.workflow = (!wf.run_id.is_empty()).then_some(wf);
    cb.flow = cb.flow.filter(|f| !f.key.is_empty());
    o.callback = (!cb.url.is_empty()).then_some(cb);
    Ok((o, fcb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_config_header_is_parsed() {
        let o = parse(&pairs(&[
            ("Content-Type", "application/json"),
            ("Upstash-Method", "put"),
            ("Upstash-Delay", "1m"),
            ("Upstash-Retries", "2"),
            ("Upstash-Timeout", "30s"),
            ("Upstash-Deduplication-Id", "d1"),
            ("Upstash-Content-Based-Deduplication", "True"),
            ("Upstash-Label", "a,b"),
            ("Upstash-Forward-X-Custom", "1"),
            ("Upstash-Forward-Upstash-Workflow-Sdk-Version", "1"),
            ("Upstash-Callback", "http://127.0.0.1:1/cb"),
            ("Upstash-Callback-Retries", "1"),
            ("Upstash-Callback-Forward-X-Cb", "y"),
            ("Upstash-Callback-X-Python", "z"),
            ("Upstash-Failure-Callback", "http://127.0.0.1:1/fail"),
            ("Upstash-Failure-Callback-Method", "PUT"),
            ("User-Agent", "not forwarded"),
        ]))
        .unwrap();
        assert_eq!(o.method, Some("PUT"));
        assert_eq!(o.delay.unwrap().as_secs(), 60);
        assert_eq!(o.retries, Some(2));
        assert!(o.content_dedup);
        assert_eq!(o.labels.unwrap(), vec!["a", "b"]);
        assert_eq!(
            o.forward,
            vec![
                ("X-Custom".into(), "1".into()),
                ("Upstash-Workflow-Sdk-Version".into(), "1".into())
            ]
        );
        let cb = o.callback.unwrap();
        assert_eq!(cb.retries, Some(1));
        assert_eq!(
            cb.forward,
            vec![("X-Cb".into(), "y".into()), ("X-Python".into(), "z".into())]
        );
        assert_eq!(o.failure_callback.unwrap().method, Some(Method("PUT")));
    }

    #[test]
    fn header_forward_forwards_plain_headers_but_not_credentials() {
        let o = parse(&pairs(&[
            ("Upstash-Header-Forward", "true"),
            ("Authorization", "Bearer x"),
            ("X-Webhook", "1"),
            ("Upstash-Retries", "1"),
        ]))
        .unwrap();
        assert_eq!(o.forward, vec![("X-Webhook".into(), "1".into())]);
    }

    #[test]
    fn bad_values_name_the_header() {
        for (h, v) in [
            ("Upstash-Delay", "soon"),
            ("Upstash-Retries", "-1"),
            ("Upstash-Method", "FETCH"),
            ("Upstash-Retry-Delay", "pow(2,"),
            ("Upstash-Callback", "not a url"),
            ("Upstash-Not-Before", "tomorrow"),
            ("Upstash-Redact-Fields", "everything"),
            ("Upstash-Content-Based-Deduplication", "yes"),
        ] {
            let err = parse(&pairs(&[(h, v)])).unwrap_err().to_string();
            assert!(err.contains(h), "{err} should name {h}");
        }
    }

    #[test]
    fn redact_accepts_every_spelling() {
        let r = parse_redact(
            "upstash-redact-fields",
            "body, header[authorization],headers[X-Y]",
        )
        .unwrap();
        assert!(r.body && !r.all_headers);
        assert_eq!(r.headers, vec!["Authorization", "X-Y"]);
        assert!(parse_redact("h", "headers").unwrap().all_headers);
    }

    #[test]
    fn headers_win_over_query_params() {
        let query = pairs(&[("upstash-retries", "3"), ("upstash-delay", "5s")]);
        let merged = merge_sources(
            vec![(Cow::Borrowed("upstash-retries"), Cow::Borrowed("1"))],
            &query,
        );
        let o = parse(&merged).unwrap();
        assert_eq!(o.retries, Some(1));
        assert_eq!(o.delay.unwrap().as_secs(), 5);
    }
}
