//! Why a signature verifies or not (`POST /dev/verify`): the checks of the official receivers,
//! in their order, each with what was expected and what the signature holds. The key check
//! tries the current key, then the next one, as `Receiver.verify` does; time is wall-clock
//! time, as the signature's `iat`/`nbf`/`exp` are (the server's clock may have been moved).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Serialize;
use serde_json::Value;

use super::body_hash;
use crate::clock::rfc3339;

/// One check and its outcome.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) actual: Option<String>,
}

/// The verdict: valid (and with which key), or the first check that fails and why.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Explanation {
    pub(crate) valid: bool,
    /// `current` or `next`: the key that verifies the signature.
    pub(crate) key: Option<&'static str>,
    /// The first failing check: `malformed`, `algorithm`, `key`, `issuer`, `expired`,
    /// `notYetValid`, `body` or `url`.
    pub(crate) reason: Option<&'static str>,
    pub(crate) message: String,
    pub(crate) checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) claims: Option<Value>,
}

/// What is checked: the signature, the body as received, the URL it was received at (none:
/// not checked), the user's keys and the wall-clock time in Unix seconds.
pub(crate) struct Input<'a> {
    pub(crate) signature: &'a str,
    pub(crate) body: &'a [u8],
    pub(crate) url: Option<&'a str>,
    pub(crate) keys: [&'a str; 2],
    pub(crate) now_s: u64,
}

fn check(name: &'static str, ok: bool, expected: String, actual: String) -> Check {
    Check {
        name,
        ok,
        expected: Some(expected),
        actual: Some(actual),
    }
}

/// The header and claims of a JWT, read without verifying it.
fn parts(token: &str) -> Result<(Value, Value), String> {
    let pieces: Vec<&str> = token.trim().split('.').collect();
    let [header, claims, _] = pieces[..] else {
        return Err(format!(
            "a JWT has three dot-separated parts; this one has {}",
            pieces.len()
        ));
    };
    let read = |what: &str, part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|e| format!("its {what} is not base64url: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("its {what} is not JSON: {e}"))
    };
    Ok((read("header", header)?, read("claims", claims)?))
}

/// The claims of a JWT, read without verifying it.
pub(crate) fn claims(token: &str) -> Option<Value> {
    parts(token).ok().map(|(_, claims)| claims)
}

/// Which of `keys` (current, next) the token's HMAC verifies with.
fn verifying_key(token: &str, keys: [&str; 2]) -> Option<&'static str> {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let names = ["current", "next"];
    keys.iter().zip(names).find_map(|(key, name)| {
        decode::<Value>(token.trim(), &DecodingKey::from_secret(key.as_bytes()), &v)
            .ok()
            .map(|_| name)
    })
}

fn text(v: &Value, field: &str) -> String {
    match v.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(absent)".into(),
    }
}

fn time(v: &Value, field: &str) -> Option<u64> {
    v.get(field).and_then(Value::as_u64)
}

/// Every check, in the receivers' order.
pub(crate) fn explain(input: &Input<'_>) -> Explanation {
    let (header, claims) = match parts(input.signature) {
        Ok(p) => p,
        Err(why) => {
            let c = check(
                "malformed",
                false,
                "a JWT: header.claims.signature".into(),
                why.clone(),
            );
            return verdict(
                vec![c],
                None,
                None,
                format!("the signature is malformed: {why}"),
            );
        }
    };
    let mut checks = Vec::new();
    let alg = text(&header, "alg");
    checks.push(check("algorithm", alg == "HS256", "HS256".into(), alg));
    let key = verifying_key(input.signature, input.keys);
    checks.push(check(
        "key",
        key.is_some(),
        "made with the user's current or next signing key".into(),
        key.map_or("made with neither".into(), |k| {
            format!("made with the {k} key")
        }),
    ));
    let iss = text(&claims, "iss");
    checks.push(check("issuer", iss == "Upstash", "Upstash".into(), iss));
    checks.extend(times(&claims, input.now_s));
    let body = body_hash(input.body);
    let claimed = text(&claims, "body");
    let same = claimed.trim_end_matches('=') == body.trim_end_matches('=');
    checks.push(check("body", same, body, claimed));
    if let Some(url) = input.url {
        let sub = text(&claims, "sub");
        checks.push(check("url", sub == url, url.to_string(), sub));
    }
    let message = message(&checks, key);
    verdict(checks, key, Some(claims), message)
}

/// `expired` and `notYetValid`, when the claims have the times (a missing one fails).
fn times(claims: &Value, now_s: u64) -> [Check; 2] {
    let now = rfc3339(now_s * 1000);
    let exp = time(claims, "exp");
    let nbf = time(claims, "nbf");
    let at = |t: Option<u64>| t.map_or("(absent)".into(), |s| rfc3339(s * 1000));
    [
        check(
            "expired",
            exp.is_some_and(|e| e > now_s),
            format!("exp after now ({now})"),
            at(exp),
        ),
        check(
            "notYetValid",
            nbf.is_some_and(|n| n <= now_s),
            format!("nbf at or before now ({now})"),
            at(nbf),
        ),
    ]
}

fn verdict(
    checks: Vec<Check>,
    key: Option<&'static str>,
    claims: Option<Value>,
    message: String,
) -> Explanation {
    let reason = checks.iter().find(|c| !c.ok).map(|c| c.name);
    Explanation {
        valid: reason.is_none(),
        key: key.filter(|_| reason.is_none()),
        reason,
        message,
        checks,
        claims,
    }
}

/// The first failing check in plain words, or which key verified.
fn message(checks: &[Check], key: Option<&str>) -> String {
    let Some(c) = checks.iter().find(|c| !c.ok) else {
        return format!(
            "valid: verified with the {} signing key",
            key.unwrap_or("current")
        );
    };
    let (expected, actual) = (
        c.expected.as_deref().unwrap_or(""),
        c.actual.as_deref().unwrap_or(""),
    );
    match c.name {
        "algorithm" => format!("the signature uses {actual}; receivers accept HS256 only"),
        "key" => "the signature was not made with this user's current or next signing key: another user's keys, keys rotated since, or a token copied from elsewhere".into(),
        "issuer" => format!("the issuer is {actual}, not Upstash"),
        "expired" => format!("the signature expired at {actual} (signatures last 5 minutes); a receiver must verify it when the request arrives"),
        "notYetValid" => format!("the signature is valid only from {actual}; this machine's clock may be behind"),
        "body" => "the body does not match the signature's body hash: verify the raw body exactly as received, not one parsed and serialised again".into(),
        "url" => format!("the signature was made for {actual}, not {expected}: verify with the URL exactly as the request reached the endpoint (percent-encoding, trailing slash, query)"),
        _ => format!("{} failed: expected {expected}, got {actual}", c.name),
    }
}

#[cfg(test)]
mod tests;
