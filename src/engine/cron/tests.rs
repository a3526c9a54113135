use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::*;

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 3_600_000;

fn ms(rfc3339: &str) -> u64 {
    let t = DateTime::parse_from_rfc3339(rfc3339).expect("test timestamp");
    u64::try_from(t.timestamp_millis()).expect("after 1970")
}

fn utc(ms: u64) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(ms as i64).expect("in range");
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sched(expr: &str) -> CronSchedule {
    CronSchedule::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
}

fn err(expr: &str) -> String {
    match CronSchedule::parse(expr) {
        Ok(s) => panic!("{expr:?} should be rejected, parsed as {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// The first `n` firings after `start`, as UTC timestamps.
fn firings(expr: &str, start: &str, n: usize) -> Vec<String> {
    let s = sched(expr);
    let mut t = ms(start);
    let mut out = Vec::new();
    for _ in 0..n {
        match s.next_after(t) {
            Some(next) => {
                assert!(next > t, "{expr:?}: {} is not after {}", utc(next), utc(t));
                out.push(utc(next));
                t = next;
            }
            None => break,
        }
    }
    out
}

/// The first `n` firings after `start`, as local wall clock times in `zone` with the offset.
fn local_firings(expr: &str, zone: &str, start: &str, n: usize) -> Vec<String> {
    let tz: Tz = zone.parse().expect("zone");
    firings(expr, start, n)
        .iter()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .expect("own output")
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        })
        .collect()
}

// ---- Parsing, storage and errors ----

#[test]
fn stores_the_trimmed_expression_with_its_prefix() {
    assert_eq!(sched("*/10 * * * * ").as_str(), "*/10 * * * *");
    assert_eq!(sched(" \t0 4 * * *\n").as_str(), "0 4 * * *");
    assert_eq!(
        sched("  CRON_TZ=America/New_York 0 4 * * *  ").as_str(),
        "CRON_TZ=America/New_York 0 4 * * *"
    );
    assert_eq!(
        sched("TZ=Europe/Berlin  @daily").as_str(),
        "TZ=Europe/Berlin  @daily"
    );
    assert_eq!(sched("@Hourly").as_str(), "@Hourly");
}

#[test]
fn wrong_field_counts_are_rejected_with_the_count() {
    assert_eq!(
        err("* * *"),
        "invalid cron expression \"* * *\": expected 5 fields (minute hour day-of-month month \
         day-of-week), got 3"
    );
    assert_eq!(
        err(" 0 */10 * * * * "),
        "invalid cron expression \"0 */10 * * * *\": expected 5 fields (minute hour \
         day-of-month month day-of-week), got 6 (a seconds field is not supported)"
    );
    assert!(err("0 0 0 1 1 * 2026").ends_with("got 7"));
    assert!(err("* * * *").ends_with("got 4"));
    assert!(err("CRON_TZ=UTC").ends_with("got 0"));
    assert!(err("CRON_TZ=UTC * * * * * *").contains("got 6 (a seconds field"));
    assert_eq!(CronSchedule::parse("").err(), Some(CronError::Empty));
    assert_eq!(CronSchedule::parse(" \n\t").err(), Some(CronError::Empty));
}

#[test]
fn unknown_zones_and_prefixes_are_rejected() {
    assert_eq!(
        err("CRON_TZ=Mars/Base 0 4 * * *"),
        "unknown time zone \"Mars/Base\" in CRON_TZ"
    );
    assert_eq!(
        err("TZ=Mars/Base 0 4 * * *"),
        "unknown time zone \"Mars/Base\" in TZ"
    );
    assert_eq!(
        err("CRON_TZ= 0 4 * * *"),
        "unknown time zone \"\" in CRON_TZ"
    );
    assert_eq!(
        CronSchedule::parse("CRON_TZ=europe/berlin 0 4 * * *").err(),
        Some(CronError::UnknownTimeZone {
            zone: "europe/berlin".into(),
            prefix: "CRON_TZ"
        })
    );
    assert!(err("cron_tz=UTC 0 4 * * *").contains("unknown prefix \"cron_tz\""));
    assert!(err("FOO=bar 0 4 * * *").contains("expected CRON_TZ=<zone> or TZ=<zone>"));
}

#[test]
fn field_errors_name_the_field_and_the_problem() {
    assert_eq!(
        err("61 * * * *"),
        "invalid minute field \"61\": 61 is out of range 0-59"
    );
    assert_eq!(
        CronSchedule::parse("0 24 * * *").err(),
        Some(CronError::InvalidField {
            field: "hour",
            value: "24".into(),
            reason: "24 is out of range 0-23".into()
        })
    );
    for (expr, want) in [
        (
            "0 0 0 * *",
            "invalid day-of-month field \"0\": 0 is out of range 1-31",
        ),
        (
            "0 0 32 * *",
            "invalid day-of-month field \"32\": 32 is out of range 1-31",
        ),
        (
            "0 0 * 13 *",
            "invalid month field \"13\": 13 is out of range 1-12",
        ),
        (
            "0 0 * 0 *",
            "invalid month field \"0\": 0 is out of range 1-12",
        ),
        (
            "0 0 * * 8",
            "invalid day-of-week field \"8\": 8 is out of range 0-7",
        ),
        (
            "5-1 * * * *",
            "invalid minute field \"5-1\": range start 5 is greater than its end 1",
        ),
        (
            "*/0 * * * *",
            "invalid minute field \"*/0\": a step must be at least 1",
        ),
        (
            "*/x * * * *",
            "invalid minute field \"*/x\": invalid step \"x\"",
        ),
        (
            "*/ * * * *",
            "invalid minute field \"*/\": invalid step \"\"",
        ),
        (
            "*/+5 * * * *",
            "invalid minute field \"*/+5\": the extensions L, W, # and + are not supported",
        ),
        (
            "1,,2 * * * *",
            "invalid minute field \"1,,2\": empty list item",
        ),
        ("1, * * * *", "invalid minute field \"1,\": empty list item"),
        (
            "-5 * * * *",
            "invalid minute field \"-5\": missing value in range",
        ),
        (
            "1- * * * *",
            "invalid minute field \"1-\": missing value in range",
        ),
        (
            "1-2-3 * * * *",
            "invalid minute field \"1-2-3\": \"2-3\" is not a number",
        ),
        (
            "99999999999 * * * *",
            "invalid minute field \"99999999999\": 99999999999 is out of range 0-59",
        ),
        (
            "? * * * *",
            "invalid minute field \"?\": \"?\" is not a number",
        ),
        (
            "x * * * *",
            "invalid minute field \"x\": \"x\" is not a number",
        ),
    ] {
        assert_eq!(err(expr), want, "{expr}");
    }
}

#[test]
fn names_are_only_accepted_in_their_own_field() {
    assert_eq!(
        err("0 0 * MON *"),
        "invalid month field \"MON\": \"MON\" is not a month number (1-12) or name (JAN-DEC)"
    );
    assert_eq!(
        err("0 0 * * JAN"),
        "invalid day-of-week field \"JAN\": \"JAN\" is not a weekday number (0-7, Sunday is 0 \
         or 7) or name (SUN-SAT)"
    );
    assert!(err("0 0 MON * *").starts_with("invalid day-of-month field \"MON\""));
    assert!(err("0 0 * * MONDAY").starts_with("invalid day-of-week field \"MONDAY\""));
    assert!(err("0 0 * JANUARY *").starts_with("invalid month field \"JANUARY\""));
}

#[test]
fn croner_extensions_and_unknown_aliases_are_rejected() {
    for expr in [
        "0 0 L * *",
        "0 0 15W * *",
        "0 0 LW * *",
        "0 0 * * 5L",
        "0 0 * * 5#2",
        "0 0 * * +5",
        "0 0 13 * +5",
    ] {
        assert!(
            err(expr).ends_with("the extensions L, W, # and + are not supported"),
            "{expr}: {}",
            err(expr)
        );
    }
    assert!(err("@every 5m").contains("unsupported alias \"@every\""));
    assert!(err("@reboot").contains("unsupported alias \"@reboot\""));
    assert!(err("@daily 5").contains("alias \"@daily\" takes no fields after it"));
    assert!(err("CRON_TZ=UTC @fortnightly").contains("unsupported alias"));
}

// ---- Field semantics ----

#[test]
fn sunday_is_zero_or_seven() {
    let want = [
        "2026-03-01T04:00:00Z",
        "2026-03-08T04:00:00Z",
        "2026-03-15T04:00:00Z",
    ];
    for expr in [
        "0 4 * * 0",
        "0 4 * * 7",
        "0 4 * * SUN",
        "0 4 * * sun",
        "@weekly",
    ] {
        let got = firings(expr, "2026-02-28T12:00:00Z", 3);
        if expr == "@weekly" {
            assert_eq!(
                got,
                [
                    "2026-03-01T00:00:00Z",
                    "2026-03-08T00:00:00Z",
                    "2026-03-15T00:00:00Z"
                ]
            );
        } else {
            assert_eq!(got, want, "{expr}");
        }
    }
    // 7 inside ranges and lists, and ranges ending on Sunday.
    let fri_to_sun = [
        "2026-03-06T00:00:00Z",
        "2026-03-07T00:00:00Z",
        "2026-03-08T00:00:00Z",
        "2026-03-13T00:00:00Z",
    ];
    for expr in [
        "0 0 * * 5-7",
        "0 0 * * FRI-SUN",
        "0 0 * * fri-sun",
        "0 0 * * 5-0",
        "0 0 * * 5,6,7",
    ] {
        assert_eq!(
            firings(expr, "2026-03-05T12:00:00Z", 4),
            fri_to_sun,
            "{expr}"
        );
    }
    assert_eq!(
        firings("0 0 * * 0-0", "2026-03-01T12:00:00Z", 1),
        ["2026-03-08T00:00:00Z"]
    );
    assert_eq!(
        firings("0 0 * * 0-7", "2026-03-01T12:00:00Z", 2),
        ["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"]
    );
}

#[test]
fn both_day_fields_restricted_means_either() {
    // April 2026: Fridays 3, 10, 17, 24; the 13th is a Monday. May 13 is a Wednesday.
    assert_eq!(
        firings("0 0 13 * 5", "2026-04-01T00:00:00Z", 7),
        [
            "2026-04-03T00:00:00Z",
            "2026-04-10T00:00:00Z",
            "2026-04-13T00:00:00Z",
            "2026-04-17T00:00:00Z",
            "2026-04-24T00:00:00Z",
            "2026-05-01T00:00:00Z",
            "2026-05-08T00:00:00Z",
        ]
    );
    assert_eq!(
        firings("0 0 13 * 5", "2026-05-08T00:00:00Z", 2),
        ["2026-05-13T00:00:00Z", "2026-05-15T00:00:00Z"]
    );
    // A Friday the 13th fires once.
    assert_eq!(
        firings("0 0 13 * 5", "2026-03-12T00:00:00Z", 2),
        ["2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"]
    );
}

#[test]
fn one_day_field_unrestricted_means_only_the_other() {
    assert_eq!(
        firings("0 0 * * 5", "2026-04-01T00:00:00Z", 3),
        [
            "2026-04-03T00:00:00Z",
            "2026-04-10T00:00:00Z",
            "2026-04-17T00:00:00Z"
        ]
    );
    assert_eq!(
        firings("0 0 13 * *", "2026-04-01T00:00:00Z", 3),
        [
            "2026-04-13T00:00:00Z",
            "2026-05-13T00:00:00Z",
            "2026-06-13T00:00:00Z"
        ]
    );
    // `?` and `*/1` are unrestricted too; croner on its own reads `*/1` as restricted.
    for expr in ["0 0 13 * ?", "0 0 13 * */1", "0 0 13 * *,5"] {
        assert_eq!(
            firings(expr, "2026-04-01T00:00:00Z", 2),
            ["2026-04-13T00:00:00Z", "2026-05-13T00:00:00Z"],
            "{expr}"
        );
    }
    for expr in ["0 0 ? * 5", "0 0 */1 * FRI"] {
        assert_eq!(
            firings(expr, "2026-04-01T00:00:00Z", 2),
            ["2026-04-03T00:00:00Z", "2026-04-10T00:00:00Z"],
            "{expr}"
        );
    }
    // A stepped star restricts: the 13th, or Sunday/Tuesday/Thursday/Saturday.
    assert_eq!(
        firings("0 0 13 * */2", "2026-04-01T00:00:00Z", 4),
        [
            "2026-04-02T00:00:00Z",
            "2026-04-04T00:00:00Z",
            "2026-04-05T00:00:00Z",
            "2026-04-07T00:00:00Z",
        ]
    );
    // A full explicit range still restricts (Vixie, robfig): 1-31 OR Friday is every day.
    assert_eq!(
        firings("0 0 1-31 * 5", "2026-04-01T00:00:00Z", 2),
        ["2026-04-02T00:00:00Z", "2026-04-03T00:00:00Z"]
    );
}

#[test]
fn lists_ranges_and_steps() {
    let start = "2026-01-01T00:00:00Z";
    let minutes = |expr: &str, n| -> Vec<u32> {
        firings(expr, start, n)
            .iter()
            .map(|t| t[14..16].parse().expect("minute"))
            .collect()
    };
    assert_eq!(minutes("*/10 * * * *", 6), [10, 20, 30, 40, 50, 0]);
    assert_eq!(minutes("1-5/2 * * * *", 4), [1, 3, 5, 1]);
    assert_eq!(minutes("5/15 * * * *", 5), [5, 20, 35, 50, 5]);
    assert_eq!(minutes("10-20/5,45 * * * *", 5), [10, 15, 20, 45, 10]);
    assert_eq!(minutes("59,0,30 * * * *", 4), [30, 59, 0, 30]);
    assert_eq!(minutes("*/60 * * * *", 2), [0, 0]);
    assert_eq!(
        firings("0 */6 * * *", start, 4),
        [
            "2026-01-01T06:00:00Z",
            "2026-01-01T12:00:00Z",
            "2026-01-01T18:00:00Z",
            "2026-01-02T00:00:00Z",
        ]
    );
    assert_eq!(
        firings("0 9-17/4 * * mon-fri", "2026-01-02T10:00:00Z", 4),
        [
            "2026-01-02T13:00:00Z",
            "2026-01-02T17:00:00Z",
            "2026-01-05T09:00:00Z",
            "2026-01-05T13:00:00Z",
        ]
    );
    assert_eq!(
        firings("0 0 1 jan,Jul,OCT-dec *", start, 5),
        [
            "2026-07-01T00:00:00Z",
            "2026-10-01T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ]
    );
    assert_eq!(
        firings("0 0 1 */3 *", start, 3),
        [
            "2026-04-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
            "2026-10-01T00:00:00Z"
        ]
    );
    assert_eq!(
        firings("0 12 */10 * *", start, 4),
        [
            "2026-01-01T12:00:00Z",
            "2026-01-11T12:00:00Z",
            "2026-01-21T12:00:00Z",
            "2026-01-31T12:00:00Z",
        ]
    );
}

#[test]
fn aliases() {
    let start = "2026-05-15T10:20:00Z";
    assert_eq!(firings("@hourly", start, 1), ["2026-05-15T11:00:00Z"]);
    assert_eq!(firings("@daily", start, 1), ["2026-05-16T00:00:00Z"]);
    assert_eq!(firings("@MIDNIGHT", start, 1), ["2026-05-16T00:00:00Z"]);
    assert_eq!(firings("@weekly", start, 1), ["2026-05-17T00:00:00Z"]);
    assert_eq!(firings("@monthly", start, 1), ["2026-06-01T00:00:00Z"]);
    assert_eq!(firings("@yearly", start, 1), ["2027-01-01T00:00:00Z"]);
    assert_eq!(firings("@annually", start, 1), ["2027-01-01T00:00:00Z"]);
    assert_eq!(
        firings("CRON_TZ=Europe/Berlin @daily", start, 1),
        ["2026-05-15T22:00:00Z"]
    );
}

#[test]
fn whitespace_between_fields_may_be_any_run() {
    assert_eq!(
        firings("0\t4  *\n* *", "2026-01-01T00:00:00Z", 1),
        ["2026-01-01T04:00:00Z"]
    );
}

// ---- next_after ----

#[test]
fn next_after_is_strictly_after_and_on_whole_minutes() {
    let s = sched("* * * * *");
    let t = ms("2026-01-01T00:00:00Z");
    assert_eq!(s.next_after(t), Some(t + MINUTE_MS));
    assert_eq!(s.next_after(t - 1), Some(t));
    assert_eq!(s.next_after(t + 1), Some(t + MINUTE_MS));
    assert_eq!(s.next_after(t + 59_999), Some(t + MINUTE_MS));
    let s = sched("0 4 * * *");
    let four = ms("2026-01-01T04:00:00Z");
    assert_eq!(s.next_after(four - 1), Some(four));
    assert_eq!(s.next_after(four), Some(four + 24 * HOUR_MS));
    assert_eq!(s.next_after(0), Some(4 * HOUR_MS));
    // Fixed-time jobs in a zone take the same care with milliseconds.
    let s = sched("CRON_TZ=Asia/Kathmandu 30 9 * * *");
    let at = ms("2026-01-01T03:45:00Z");
    assert_eq!(s.next_after(at - 1), Some(at));
    assert_eq!(s.next_after(at), Some(at + 24 * HOUR_MS));
    assert_eq!(s.next_after(at + 1), Some(at + 24 * HOUR_MS));
}

#[test]
fn zones_shift_the_wall_clock() {
    // New York: 04:00 EST is 09:00Z in winter, 04:00 EDT is 08:00Z in summer.
    assert_eq!(
        firings(
            "CRON_TZ=America/New_York 0 4 * * *",
            "2026-01-10T00:00:00Z",
            1
        ),
        ["2026-01-10T09:00:00Z"]
    );
    assert_eq!(
        firings(
            "CRON_TZ=America/New_York 0 4 * * *",
            "2026-07-10T00:00:00Z",
            1
        ),
        ["2026-07-10T08:00:00Z"]
    );
    assert_eq!(
        firings("TZ=America/New_York 0 4 * * *", "2026-07-10T00:00:00Z", 1),
        ["2026-07-10T08:00:00Z"]
    );
    // Half and three-quarter hour offsets.
    assert_eq!(
        firings("TZ=Asia/Kolkata 30 9 * * *", "2026-01-01T00:00:00Z", 1),
        ["2026-01-01T04:00:00Z"]
    );
    assert_eq!(
        firings(
            "CRON_TZ=Asia/Kathmandu 0 * * * *",
            "2026-01-01T00:00:00Z",
            2
        ),
        ["2026-01-01T00:15:00Z", "2026-01-01T01:15:00Z"]
    );
    // The day fields are read in the zone too: Friday 00:30 in Tokyo is Thursday 15:30Z.
    assert_eq!(
        firings("CRON_TZ=Asia/Tokyo 30 0 * * FRI", "2026-04-01T00:00:00Z", 1),
        ["2026-04-02T15:30:00Z"]
    );
    assert_eq!(
        firings("CRON_TZ=UTC 30 0 * * FRI", "2026-04-01T00:00:00Z", 1),
        ["2026-04-03T00:30:00Z"]
    );
}

#[test]
fn patterns_that_can_never_fire_answer_none_at_once() {
    for expr in [
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 30,31 feb *",
        "CRON_TZ=Europe/Berlin 0 0 31 2 *",
    ] {
        let s = sched(expr);
        let started = std::time::Instant::now();
        assert_eq!(s.next_after(0), None, "{expr}");
        assert_eq!(s.next_after(ms("2026-01-01T00:00:00Z")), None, "{expr}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(5),
            "{expr}"
        );
    }
    // Not to be confused with ones that fire through the other day field or rarely.
    assert_eq!(
        firings("0 0 31 2 1", "2026-01-31T00:00:00Z", 1),
        ["2026-02-02T00:00:00Z"]
    );
    assert_eq!(
        firings("0 0 29 2 *", "2026-01-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]
    );
    // 2100 is not a leap year.
    assert_eq!(
        firings("0 0 29 feb *", "2097-01-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00Z"]
    );
    assert_eq!(
        firings("0 0 31 * *", "2026-04-01T00:00:00Z", 2),
        ["2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"]
    );
}

#[test]
fn extreme_inputs_do_not_panic() {
    let exprs = [
        "* * * * *",
        "0 0 1 1 *",
        "30 2 * * *",
        "CRON_TZ=America/New_York 30 2 * * *",
        "CRON_TZ=America/New_York */15 * * * *",
        "CRON_TZ=Pacific/Kiritimati 0 0 29 2 *",
    ];
    let edges = [
        0,
        1,
        59_999,
        u64::MAX,
        u64::MAX / 2,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        SEARCH_LIMIT_MS as u64,
        SEARCH_LIMIT_MS as u64 - 1,
        ms("4999-12-31T23:59:00Z"),
        ms("4999-06-01T00:00:00Z"),
        8_210_298_412_799_999,
    ];
    for expr in exprs {
        let s = sched(expr);
        for t in edges {
            if let Some(next) = s.next_after(t) {
                assert!(next > t, "{expr} after {t}");
            }
        }
    }
    assert_eq!(sched("* * * * *").next_after(u64::MAX), None);
    // Croner searches up to the first instant of 5000, and not from there on.
    assert_eq!(
        sched("0 0 1 1 *").next_after(ms("4999-06-01T00:00:00Z")),
        Some(SEARCH_LIMIT_MS as u64)
    );
    assert_eq!(
        sched("0 0 1 1 *").next_after(SEARCH_LIMIT_MS as u64 - 1),
        Some(SEARCH_LIMIT_MS as u64)
    );
    assert_eq!(sched("* * * * *").next_after(SEARCH_LIMIT_MS as u64), None);
    assert_eq!(
        sched("0 0 2 1 *").next_after(ms("4999-06-01T00:00:00Z")),
        None
    );
    assert_eq!(
        sched("* * * * *").next_after(ms("4999-12-31T23:58:00Z")),
        Some(ms("4999-12-31T23:59:00Z"))
    );
}

// ---- Daylight saving time ----

#[test]
fn spring_forward_fixed_time_fires_after_the_gap() {
    // New York skips 02:00-02:59 on 2026-03-08 (07:00Z): 02:30 fires at 03:00 EDT.
    let expr = "CRON_TZ=America/New_York 30 2 * * *";
    assert_eq!(
        local_firings(expr, "America/New_York", "2026-03-06T12:00:00Z", 4),
        [
            "2026-03-07 02:30 -05:00",
            "2026-03-08 03:00 -04:00",
            "2026-03-09 02:30 -04:00",
            "2026-03-10 02:30 -04:00",
        ]
    );
    let s = sched(expr);
    let three = ms("2026-03-08T07:00:00Z");
    assert_eq!(s.next_after(three - 1), Some(three));
    assert_eq!(s.next_after(three), Some(ms("2026-03-09T06:30:00Z")));
    // Several fixed times in the gap collapse onto 03:00; times after it keep their place.
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York 0,30 2,3 * * *",
            "America/New_York",
            "2026-03-08T06:00:00Z",
            4
        ),
        [
            "2026-03-08 03:00 -04:00",
            "2026-03-08 03:30 -04:00",
            "2026-03-09 02:00 -04:00",
            "2026-03-09 02:30 -04:00",
        ]
    );
    // A list of hours is still fixed-time (croner alone would skip this 02:30).
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York 30 2,14 * * *",
            "America/New_York",
            "2026-03-07T20:00:00Z",
            3
        ),
        [
            "2026-03-08 03:00 -04:00",
            "2026-03-08 14:30 -04:00",
            "2026-03-09 02:30 -04:00",
        ]
    );
    // Every minute of the skipped hour, written without `*`, fires once at 03:00.
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York 0-59 2 * * *",
            "America/New_York",
            "2026-03-08T06:59:00Z",
            2
        ),
        ["2026-03-08 03:00 -04:00", "2026-03-09 02:00 -04:00"]
    );
}

