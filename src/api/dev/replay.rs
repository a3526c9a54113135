//! `POST /dev/messages/{messageId}/replay`, with an optional JSON body of the fields to change
//! (`destination`, `method`, `headers` as `{"Name": "value" | ["v1", "v2"]}` replacing every
//! header delivered, `body` as a string): sends a logged, dead-lettered or pending message again
//! as a new message → 201 `{"messageId", "url"}` (`crate::engine::lifecycle::replay`).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::body;
use crate::api::AppState;
use crate::engine::lifecycle::replay::Edits;
use crate::engine::syntax::headers::Headers;
use crate::engine::syntax::method::Method;
use crate::engine::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    destination: Option<String>,
    method: Option<String>,
    headers: Option<BTreeMap<String, Values>>,
    body: Option<String>,
}

pub(crate) async fn replay(
    State(s): State<AppState>,
    Auth(t): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let limit = s.engine.limits().max_body_bytes.saturating_mul(2);
    let bytes = body::read(&headers, raw, limit).await?;
    let req: Request = body::json(&bytes)?.unwrap_or_default();
    let published = s.engine.replay(t, &id, edits(req)?)?;
    let body = json!({ "messageId": &*published.message_id, "url": published.url });
    Ok((StatusCode::CREATED, Json(body)))
}

fn edits(req: Request) -> Result<Edits> {
    let method = match req.method {
        Some(m) => Some(Method::of(&m).ok_or_else(|| Error::bad(format!("invalid method {m:?}")))?),
        None => None,
    };
    Ok(Edits {
        destination: req.destination,
        method,
        headers: req.headers.map(header_pairs).transpose()?,
        body: req.body.map(Into::into),
    })
}

/// The pairs of a `headers` object; a name or value that cannot be an HTTP header is refused.
fn header_pairs(map: BTreeMap<String, Values>) -> Result<Headers> {
    let mut out = Headers::new();
    for (name, values) in map {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Error::bad(format!("invalid header name {name:?}")));
        }
        let values = match values {
            Values::One(v) => vec![v],
            Values::Many(vs) => vs,
        };
        for v in values {
            if http::HeaderValue::from_str(&v).is_err() {
                return Err(Error::bad(format!("invalid value of header {name}: {v:?}")));
            }
            out.push((name.clone(), v));
        }
    }
    Ok(out)
}
