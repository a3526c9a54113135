//! QStash schedule cron expressions (`Upstash-Cron`). This module owns parsing an expression,
//! echoing it back, and computing when a schedule fires next. It is pure: no clock, no I/O.
//!
//! An expression is the standard 5-field Unix cron at minute resolution, `minute hour
//! day-of-month month day-of-week`, with `*`, lists (`1,15`), ranges (`1-5`) and steps (`*/10`,
//! `1-30/2`, and `5/15`, which means `5-59/15`). Month (`JAN`–`DEC`) and weekday (`SUN`–`SAT`)
//! names are case-insensitive and allowed only in their own field. Sunday is `0` or `7`, and a
//! weekday range may end on it (`FRI-SUN`, `5-0`). `?` is accepted as `*` in the two day
//! fields. Day-of-month and day-of-week follow the classic Vixie rule: when both are
//! restricted, a day matches if either matches; when one is unrestricted only the other counts.
//! A day field counts as unrestricted when it is `*`, `?` or `*/1` (an item of `*`/`?` with no
//! step above 1, as in robfig/cron); `*/2` is restricted. The aliases `@yearly`, `@annually`,
//! `@monthly`, `@weekly` (Sunday 00:00), `@daily`, `@midnight` and `@hourly` are accepted,
//! case-insensitive; `@every` and `@reboot` are not. Six fields (seconds) or any count other
//! than five is an error, and so are the extensions `L`, `W`, `#` and `+` of other dialects,
//! which standard cron lacks.
//!
//! An optional `CRON_TZ=<IANA zone> ` prefix (or its alias `TZ=<zone> `, as in robfig/cron;
//! the keys are case-sensitive) evaluates the fields in that zone; the default is UTC. The
//! expression is stored trimmed, prefix kept, exactly as it is echoed back.
//!
//! Daylight saving time follows Vixie cron. A *wildcard* job, one whose minute or hour field
//! uses `*` and that can fire more than once a day (`0 * * * *`, `*/15 * * * *`), follows
//! real time: it fires at every real instant whose local wall clock matches, so a repeated
//! local hour fires twice and a skipped one not at all. Every other job is *fixed-time*
//! (`30 2 * * *`, `0,30 1 * * *`, `0 9-17 * * 1-5`): a local time that does not exist
//! (spring forward) fires at the first valid minute after the gap (03:00 for 02:30 in New
//! York), and a local time that occurs twice (fall back) fires once, at its first occurrence.
//!
//! The `cron` crate finds the matching wall clock times (see `search`) and this module maps
//! them to instants. The crate's own zone-aware search is not used: it drops a skipped local
//! time and yields a repeated one twice, which suits wildcard jobs but not fixed-time ones;
//! started inside the first pass through a repeated hour it misses the second pass, which
//! wildcard jobs need; and it knows only the years 1970-2100. A pattern that can never
//! fire (`0 0 30 2 *`) parses, and `next_after` answers `None` at once. Firings are found up to
//! 5000-01-01T00:00Z; a later one, or a start from then on, gives `None`.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

mod parse;
mod search;
#[cfg(test)]
mod tests;

use parse::Fields;
use search::WallSearch;

/// The last instant a firing may fall on: 5000-01-01T00:00:00Z, in Unix ms.
const SEARCH_LIMIT_MS: i64 = 95_617_584_000_000;
/// The most wall clock matches a search steps over before it gives up; only absurd zone
/// histories come near it (a skipped or repeated span of more than a day).
const MAX_STEPS: usize = 4_000;
/// The longest gap in local time, in minutes, a search is carried across.
const MAX_GAP_MINUTES: usize = 2 * 24 * 60;

/// A parsed schedule cron expression.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The expression as given, trimmed.
    expr: String,
    tz: Tz,
    search: WallSearch,
    /// Whether the job is fixed-time (see the module docs) rather than wildcard.
    fixed: bool,
    /// The day fields can never match (`0 0 30 2 *`).
    never: bool,
}

