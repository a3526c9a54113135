use super::*;

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
    // `?` and `*/1` are unrestricted too, as in Vixie cron and robfig/cron.
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
