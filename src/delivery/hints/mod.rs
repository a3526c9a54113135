//! Retry-after hints from a destination's response. This module owns reading
//! how long a destination asked us to wait before the next attempt, from the
//! headers QStash honours, in this order: `Retry-After`, `X-RateLimit-Reset`,
//! `X-RateLimit-Reset-Requests`, `X-RateLimit-Reset-Tokens`. The first of
//! these that is present and holds a usable value wins; a garbage value falls
//! through to the next header (as does any repeat of the same header).
//!
//! A value may be:
//! - integer seconds (`120`; `0` means retry immediately);
//! - an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, or the obsolete RFC 850
//!   and asctime forms), meaning wait until then; a past date means 0;
//! - a Go-style duration: decimal numbers with optional fractions, each
//!   followed by a unit `ns`, `us`, `µs`, `ms`, `s`, `m` or `h`, possibly
//!   combined (`6m5s`, `1.5s`, `300ms`). A leading `+` is allowed, a `-` is
//!   not, and digits past the 18th of a fraction are ignored.
//!
//! Our choice: an integer larger than [`UNIX_TIMESTAMP_THRESHOLD`]
//! (1,000,000,000, i.e. over 31 years of seconds) is read as a Unix timestamp
//! in seconds, since that is what some servers put in `X-RateLimit-Reset`;
//! we wait until that instant (0 if it has passed). No sensible relative wait
//! is that long, so nothing is lost.
//!
//! A hint longer than [`MAX_HINT`] (one day) is not usable: it is skipped like
//! garbage, and when no header yields a usable hint the normal backoff applies.
//! Fractional seconds without a unit (`1.5`) are not a recognised format.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The headers read for a hint, in priority order.
pub(crate) const HINT_HEADERS: [&str; 4] = [
    "Retry-After",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-Requests",
    "X-RateLimit-Reset-Tokens",
];

/// The longest hint honoured; longer ones are ignored.
pub const MAX_HINT: Duration = Duration::from_secs(86_400);

/// Integers above this are Unix timestamps in seconds, not relative seconds.
pub(crate) const UNIX_TIMESTAMP_THRESHOLD: u64 = 1_000_000_000;

/// The wait a destination asked for, from the first of [`HINT_HEADERS`] that
/// is present and parses to at most [`MAX_HINT`]; `None` if there is none.
///
/// `headers`: the response headers as (name, value) pairs, names in any case.
pub fn retry_after_hint<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    now: SystemTime,
) -> Option<Duration> {
    let headers: Vec<(&str, &str)> = headers.into_iter().collect();
    HINT_HEADERS.iter().find_map(|wanted| {
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .find_map(|(_, value)| parse_hint_value(value, now))
    })
}

/// Parses one hint header value (see the module docs for the formats),
/// relative to `now` for dates and timestamps. `None` if the value is not
/// understood or asks for more than [`MAX_HINT`].
pub fn parse_hint_value(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = value.parse().ok()?;
        if n > UNIX_TIMESTAMP_THRESHOLD {
            until(UNIX_EPOCH.checked_add(Duration::from_secs(n))?, now)
        } else {
            Duration::from_secs(n)
        }
    } else if let Ok(at) = httpdate::parse_http_date(value) {
        until(at, now)
    } else {
        parse_go_duration(value)?
    };
    (wait <= MAX_HINT).then_some(wait)
}

/// Time from `now` until `at`, or zero if `at` has passed.
fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

/// Parses a Go `time.ParseDuration` string, rejecting negative values.
fn parse_go_duration(s: &str) -> Option<Duration> {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (int, after) = split_digits(rest);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            _ => return None,
        };
        let whole = if int.is_empty() {
            0
        } else {
            u128::from(int.parse::<u64>().ok()?)
        };
        let (mut fraction, mut scale) = (0u128, 1u128);
        for digit in frac.bytes().take(18) {
            fraction = fraction * 10 + u128::from(digit - b'0');
            scale *= 10;
        }
        total = total
            .checked_add(whole.checked_mul(unit_nanos)?)?
            .checked_add(fraction * unit_nanos / scale)?;
        rest = after;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).ok()?;
    let nanos = u32::try_from(total % NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Splits `s` into its leading ASCII digits and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()))
}

#[cfg(test)]
mod tests;
