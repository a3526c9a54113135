//! The routes of what a tenant defines: queues, schedules, URL groups, flow-control keys and
//! global parallelism, and the signing keys.

pub(crate) mod flow;
pub(crate) mod keys;
pub(crate) mod queues;
pub(crate) mod schedules;
pub(crate) mod topics;

use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;

/// URL groups, queues, schedules, flow control and signing keys.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/topics", get(topics::list))
        .route(
            "/v2/topics/{name}",
            get(topics::get)
                .delete(topics::delete)
                .patch(topics::set_headers),
        )
        .route(
            "/v2/topics/{name}/endpoints",
            post(topics::add_endpoints).delete(topics::remove_endpoints),
        )
        .route("/v2/queues", get(queues::list).post(queues::upsert))
        .route("/v2/queues/{name}", get(queues::get).delete(queues::delete))
        .route("/v2/queues/{name}/pause", post(queues::pause))
        .route("/v2/queues/{name}/resume", post(queues::resume))
        .route("/v2/schedules", get(schedules::list))
        .route(
            "/v2/schedules/{*rest}",
            post(schedules::post)
                .patch(schedules::patch)
                .get(schedules::get)
                .delete(schedules::delete),
        )
        .route("/v2/flowControl", get(flow::list))
        .route("/v2/flowControl/{key}", get(flow::get))
        .route("/v2/flowControl/{key}/{action}", post(flow::action))
        .route("/v2/globalParallelism", get(flow::global))
        .route("/v2/keys", get(keys::get))
        .route("/v2/keys/rotate", post(keys::rotate))
        .route("/v2/rotate", post(keys::rotate))
}
