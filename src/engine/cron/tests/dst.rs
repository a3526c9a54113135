use super::*;

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
    // A list of hours is still fixed-time (a zone-aware search alone would skip this 02:30).
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
    // A list is fixed-time too: 01:00 and 01:30 once each, not once per pass.
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
    // The second occurrence is found when starting inside the first.
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
