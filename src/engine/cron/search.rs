//! The wall clock search: the first local date and time strictly after a given one that the
//! five fields match, found by the `cron` crate. Mapping wall clock times to instants across
//! time zone changes is the caller's business.
//!
//! The crate's dialect differs from Unix cron, so the parsed fields are translated rather than
//! passed through as text. It reads a seconds field first and an optional year field last; its
//! weekdays are 1-7 from Sunday; it combines a restricted day-of-month with a restricted
//! day-of-week by AND; its steps may not exceed the field's maximum (`*/60` is an error); and
//! it knows only the years 1970-2100. So each expression becomes one or two crate schedules of
//! explicit numeric lists, seconds `0`: one when at most one day field restricts, and when both
//! do, one per day field (the other `*`), the match being the earlier of the two (Vixie's OR).
//!
//! Years are mapped onto the crate's range. A year's calendar, the weekday and existence of
//! every date, is fixed by whether it is a leap year and the weekday of its 1 January, and each
//! of those 14 calendars occurs in 2000-2027. So each year is searched in its twin there (its
//! own months, days and weekdays, under another number), and a search that runs out of the twin
//! goes on with the next real year's twin. Years up to [`LAST_YEAR`] are searched.

use ::cron::Schedule;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use std::fmt::Write as _;
use std::ops::RangeInclusive;

use super::parse::Fields;

/// The last year whose wall clock is searched.
pub(super) const LAST_YEAR: i32 = 5000;
/// The years whose calendars stand in for every other year's; all 14 calendars occur here.
const TWINS: RangeInclusive<i32> = 2000..=2027;

/// The crate schedules whose earliest match is the expression's next match.
#[derive(Debug, Clone)]
pub(super) struct WallSearch {
    schedules: Vec<Schedule>,
}

impl WallSearch {
    /// Translates parsed fields into crate schedules; an error is the crate's own message,
    /// which only a bug in the translation can cause.
    pub(crate) fn new(f: &Fields) -> Result<Self, String> {
        let days = list(f.days, 1..=31, 0);
        // The crate numbers weekdays from Sunday = 1; bit 0 of `weekdays` is Sunday.
        let weekdays = list(f.weekdays, 0..=6, 1);
        let day_pairs = match (f.dom_star, f.dow_star) {
            (true, true) => vec![("*", "*")],
            (true, false) => vec![("*", weekdays.as_str())],
            (false, true) => vec![(days.as_str(), "*")],
            (false, false) => vec![(days.as_str(), "*"), ("*", weekdays.as_str())],
        };
        let minutes = list(f.minutes, 0..=59, 0);
        let hours = list(f.hours, 0..=23, 0);
        let months = list(f.months, 1..=12, 0);
        let years = format!("{}-{}", TWINS.start(), TWINS.end());
        let schedules = day_pairs
            .into_iter()
            .map(|(dom, dow)| {
                format!("0 {minutes} {hours} {dom} {months} {dow} {years}")
                    .parse::<Schedule>()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { schedules })
    }

    /// The first matching wall clock minute strictly after `after`, if one exists up to the
    /// end of [`LAST_YEAR`].
    pub(crate) fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        // Matches are whole minutes, so dropping the fraction keeps "strictly after".
        let after = after.with_nanosecond(0)?;
        for year in after.year()..=LAST_YEAR {
            let twin = twin_year(year)?;
            let from = if year == after.year() {
                after.with_year(twin)?
            } else {
                // Strictly after the last second of the year before finds 1 January 00:00.
                NaiveDate::from_ymd_opt(twin, 1, 1)?.and_hms_opt(0, 0, 0)? - TimeDelta::seconds(1)
            };
            if let Some(found) = self.first_in(twin, from) {
                return found.with_year(year);
            }
        }
        None
    }

    /// The earliest match of any schedule strictly after `from` and within the year `twin`.
    fn first_in(&self, twin: i32, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let from = DateTime::<Utc>::from_naive_utc_and_offset(from, Utc);
        self.schedules
            .iter()
            .filter_map(|s| s.after(&from).next())
            .map(|t| t.naive_utc())
            .filter(|t| t.year() == twin)
            .min()
    }
}

/// The year in [`TWINS`] with the same calendar as `year`.
fn twin_year(year: i32) -> Option<i32> {
    let calendar = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).map(|d| (d.leap_year(), d.weekday()));
    let wanted = calendar(year)?;
    TWINS.into_iter().find(|&y| calendar(y) == Some(wanted))
}

/// The values whose bits are set, comma-separated, each plus `offset`.
fn list(bits: u64, range: RangeInclusive<u32>, offset: u32) -> String {
    let mut out = String::new();
    for v in range.filter(|v| bits & (1 << v) != 0) {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{}", v + offset);
    }
    out
}
