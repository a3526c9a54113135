//! List pages bounded by bytes as well as by count (`/v2/events`, `/v2/logs`, `/v2/dlq`,
//! `/v2/workflows/dlq`, `/v2/workflows/logs`). A page stops before the entry that would take its JSON past [`PAGE_BYTES`],
//! always holding at least one entry so that paging makes progress, and its cursor carries the
//! rest. Entries are written straight into the response body, one at a time: no JSON tree of
//! the whole page is built, and the body is not copied once written. A list the API returns
//! whole (the schedules) is streamed instead, one entry at a time as the client reads it.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// The most JSON one list response holds when it has more than one entry: 4 MiB. A few
/// thousand ordinary entries fit, so `count` alone decides for them (a full page of 1000 small
/// log entries is well under 1 MiB); a log of multi-MB bodies pages a few entries at a time
/// instead of building hundreds of MB per request. One entry larger than this comes alone, as
/// it is: a page never cuts an entry. The hosted service does not document such a bound.
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Room kept for what closes a page (`],"cursor":"…"}`), so the whole body stays within
/// [`PAGE_BYTES`].
const CLOSING_BYTES: usize = 256;

/// The budget of a page's entries: what is left of [`PAGE_BYTES`] after the closing.
pub(crate) const ENTRY_BYTES: usize = PAGE_BYTES - CLOSING_BYTES;

/// A page's body so far, `{"<key>":[entries`, and how many of the offered entries it took.
pub(crate) struct Page {
    json: Vec<u8>,
    pub(crate) taken: usize,
}

/// Writes `items` under `key` until the next one would take the page past the budget (at
/// least one is always taken). `floor` is a lower bound of an item's JSON length (its bodies,
/// byte for byte), so an item that cannot fit is refused without being rendered.
pub(crate) fn entries<'a, T, V: Serialize>(
    key: &str,
    items: &'a [T],
    floor: impl Fn(&T) -> usize,
    view: impl Fn(&'a T) -> V,
) -> Page {
    let mut json = format!("{{{}:[", Value::from(key)).into_bytes();
    let mut taken = 0;
    for item in items {
        // +1: the comma before the entry.
        if taken > 0 && json.len() + 1 + floor(item) > ENTRY_BYTES {
            break;
        }
        let mark = json.len();
        if taken > 0 {
            json.push(b',');
        }
        // Writing a view into memory cannot fail (its maps are keyed by strings, a Vec takes
        // any write); if it ever did, the entry is left out rather than the page cut short.
        if serde_json::to_writer(&mut json, &view(item)).is_err() {
            json.truncate(mark);
        }
        if taken > 0 && json.len() > ENTRY_BYTES {
            json.truncate(mark);
            json.shrink_to_fit();
            break;
        }
        taken += 1;
    }
    Page { json, taken }
}

