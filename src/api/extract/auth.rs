//! Authentication: `Authorization: Bearer <token>` or `?qstash_token=<token>` selects the
//! tenant; anything else is a 401.

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};

use crate::api::error::ApiError;
use crate::api::AppState;
use crate::engine::{Error, TenantId};

/// The authenticated tenant of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Auth(pub(crate) TenantId);

/// The token of a request: the bearer token, else `?qstash_token=`.
pub(crate) fn token_of(parts: &Parts) -> Option<Cow<'_, str>> {
    token_in(&parts.headers, &parts.uri)
}

/// [`token_of`] from a request's headers and URI.
pub(crate) fn token_in<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<Cow<'a, str>> {
    if let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let h = h.trim();
        if h.len() > 7 && h[..7].eq_ignore_ascii_case("bearer ") {
            return Some(Cow::Borrowed(h[7..].trim()));
        }
    }
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == "qstash_token")
        .map(|(_, v)| Cow::Owned(v.into_owned()))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = token_of(parts) else {
            return Err(Error::Unauthorized(
                "missing token: send Authorization: Bearer <QSTASH_TOKEN> or ?qstash_token=".into(),
            )
            .into());
        };
        state
            .engine
            .authenticate(&token)
            .map(Auth)
            .ok_or_else(|| Error::Unauthorized("invalid token".into()).into())
    }
}
