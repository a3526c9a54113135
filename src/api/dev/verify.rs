//! `POST /dev/verify` with `{signature, body, url}`: whether the user's current or next
//! signing key verifies a delivery's `Upstash-Signature`, and if not which check fails, with
//! what was expected and what the signature holds (`crate::signature::explain`). `body` is the
//! raw body as the endpoint received it (a string; absent: empty); without `url` the `sub`
//! claim is not checked. A signature that does not verify is still a 200: the answer is the
//! explanation; only a request that is not that JSON object is a 400.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::body;
use crate::api::AppState;
use crate::engine::Error;
use crate::signature::explain::{explain, Explanation, Input};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    signature: String,
    #[serde(default)]
    body: String,
    url: Option<String>,
}

pub(crate) async fn verify(
    State(s): State<AppState>,
    Auth(t): Auth,
    headers: HeaderMap,
    raw: Body,
) -> ApiResult<Json<Explanation>> {
    let bytes = body::read(&headers, raw, s.engine.limits().max_body_bytes).await?;
    let req: Request = body::json(&bytes)?
        .ok_or_else(|| Error::bad("a JSON body {\"signature\", \"body\", \"url\"} is required"))?;
    let keys = s.engine.keys(t);
    let input = Input {
        signature: &req.signature,
        body: req.body.as_bytes(),
        url: req.url.as_deref(),
        keys: [&keys.current, &keys.next],
        now_s: crate::clock::wall_ms() / 1000,
    };
    Ok(Json(explain(&input)))
}
