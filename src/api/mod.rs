//! HTTP only: one folder per family of routes (publish, messages, resources, workflow, each
//! adding its own routes), the edge in front of them, the extractors, header parsing into
//! typed options, JSON views, and the mapping of errors to `{"error": "..."}`. Paths are
//! normalised before routing: repeated leading slashes collapse, resource names match in any case
//! (`/v2/Schedules`), and a trailing slash on a collection is ignored. Never calls `delivery`.

pub(crate) mod actions;
pub(crate) mod dashboard;
pub(crate) mod dev;
pub(crate) mod edge;
pub(crate) mod error;
pub mod extract;
pub(crate) mod messages;
pub(crate) mod metrics;
pub mod publish;
pub(crate) mod resources;
pub mod views;
pub(crate) mod workflow;

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;

use crate::engine::Engine;
use error::error_response;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
    /// Serialises moves of the clock (`/dev/clock`).
    pub(crate) clock_moves: Arc<tokio::sync::Mutex<()>>,
    /// With `-persist`: the journal whose commits a write's 2xx waits for.
    pub(crate) journal: Option<Arc<crate::persist::Journal>>,
}

impl AppState {
    pub(crate) fn new(engine: Arc<Engine>, journal: Option<Arc<crate::persist::Journal>>) -> Self {
        Self {
            engine,
            clock_moves: Arc::default(),
            journal,
        }
    }
}

/// Canonical spellings of the `/v2/<resource>` segment.
const RESOURCES: [&str; 21] = [
    "publish",
    "enqueue",
    "batch",
    "messages",
    "dlq",
    "events",
    "logs",
    "keys",
    "rotate",
    "schedules",
    "topics",
    "queues",
    "flowControl",
    "globalParallelism",
    "workflows",
    "trigger",
    "notify",
    "wait",
    "waiters",
    "dev",
    "bulkActions",
];

/// Every route: each folder of the API adds its own.
pub(crate) fn router(state: AppState) -> Router {
    dashboard::routes(state.engine.config().dashboard)
        .merge(publish::routes())
        .merge(messages::routes())
        .merge(resources::routes())
        .merge(workflow::routes())
        .merge(actions::routes())
        .merge(dev::routes())
        .merge(metrics::routes(state.engine.config().metrics_public))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The router behind its edge (host and origin guard, header bound, burst limit) and path
/// normalisation: the whole HTTP application.
pub(crate) fn app(
    engine: Arc<Engine>,
    journal: Option<Arc<crate::persist::Journal>>,
) -> tower::util::MapRequest<edge::Edge<Router>, fn(Request) -> Request> {
    let state = AppState::new(engine, journal);
    let edge = edge::Edge::new(router(state.clone()), state);
    tower::util::MapRequest::new(edge, normalize as fn(Request) -> Request)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

/// The normalised form of a request path (see the module doc); borrowed when it is already.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    let trimmed = path.trim_start_matches('/');
    let one_slash = path.len() == trimmed.len() + 1;
    let mut parts = trimmed.splitn(3, '/');
    let (version, resource, rest) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let Some(resource) = resource.filter(|_| version.eq_ignore_ascii_case("v2")) else {
        return match one_slash {
            true => Cow::Borrowed(path),
            false => Cow::Owned(format!("/{trimmed}")),
        };
    };
    let known = RESOURCES
        .iter()
        .find(|r| r.eq_ignore_ascii_case(resource))
        .map_or(resource, |r| *r);
    if one_slash && version == "v2" && known == resource && rest != Some("") {
        return Cow::Borrowed(path);
    }
    Cow::Owned(match rest {
        None | Some("") => format!("/v2/{known}"),
        Some(rest) => format!("/v2/{known}/{rest}"),
    })
}

/// Rewrites the request's path to its normalised form before routing.
pub(crate) fn normalize(mut req: Request) -> Request {
    let path = req.uri().path();
    if let Cow::Owned(normal) = normalize_path(path) {
        let pq = match req.uri().query() {
            Some(q) => format!("{normal}?{q}"),
            None => normal,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::normalize_path as n;

    #[test]
    fn paths_are_normalised_before_routing() {
        assert_eq!(n("//v2/keys"), "/v2/keys");
        assert_eq!(n("/v2/Schedules/abc"), "/v2/schedules/abc");
        assert_eq!(n("/v2/flowcontrol/k"), "/v2/flowControl/k");
        assert_eq!(n("/v2/messages/"), "/v2/messages");
        assert_eq!(
            n("/v2/publish/https://example.com/"),
            "/v2/publish/https://example.com/"
        );
        assert_eq!(n("/"), "/");
    }
}
