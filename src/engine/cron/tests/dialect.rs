use ::cron::Schedule;

use super::*;

// ---- The `cron` crate's own semantics, which the translation relies on ----

fn crate_schedule(expr: &str) -> Schedule {
    expr.parse()
        .unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
}

/// The first `n` firings after `start`, searched in `tz` by the crate alone.
fn crate_firings<Z: TimeZone>(expr: &str, start: DateTime<Z>, n: usize) -> Vec<String> {
    crate_schedule(expr)
        .after(&start)
        .take(n)
        .map(|t| t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms(rfc3339) as i64).expect("in range")
}

#[test]
fn crate_numbers_weekdays_one_to_seven_from_sunday() {
    // 2026-03-01 is a Sunday.
    let start = at("2026-02-28T12:00:00Z");
    for expr in ["0 0 4 * * 1", "0 0 4 * * SUN", "0 0 4 * * sun"] {
        assert_eq!(
            crate_firings(expr, start, 2),
            ["2026-03-01T04:00:00Z", "2026-03-08T04:00:00Z"],
            "{expr}"
        );
    }
    assert_eq!(
        crate_firings("0 0 4 * * 7", start, 1),
        ["2026-03-07T04:00:00Z"]
    );
    assert!("0 0 4 * * 0".parse::<Schedule>().is_err());
    assert!("0 0 4 * * 8".parse::<Schedule>().is_err());
}

#[test]
fn crate_combines_restricted_day_fields_with_and() {
    // Friday is 6; 2026 has Fridays the 13th in February, March and November only.
    assert_eq!(
        crate_firings("0 0 0 13 * 6", at("2026-01-01T00:00:00Z"), 3),
        [
            "2026-02-13T00:00:00Z",
            "2026-03-13T00:00:00Z",
            "2026-11-13T00:00:00Z"
        ]
    );
    // An unrestricted field leaves the other alone.
    assert_eq!(
        crate_firings("0 0 0 13 * *", at("2026-01-01T00:00:00Z"), 1),
        ["2026-01-13T00:00:00Z"]
    );
    assert_eq!(
        crate_firings("0 0 0 * * 6", at("2026-01-01T00:00:00Z"), 1),
        ["2026-01-02T00:00:00Z"]
    );
    // All seven weekdays listed count as unrestricted; a day missing from a month is skipped.
    assert_eq!(
        crate_firings("0 0 0 31 * 1,2,3,4,5,6,7", at("2026-04-01T00:00:00Z"), 1),
        ["2026-05-31T00:00:00Z"]
    );
}

#[test]
fn crate_reads_seconds_first_lists_ranges_and_steps() {
    let start = at("2026-01-01T00:00:00Z");
    assert_eq!(
        crate_firings("0 1-5/2,30 * * * *", start, 4),
        [
            "2026-01-01T00:01:00Z",
            "2026-01-01T00:03:00Z",
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:30:00Z",
        ]
    );
    // `5/15` runs from 5 to the end of the field.
    assert_eq!(
        crate_firings("0 5/15 * * * *", start, 5),
        [
            "2026-01-01T00:05:00Z",
            "2026-01-01T00:20:00Z",
            "2026-01-01T00:35:00Z",
            "2026-01-01T00:50:00Z",
            "2026-01-01T01:05:00Z",
        ]
    );
    // A step may not exceed the field's maximum, so steps are never passed through.
    assert!("0 */60 * * * *".parse::<Schedule>().is_err());
    // Five fields are not its dialect: the first is seconds.
    assert!("0 4 * * *".parse::<Schedule>().is_err());
}

#[test]
fn crate_after_is_strictly_after_to_the_second() {
    let s = crate_schedule("0 * * * * *");
    let t = at("2026-01-01T00:00:00Z");
    let next = |from: DateTime<Utc>| s.after(&from).next().expect("fires");
    assert_eq!(next(t), t + TimeDelta::minutes(1));
    assert_eq!(next(t - TimeDelta::milliseconds(1)), t);
    assert_eq!(
        next(t + TimeDelta::milliseconds(500)),
        t + TimeDelta::minutes(1)
    );
}

#[test]
fn crate_knows_only_the_years_1970_to_2100() {
    assert_eq!(
        crate_firings("0 0 0 1 1 *", at("2099-06-01T00:00:00Z"), 3),
        ["2100-01-01T00:00:00Z"]
    );
    // Feb 29 after 2096 is in 2104, past its range.
    assert!(crate_firings("0 0 0 29 2 *", at("2097-01-01T00:00:00Z"), 1).is_empty());
    assert!("0 0 0 1 1 * 2101".parse::<Schedule>().is_err());
    assert!("0 0 0 1 1 * 1969".parse::<Schedule>().is_err());
    // Nor before: the evening of 1969-12-31 in New York is skipped.
    let ny: Tz = "America/New_York".parse().expect("zone");
    let first = crate_schedule("0 0 20 * * *")
        .after(&DateTime::<Utc>::UNIX_EPOCH.with_timezone(&ny))
        .next()
        .expect("fires");
    assert_eq!(first.to_utc(), at("1970-01-02T01:00:00Z"));
    // An explicit year list bounds its search.
    assert_eq!(
        crate_firings("0 0 0 1 1 * 2000-2001", at("1999-06-01T00:00:00Z"), 3),
        ["2000-01-01T00:00:00Z", "2001-01-01T00:00:00Z"]
    );
}

#[test]
fn crate_after_in_a_zone_skips_gaps_and_yields_both_occurrences() {
    let ny: Tz = "America/New_York".parse().expect("zone");
    // 02:30 does not exist on 2026-03-08: that day has no firing.
    assert_eq!(
        crate_firings(
            "0 30 2 * * *",
            at("2026-03-07T12:00:00Z").with_timezone(&ny),
            2
        ),
        ["2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    );
    // 01:30 happens twice on 2026-11-01: both are yielded, the earlier first.
    assert_eq!(
        crate_firings(
            "0 30 1 * * *",
            at("2026-10-31T12:00:00Z").with_timezone(&ny),
            3
        ),
        [
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-02T06:30:00Z"
        ]
    );
    // Searching from inside the first 01:00-01:59 misses the second 01:30 (06:30Z)...
    assert_eq!(
        crate_firings(
            "0 30 * * * *",
            at("2026-11-01T05:45:00Z").with_timezone(&ny),
            1
        ),
        ["2026-11-01T07:30:00Z"]
    );
    // ...and from inside the second it yields the first 01:30 again, before the start.
    assert_eq!(
        crate_firings(
            "0 30 * * * *",
            at("2026-11-01T06:10:00Z").with_timezone(&ny),
            1
        ),
        ["2026-11-01T05:30:00Z"]
    );
}
