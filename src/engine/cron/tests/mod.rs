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

mod dialect;
mod dst;
mod fields;
mod next;
mod parsing;
mod reference;
