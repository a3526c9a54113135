//! Property tests for every parser of user input: none panics on arbitrary input, and each
//! reads back what a well-formed input says (round trips and consistency with the other
//! spellings). Case counts are kept moderate so `cargo test` stays fast; `cargo fuzz` (see
//! `fuzz/README.md`) explores the same parsers for far longer.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::Uri;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use qstash_dev::api::extract::query::Query;
use qstash_dev::api::normalize_path;
use qstash_dev::api::publish::batch::parse_item;
use qstash_dev::api::publish::destination;
use qstash_dev::api::publish::upstash::{merge_sources, parse, parse_redact};
use qstash_dev::delivery::hints::{parse_hint_value, retry_after_hint, MAX_HINT};
use qstash_dev::engine::cron::CronSchedule;
use qstash_dev::engine::expr::{RetryDelayExpr, MAX_DELAY_MS};
use qstash_dev::engine::limits::flow::{parse_period, parse_value, MAX_PERIOD_SECS};
use qstash_dev::engine::store::logs::{Cursor, State};
use qstash_dev::engine::syntax::duration::parse_duration;
use qstash_dev::ids::parse_stream_id;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary text, biased towards the characters the parsers care about.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9a-zA-Z +*/(),.=:;?&%_#@\\[\\]\t-]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

// ---------------------------------------------------------------- retry-delay expressions

/// A small arithmetic expression and its exact value at `retried = R`.
#[derive(Debug, Clone)]
enum Ast {
    Num(i64),
    Retried,
    Neg(Box<Ast>),
    Add(Box<Ast>, Box<Ast>),
    Sub(Box<Ast>, Box<Ast>),
    Mul(Box<Ast>, Box<Ast>),
    Min(Box<Ast>, Box<Ast>),
    Max(Box<Ast>, Box<Ast>),
    Abs(Box<Ast>),
}

const R: i64 = 3;

impl Ast {
    fn value(&self) -> i64 {
        match self {
            Ast::Num(n) => *n,
            Ast::Retried => R,
            Ast::Neg(a) => -a.value(),
            Ast::Add(a, b) => a.value() + b.value(),
            Ast::Sub(a, b) => a.value() - b.value(),
            Ast::Mul(a, b) => a.value() * b.value(),
            Ast::Min(a, b) => a.value().min(b.value()),
            Ast::Max(a, b) => a.value().max(b.value()),
            Ast::Abs(a) => a.value().abs(),
        }
    }

    /// Fully parenthesised, with the given spacing and name case.
    fn render(&self, sp: &str, upper: bool) -> String {
        let name = |n: &str| {
            if upper {
                n.to_ascii_uppercase()
            } else {
                n.to_string()
            }
        };
        let bin = |a: &Ast, op: &str, b: &Ast| {
            format!(
                "({sp}{}{sp}{op}{sp}{}{sp})",
                a.render(sp, upper),
                b.render(sp, upper)
            )
        };
        let call = |f: &str, args: &[&Ast]| {
            let args: Vec<String> = args.iter().map(|a| a.render(sp, upper)).collect();
            format!(
                "{}{sp}({sp}{}{sp})",
                name(f),
                args.join(&format!("{sp},{sp}"))
            )
        };
        match self {
            Ast::Num(n) => n.to_string(),
            Ast::Retried => name("retried"),
            Ast::Neg(a) => format!("-{sp}{}", a.render(sp, upper)),
            Ast::Add(a, b) => bin(a, "+", b),
            Ast::Sub(a, b) => bin(a, "-", b),
            Ast::Mul(a, b) => bin(a, "*", b),
            Ast::Min(a, b) => call("min", &[a, b]),
            Ast::Max(a, b) => call("max", &[a, b]),
            Ast::Abs(a) => call("abs", &[a]),
        }
    }
}

fn ast() -> impl Strategy<Value = Ast> {
    let leaf = prop_oneof![(0i64..=20).prop_map(Ast::Num), Just(Ast::Retried)];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| Ast::Neg(Box::new(a))),
            inner.clone().prop_map(|a| Ast::Abs(Box::new(a))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Add(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Sub(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Mul(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Min(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Ast::Max(Box::new(a), Box::new(b))),
        ]
    })
}