#[test]
fn spring_forward_wildcard_jobs_skip_the_missing_times() {
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York * 2 * * *",
            "America/New_York",
            "2026-03-08T06:00:00Z",
            1
        ),
        ["2026-03-09 02:00 -04:00"]
    );
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York 30 * * * *",
            "America/New_York",
            "2026-03-08T06:00:00Z",
            3
        ),
        [
            "2026-03-08 01:30 -05:00",
            "2026-03-08 03:30 -04:00",
            "2026-03-08 04:30 -04:00",
        ]
    );
}

#[test]
fn fall_back_fixed_time_fires_once_at_the_first_occurrence() {
    // New York repeats 01:00-01:59 on 2026-11-01: EDT until 06:00Z, then EST.
    let expr = "CRON_TZ=America/New_York 30 1 * * *";
    assert_eq!(
        local_firings(expr, "America/New_York", "2026-10-31T00:00:00Z", 3),
        [
            "2026-10-31 01:30 -04:00",
            "2026-11-01 01:30 -04:00",
            "2026-11-02 01:30 -05:00",
        ]
    );
    let s = sched(expr);
    let first = ms("2026-11-01T05:30:00Z");
    let next_day = ms("2026-11-02T06:30:00Z");
    assert_eq!(s.next_after(first), Some(next_day));
    // From anywhere between the two occurrences, and from inside the repeated hour.
    for start in [
        "2026-11-01T05:45:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:10:00Z",
        "2026-11-01T06:29:59Z",
        "2026-11-01T06:30:00Z",
        "2026-11-01T06:59:00Z",
    ] {
        assert_eq!(s.next_after(ms(start)), Some(next_day), "{start}");
    }
    for start in ["2026-11-01T05:00:00Z", "2026-11-01T05:29:59Z"] {
        assert_eq!(s.next_after(ms(start)), Some(first), "{start}");
    }
    // A list is fixed-time too: 01:00 and 01:30 once each (croner alone fires four times).
    assert_eq!(
        local_firings(
            "CRON_TZ=America/New_York 0,30 1 * * *",
            "America/New_York",
            "2026-11-01T04:00:00Z",
            3
        ),
        [
            "2026-11-01 01:00 -04:00",
            "2026-11-01 01:30 -04:00",
            "2026-11-02 01:00 -05:00",
        ]
    );
}

