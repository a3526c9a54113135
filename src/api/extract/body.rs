//! Reading request bodies within the quota's size limit (a too-large `Content-Length` is
//! refused before a byte is read, and a streamed body stops at the limit), and the one JSON
//! body parser: a value of the wrong type is refused with the path of its field
//! (`[2].headers.Upstash-Delay: invalid type: map, expected …`), not only a line and column.

use std::fmt;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::engine::{Error, Result};

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!("message size exceeds the limit of {limit} bytes"))
}

pub(crate) async fn read(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes> {
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
    // (the load test's memory checks catch it). A copy owns exactly its bytes.
    Ok(Bytes::copy_from_slice(&bytes))
}

/// Parses a JSON body; an empty body gives `None`. An error names the path of the field it is
/// about (`[2].headers.Upstash-Delay`, `parallelism`), then serde's message and position.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        invalid(Some(path).filter(|p| p != "."), e.inner())
    })?;
    de.end().map_err(|e| invalid(None, &e))?;
    Ok(Some(value))
}

/// Reads `field` of a JSON body already parsed into a `Value` (an empty `field` for the whole
/// body); an error names the field and the path inside it (`dlqIds[1]`).
pub(crate) fn from_value<T: DeserializeOwned>(field: &str, v: serde_json::Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.path().to_string();
        let path = match inner.as_str() {
            "." => field.to_string(),
            p if field.is_empty() || p.starts_with('[') => format!("{field}{p}"),
            p => format!("{field}.{p}"),
        };
        invalid(Some(path).filter(|p| !p.is_empty()), e.inner())
    })
}

fn invalid(path: Option<String>, e: &serde_json::Error) -> Error {
    match path {
        Some(p) => Error::bad(format!("invalid JSON body: {p}: {e}")),
        None => Error::bad(format!("invalid JSON body: {e}")),
    }
}

/// One or many values of a JSON field: a string, a number or a boolean is one value (as its
/// text), an array of them is many, `null` is none. Header maps (`{"Upstash-Retries": "3"}`
/// from the TypeScript SDK, `{"Upstash-Retries": ["3"]}` from the Go SDK) and bulk selections
/// (`{"dlqIds": ["a", "b"]}`) take this shape; anything else is a type error at its path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Strings(pub(crate) Vec<String>);

/// One value inside a [`Strings`] array.
struct Scalar(String);

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct StringsVisitor;

impl<'de> Visitor<'de> for StringsVisitor {
    type Value = Strings;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Strings, E> {
        Ok(Strings(vec![v.to_string()]))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Strings, E> {
        Ok(Strings::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Strings, A::Error> {
        let mut out = Vec::new();
        while let Some(Scalar(s)) = seq.next_element()? {
            out.push(s);
        }
        Ok(Strings(out))
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StringsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        headers: Option<BTreeMap<String, Strings>>,
        count: Option<u32>,
    }

    fn error_of<T: DeserializeOwned + fmt::Debug>(body: &str) -> String {
        json::<T>(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let e = error_of::<Vec<Item>>(r#"[{}, {}, {"headers": {"Upstash-Delay": {"s": 1}}}]"#);
        assert!(
            e.starts_with("invalid JSON body: [2].headers.Upstash-Delay: invalid type: map"),
            "{e}"
        );
        assert!(
            e.contains("expected a string or an array of strings"),
            "{e}"
        );
        let e = error_of::<Item>(r#"{"headers": {"X": ["a", {}]}}"#);
        assert!(e.contains("headers.X[1]: invalid type: map"), "{e}");
        let e = error_of::<Item>(r#"{"count": "5"}"#);
        assert!(e.contains(": count: invalid type: string \"5\""), "{e}");
    }

    #[test]
    fn a_syntax_error_keeps_its_position_and_an_empty_body_is_none() {
        let e = error_of::<Item>(r#"{"count": 1"#);
        assert!(e.contains("line 1 column"), "{e}");
        let e = error_of::<Item>(r#"{"count": 1} x"#);
        assert!(
            e.starts_with("invalid JSON body: trailing characters"),
            "{e}"
        );
        assert!(json::<Item>(b" \n").unwrap().is_none());
    }

    #[test]
    fn a_field_read_from_a_value_is_named_with_its_inner_path() {
        let e = |field: &str, v| from_value::<Vec<String>>(field, v).unwrap_err().to_string();
        let err = e("dlqIds", serde_json::json!(["a", 1]));
        assert!(
            err.starts_with("invalid JSON body: dlqIds[1]: invalid type"),
            "{err}"
        );
        let err = e("dlqIds", serde_json::json!("a"));
        assert!(
            err.starts_with("invalid JSON body: dlqIds: invalid type"),
            "{err}"
        );
        let err = e("", serde_json::json!({}));
        assert!(
            err.starts_with("invalid JSON body: invalid type: map"),
            "{err}"
        );
        let err = from_value::<Item>("", serde_json::json!({"count": -1})).unwrap_err();
        assert!(
            err.to_string().contains("body: count: invalid value"),
            "{err}"
        );
    }

    #[test]
    fn strings_take_one_value_many_values_or_none() {
        let m: BTreeMap<String, Strings> =
            json(br#"{"a": "x", "b": ["y", 2, true], "c": null, "d": 1.5, "e": []}"#)
                .unwrap()
                .unwrap();
        let v = |k: &str| m[k].0.clone();
        assert_eq!(v("a"), ["x"]);
        assert_eq!(v("b"), ["y", "2", "true"]);
        assert!(v("c").is_empty() && v("e").is_empty());
        assert_eq!(v("d"), ["1.5"]);
    }
}