fn clamp_delay(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0).min(MAX_DELAY_MS)
}

/// Borrowed pairs, as the publish handler hands them to the parser.
fn cows(pairs: &[(String, String)]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    pairs
        .iter()
        .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
        .collect()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn expr_never_panics(src in text(), retried in any::<u32>()) {
        if let Ok(e) = RetryDelayExpr::parse(&src) {
            prop_assert!(e.delay_ms(retried) <= MAX_DELAY_MS);
            prop_assert_eq!(RetryDelayExpr::parse(e.as_str()), Ok(e.clone()));
        }
    }

    #[test]
    fn expr_of_an_integer_is_that_integer(n in 0u64..=1u64 << 50, retried in any::<u32>(), pad in " {0,3}") {
        let e = RetryDelayExpr::parse(&format!("{pad}{n}{pad}")).unwrap();
        prop_assert_eq!(e.delay_ms(retried), n.min(MAX_DELAY_MS));
        prop_assert_eq!(e.as_str(), n.to_string());
    }

    #[test]
    fn expr_evaluates_like_integer_arithmetic(a in ast(), spaced in any::<bool>(), upper in any::<bool>()) {
        let sp = if spaced { " " } else { "" };
        let src = a.render(sp, upper);
        let e = RetryDelayExpr::parse(&src).unwrap();
        prop_assert_eq!(e.delay_ms(R as u32), clamp_delay(a.value()), "{}", src);
        // Spacing and the case of names do not matter.
        let other = RetryDelayExpr::parse(&a.render(if spaced { "" } else { "  " }, !upper)).unwrap();
        prop_assert_eq!(other.delay_ms(R as u32), e.delay_ms(R as u32));
    }
}

// ---------------------------------------------------------------- durations

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn duration_never_panics(s in text()) {
        if let Err(e) = parse_duration(&s) {
            prop_assert!(e.input().chars().count() <= 65);
            let _ = e.to_string();
        }
    }

    #[test]
    fn duration_parts_sum(
        parts in proptest::collection::vec((0u64..100_000, prop::sample::select(vec!["d", "h", "m", "s", "ms"])), 1..6),
        pad in " {0,2}",
    ) {
        let src: String = parts.iter().map(|(n, u)| format!("{n}{u}")).collect();
        let want: Duration = parts
            .iter()
            .map(|&(n, u)| match u {
                "d" => Duration::from_secs(n * 86_400),
                "h" => Duration::from_secs(n * 3_600),
                "m" => Duration::from_secs(n * 60),
                "s" => Duration::from_secs(n),
                _ => Duration::from_millis(n),
            })
            .sum();
        prop_assert_eq!(parse_duration(&format!("{pad}{src}{pad}")), Ok(want));
    }

    #[test]
    fn duration_dhms_round_trip(d in 0u64..1_000, h in 0u64..24, m in 0u64..60, s in 0u64..60) {
        let total = Duration::from_secs(((d * 24 + h) * 60 + m) * 60 + s);
        let mut src = String::new();
        for (n, u) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
            if n > 0 {
                src.push_str(&format!("{n}{u}"));
            }
        }
        if src.is_empty() {
            src.push_str("0s");
        }
        prop_assert_eq!(parse_duration(&src), Ok(total));
        prop_assert_eq!(parse_duration(&total.as_secs().to_string()), Ok(total));
        prop_assert_eq!(parse_period(&src).ok(), (1..=MAX_PERIOD_SECS).contains(&total.as_secs()).then_some(total.as_secs()));
    }

    #[test]
    fn negative_durations_are_rejected(s in "[0-9a-z]{0,10}") {
        let negative = format!("-{s}");
        prop_assert!(parse_duration(&negative).is_err());
    }
}