#[test]
fn fall_back_wildcard_jobs_fire_on_both_occurrences() {
    let s = sched("CRON_TZ=America/New_York 30 * * * *");
    // Croner searches the second occurrence when starting inside the first.
    assert_eq!(
        s.next_after(ms("2026-11-01T05:00:00Z")),
        Some(ms("2026-11-01T05:30:00Z"))
    );
    assert_eq!(
        s.next_after(ms("2026-11-01T05:30:00Z")),
        Some(ms("2026-11-01T06:30:00Z"))
    );
    assert_eq!(
        s.next_after(ms("2026-11-01T05:45:00Z")),
        Some(ms("2026-11-01T06:30:00Z"))
    );
    assert_eq!(
        s.next_after(ms("2026-11-01T06:10:00Z")),
        Some(ms("2026-11-01T06:30:00Z"))
    );
    assert_eq!(
        s.next_after(ms("2026-11-01T06:30:00Z")),
        Some(ms("2026-11-01T07:30:00Z"))
    );
}

/// Firings of `expr` from `start` up to `end`, checked to be exactly `step` apart.
fn assert_evenly_spaced(expr: &str, start: &str, end: &str, step: u64) -> Vec<u64> {
    let s = sched(expr);
    let (mut t, end) = (ms(start), ms(end));
    let mut out = Vec::new();
    while let Some(next) = s.next_after(t) {
        if next > end {
            break;
        }
        if let Some(&last) = out.last() {
            assert_eq!(
                next - last,
                step,
                "{expr}: {} after {}",
                utc(next),
                utc(last)
            );
        }
        out.push(next);
        t = next;
    }
    out
}

