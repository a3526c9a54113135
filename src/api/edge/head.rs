//! Bounds on the request head, checked before routing. hyper refuses on its own, with an empty
//! 431 and a closed connection, a head over about 400 KB or with more than 100 headers (414 for
//! a URI over 64 KB); below that, headers totalling more than `MAX_HEADER_BYTES` get a 431 with
//! the usual JSON error, before any handler or body read.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::api::error::error_response;

/// Largest accepted sum of header name and value lengths (64 KiB): above what browsers, SDKs
/// and proxies send (nginx allows 32 KB, Node 16 KB), far below hyper's own cut-off.
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The refusal of a request whose headers total more than `MAX_HEADER_BYTES`.
pub(crate) fn refusal(headers: &HeaderMap) -> Option<Response> {
    let total = headers
        .iter()
        .fold(0usize, |n, (k, v)| n + k.as_str().len() + v.len());
    (total > MAX_HEADER_BYTES).then(|| {
        error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("request headers take {total} bytes; the limit is {MAX_HEADER_BYTES} bytes"),
        )
    })
}