// ---------------------------------------------------------------- retry-after hints

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn hints_never_panic(s in text(), now in any::<u32>()) {
        if let Some(wait) = parse_hint_value(&s, at(u64::from(now))) {
            prop_assert!(wait <= MAX_HINT);
        }
    }

    #[test]
    fn hint_seconds(n in 0u64..1_000_000_000) {
        let got = parse_hint_value(&n.to_string(), at(1_700_000_000));
        prop_assert_eq!(got, (n <= 86_400).then(|| Duration::from_secs(n)));
    }

    #[test]
    fn hint_unix_timestamps_and_dates(now in 1_000_000_001u64..4_000_000_000, ahead in 0u64..200_000, past in any::<bool>()) {
        let target = if past { now.saturating_sub(ahead) } else { now + ahead };
        let want = if past { Some(Duration::ZERO) } else { (ahead <= 86_400).then(|| Duration::from_secs(ahead)) };
        let date = httpdate::fmt_http_date(at(target));
        prop_assert_eq!(parse_hint_value(&date, at(now)), want, "{}", date);
        if target > 1_000_000_000 {
            prop_assert_eq!(parse_hint_value(&target.to_string(), at(now)), want);
        }
    }

    #[test]
    fn hint_go_durations(h in 0u64..30, m in 0u64..200, s in 0u64..200, ms in 0u64..5_000, frac in 0u64..1_000) {
        let src = format!("{h}h{m}m{s}.{frac:03}s{ms}ms");
        let want = Duration::from_secs(h * 3_600 + m * 60 + s)
            + Duration::from_millis(frac + ms);
        let got = parse_hint_value(&src, at(0));
        prop_assert_eq!(got, (want <= MAX_HINT).then_some(want), "{}", src);
        prop_assert_eq!(parse_hint_value(&format!("+{src}"), at(0)), got);
        prop_assert_eq!(parse_hint_value(&format!("-{src}"), at(0)), None);
    }

    #[test]
    fn hint_garbage_falls_through(garbage in "[a-z!]{1,8}", n in 0u64..86_400) {
        let secs = n.to_string();
        let headers = [("retry-after", garbage.as_str()), ("X-RATELIMIT-RESET", secs.as_str())];
        prop_assert_eq!(retry_after_hint(headers, at(0)), Some(Duration::from_secs(n)));
    }
}

// ---------------------------------------------------------------- cron

/// One item of a cron field with values in `lo..=hi`.
fn cron_item(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1..=hi.max(2)).prop_map(|s| format!("*/{s}")),
        (lo..=hi, lo..=hi, 1..=5u32).prop_map(|(a, b, s)| format!("{}-{}/{s}", a.min(b), a.max(b))),
    ]
}

fn cron_field(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("*".to_string()),
        3 => proptest::collection::vec(cron_item(lo, hi), 1..4).prop_map(|v| v.join(",")),
    ]
}

/// A valid 5-field expression whose day of month is at most 28 (so it always fires).
fn cron_expr() -> impl Strategy<Value = String> {
    (
        cron_field(0, 59),
        cron_field(0, 23),
        cron_field(1, 28),
        cron_field(1, 12),
        cron_field(0, 7),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
}

const ZONES: [&str; 5] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];

/// Unix ms up to the year 2100.
const YEAR_2100_MS: u64 = 4_102_444_800_000;

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn cron_never_panics(s in text(), t in 0u64..YEAR_2100_MS) {
        if let Ok(c) = CronSchedule::parse(&s) {
            if let Some(next) = c.next_after(t) {
                prop_assert!(next > t);
            }
        }
    }

    #[test]
    fn cron_next_is_the_next_whole_minute_firing(expr in cron_expr(), t in 0u64..YEAR_2100_MS) {
        let c = CronSchedule::parse(&expr).unwrap();
        prop_assert_eq!(c.as_str(), expr.as_str());
        let next = c.next_after(t).unwrap();
        prop_assert!(next > t);
        prop_assert_eq!(next % 60_000, 0);
        prop_assert_eq!(c.next_after(next - 1), Some(next));
        let after = c.next_after(next).unwrap();
        prop_assert!(after > next);
        prop_assert_eq!(after % 60_000, 0);
    }

    #[test]
    fn cron_in_a_zone(expr in cron_expr(), zone in prop::sample::select(ZONES.to_vec()), t in 0u64..YEAR_2100_MS) {
        let c = CronSchedule::parse(&format!("CRON_TZ={zone} {expr}")).unwrap();
        let next = c.next_after(t).unwrap();
        prop_assert!(next > t);
        prop_assert_eq!(next % 60_000, 0);
        prop_assert_eq!(c.next_after(next - 1), Some(next), "{} {} after {}", zone, expr, t);
        prop_assert!(c.next_after(next).unwrap() > next);
    }

    #[test]
    fn cron_names_mean_their_numbers(mon in 1usize..=12, dow in 0usize..=6, t in 0u64..YEAR_2100_MS, lower in any::<bool>()) {
        const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
        const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
        let (m, d) = (MONTHS[mon - 1], DAYS[dow]);
        let (m, d) = if lower { (m.to_lowercase(), d.to_lowercase()) } else { (m.to_string(), d.to_string()) };
        let named = CronSchedule::parse(&format!("0 12 * {m} {d}")).unwrap();
        let numeric = CronSchedule::parse(&format!("0 12 * {mon} {dow}")).unwrap();
        prop_assert_eq!(named.next_after(t), numeric.next_after(t));
    }
}