#[test]
fn hourly_in_berlin_fires_every_real_hour_once_across_dst() {
    let tz: Tz = "Europe/Berlin".parse().expect("zone");
    let hours = |v: &[u64]| -> Vec<u32> {
        v.iter()
            .map(|&t| {
                DateTime::<Utc>::from_timestamp_millis(t as i64)
                    .expect("in range")
                    .with_timezone(&tz)
                    .hour()
            })
            .collect()
    };
    let expr = "CRON_TZ=Europe/Berlin 0 * * * *";
    // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST, local 02:00 never happens.
    let spring = assert_evenly_spaced(
        expr,
        "2026-03-28T20:00:00Z",
        "2026-03-29T04:00:00Z",
        HOUR_MS,
    );
    assert_eq!(spring.len(), 8);
    assert_eq!(hours(&spring), [22, 23, 0, 1, 3, 4, 5, 6]);
    // 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET, local 02:00 happens twice.
    let autumn = assert_evenly_spaced(
        expr,
        "2026-10-24T20:00:00Z",
        "2026-10-25T04:00:00Z",
        HOUR_MS,
    );
    assert_eq!(autumn.len(), 8);
    assert_eq!(hours(&autumn), [23, 0, 1, 2, 2, 3, 4, 5]);
    // A whole day either side holds 23 and 25 firings.
    let day = |start, end| assert_evenly_spaced(expr, start, end, HOUR_MS).len();
    assert_eq!(day("2026-03-28T22:59:59Z", "2026-03-29T21:59:59Z"), 23);
    assert_eq!(day("2026-10-24T21:59:59Z", "2026-10-25T22:59:59Z"), 25);
}

