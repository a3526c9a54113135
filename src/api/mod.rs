//! HTTP only: one file per URL resource, the auth extractor, header parsing into typed options,
//! JSON views, and the mapping of errors to `{"error": "..."}`. Paths are normalised before
//! routing: repeated leading slashes collapse, resource names match in any case
//! (`/v2/Schedules`), and a trailing slash on a collection is ignored. Never calls `delivery`.

pub(crate) mod dashboard;
pub(crate) mod dev;
pub(crate) mod edge;
pub(crate) mod error;
pub mod extract;
pub(crate) mod messages;
pub mod publish;
pub(crate) mod resources;
pub mod views;
pub(crate) mod workflow;

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use axum::Router;

use crate::engine::Engine;
use error::error_response;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
}

/// Canonical spellings of the `/v2/<resource>` segment.
const RESOURCES: [&str; 20] = [
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
];

pub(crate) fn router(engine: Arc<Engine>) -> Router {
    let state = AppState { engine };
    dashboard::routes(state.engine.config().dashboard)
        .route("/v2/publish", post(publish::publish))
        .route("/v2/publish/{*destination}", post(publish::publish))
        .route("/v2/enqueue/{*rest}", post(publish::enqueue))
        .route("/v2/batch", post(publish::batch::batch))
        .route("/v2/topics", get(resources::topics::list))
        .route(
            "/v2/topics/{name}",
            get(resources::topics::get)
                .delete(resources::topics::delete)
                .patch(resources::topics::set_headers),
        )
        .route(
            "/v2/topics/{name}/endpoints",
            post(resources::topics::add_endpoints).delete(resources::topics::remove_endpoints),
        )
        .route(
            "/v2/queues",
            get(resources::queues::list).post(resources::queues::upsert),
        )
        .route(
            "/v2/queues/{name}",
            get(resources::queues::get).delete(resources::queues::delete),
        )
        .route("/v2/queues/{name}/pause", post(resources::queues::pause))
        .route("/v2/queues/{name}/resume", post(resources::queues::resume))
        .route("/v2/schedules", get(resources::schedules::list))
        .route(
            "/v2/schedules/{*rest}",
            post(resources::schedules::post)
                .patch(resources::schedules::patch)
                .get(resources::schedules::get)
                .delete(resources::schedules::delete),
        )
        .route("/v2/flowControl", get(resources::flow::list))
        .route("/v2/flowControl/{key}", get(resources::flow::get))
        .route(
            "/v2/flowControl/{key}/{action}",
            post(resources::flow::action),
        )
        .route("/v2/globalParallelism", get(resources::flow::global))
        .route("/v2/wait/{event_id}", post(workflow::wait::wait))
        .route("/v2/notify/{event_id}", post(workflow::wait::notify))
        .route(
            "/v2/notify/{run_id}/{event_id}",
            post(workflow::wait::notify_run),
        )
        .route("/v2/waiters/{event_id}", get(workflow::wait::waiters))
        .route(
            "/v2/workflows/hooks/{user_id}/{run_id}/{event_id}",
            any(workflow::wait::hook),
        )
        .route(
            "/v2/workflows/runs/{id}",
            get(workflow::history).delete(workflow::end),
        )
        .route("/v2/workflows/runs", delete(workflow::runs::cancel_many))
        .route("/v2/workflows/events", get(workflow::runs::logs))
        .route("/v2/workflows/logs", get(workflow::runs::logs))
        .route(
            "/v2/workflows/dlq",
            get(workflow::dlq::list).delete(workflow::dlq::delete_many),
        )
        .route("/v2/workflows/dlq/resume", post(workflow::dlq::resume_many))
        .route(
            "/v2/workflows/dlq/restart",
            post(workflow::dlq::restart_many),
        )
        .route("/v2/workflows/dlq/resume/{id}", post(workflow::dlq::resume))
        .route(
            "/v2/workflows/dlq/restart/{id}",
            post(workflow::dlq::restart),
        )
        .route(
            "/v2/workflows/dlq/callback/{id}",
            post(workflow::dlq::callback),
        )
        .route(
            "/v2/workflows/dlq/{id}",
            get(workflow::dlq::get).delete(workflow::dlq::delete),
        )
        .route(
            "/v2/trigger/{*workflow_url}",
            post(publish::trigger::trigger),
        )
        .route("/v2/batch/trigger", post(publish::trigger::batch))
        .route("/dev/schedules/{id}/trigger", post(dev::trigger_schedule))
        .route("/dev/wait-idle", get(dev::wait_idle).post(dev::wait_idle))
        .route("/dev/reset", post(dev::reset))
        .route("/v2/messages", delete(messages::cancel_many))
        .route(
            "/v2/messages/{id}",
            get(messages::get).delete(messages::cancel),
        )
        .route("/v2/events", get(messages::logs::events))
        .route("/v2/logs", get(messages::logs::logs))
        .route(
            "/v2/dlq",
            get(messages::dlq::list).delete(messages::dlq::delete_many),
        )
        .route("/v2/dlq/retry", post(messages::dlq::retry_many))
        .route("/v2/dlq/retry/{id}", post(messages::dlq::retry))
        .route(
            "/v2/dlq/{id}",
            get(messages::dlq::get).delete(messages::dlq::delete),
        )
        .route("/v2/keys", get(resources::keys::get))
        .route("/v2/keys/rotate", post(resources::keys::rotate))
        .route("/v2/rotate", post(resources::keys::rotate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The router behind its edge (host and origin guard, header bound, burst limit) and path
/// normalisation: the whole HTTP application.
pub(crate) fn app(
    engine: Arc<Engine>,
) -> tower::util::MapRequest<edge::Edge<Router>, fn(Request) -> Request> {
    let edge = edge::Edge::new(router(engine.clone()), AppState { engine });
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