// ---------------------------------------------------------------- flow-control values

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn flow_value_never_panics(s in text()) {
        if let Ok((p, r, period)) = parse_value(&s) {
            prop_assert!(p.is_some() || r.is_some());
            prop_assert!(p != Some(0) && r != Some(0));
            prop_assert!(period.is_none_or(|p| (1..=MAX_PERIOD_SECS).contains(&p)));
        }
        if let Ok(p) = parse_period(&s) {
            prop_assert!((1..=MAX_PERIOD_SECS).contains(&p));
        }
    }

    #[test]
    fn flow_value_round_trip(
        parallelism in proptest::option::of(1u32..),
        rate in proptest::option::of(1u32..),
        period in proptest::option::of(1u64..=MAX_PERIOD_SECS),
        as_duration in any::<bool>(),
        upper in any::<bool>(),
        order in Just(()).prop_perturb(|_, mut rng| rng.next_u32()),
        sp in " {0,2}",
    ) {
        prop_assume!(parallelism.is_some() || rate.is_some());
        let key = |k: &str| if upper { k.to_ascii_uppercase() } else { k.to_string() };
        let period_text = |p: u64| {
            if !as_duration {
                return p.to_string();
            }
            let (d, h, m, s) = (p / 86_400, p / 3_600 % 24, p / 60 % 60, p % 60);
            let parts: String = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, u)| format!("{n}{u}"))
                .collect();
            parts
        };
        let mut parts = Vec::new();
        if let Some(p) = parallelism {
            parts.push(format!("{}{sp}={sp}{p}", key("parallelism")));
        }
        if let Some(r) = rate {
            parts.push(format!("{}{sp}={sp}{r}", key("rate")));
        }
        if let Some(p) = period {
            parts.push(format!("{}{sp}={sp}{}", key("period"), period_text(p)));
        }
        let n = parts.len();
        parts.rotate_left(order as usize % n);
        let src = parts.join(&format!("{sp},{sp}"));
        prop_assert_eq!(parse_value(&src), Ok((parallelism, rate, period)), "{}", src);
    }

    #[test]
    fn flow_zero_is_rejected(which in prop::sample::select(vec!["parallelism", "rate"])) {
        let zero = format!("{which}=0");
        prop_assert!(parse_value(&zero).is_err());
    }
}

// ---------------------------------------------------------------- publish headers

const CONFIG_HEADERS: [&str; 24] = [
    "content-type",
    "upstash-method",
    "upstash-delay",
    "upstash-not-before",
    "upstash-retries",
    "upstash-retry-delay",
    "upstash-timeout",
    "upstash-deduplication-id",
    "upstash-content-based-deduplication",
    "upstash-label",
    "upstash-header-forward",
    "upstash-redact-fields",
    "upstash-callback",
    "upstash-failure-callback",
    "upstash-callback-retries",
    "upstash-failure-callback-timeout",
    "upstash-callback-forward-x-a",
    "upstash-forward-x-b",
    "upstash-workflow-runid",
    "upstash-workflow-init",
    "upstash-flow-control-key",
    "upstash-flow-control-value",
    "upstash-feature-set",
    "x-custom",
];