#[test]
fn quarter_hourly_fires_every_real_quarter_hour_across_dst() {
    for (zone, spring, autumn) in [
        (
            "America/New_York",
            "2026-03-08T07:00:00Z",
            "2026-11-01T06:00:00Z",
        ),
        (
            "Europe/Berlin",
            "2026-03-29T01:00:00Z",
            "2026-10-25T01:00:00Z",
        ),
    ] {
        let expr = format!("CRON_TZ={zone} */15 * * * *");
        for switch in [spring, autumn] {
            let at = ms(switch);
            let start = utc(at - 3 * HOUR_MS);
            let end = utc(at + 3 * HOUR_MS);
            let got = assert_evenly_spaced(&expr, &start, &end, 15 * MINUTE_MS);
            assert_eq!(got.len(), 24, "{expr} around {switch}");
            assert!(got.contains(&at), "{expr} fires at the switch {switch}");
        }
    }
}

// ---- Cross-check against a brute-force reference ----

/// The day and time rules, written out independently of croner.
fn reference_matches(f: &Fields, wall: NaiveDateTime) -> bool {
    let bit = |set: u64, v: u32| set & (1 << v) != 0;
    let dom = bit(f.days, wall.day());
    let dow = bit(f.weekdays, wall.weekday().num_days_from_sunday());
    let day = match (f.dom_star, f.dow_star) {
        (true, _) => dow,
        (false, true) => dom,
        (false, false) => dom || dow,
    };
    wall.second() == 0
        && bit(f.minutes, wall.minute())
        && bit(f.hours, wall.hour())
        && bit(f.months, wall.month())
        && day
}

