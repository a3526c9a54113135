use super::*;

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
fn dialect_extensions_and_unknown_aliases_are_rejected() {
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