fn header_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        3 => prop::sample::select(CONFIG_HEADERS.to_vec()).prop_map(str::to_string),
        1 => "[a-z-]{0,20}",
    ];
    proptest::collection::vec((name, text()), 0..8)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn publish_headers_never_panic(pairs in header_pairs(), query in header_pairs()) {
        let _ = parse(&pairs);
        let _ = parse(&merge_sources(cows(&pairs), &query));
        for (_, v) in &pairs {
            let _ = parse_redact("upstash-redact-fields", v);
        }
    }

    #[test]
    fn publish_headers_read_back(
        retries in any::<u32>(),
        d in 0u64..100, h in 0u64..24, m in 0u64..60,
        not_before in any::<u64>(),
        method in prop::sample::select(vec!["get", "Post", "PUT", "patch", "DELETE"]),
        labels in proptest::collection::vec("[a-z0-9]{1,8}", 1..4),
    ) {
        let pairs = vec![
            ("upstash-retries".to_string(), format!(" {retries} ")),
            ("upstash-delay".to_string(), format!("{d}d{h}h{m}m")),
            ("upstash-not-before".to_string(), not_before.to_string()),
            ("upstash-method".to_string(), method.to_string()),
            ("upstash-label".to_string(), labels.join(" , ")),
        ];
        let o = parse(&pairs).unwrap();
        prop_assert_eq!(o.retries, Some(retries));
        prop_assert_eq!(o.delay, Some(Duration::from_secs(((d * 24 + h) * 60 + m) * 60)));
        prop_assert_eq!(o.not_before_s, Some(not_before));
        let upper = method.to_ascii_uppercase();
        prop_assert_eq!(o.method, Some(upper.as_str()));
        prop_assert_eq!(o.labels, Some(labels));
    }

    #[test]
    fn publish_flow_control_reads_back(
        key in "[a-zA-Z0-9_-]{1,12}",
        parallelism in 1u32..1_000,
        rate in proptest::option::of(1u32..1_000),
        period in proptest::option::of(1u64..=MAX_PERIOD_SECS),
    ) {
        let mut value = format!("parallelism={parallelism}");
        if let Some(r) = rate {
            value.push_str(&format!(", rate={r}"));
        }
        if let Some(p) = period {
            value.push_str(&format!(", period={p}s"));
        }
        let pairs = vec![
            ("upstash-flow-control-key".to_string(), format!(" {key} ")),
            ("upstash-flow-control-value".to_string(), value),
        ];
        let flow = parse(&pairs).unwrap().flow.unwrap();
        prop_assert_eq!(flow.key, key);
        prop_assert_eq!(flow.parallelism, Some(parallelism));
        prop_assert_eq!(flow.rate, rate);
        prop_assert_eq!(flow.period, period.unwrap_or(1));
        // Either half alone is a 400.
        prop_assert!(parse(&pairs[..1]).is_err());
        prop_assert!(parse(&pairs[1..]).is_err());
    }

    #[test]
    fn redact_fields_read_back(body in any::<bool>(), all in any::<bool>(), names in proptest::collection::vec("[a-z][a-z-]{0,10}", 0..4)) {
        let mut parts = Vec::new();
        if body {
            parts.push("BODY".to_string());
        }
        if all {
            parts.push("headers".to_string());
        }
        parts.extend(names.iter().map(|n| format!("header[{n}]")));
        let r = parse_redact("upstash-redact-fields", &parts.join(", ")).unwrap();
        prop_assert_eq!(r.body, body);
        prop_assert_eq!(r.all_headers, all);
        prop_assert_eq!(r.headers.len(), names.len());
        for (got, n) in r.headers.iter().zip(&names) {
            prop_assert!(got.eq_ignore_ascii_case(n));
        }
    }

    #[test]
    fn merged_sources_keep_headers_first(headers in header_pairs(), query in header_pairs()) {
        let merged = merge_sources(cows(&headers), &query);
        prop_assert_eq!(&merged[..headers.len()], &cows(&headers)[..]);
        for (k, v) in &merged[headers.len()..] {
            prop_assert!(k.starts_with("upstash-"));
            prop_assert!(!headers.iter().any(|(h, _)| h == k));
            prop_assert!(query.iter().any(|(q, qv)| q.to_ascii_lowercase() == *k && qv == v));
        }
    }
}

