//! QStash duration strings. This module owns parsing the values of
//! `Upstash-Delay`, `Upstash-Timeout` and the flow-control `period`: one or
//! more `<integer><unit>` groups written together, with units `s`, `m`, `h`
//! and `d` (`10s`, `3m`, `2h`, `7d`, `1d10h30m`, `1h30m3s`).
//!
//! Beyond what the hosted service documents, two kindnesses are accepted:
//! a bare non-negative integer means seconds (`30` is `30s`), and `ms` is a
//! unit (`500ms`, `1s500ms`). Groups may come in any order and a unit may
//! repeat; all groups are summed (`1m1m` is `2m`). Units are lower-case
//! only. Surrounding whitespace is ignored; spaces between groups, signs,
//! fractions (`1.5h`) and negative values are rejected, as is any total
//! that does not fit a [`Duration`] (checked arithmetic, never a panic).

use std::fmt;
use std::time::Duration;

/// How much of the offending input a [`DurationError`] keeps and prints.
const MAX_ECHO_CHARS: usize = 64;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    kind: DurationErrorKind,
}

/// The specific problem behind a [`DurationError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DurationErrorKind {
    /// Nothing but whitespace.
    Empty,
    /// Starts with `-`.
    Negative,
    /// A fractional number such as `1.5h`.
    Fractional,
    /// A unit other than `ms`, `s`, `m`, `h` or `d`.
    UnknownUnit(String),
    /// A number with no unit after it, such as the `30` in `1h30`.
    MissingUnit(String),
    /// A unit with no number before it, such as `h` or the `m` in `1hm`.
    MissingNumber(String),
    /// A character that is neither a digit nor part of a unit.
    UnexpectedChar(char),
    /// The total does not fit a [`Duration`].
    TooLarge,
}

impl DurationError {
    fn new(input: &str, kind: DurationErrorKind) -> Self {
        let mut echo: String = input.chars().take(MAX_ECHO_CHARS).collect();
        if input.chars().nth(MAX_ECHO_CHARS).is_some() {
            echo.push('…');
        }
        Self { input: echo, kind }
    }

    /// The trimmed input (shortened if very long).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> &DurationErrorKind {
        &self.kind
    }
}

impl fmt::Display for DurationErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty"),
            Self::Negative => f.write_str("negative durations are not allowed"),
            Self::Fractional => {
                f.write_str("fractions are not supported (write 90m rather than 1.5h)")
            }
            Self::UnknownUnit(unit) => write!(f, "unknown unit '{unit}' (use s, m, h or d)"),
            Self::MissingUnit(num) => write!(f, "missing unit after '{num}' (use s, m, h or d)"),
            Self::MissingNumber(unit) => write!(f, "expected a number before '{unit}'"),
            Self::UnexpectedChar(c) => write!(f, "unexpected character '{c}'"),
            Self::TooLarge => f.write_str("too large"),
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid duration {:?}: {}", self.input, self.kind)
    }
}

impl std::error::Error for DurationError {}

