//! Reading request bodies within the quota's size limit: a too-large `Content-Length` is
//! refused before a byte is read, and a streamed body stops at the limit.

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::engine::{Error, Result};

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!("message size exceeds the limit of {limit} bytes"))
}

pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes> {
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large(limit);
            }
            source = s.source();
        }
        Error::bad(format!("could not read the request body: {e}"))
    })?;
    // A one-chunk body is a slice of hyper's connection read buffer (which grows to hundreds
    // of KB); kept in a message, it would pin that whole buffer for the message's lifetime
    // (measured by tests/load). A copy owns exactly its bytes.
    Ok(Bytes::copy_from_slice(&bytes))
}

/// Parses a JSON body; an empty body gives `None`.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| Error::bad(format!("invalid JSON body: {e}")))
}