// ---------------------------------------------------------------- destinations and queries

/// Characters that need no escaping in a query string.
const QUERY_TEXT: &str = "[a-zA-Z0-9._~-]{0,8}";

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn destination_never_panics(s in text()) {
        if let Ok(uri) = Uri::try_from(format!("/v2/publish/{s}")) {
            let (_, config) = destination(&uri, "/v2/publish/");
            prop_assert!(config.iter().all(|(k, _)| k.starts_with("upstash-")));
        }
    }

    #[test]
    fn destination_keeps_its_params_in_order(
        host in "[a-z]{1,10}\\.(com|dev)",
        path in "(/[a-z0-9]{1,6}){0,3}",
        collapsed in any::<bool>(),
        params in proptest::collection::vec((0u8..4, "[a-z][a-z0-9_]{0,6}", QUERY_TEXT), 0..8),
    ) {
        let base = format!("https://{host}{path}");
        let raw_base = if collapsed { format!("https:/{host}{path}") } else { base.clone() };
        let mut query = Vec::new();
        let (mut kept, mut config) = (Vec::new(), Vec::new());
        for (kind, key, value) in &params {
            match kind {
                0 => query.push(format!("QStash_Token={value}")),
                1 => {
                    query.push(format!("Upstash-{key}={value}"));
                    config.push((format!("upstash-{key}"), value.clone()));
                }
                _ => {
                    let p = format!("{key}={value}");
                    query.push(p.clone());
                    kept.push(p);
                }
            }
        }
        let target = if query.is_empty() {
            format!("/v2/publish/{raw_base}")
        } else {
            format!("/v2/publish/{raw_base}?{}", query.join("&"))
        };
        let uri = Uri::try_from(target).unwrap();
        let (dest, got) = destination(&uri, "/v2/publish/");
        let want = if kept.is_empty() { base } else { format!("{base}?{}", kept.join("&")) };
        prop_assert_eq!(dest, want);
        prop_assert_eq!(got, config);
    }

    #[test]
    fn query_round_trip(pairs in proptest::collection::vec(("[a-zA-Z]{1,6}", any::<String>()), 0..8)) {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        let raw = ser.finish();
        let q = Query::parse(Some(&raw));
        let keys: Vec<&str> = q.keys().collect();
        let want: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(keys, want);
        for (k, _) in &pairs {
            let first = pairs.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v.as_str());
            prop_assert_eq!(q.one(k), first);
        }
    }

    #[test]
    fn query_filters_read_back(
        states in proptest::collection::vec(prop::sample::select(vec!["CREATED", "active", "Retry", "ERROR", "DELIVERED", "FAILED", "CANCEL_REQUESTED", "CANCELED", "cancelled"]), 0..4),
        labels in proptest::collection::vec("[a-z0-9]{1,6}", 0..4),
        from in proptest::option::of(any::<u64>()),
        statuses in proptest::collection::vec(100u16..600, 0..3),
        count in proptest::option::of(any::<u32>()),
        max in 1usize..2_000,
    ) {
        let mut raw = vec![format!("state={}", states.join(","))];
        raw.extend(labels.iter().map(|l| format!("label={l}")));
        raw.extend(from.map(|f| format!("fromDate={f}")));
        raw.extend(statuses.iter().map(|s| format!("responseStatus={s}")));
        raw.extend(count.map(|c| format!("count={c}")));
        let q = Query::parse(Some(&raw.join("&")));
        let f = q.filter().unwrap();
        let want: Vec<State> = states.iter().filter_map(|s| State::parse_filter(s)).flatten().collect();
        prop_assert_eq!(f.states, want);
        prop_assert_eq!(f.labels, labels);
        prop_assert_eq!(f.from_date, from);
        prop_assert_eq!(f.response_statuses, statuses);
        let c = q.count(100.min(max), max).unwrap();
        prop_assert_eq!(c, count.map_or(100.min(max), |c| (c as usize).clamp(1, max)));
    }

    #[test]
    fn query_filter_and_count_never_panic(s in text()) {
        let q = Query::parse(Some(&s));
        let _ = q.filter();
        if let Ok(c) = q.count(100, 1000) {
            prop_assert!((1..=1000).contains(&c));
        }
    }
}

