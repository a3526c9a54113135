//! The selection of a destructive bulk request (`DELETE /v2/messages`, `DELETE /v2/dlq`,
//! `POST /v2/dlq/retry`, `DELETE /v2/workflows/runs`, `DELETE /v2/workflows/dlq`,
//! `POST /v2/workflows/dlq/restart` and `/resume`). Ids and filters come from the query
//! (`?dlqIds=a&dlqIds=b`, what the TypeScript SDKs send) or from a JSON object body
//! (`{"dlqIds": ["a"]}`, `{"workflowRunIds": ["a"]}`, `{"url": "…", "fromDate": 1}`: the Python
//! and Go SDKs, older TypeScript SDKs and the docs' bulk pages); the body's fields are added to
//! the query's, and each route reads the one merged [`Query`] as it reads a query string.
//!
//! Such a request never does more than it names:
//! - a query parameter or body field the route does not read is a 400 naming it, so a typo
//!   (`dlqIdz`) never falls through to "everything";
//! - a name given both in the query and in the body is a 400 (which one would win is a guess);
//! - ids or a filter given with no value (`{"dlqIds": []}`, `?queueName=`) are a 400, not "no
//!   filter" (the SDKs refuse empty id lists too, and tell the caller to ask for `all`);
//! - everything is chosen only when the request names no ids and no filter at all (no body or
//!   `{}`, which is how the docs and the SDKs' `{all: true}` ask for it), optionally saying
//!   `all=true` (query or body); `all=true` with ids or filters is a 400, as is `all=false`
//!   with nothing named.

use axum::body::Body;
use axum::http::{HeaderMap, Uri};
use serde_json::{Map, Value};

use crate::api::extract::body::{self, Strings};
use crate::api::extract::query::Query;
use crate::api::publish::upstash::parse_bool;
use crate::engine::{Error, Result};

/// A bulk body is a small JSON object of ids and filters.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Body fields that list ids take an array of strings, as every SDK sends them; any other
/// field takes one value (a string, a number or a boolean) or an array of them.
const ID_LISTS: [&str; 3] = ["messageIds", "dlqIds", "workflowRunIds"];

/// What the `…/multi` routes read: DLQ ids and nothing else.
const MULTI: Fields = Fields {
    selectors: &[&["dlqIds"]],
    modifiers: &[],
};

/// The DLQ ids of a `…/multi` request (`DELETE /v2/dlq/multi`, `POST /v2/dlq/retry/multi`
/// and the workflow DLQ's), from the query or a JSON body as for every bulk route; at least
/// one is required.
pub(crate) async fn dlq_ids(uri: &Uri, headers: &HeaderMap, raw: Body) -> Result<Vec<String>> {
    let ids = selection(uri, headers, raw, &MULTI).await?.all("dlqIds");
    if ids.is_empty() {
        return Err(Error::bad("dlqIds is required: name at least one DLQ id"));
    }
    Ok(ids)
}

/// What a bulk route reads, query and body alike.
#[derive(Debug)]
pub(crate) struct Fields {
    /// Ids and filters: what chooses the items. Every one of them must be applied by the
    /// route, or naming it would select more than it says.
    /// In groups, so routes that share filters share one list of them.
    pub(crate) selectors: &'static [&'static [&'static str]],
    /// What shapes the answer without choosing items (`count`, `cursor`); `all` is implied.
    pub(crate) modifiers: &'static [&'static str],
}

impl Fields {
    fn selector_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.selectors
            .iter()
            .flat_map(|group| group.iter().copied())
    }

    fn knows(&self, key: &str) -> bool {
        key == "all" || self.selector_names().any(|s| s == key) || self.modifiers.contains(&key)
    }

    fn unknown(&self, what: &str, key: &str) -> Error {
        let mut known: Vec<&str> = self.selector_names().collect();
        known.extend(self.modifiers);
        known.push("all");
        known.sort_unstable();
        Error::bad(format!(
            "unknown {what} {key:?}; expected one of: {}",
            known.join(", ")
        ))
    }
}

