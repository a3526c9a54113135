use super::*;

// ---- Cross-check against a brute-force reference ----

/// The day and time rules, written out independently of the `cron` crate.
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
    for (zone, switch) in cases {
        agrees_with_the_reference_around(zone, switch, &PATTERNS);
    }
}

#[test]
fn agrees_with_a_brute_force_reference_far_from_today() {
    // Years the cron crate does not know, searched through their twins in 2000-2027: 2100 is
    // no leap year, 2400 is one, and a zone ahead of UTC reaches year 5000 before UTC does.
    for (zone, at) in [
        ("UTC", "2100-02-28T12:00:00Z"),
        ("America/New_York", "2100-12-31T12:00:00Z"),
        ("Europe/Berlin", "2101-03-27T00:00:00Z"),
        ("Pacific/Kiritimati", "2400-02-29T00:00:00Z"),
        ("Asia/Kolkata", "3999-12-31T20:00:00Z"),
        ("Pacific/Kiritimati", "4999-12-30T00:00:00Z"),
    ] {
        agrees_with_the_reference_around(zone, at, &PATTERNS);
    }
}

const PATTERNS: [&str; 16] = [
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

/// Checks every pattern in `zone` against the reference for 36 hours either side of `at`.
fn agrees_with_the_reference_around(zone: &str, at: &str, patterns: &[&str]) {
    let tz: Tz = zone.parse().expect("zone");
    let at = ms(at) as i64;
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
        assert_eq!(got, want, "{expr} around {}", utc(at as u64));
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