// ---------------------------------------------------------------- cursors, ids, paths

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn cursors_and_stream_ids_never_panic(s in text()) {
        let _ = Cursor::parse(&s);
        let _ = State::parse_filter(&s);
        if let Some((ms, seq)) = parse_stream_id(&s) {
            prop_assert_eq!(parse_stream_id(&format!("{ms}-{seq}")), Some((ms, seq)));
        }
    }

    #[test]
    fn cursors_and_stream_ids_round_trip(ms in any::<u64>(), seq in any::<u64>(), pad in " {0,2}") {
        let id = format!("{ms}-{seq}");
        prop_assert_eq!(parse_stream_id(&id), Some((ms, seq)));
        prop_assert_eq!(Cursor::parse(&format!("{pad}{id}{pad}")), Some(Cursor::Seq(seq)));
        prop_assert_eq!(Cursor::parse(&format!("{pad}{ms}{pad}")), Some(Cursor::Time(ms)));
    }

    #[test]
    fn normalize_path_is_idempotent(s in prop_oneof![text(), "(/{1,2}(v2|V2|[a-zA-Z]{1,8}|)){0,5}/?"]) {
        let once = normalize_path(&s);
        prop_assert!(once.starts_with('/'));
        prop_assert_eq!(normalize_path(&once), once.clone());
    }

    #[test]
    fn normalize_path_canonicalises_resources(
        resource in prop::sample::select(vec!["publish", "messages", "schedules", "flowControl", "dlq", "keys"]),
        upper in proptest::collection::vec(any::<bool>(), 12),
        rest in "(/[a-z0-9]{1,5}){0,3}",
        slashes in 1usize..4,
    ) {
        let cased: String = resource
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let path = format!("{}V2/{cased}{rest}", "/".repeat(slashes));
        prop_assert_eq!(normalize_path(&path), format!("/v2/{resource}{rest}"));
    }
}

// ---------------------------------------------------------------- batch items

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(vec!["destination", "headers", "body", "queue"])
                            .prop_map(str::to_string),
                        "[a-zA-Z-]{1,8}",
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn batch_items_never_panic(v in json_value()) {
        if let Ok(item) = parse_item(v) {
            prop_assert!(item.queue.as_deref() != Some(""));
            prop_assert!(item.pairs.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));
        }
    }

    #[test]
    fn batch_item_headers_read_back(
        headers in proptest::collection::btree_map("[A-Za-z-]{1,10}", proptest::collection::vec(text(), 0..3), 0..5),
        as_array in any::<bool>(),
        body in proptest::option::of(text()),
        queue in proptest::option::of("[a-z]{0,5}"),
        dest in "https://[a-z]{1,8}\\.com/[a-z]{0,5}",
    ) {
        // Keys differing only in case would collide once lower-cased; keep one spelling each.
        let mut map = Map::new();
        let mut want = Vec::new();
        for (k, vs) in &headers {
            if map.keys().any(|m: &String| m.eq_ignore_ascii_case(k)) {
                continue;
            }
            if as_array || vs.len() != 1 {
                map.insert(k.clone(), json!(vs));
            } else {
                map.insert(k.clone(), json!(vs[0]));
            }
            want.extend(vs.iter().map(|v| (k.to_ascii_lowercase(), v.clone())));
        }
        let mut item = json!({ "destination": dest, "headers": map, "queue": queue });
        if let Some(b) = &body {
            item["body"] = json!(b);
        }
        let p = parse_item(item).unwrap();
        let mut got: Vec<(String, String)> = p
            .pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want);
        prop_assert_eq!(p.destination, dest);
        prop_assert_eq!(p.queue, queue.filter(|q| !q.is_empty()));
        prop_assert_eq!(&p.body[..], body.as_deref().unwrap_or("").as_bytes());
    }

    #[test]
    fn batch_item_json_bodies_are_compact(v in json_value()) {
        prop_assume!(!matches!(v, Value::Null | Value::String(_)));
        let p = parse_item(json!({ "destination": "https://x.com", "body": v.clone() })).unwrap();
        let compact = v.to_string();
        prop_assert_eq!(&p.body[..], compact.as_bytes());
    }
}