/// The ids and filters of a bulk request, from its query and JSON body, checked as the module
/// doc says.
pub(crate) async fn selection(
    uri: &Uri,
    headers: &HeaderMap,
    raw: Body,
    fields: &Fields,
) -> Result<Query> {
    let mut q = Query::parse(uri.query());
    // The token may come in the query; `Upstash-*` names are header-style options some
    // clients repeat there. Neither selects anything.
    if let Some(k) = q
        .keys()
        .find(|k| !fields.knows(k) && *k != "qstash_token" && !k.starts_with("upstash-"))
    {
        return Err(fields.unknown("parameter", k));
    }
    let bytes = body::read(headers, raw, MAX_BODY_BYTES).await?;
    let from_body = body::json::<Map<String, Value>>(&bytes)?.unwrap_or_default();
    for (k, v) in from_body {
        if !fields.knows(&k) {
            return Err(fields.unknown("field", &k));
        }
        let values = match ID_LISTS.contains(&k.as_str()) {
            true => body::from_value::<Vec<String>>(&k, v)?,
            false => body::from_value::<Strings>(&k, v)?.0,
        };
        if q.keys().any(|known| known == k) {
            return Err(Error::bad(format!(
                "{k} is given both in the query and in the JSON body; give it once"
            )));
        }
        if values.is_empty() {
            q.push(k, String::new());
            continue;
        }
        for v in values {
            q.push(k.clone(), v);
        }
    }
    check(&q, fields)?;
    Ok(q)
}

/// Refuses empty selectors and an `all` that contradicts what is named.
fn check(q: &Query, fields: &Fields) -> Result<()> {
    let named: Vec<&str> = fields
        .selector_names()
        .filter(|k| q.keys().any(|given| given == *k))
        .collect();
    if let Some(k) = named.iter().find(|k| q.all(k).is_empty()) {
        return Err(Error::bad(format!(
            "{k} is given without a value; name at least one, or leave {k} out"
        )));
    }
    let all = match q.one("all").filter(|v| !v.trim().is_empty()) {
        Some(v) => Some(parse_bool("all", v)?),
        None => None,
    };
    match (all, named.is_empty()) {
        (Some(true), false) => Err(Error::bad(format!(
            "all=true selects everything and cannot be combined with {}",
            named.join(", ")
        ))),
        (Some(false), true) => Err(Error::bad(
            "all=false names nothing: give ids or filters, or all=true to select everything",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: Fields = Fields {
        selectors: &[&["dlqIds", "url"]],
        modifiers: &["count"],
    };

    async fn sel(query: &str, body: &str) -> Result<Query> {
        let uri: Uri = format!("/x?{query}").parse().unwrap();
        let raw = Body::from(body.to_string());
        selection(&uri, &HeaderMap::new(), raw, &FIELDS).await
    }

    #[tokio::test]
    async fn body_fields_join_the_query() {
        let q = sel("count=5", r#"{"dlqIds": ["a", "b"]}"#).await.unwrap();
        assert_eq!(q.all("dlqIds"), ["a", "b"]);
        assert_eq!(q.one("count"), Some("5"));
        let q = sel("url=u", "").await.unwrap();
        assert_eq!(q.all("url"), ["u"]);
        assert!(sel("", "{}").await.unwrap().all("dlqIds").is_empty());
        assert!(sel("all=true&count=1", "").await.is_ok());
    }

    #[tokio::test]
    async fn anything_that_could_widen_is_refused() {
        let err = |r: Result<Query>| r.unwrap_err().to_string();
        assert!(err(sel("", r#"{"dlqIdz": ["a"]}"#).await).contains("\"dlqIdz\""));
        assert!(err(sel("urll=x", "").await).contains("\"urll\""));
        assert!(err(sel("dlqIds=a", r#"{"dlqIds": ["b"]}"#).await).contains("both"));
        assert!(err(sel("", r#"{"dlqIds": []}"#).await).contains("dlqIds"));
        assert!(err(sel("", r#"{"dlqIds": null}"#).await).contains("dlqIds"));
        assert!(err(sel("url=", "").await).contains("url"));
        assert!(err(sel("all=true&url=x", "").await).contains("url"));
        assert!(err(sel("", r#"{"all": false}"#).await).contains("all=false"));
        assert!(err(sel("", r#"["a"]"#).await).contains("invalid JSON body"));
        assert!(err(sel("", r#"{"dlqIds": "a"}"#).await).contains("dlqIds: invalid type"));
        assert_eq!(sel("", r#"{"url": 1}"#).await.unwrap().all("url"), ["1"]);
    }
}
