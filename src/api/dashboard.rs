//! The local dashboard: a single page served at `/` with its scripts and stylesheet, all
//! embedded in the binary (no build step, no CDN). The page talks only to the HTTP API, with
//! the test users' tokens from `/dashboard/users.json`. Nothing here needs a token: the four
//! test users are public, fixed and printed in the banner anyway. Off with `-dashboard=false`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::error_response;
use super::AppState;
use axum::extract::State;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page's own resources only: no inline script, no other origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("dashboard/index.html");

/// Every file under `/dashboard/`: name, content type, content.
const ASSETS: [(&str, &str, &str); 19] = [
    ("app.css", CSS, include_str!("dashboard/app.css")),
    ("app.js", JS, include_str!("dashboard/app.js")),
    ("workflows.js", JS, include_str!("dashboard/workflows.js")),
    ("run.js", JS, include_str!("dashboard/run.js")),
    ("api.js", JS, include_str!("dashboard/api.js")),
    ("dom.js", JS, include_str!("dashboard/dom.js")),
    ("store.js", JS, include_str!("dashboard/store.js")),
    ("logs.js", JS, include_str!("dashboard/logs.js")),
    ("vlist.js", JS, include_str!("dashboard/vlist.js")),
    ("table.js", JS, include_str!("dashboard/table.js")),
    ("pending.js", JS, include_str!("dashboard/pending.js")),
    ("clock.js", JS, include_str!("dashboard/clock.js")),
    ("dlq.js", JS, include_str!("dashboard/dlq.js")),
    ("schedules.js", JS, include_str!("dashboard/schedules.js")),
    ("resources.js", JS, include_str!("dashboard/resources.js")),
    ("publish.js", JS, include_str!("dashboard/publish.js")),
    ("replay.js", JS, include_str!("dashboard/replay.js")),
    ("timeline.js", JS, include_str!("dashboard/timeline.js")),
    ("verify.js", JS, include_str!("dashboard/verify.js")),
];

/// The dashboard's routes, or none when it is switched off.
pub(crate) fn routes(enabled: bool) -> Router<AppState> {
    let router = Router::new();
    if !enabled {
        return router;
    }
    router
        .route("/", get(index))
        .route("/dashboard/users.json", get(users))
        .route("/dashboard/{name}", get(asset))
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The files change with the binary; a reload after an upgrade must not see stale ones.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn index() -> Response {
    let mut resp = file(HTML, INDEX);
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => file(content_type, body),
        None => error_response(StatusCode::NOT_FOUND, format!("no dashboard file {name:?}")),
    }
}

/// The test users the page can switch between, with their tokens.
async fn users(State(s): State<AppState>) -> Json<Value> {
    let users: Vec<Value> = s
        .engine
        .config()
        .users()
        .iter()
        .map(|u| json!({ "userId": u.user_id, "token": u.token }))
        .collect();
    Json(json!({ "users": users }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_page_imports_is_served() {
        for (name, _, body) in ASSETS {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let Some(from) = line.split("from \"./").nth(1) else {
                    continue;
                };
                let target = from.split('"').next().unwrap_or("");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == target),
                    "{name} imports {target}, which is not in ASSETS"
                );
            }
        }
        assert!(INDEX.contains("/dashboard/app.js"));
        assert!(INDEX.contains("/dashboard/app.css"));
    }
}
