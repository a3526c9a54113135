//! `GET /v2/logs` (key `logs`) and the legacy `GET /v2/events` (key `events`) that every SDK
//! still calls: newest first, filtered, paged by cursor (absent on the last page).

use axum::extract::State;
use axum::http::Uri;
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::Auth;
use super::error::ApiResult;
use super::query::Query;
use super::{views, AppState};
use crate::engine::logs::Cursor;
use crate::engine::Error;

/// Default page size; the largest accepted is `MAX_COUNT`.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 1000;

async fn list(
    s: &AppState,
    t: crate::engine::TenantId,
    uri: &Uri,
    key: &str,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(uri.query());
    let filter = q.filter()?;
    let cursor = match q.one("cursor").map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(Cursor::parse(c).ok_or_else(|| Error::bad(format!("invalid cursor {c:?}")))?)
        }
        None => None,
    };
    let count = q.count(DEFAULT_COUNT, MAX_COUNT)?;
    let (page, next) = s.engine.logs(t, &filter, cursor, count);
    let mut body = Map::new();
    body.insert(
        key.into(),
        Value::Array(page.iter().map(views::log_entry).collect()),
    );
    if let Some(c) = next {
        body.insert("cursor".into(), json!(c));
    }
    Ok(Json(Value::Object(body)))
}

pub async fn events(
    axum::extract::State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    list(&s, t, &uri, "events").await
}

pub async fn logs(State(s): State<AppState>, Auth(t): Auth, uri: Uri) -> ApiResult<Json<Value>> {
    list(&s, t, &uri, "logs").await
}