/// Every firing in `[from, to]` (Unix ms), walked minute by minute.
fn reference_firings(expr: &str, tz: Tz, from: i64, to: i64) -> BTreeSet<i64> {
    let body = split_zone(expr).expect("zone").1;
    let fields: Vec<&str> = expand_alias(body)
        .expect("alias")
        .split_whitespace()
        .collect();
    let f = Fields::parse([fields[0], fields[1], fields[2], fields[3], fields[4]]).expect("fields");
    let minute = 60_000;
    let mut out = BTreeSet::new();
    let to_wall = |t: i64| {
        DateTime::<Utc>::from_timestamp_millis(t)
            .expect("in range")
            .with_timezone(&tz)
            .naive_local()
    };
    if f.is_wildcard_job() {
        // Every real minute whose wall clock matches.
        let mut t = from - from.rem_euclid(minute);
        while t <= to {
            if t >= from && reference_matches(&f, to_wall(t)) {
                out.insert(t);
            }
            t += minute;
        }
    } else {
        // Every matching wall clock minute, at its earliest instant or after its gap.
        let mut wall = to_wall(from - 2 * 86_400_000);
        wall -= TimeDelta::seconds(i64::from(wall.second()));
        let last = to_wall(to + 2 * 86_400_000);
        while wall <= last {
            if reference_matches(&f, wall) {
                let mut w = wall;
                let at = loop {
                    match tz.from_local_datetime(&w) {
                        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => break t,
                        LocalResult::None => w += TimeDelta::minutes(1),
                    }
                };
                let at = at.timestamp_millis();
                if (from..=to).contains(&at) {
                    out.insert(at);
                }
            }
            wall += TimeDelta::minutes(1);
        }
    }
    out
}

