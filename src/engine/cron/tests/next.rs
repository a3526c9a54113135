use super::*;

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
fn wall_clock_times_before_1970_are_searched() {
    // The first instants of 1970 are the evening of 1969-12-31 in New York (UTC-5).
    assert_eq!(
        firings(
            "CRON_TZ=America/New_York 0 20 * * *",
            "1970-01-01T00:00:00Z",
            2
        ),
        ["1970-01-01T01:00:00Z", "1970-01-02T01:00:00Z"]
    );
    assert_eq!(
        firings(
            "CRON_TZ=America/New_York 0 20 31 12 *",
            "1970-01-01T00:00:00Z",
            2
        ),
        ["1970-01-01T01:00:00Z", "1971-01-01T01:00:00Z"]
    );
    // 1969-12-31 was a Wednesday.
    assert_eq!(
        firings(
            "CRON_TZ=America/New_York 30 23 * * WED",
            "1970-01-01T00:00:00Z",
            1
        ),
        ["1970-01-01T04:30:00Z"]
    );
}

#[test]
fn rare_patterns_find_their_next_firing() {
    let start = "2026-03-01T00:00:00Z";
    assert_eq!(
        firings("0 0 29 2 *", start, 3),
        [
            "2028-02-29T00:00:00Z",
            "2032-02-29T00:00:00Z",
            "2036-02-29T00:00:00Z"
        ]
    );
    // Both day fields restricted: the 31st or a Monday.
    assert_eq!(
        firings("0 0 31 * 1", start, 3),
        [
            "2026-03-02T00:00:00Z",
            "2026-03-09T00:00:00Z",
            "2026-03-16T00:00:00Z"
        ]
    );
    assert_eq!(
        firings("0 0 31 * 1", "2026-03-29T00:00:00Z", 2),
        ["2026-03-30T00:00:00Z", "2026-03-31T00:00:00Z"]
    );
    assert_eq!(
        firings("CRON_TZ=Australia/Lord_Howe 59 23 29 2 *", start, 1),
        ["2028-02-29T12:59:00Z"]
    );
    // The leap years around the centuries: 2100 and 2300 are not, 2400 is.
    assert_eq!(
        firings("0 0 29 2 *", "2288-03-01T00:00:00Z", 3),
        [
            "2292-02-29T00:00:00Z",
            "2296-02-29T00:00:00Z",
            "2304-02-29T00:00:00Z"
        ]
    );
    assert_eq!(
        firings("0 0 29 2 *", "2397-01-01T00:00:00Z", 2),
        ["2400-02-29T00:00:00Z", "2404-02-29T00:00:00Z"]
    );
    // A Friday the 13th in a restricted month only (both day fields restricted: either).
    assert_eq!(
        firings("0 0 13 2 5", "2026-02-14T00:00:00Z", 1),
        ["2026-02-20T00:00:00Z"]
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
    // Firings are found up to the first instant of 5000, and not from there on.
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