/// Parses a QStash duration such as `10s`, `1d10h30m`, `500ms` or `30`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let input = s.trim();
    let fail = |kind| Err(DurationError::new(input, kind));
    if input.is_empty() {
        return fail(DurationErrorKind::Empty);
    }
    if input.starts_with('-') {
        return fail(DurationErrorKind::Negative);
    }
    if input.bytes().all(|b| b.is_ascii_digit()) {
        return match input.parse::<u64>() {
            Ok(secs) => Ok(Duration::from_secs(secs)),
            Err(_) => fail(DurationErrorKind::TooLarge),
        };
    }

    let mut total = Duration::ZERO;
    let mut rest = input;
    while let Some(first) = rest.chars().next() {
        let (num, after) = rest.split_at(
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        let (unit, after) = after.split_at(
            after
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(after.len()),
        );
        let next = after.chars().next();
        if next == Some('.') {
            return fail(DurationErrorKind::Fractional);
        }
        if num.is_empty() {
            return fail(if unit.is_empty() {
                DurationErrorKind::UnexpectedChar(first)
            } else {
                DurationErrorKind::MissingNumber(unit.to_owned())
            });
        }
        if unit.is_empty() {
            return fail(match next {
                Some(c) => DurationErrorKind::UnexpectedChar(c),
                None => DurationErrorKind::MissingUnit(num.to_owned()),
            });
        }
        let Ok(n) = num.parse::<u64>() else {
            return fail(DurationErrorKind::TooLarge);
        };
        let secs_per_unit = match unit {
            "ms" => None,
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(3_600),
            "d" => Some(86_400),
            _ => return fail(DurationErrorKind::UnknownUnit(unit.to_owned())),
        };
        let part = match secs_per_unit {
            None => Some(Duration::from_millis(n)),
            Some(k) => n.checked_mul(k).map(Duration::from_secs),
        };
        match part.and_then(|p| total.checked_add(p)) {
            Some(sum) => total = sum,
            None => return fail(DurationErrorKind::TooLarge),
        }
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        match parse_duration(s) {
            Ok(d) => d,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> DurationError {
        match parse_duration(s) {
            Ok(d) => panic!("{s:?} should not parse, got {d:?}"),
            Err(e) => e,
        }
    }

    const fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn single_units() {
        assert_eq!(ok("10s"), secs(10));
        assert_eq!(ok("3m"), secs(180));
        assert_eq!(ok("2h"), secs(7_200));
        assert_eq!(ok("7d"), secs(7 * 86_400));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("0d"), Duration::ZERO);
        assert_eq!(ok("007s"), secs(7));
    }

    #[test]
    fn combinations() {
        assert_eq!(ok("1d10h30m"), secs(86_400 + 10 * 3_600 + 30 * 60));
        assert_eq!(ok("1h30m3s"), secs(3_600 + 30 * 60 + 3));
        assert_eq!(ok("1m30s"), secs(90));
        assert_eq!(ok("2d0h1s"), secs(2 * 86_400 + 1));
    }

    #[test]
    fn any_order_and_repeats_are_summed() {
        assert_eq!(ok("30m1h"), secs(5_400));
        assert_eq!(ok("1m1m"), secs(120));
        assert_eq!(ok("1s1s1s"), secs(3));
    }

    #[test]
    fn bare_integer_is_seconds() {
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("30"), secs(30));
        assert_eq!(ok("86400"), secs(86_400));
        assert_eq!(ok(&u64::MAX.to_string()), secs(u64::MAX));
    }

    #[test]
    fn milliseconds() {
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1s500ms"), Duration::from_millis(1_500));
        assert_eq!(ok("1500ms"), Duration::from_millis(1_500));
        assert_eq!(ok("0ms"), Duration::ZERO);
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(ok("  10s "), secs(10));
        assert_eq!(ok("\t1h30m\n"), secs(5_400));
        assert_eq!(ok(" 42 "), secs(42));
    }

    #[test]
    fn error_messages() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid duration \"\": empty"),
            ("   ", "invalid duration \"\": empty"),
            ("10x", "invalid duration \"10x\": unknown unit 'x' (use s, m, h or d)"),
            ("10sec", "invalid duration \"10sec\": unknown unit 'sec' (use s, m, h or d)"),
            ("10S", "invalid duration \"10S\": unknown unit 'S' (use s, m, h or d)"),
            ("10µs", "invalid duration \"10µs\": unknown unit 'µs' (use s, m, h or d)"),
            ("1h30", "invalid duration \"1h30\": missing unit after '30' (use s, m, h or d)"),
            ("h", "invalid duration \"h\": expected a number before 'h'"),
            ("1hm", "invalid duration \"1hm\": unknown unit 'hm' (use s, m, h or d)"),
            ("-5s", "invalid duration \"-5s\": negative durations are not allowed"),
            ("-5", "invalid duration \"-5\": negative durations are not allowed"),
            ("+5s", "invalid duration \"+5s\": unexpected character '+'"),
            ("1h 30m", "invalid duration \"1h 30m\": unexpected character ' '"),
            ("10 s", "invalid duration \"10 s\": unexpected character ' '"),
            ("1,5s", "invalid duration \"1,5s\": unexpected character ','"),
            (
                "1.5h",
                "invalid duration \"1.5h\": fractions are not supported (write 90m rather than 1.5h)",
            ),
            (
                "1.5",
                "invalid duration \"1.5\": fractions are not supported (write 90m rather than 1.5h)",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(err(input).to_string(), *want, "input {input:?}");
        }
    }

    #[test]
    fn error_accessors() {
        let e = err(" 5y ");
        assert_eq!(e.input(), "5y");
        assert_eq!(e.kind(), &DurationErrorKind::UnknownUnit("y".into()));
        assert_eq!(
            err("3s2").kind(),
            &DurationErrorKind::MissingUnit("2".into())
        );
        assert_eq!(
            err("s").kind(),
            &DurationErrorKind::MissingNumber("s".into())
        );
    }

    #[test]
    fn overflow_is_an_error() {
        let too_large = |s: &str| err(s).kind() == &DurationErrorKind::TooLarge;
        // u64::MAX + 1
        assert!(too_large("18446744073709551616"));
        assert!(too_large("18446744073709551616s"));
        assert!(too_large("99999999999999999999999ms"));
        // Fits a u64 but not once multiplied by the unit.
        assert!(too_large("18446744073709551615m"));
        assert!(too_large("213503982334602d"));
        // Each group fits, the sum does not.
        assert!(too_large(&format!("{}s1s", u64::MAX)));
        assert_eq!(ok(&format!("{}s", u64::MAX)), secs(u64::MAX));
        assert_eq!(ok("213503982334601d"), secs(213_503_982_334_601 * 86_400));
        assert_eq!(
            err("18446744073709551616s").to_string(),
            "invalid duration \"18446744073709551616s\": too large"
        );
    }

    #[test]
    fn long_garbage_is_echoed_shortened() {
        let input = "x".repeat(10_000);
        let e = err(&input);
        assert_eq!(e.input().chars().count(), MAX_ECHO_CHARS + 1);
        assert!(e.input().ends_with('…'));
    }
}