/// The page closed, with its cursor when given, as an `application/json` response.
pub(crate) fn respond(page: Page, cursor: Option<&str>) -> Response {
    let mut res = close(page, cursor).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn close(page: Page, cursor: Option<&str>) -> Vec<u8> {
    let mut json = page.json;
    json.push(b']');
    if let Some(c) = cursor {
        json.extend_from_slice(b",\"cursor\":");
        json.extend_from_slice(Value::from(c).to_string().as_bytes());
    }
    json.push(b'}');
    json
}

/// The page closed with its cursor first, `{"cursor":"…","<key>":[…]}` (the workflow logs,
/// whose cursor depends on how many entries the page took).
pub(crate) fn respond_cursor_first(page: Page, cursor: &str) -> Response {
    let mut res = close_cursor_first(page, cursor).into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn close_cursor_first(page: Page, cursor: &str) -> Vec<u8> {
    let mut json = Vec::with_capacity(page.json.len() + cursor.len() + 16);
    json.extend_from_slice(b"{\"cursor\":");
    json.extend_from_slice(Value::from(cursor).to_string().as_bytes());
    json.push(b',');
    // Past the page's opening brace: `"<key>":[entries`.
    json.extend_from_slice(page.json.get(1..).unwrap_or_default());
    json.extend_from_slice(b"]}");
    json
}

/// A JSON array of `items`, rendered one entry at a time as the client reads it, for a list the
/// API returns whole, with no cursor (`GET /v2/schedules`): a reader holds one rendered entry
/// (and what hyper has buffered) at a time, however many large bodies the list carries, and a
/// slow reader holds no more than a fast one.
pub(crate) fn streamed_array<T: Send + 'static, V: Serialize + 'static>(
    items: Vec<T>,
    view: fn(&T) -> V,
) -> Response {
    let n = items.len();
    let entries = items.into_iter().enumerate().map(move |(i, item)| {
        let mut json = Vec::with_capacity(256);
        json.push(if i == 0 { b'[' } else { b',' });
        // Writing a view into memory cannot fail (see `entries`).
        let _ = serde_json::to_writer(&mut json, &view(&item));
        if i + 1 == n {
            json.push(b']');
        }
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(json))
    });
    let body = match n {
        0 => axum::body::Body::from("[]"),
        _ => axum::body::Body::from_stream(futures_util::stream::iter(entries)),
    };
    let mut res = body.into_response();
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// Where a listing of explicitly named ids (`dlqIds`) resumes: the ids, each once, from the one
/// the cursor names. A cursor that names none of them is ignored: the listing starts from the
/// first id, so a stale cursor never hides the ids named.
pub(crate) fn resume_ids(ids: &mut Vec<String>, cursor: Option<&str>) {
    // An id named twice is listed once: the cursor finds an id's first place, so a repeat
    // further on would send paging back to it for ever.
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    if let Some(at) = cursor.and_then(|c| ids.iter().position(|id| id == c)) {
        ids.drain(..at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn big(n: usize) -> Value {
        json!({ "body": "x".repeat(n) })
    }

    /// How many entries a page took, and the entries as parsed back from the closed page.
    fn parse(p: Page) -> (usize, Vec<Value>) {
        let taken = p.taken;
        let v: Value = serde_json::from_slice(&close(p, None)).expect("valid JSON");
        (taken, v["e"].as_array().cloned().unwrap_or_default())
    }

    #[test]
    fn small_entries_are_all_taken() {
        let items: Vec<usize> = (0..1000).collect();
        let (taken, v) = parse(entries("e", &items, |_| 0, |i| json!({ "i": i })));
        assert_eq!((taken, v.len()), (1000, 1000));
        assert_eq!(v[999], json!({ "i": 999 }));
    }

    #[test]
    fn a_page_stops_before_the_entry_that_would_pass_the_budget() {
        let items = [PAGE_BYTES / 3; 5];
        // No floor: every entry is rendered and the one that does not fit is rolled back.
        let p = entries("e", &items, |_| 0, |n| big(*n));
        assert!(p.json.len() <= ENTRY_BYTES);
        assert!(
            p.json.capacity() <= ENTRY_BYTES,
            "no room kept for the rolled-back one"
        );
        assert_eq!(parse(p).0, 2);
        // With the floor the result is the same, without rendering the third.
        let p = entries("e", &items, |n| *n, |n| big(*n));
        assert_eq!(parse(p).0, 2);
    }

    #[test]
    fn an_entry_over_the_budget_comes_alone() {
        let items = [PAGE_BYTES * 2, 10];
        let (taken, v) = parse(entries("e", &items, |n| *n, |n| big(*n)));
        assert_eq!((taken, v.len()), (1, 1));
        let items = [10, PAGE_BYTES * 2];
        assert_eq!(parse(entries("e", &items, |n| *n, |n| big(*n))).0, 1);
    }

    #[test]
    fn a_closed_page_is_valid_json_with_or_without_a_cursor() {
        let items = [1, 2];
        let page = |key| entries(key, &items, |_| 0, |i| json!(i));
        let v: Value = serde_json::from_slice(&close(page("events"), Some("5-\"7"))).expect("JSON");
        assert_eq!(v, json!({ "cursor": "5-\"7", "events": [1, 2] }));
        let v: Value = serde_json::from_slice(&close(page("messages"), None)).expect("JSON");
        assert_eq!(v, json!({ "messages": [1, 2] }));
        let none: [u8; 0] = [];
        let v: Value =
            serde_json::from_slice(&close(entries("logs", &none, |_| 0, |_| json!(0)), None))
                .expect("JSON");
        assert_eq!(v, json!({ "logs": [] }));
        let res = respond(page("events"), None);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn a_cursor_first_page_is_valid_json() {
        let items = [1, 2];
        let json = close_cursor_first(entries("runs", &items, |_| 0, |i| *i), "5:\"a");
        assert_eq!(json, br#"{"cursor":"5:\"a","runs":[1,2]}"#);
        let empty: [u8; 0] = [];
        let json = close_cursor_first(entries("runs", &empty, |_| 0, |_| 0), "");
        assert_eq!(json, br#"{"cursor":"","runs":[]}"#);
        let res = respond_cursor_first(entries("runs", &items, |_| 0, |i| *i), "");
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn named_ids_resume_at_the_cursor() {
        let ids = || vec!["a".to_string(), "b".into(), "c".into()];
        let mut v = ids();
        resume_ids(&mut v, Some("b"));
        assert_eq!(v, ["b", "c"]);
        let mut v = ids();
        resume_ids(&mut v, Some("zz"));
        assert_eq!(v, ids(), "an unknown cursor is ignored");
        let mut v = ids();
        resume_ids(&mut v, None);
        assert_eq!(v, ids());
        let mut v = vec!["a".to_string(), "b".into(), "a".into()];
        resume_ids(&mut v, Some("b"));
        assert_eq!(v, ["b"], "a repeated id is listed once, so paging ends");
    }
}
