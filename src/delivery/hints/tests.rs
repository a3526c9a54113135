//! Unit tests for retry-after hint parsing.

use super::*;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(unix_secs: u64) -> SystemTime {
    UNIX_EPOCH + secs(unix_secs)
}

/// 2015-10-21 07:27:00 UTC, one minute before the RFC 7231 example date.
fn example_now() -> SystemTime {
    at(1_445_412_420)
}

fn hint(value: &str) -> Option<Duration> {
    parse_hint_value(value, example_now())
}

#[test]
fn integer_seconds() {
    assert_eq!(hint("120"), Some(secs(120)));
    assert_eq!(hint("0"), Some(Duration::ZERO));
    assert_eq!(hint("  5 "), Some(secs(5)));
    assert_eq!(hint("007"), Some(secs(7)));
    assert_eq!(hint("86400"), Some(MAX_HINT));
}

#[test]
fn http_dates() {
    assert_eq!(hint("Wed, 21 Oct 2015 07:28:00 GMT"), Some(secs(60)));
    assert_eq!(hint("Wed, 21 Oct 2015 07:27:00 GMT"), Some(Duration::ZERO));
    // Obsolete forms that HTTP/1.1 recipients must accept.
    assert_eq!(hint("Wednesday, 21-Oct-15 07:28:00 GMT"), Some(secs(60)));
    assert_eq!(hint("Wed Oct 21 07:28:00 2015"), Some(secs(60)));
    // Sub-second `now` does not break anything.
    let now = example_now() + Duration::from_millis(250);
    assert_eq!(
        parse_hint_value("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_millis(59_750))
    );
}

#[test]
fn past_dates_mean_now() {
    assert_eq!(hint("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
    assert_eq!(hint("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
}

#[test]
fn go_durations() {
    let cases: &[(&str, Duration)] = &[
        ("6m5s", secs(365)),
        ("1.5s", Duration::from_millis(1_500)),
        ("300ms", Duration::from_millis(300)),
        ("100ns", Duration::from_nanos(100)),
        ("10us", Duration::from_micros(10)),
        ("10\u{b5}s", Duration::from_micros(10)),
        ("10\u{3bc}s", Duration::from_micros(10)),
        ("1h", secs(3_600)),
        ("1h0m0s", secs(3_600)),
        (
            "2h45m30.5s",
            Duration::from_millis((2 * 3_600 + 45 * 60) * 1_000 + 30_500),
        ),
        ("0.5m", secs(30)),
        (".5s", Duration::from_millis(500)),
        ("5.s", secs(5)),
        ("+1s", secs(1)),
        ("0s", Duration::ZERO),
        ("1s500ms", Duration::from_millis(1_500)),
        ("24h", MAX_HINT),
        ("1.000000001s", Duration::new(1, 1)),
        // Digits past the 18th are ignored, like Go.
        ("1.0000000019999999999999s", Duration::new(1, 1)),
        ("0.1ns", Duration::ZERO),
    ];
    for (value, want) in cases {
        assert_eq!(hint(value), Some(*want), "value {value:?}");
    }
}

#[test]
fn unix_timestamps() {
    let now = at(1_700_000_000 - 30);
    assert_eq!(parse_hint_value("1700000000", now), Some(secs(30)));
    // Already passed: retry now.
    assert_eq!(
        parse_hint_value("1700000000", at(1_800_000_000)),
        Some(Duration::ZERO)
    );
    // Just above the threshold.
    assert_eq!(
        parse_hint_value("1000000001", at(UNIX_TIMESTAMP_THRESHOLD)),
        Some(secs(1))
    );
    // The threshold itself is relative seconds, so far above the cap.
    assert_eq!(
        parse_hint_value("1000000000", at(UNIX_TIMESTAMP_THRESHOLD)),
        None
    );
    // More than a day away: ignored.
    assert_eq!(parse_hint_value("1700000000", at(1_600_000_000)), None);
    // Out of SystemTime's range or u64's: garbage, never a panic.
    assert_eq!(parse_hint_value(&u64::MAX.to_string(), now), None);
    assert_eq!(parse_hint_value("99999999999999999999999", now), None);
}

#[test]
fn hints_above_one_day_are_ignored() {
    assert_eq!(hint("86401"), None);
    assert_eq!(hint("24h0m1s"), None);
    assert_eq!(hint("25h"), None);
    assert_eq!(hint("86400.5s"), None);
    assert_eq!(hint("Thu, 22 Oct 2015 07:27:01 GMT"), None);
    assert_eq!(hint("Thu, 22 Oct 2015 07:27:00 GMT"), Some(MAX_HINT));
}

#[test]
fn garbage_is_none() {
    for value in [
        "",
        "   ",
        "soon",
        "-1",
        "-1s",
        "1.5",
        "1d",
        "1 s",
        "s",
        ".s",
        "1..5s",
        "1s-1s",
        "+",
        "1e3",
        "0x10",
        "Wed, 32 Oct 2015 07:28:00 GMT",
        "18446744073709551616s",
        "99999999999999999999h",
        "18446744073709551615h",
        "\u{0}",
    ] {
        assert_eq!(hint(value), None, "value {value:?}");
    }
}

#[test]
fn header_order_decides() {
    let now = example_now();
    let headers = [
        ("X-RateLimit-Reset-Tokens", "4s"),
        ("X-RateLimit-Reset-Requests", "3s"),
        ("X-RateLimit-Reset", "2"),
        ("Retry-After", "1"),
    ];
    assert_eq!(retry_after_hint(headers, now), Some(secs(1)));
    assert_eq!(
        retry_after_hint(headers[..3].iter().copied(), now),
        Some(secs(2))
    );
    assert_eq!(
        retry_after_hint(headers[..2].iter().copied(), now),
        Some(secs(3))
    );
    assert_eq!(
        retry_after_hint(headers[..1].iter().copied(), now),
        Some(secs(4))
    );
}

#[test]
fn unusable_values_fall_through_to_the_next_header() {
    let now = example_now();
    let garbage_first = [("Retry-After", "later"), ("X-RateLimit-Reset", "10")];
    assert_eq!(retry_after_hint(garbage_first, now), Some(secs(10)));
    let too_long_first = [
        ("Retry-After", "172800"),
        ("X-RateLimit-Reset-Tokens", "6m5s"),
    ];
    assert_eq!(retry_after_hint(too_long_first, now), Some(secs(365)));
    let repeated = [("Retry-After", "nope"), ("Retry-After", "7")];
    assert_eq!(retry_after_hint(repeated, now), Some(secs(7)));
    let all_bad = [("Retry-After", "x"), ("X-RateLimit-Reset", "y")];
    assert_eq!(retry_after_hint(all_bad, now), None);
}

#[test]
fn names_are_case_insensitive_and_others_ignored() {
    let now = example_now();
    let headers = vec![
        ("content-type", "text/plain"),
        ("x-ratelimit-reset-requests", "1.5s"),
        ("x-ratelimit-remaining", "0"),
    ];
    assert_eq!(
        retry_after_hint(headers, now),
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(
        retry_after_hint([("RETRY-AFTER", "0")], now),
        Some(Duration::ZERO)
    );
    assert_eq!(retry_after_hint([("Retry-After-Not", "5")], now), None);
    assert_eq!(retry_after_hint(Vec::<(&str, &str)>::new(), now), None);
}

#[test]
fn dates_in_headers() {
    let headers = [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")];
    assert_eq!(retry_after_hint(headers, example_now()), Some(secs(60)));
}
