//! Header lists as the engine stores them: ordered `(name, value)` pairs with names in Go's
//! canonical form (`Content-Type`, `Test-Header`), which is how the hosted service echoes them.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Ordered header pairs; a name may repeat.
pub(crate) type Headers = Vec<(String, String)>;

/// `content-TYPE` -> `Content-Type`, like Go's `http.CanonicalHeaderKey`.
pub(crate) fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        match (c.is_ascii(), upper) {
            // Header names are ASCII; the Unicode mappings below are for odd input only.
            (true, true) => out.push(c.to_ascii_uppercase()),
            (true, false) => out.push(c.to_ascii_lowercase()),
            (false, true) => out.extend(c.to_uppercase()),
            (false, false) => out.extend(c.to_lowercase()),
        }
        upper = c == '-';
    }
    out
}

/// Groups pairs into the `{"Name": ["v1", "v2"]}` map of the JSON API, sorted by name.
pub(crate) fn to_map(headers: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        map.entry(k.clone()).or_default().push(v.clone());
    }
    map
}

/// The first value of `name` (any case).
pub(crate) fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A destination's response headers (lower-case names, raw values), kept for the logs,
/// callbacks and the DLQ and turned into canonical pairs only when shown: most responses are
/// never looked at. The pairs are copied out of the client's `HeaderMap`, whose values are
/// slices of the connection's read buffer: keeping the map would pin that whole buffer (8 KB
/// and more) for as long as the log keeps the entry.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct ResponseHeaders(Box<[RawHeader]>);

/// A lower-case name and its value as received.
type RawHeader = (Box<str>, Box<[u8]>);

impl ResponseHeaders {
    pub(crate) fn new(map: &http::HeaderMap) -> Self {
        let pairs = map
            .iter()
            .map(|(k, v)| (k.as_str().into(), v.as_bytes().into()));
        Self(pairs.collect())
    }

    /// From pairs; a pair whose name or value is not valid in HTTP is left out.
    #[cfg(test)]
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                map.append(k, v);
            }
        }
        Self::new(&map)
    }

    /// Every (name, raw value) pair, in order.
    fn raw(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Every (name, value) pair whose value is UTF-8, names in lower case, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.raw()
            .filter_map(|(k, v)| std::str::from_utf8(v).ok().map(|v| (k, v)))
    }

    /// The first value of `name` (any case); bytes that are not UTF-8 replaced.
    pub(crate) fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.raw()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v))
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.raw().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Canonical pairs (`Content-Type`), as the engine stores request headers.
    pub(crate) fn pairs(&self) -> Headers {
        self.raw()
            .map(|(k, v)| (canonical(k), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    /// The `{"Name": ["v1", "v2"]}` map of the JSON API.
    pub(crate) fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        to_map(&self.pairs())
    }

    /// `name: value` lines ending in CRLF, as on the wire (how `-persist` keeps them: a
    /// valid name or value holds no CR or LF).
    pub(crate) fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.byte_len() + 4 * self.0.len());
        for (k, v) in self.raw() {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// The inverse of [`Self::to_wire`]; a line without `: ` is left out.
    pub(crate) fn from_wire(wire: &[u8]) -> Self {
        let pairs = wire.split(|b| *b == b'\n').filter_map(|line| {
            let line = line.strip_suffix(b"\r")?;
            let at = line.windows(2).position(|w| w == b": ")?;
            let name = std::str::from_utf8(&line[..at]).ok()?;
            Some((name.into(), line[at + 2..].into()))
        });
        Self(pairs.collect())
    }

    /// Bytes of all names and values (what a log or DLQ budget is charged for them).
    pub(crate) fn byte_len(&self) -> usize {
        self.raw().map(|(k, v)| k.len() + v.len()).sum()
    }
}

impl std::fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pairs()).finish()
    }
}

/// Replaces every value of the names in `overrides` and keeps the rest in order.
pub(crate) fn merge(base: &[(String, String)], overrides: &[(String, String)]) -> Headers {
    let mut out: Headers = base
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    out.extend(overrides.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_headers_are_shown_canonical_and_found_in_any_case() {
        let h = ResponseHeaders::from_pairs([
            ("content-type", "text/plain"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
            ("bad name", "dropped"),
        ]);
        assert_eq!(h.get("Content-TYPE").as_deref(), Some("text/plain"));
        assert!(h.contains("X-MULTI") && !h.contains("missing"));
        let map = h.to_map();
        assert_eq!(map["Content-Type"], ["text/plain"]);
        assert_eq!(map["X-Multi"], ["a", "b"]);
        assert_eq!(map.len(), 2);
        assert_eq!(
            h.byte_len(),
            "content-type".len() + 10 + 2 * ("x-multi".len() + 1)
        );
        let pairs: Vec<(&str, &str)> = h.iter().collect();
        assert_eq!(pairs[0], ("content-type", "text/plain"));
        let mut raw = http::HeaderMap::new();
        raw.insert("x-bin", http::HeaderValue::from_bytes(b"a\xffb").unwrap());
        let h = ResponseHeaders::new(&raw);
        assert_eq!(
            h.get("x-bin").as_deref(),
            Some("a\u{fffd}b"),
            "shown lossily"
        );
        assert_eq!(h.iter().count(), 0, "skipped where text is needed");
    }

    #[test]
    fn response_headers_survive_their_wire_form() {
        let mut raw = http::HeaderMap::new();
        raw.append(
            "x-bin",
            http::HeaderValue::from_bytes(b"a\xffb: c").unwrap(),
        );
        raw.append("x-empty", http::HeaderValue::from_static(""));
        raw.append("set-cookie", http::HeaderValue::from_static("a=1"));
        raw.append("set-cookie", http::HeaderValue::from_static("b=2"));
        let h = ResponseHeaders::new(&raw);
        assert_eq!(ResponseHeaders::from_wire(&h.to_wire()), h);
        assert_eq!(
            ResponseHeaders::from_wire(b"no separator\r\n"),
            ResponseHeaders::default()
        );
    }

    #[test]
    fn response_headers_own_their_bytes() {
        // The client's header values are slices of the connection's read buffer.
        let read_buf = bytes::Bytes::from(b"text/plain; charset=utf-8".to_vec());
        let mut map = http::HeaderMap::new();
        let value = http::HeaderValue::from_maybe_shared(read_buf.slice(..10)).unwrap();
        map.insert("content-type", value);
        let h = ResponseHeaders::new(&map);
        drop(map);
        assert!(read_buf.is_unique(), "the read buffer is not pinned");
        assert_eq!(h.get("content-type").as_deref(), Some("text/plain"));
    }

    #[test]
    fn canonical_names_follow_go() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("X-CUSTOM-header"), "X-Custom-Header");
        assert_eq!(
            canonical("bypass-tunnel-reminder"),
            "Bypass-Tunnel-Reminder"
        );
    }

    #[test]
    fn map_groups_repeated_names() {
        let h = vec![
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "2".to_string()),
            ("A".to_string(), "3".to_string()),
        ];
        let m = to_map(&h);
        assert_eq!(m["A"], vec!["1", "3"]);
        assert_eq!(m["B"], vec!["2"]);
    }

    #[test]
    fn merge_replaces_by_name_in_any_case() {
        let base = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let over = vec![("a".into(), "9".into())];
        assert_eq!(
            merge(&base, &over),
            vec![("B".into(), "2".into()), ("a".into(), "9".into())]
        );
    }
}