#[test]
fn agrees_with_a_brute_force_reference_around_zone_changes() {
    // (zone, an instant near a change of its offset)
    let cases = [
        ("UTC", "2026-02-28T12:00:00Z"),
        ("America/New_York", "2026-03-08T07:00:00Z"),
        ("America/New_York", "2026-11-01T06:00:00Z"),
        ("Europe/Berlin", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "2026-10-25T01:00:00Z"),
        // Half-hour DST: 02:00 becomes 01:30 in April and 02:30 in October.
        ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
        ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
        // DST at midnight: 00:00 was skipped, and 23:00 repeated the evening before.
        ("America/Sao_Paulo", "2018-11-04T03:00:00Z"),
        ("America/Sao_Paulo", "2019-02-17T02:00:00Z"),
        // Samoa skipped the whole of 2011-12-30.
        ("Pacific/Apia", "2011-12-30T10:00:00Z"),
        // Nepal moved from +05:30 to +05:45: a 15-minute gap.
        ("Asia/Kathmandu", "1985-12-31T18:30:00Z"),
    ];
    let patterns = [
        "0 * * * *",
        "*/15 * * * *",
        "*/7 0-3,22-23 * * *",
        "30 * * * *",
        "* 1 * * *",
        "15 */2 * * *",
        "0 0 * * *",
        "30 1 * * *",
        "30 2 * * *",
        "45 23 * * *",
        "0,30 0-3 * * *",
        "0-59/10 2 * * *",
        "0 12 * * *",
        "0 0 13 * 5",
        "20 0,23 * * 6,0",
        "0 0 1,15 * *",
    ];
    for (zone, switch) in cases {
        let tz: Tz = zone.parse().expect("zone");
        let at = ms(switch) as i64;
        let (from, to) = (at - 36 * 3_600_000, at + 36 * 3_600_000);
        for pattern in patterns {
            let expr = format!("CRON_TZ={zone} {pattern}");
            let s = sched(&expr);
            let want = reference_firings(&expr, tz, from, to);
            // Walking firing to firing.
            let mut got = BTreeSet::new();
            let mut t = from - 1;
            while let Some(next) = s.next_after(t as u64) {
                let next = next as i64;
                if next > to {
                    break;
                }
                got.insert(next);
                t = next;
            }
            assert_eq!(got, want, "{expr} around {switch}");
            // And from arbitrary starts, seconds and milliseconds included.
            let mut start = from;
            while start < to - 3 * 3_600_000 {
                let expected = want.range(start + 1..).next().copied();
                let actual = s.next_after(start as u64).map(|v| v as i64);
                if let Some(expected) = expected {
                    assert_eq!(actual, Some(expected), "{expr} after {}", utc(start as u64));
                }
                start += 7 * 60_000 + 13_001;
            }
        }
    }
}

#[test]
fn next_after_is_fast() {
    let schedules: Vec<CronSchedule> = [
        "* * * * *",
        "0 4 * * 0",
        "0 0 13 * 5",
        "0 0 29 2 *",
        "CRON_TZ=America/New_York 30 2 * * *",
        "CRON_TZ=America/New_York */15 * * * *",
        "CRON_TZ=Europe/Berlin 0,30 1-3 * * *",
    ]
    .iter()
    .map(|e| sched(e))
    .collect();
    let start = ms("2026-03-01T00:00:00Z");
    let started = std::time::Instant::now();
    let mut calls = 0u32;
    for s in &schedules {
        for i in 0..1_000u64 {
            // Spread over a year, so DST changes are crossed.
            let _ = s.next_after(start + i * 8 * HOUR_MS + 7_919);
            calls += 1;
        }
    }
    // Microseconds each in release; a generous bound for unoptimised, loaded test runs.
    let per_call = started.elapsed() / calls;
    assert!(
        per_call < std::time::Duration::from_millis(1),
        "{per_call:?} per call"
    );
}