/// Why an expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("empty cron expression")]
    Empty,
    #[error(
        "invalid cron expression {expr:?}: expected 5 fields (minute hour day-of-month month \
         day-of-week), got {got}{}",
        seconds_hint(.got)
    )]
    FieldCount { expr: String, got: usize },
    #[error("unknown time zone {zone:?} in {prefix}")]
    UnknownTimeZone { zone: String, prefix: &'static str },
    #[error("invalid {field} field {value:?}: {reason}")]
    InvalidField {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid cron expression {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
}

fn seconds_hint(got: &usize) -> &'static str {
    if *got == 6 {
        " (a seconds field is not supported)"
    } else {
        ""
    }
}

impl CronSchedule {
    /// Parses an `Upstash-Cron` value; the module docs give the grammar and its choices.
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return Err(CronError::Empty);
        }
        let invalid = |reason: String| CronError::Invalid {
            expr: trimmed.to_string(),
            reason,
        };
        let (tz, body) = split_zone(trimmed)?;
        let body = expand_alias(body).map_err(invalid)?;
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(CronError::FieldCount {
                expr: trimmed.to_string(),
                got: fields.len(),
            });
        };
        let f = Fields::parse([minute, hour, dom, month, dow])?;
        let search = WallSearch::new(&f).map_err(invalid)?;
        Ok(Self {
            expr: trimmed.to_string(),
            tz,
            search,
            fixed: !f.is_wildcard_job(),
            never: !f.can_fire(),
        })
    }

    /// The expression as stored and echoed: trimmed, prefix kept.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `after_ms` (Unix ms), in Unix ms (always a whole minute in the schedule's zone), or None if it never fires again.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        if self.never {
            return None;
        }
        let ms = i64::try_from(after_ms).ok()?;
        if ms >= SEARCH_LIMIT_MS {
            return None;
        }
        let t0 = DateTime::<Utc>::from_timestamp_millis(ms)?;
        let next = if self.fixed {
            self.next_fixed(t0)?
        } else {
            self.next_real(t0)?
        };
        let next = next.timestamp_millis();
        u64::try_from(next).ok().filter(|_| next <= SEARCH_LIMIT_MS)
    }

    fn wall(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.tz).naive_local()
    }

    /// The next firing of a fixed-time job. Each wall clock match maps to one instant: its
    /// only one, the earlier of two, or the first valid minute after a gap. That map never
    /// goes backwards as the wall clock advances, and every wall clock time up to `t0`'s own
    /// maps to `t0` or before, so the answer is the first match after it that maps past `t0`.
    /// Only the rest of a repeated hour, or a gap that maps onto `t0`, is stepped over.
    fn next_fixed(&self, t0: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = self.wall(t0);
        for _ in 0..MAX_STEPS {
            let matched = self.search.next_after(wall)?;
            if let Some(at) = self.first_instant(matched) {
                if at > t0 {
                    return Some(at);
                }
            }
            wall = matched;
        }
        None
    }

    /// The next firing of a wildcard job: the first real instant after `t0` whose wall clock
    /// matches. It shows a wall clock time after `t0`'s own, or, when `t0` is in the first
    /// pass through a repeated span, one up to `t0`'s own on the second pass.
    fn next_real(&self, t0: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let ahead = self.real_after_wall(t0);
        let again = self.repeated_after(t0);
        match (ahead, again) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The first instant after `t0` showing a match later than `t0`'s wall clock. From `t0` on,
    /// wall clock and real time advance together up to the next repeated span, where a match's
    /// first pass comes before the later matches' second, so the first match (in wall clock
    /// order) with an instant past `t0` gives the earliest such instant.
    fn real_after_wall(&self, t0: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = self.wall(t0);
        for _ in 0..MAX_STEPS {
            let matched = self.search.next_after(wall)?;
            match self.tz.from_local_datetime(&matched) {
                LocalResult::Single(at) if at > t0 => return Some(at.to_utc()),
                LocalResult::Ambiguous(first, second) if first > t0 || second > t0 => {
                    return Some(if first > t0 { first } else { second }.to_utc())
                }
                LocalResult::None => {
                    // Go on from the first valid minute after the gap, that minute included.
                    let resume = self.wall(self.first_instant(matched)?);
                    wall = resume - TimeDelta::seconds(1);
                    continue;
                }
                _ => {}
            }
            wall = matched;
        }
        None
    }

    /// When `t0` is in the first pass through a repeated span, the first instant of the second
    /// pass that shows a match up to `t0`'s wall clock time.
    fn repeated_after(&self, t0: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let wall = self.wall(t0);
        let LocalResult::Ambiguous(first, second) = self.tz.from_local_datetime(&wall) else {
            return None;
        };
        if first.to_utc() != t0 {
            return None;
        }
        // The span repeats by the difference of the two offsets; search all of it.
        let mut from = wall - (second.to_utc() - first.to_utc()) - TimeDelta::seconds(1);
        for _ in 0..MAX_STEPS {
            let matched = self.search.next_after(from).filter(|m| *m <= wall)?;
            if let LocalResult::Ambiguous(_, second) = self.tz.from_local_datetime(&matched) {
                if second > t0 {
                    return Some(second.to_utc());
                }
            }
            from = matched;
        }
        None
    }

    /// The earliest real instant showing `wall`, or, when the clock skips it, the first
    /// whole local minute after the gap.
    fn first_instant(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut wall = wall;
        for _ in 0..=MAX_GAP_MINUTES {
            match self.tz.from_local_datetime(&wall) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                    return Some(at.to_utc())
                }
                LocalResult::None => wall = wall.checked_add_signed(TimeDelta::minutes(1))?,
            }
        }
        None
    }
}

/// Splits an optional `CRON_TZ=<zone>` or `TZ=<zone>` prefix off a trimmed expression.
fn split_zone(trimmed: &str) -> Result<(Tz, &str), CronError> {
    let (first, rest) = trimmed
        .split_once(char::is_whitespace)
        .unwrap_or((trimmed, ""));
    let Some((key, zone)) = first.split_once('=') else {
        return Ok((chrono_tz::UTC, trimmed));
    };
    let prefix = match key {
        "CRON_TZ" => "CRON_TZ",
        "TZ" => "TZ",
        _ => {
            return Err(CronError::Invalid {
                expr: trimmed.to_string(),
                reason: format!("unknown prefix {key:?} (expected CRON_TZ=<zone> or TZ=<zone>)"),
            })
        }
    };
    let tz = Tz::from_str(zone).map_err(|_| CronError::UnknownTimeZone {
        zone: zone.to_string(),
        prefix,
    })?;
    Ok((tz, rest.trim_start()))
}

/// Replaces a `@name` alias by its five fields; anything else is returned unchanged.
fn expand_alias(body: &str) -> Result<&str, String> {
    if !body.starts_with('@') {
        return Ok(body);
    }
    let name = body.split_whitespace().next().unwrap_or(body);
    let fields = match name.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => {
            return Err(format!(
                "unsupported alias {name:?} (supported: @yearly, @annually, @monthly, \
                 @weekly, @daily, @midnight, @hourly)"
            ))
        }
    };
    if body.len() != name.len() {
        return Err(format!("alias {name:?} takes no fields after it"));
    }
    Ok(fields)
}
