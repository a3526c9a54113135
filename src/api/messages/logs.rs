//! `GET /v2/logs` (key `logs`) and the legacy `GET /v2/events` (key `events`) that every SDK
//! still calls: newest first, filtered, paged by cursor (absent on the last page). A page holds
//! up to `count` entries and stops early at the byte budget of [`page`], so a log of large
//! bodies is read a few entries per request.

use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;

use crate::api::error::ApiResult;
use crate::api::extract::auth::Auth;
use crate::api::extract::query::Query;
use crate::api::{views, views::page, AppState};
use crate::engine::store::logs::{Cursor, LogEntry};
use crate::engine::Error;

/// Default page size; the largest accepted is `MAX_COUNT`.
const DEFAULT_COUNT: usize = 100;
const MAX_COUNT: usize = 1000;

async fn list(
    s: &AppState,
    t: crate::engine::TenantId,
    uri: &Uri,
    key: &str,
) -> ApiResult<Response> {
    let q = Query::parse(uri.query());
    let filter = q.filter()?;
    let cursor = match q.one("cursor").map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(Cursor::parse(c).ok_or_else(|| Error::bad(format!("invalid cursor {c:?}")))?)
        }
        None => None,
    };
    let count = q.count(DEFAULT_COUNT, MAX_COUNT)?;
    let (all, next) = s.engine.logs(t, &filter, cursor, count);
    let shown = page::entries(
        key,
        &all,
        |e| views::body_floor(&e.spec, e.response.as_deref()),
        views::MessageView::log_entry,
    );
    // Cut short by bytes: the rest starts after the last entry shown.
    let next = if shown.taken < all.len() {
        shown
            .taken
            .checked_sub(1)
            .and_then(|i| all.get(i))
            .map(LogEntry::cursor)
    } else {
        next
    };
    Ok(page::respond(shown, next.as_deref()))
}

pub(crate) async fn events(
    axum::extract::State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    list(&s, t, &uri, "events").await
}

pub(crate) async fn logs(
    State(s): State<AppState>,
    Auth(t): Auth,
    uri: Uri,
) -> ApiResult<Response> {
    list(&s, t, &uri, "logs").await
}
