//! Shared by the engine's unit tests: publishing a small message to a fixed destination.

use std::sync::Arc;

use bytes::Bytes;

use crate::engine::lifecycle::publish::{PublishOutcome, PublishRequest};
use crate::engine::syntax::options::PublishOptions;
use crate::engine::{Engine, TenantId};

/// Publishes `x` to `http://127.0.0.1:9/hook` (nothing listens there) for `t`, into `queue`
/// when given; returns the message id.
pub(crate) fn publish(
    e: &Engine,
    t: TenantId,
    options: PublishOptions,
    queue: Option<&str>,
) -> Arc<str> {
    let req = PublishRequest {
        destination: "http://127.0.0.1:9/hook".into(),
        options,
        body: Bytes::from_static(b"x"),
        caller_ip: String::new(),
        queue: queue.map(str::to_string),
        schedule_id: None,
    };
    match e.publish(t, req) {
        Ok(PublishOutcome::One(p)) => p.message_id,
        other => panic!("publish: {other:?}"),
    }
}
