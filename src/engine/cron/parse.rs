//! The five fields, checked and parsed into value sets; each error names its field and problem.

use super::CronError;

/// What one field may hold.
struct Spec {
    name: &'static str,
    min: u32,
    /// The highest value written explicitly (7 for day-of-week, Sunday again).
    max: u32,
    /// The highest value `*` and an open step (`5/15`) reach (6 for day-of-week).
    open_max: u32,
    /// Names for `min`, `min + 1`, …, matched case-insensitively.
    names: &'static [&'static str],
    /// Whether `?` is another spelling of `*`.
    question: bool,
}

const MINUTE: Spec = Spec {
    name: "minute",
    min: 0,
    max: 59,
    open_max: 59,
    names: &[],
    question: false,
};
const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    open_max: 23,
    names: &[],
    question: false,
};
const DAY_OF_MONTH: Spec = Spec {
    name: "day-of-month",
    min: 1,
    max: 31,
    open_max: 31,
    names: &[],
    question: true,
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    open_max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    question: false,
};
const DAY_OF_WEEK: Spec = Spec {
    name: "day-of-week",
    min: 0,
    max: 7,
    open_max: 6,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    question: true,
};

/// One parsed field.
struct Field {
    /// Bit `v` set for each value `v` the field matches.
    bits: u64,
    /// Some item is `*` or `?` with no step above 1: the field is unrestricted.
    star: bool,
    /// Some item starts with `*` or `?`.
    uses_star: bool,
}

/// The parsed fields: bit `v` of each set stands for value `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fields {
    pub(crate) minutes: u64,
    pub(crate) hours: u64,
    pub(crate) days: u64,
    pub(crate) months: u64,
    /// Sunday is bit 0 (a `7` is folded into it).
    pub(crate) weekdays: u64,
    pub(crate) dom_star: bool,
    pub(crate) dow_star: bool,
    /// The minute or hour field uses `*`.
    pub(crate) time_star: bool,
}

impl Fields {
    pub(crate) fn parse(fields: [&str; 5]) -> Result<Self, CronError> {
        let [minute, hour, dom, month, dow] = fields;
        let minute = parse_field(&MINUTE, minute)?;
        let hour = parse_field(&HOUR, hour)?;
        let dom = parse_field(&DAY_OF_MONTH, dom)?;
        let month = parse_field(&MONTH, month)?;
        let dow = parse_field(&DAY_OF_WEEK, dow)?;
        let weekdays = (dow.bits | (dow.bits >> 7)) & 0x7f;
        Ok(Self {
            minutes: minute.bits,
            hours: hour.bits,
            days: dom.bits,
            months: month.bits,
            weekdays,
            dom_star: dom.star,
            dow_star: dow.star,
            time_star: minute.uses_star || hour.uses_star,
        })
    }

    /// A wildcard job follows real time across DST changes; see the module docs.
    pub(crate) fn is_wildcard_job(&self) -> bool {
        self.time_star && (self.minutes.count_ones() > 1 || self.hours.count_ones() > 1)
    }

    /// Whether some day ever matches. Every month holds every weekday, so only a
    /// day-of-month that restricts alone can rule out every month (February counts 29 days).
    pub(crate) fn can_fire(&self) -> bool {
        if self.dom_star || !self.dow_star {
            return true;
        }
        const LENGTHS: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12u32).any(|m| {
            let length = LENGTHS[(m - 1) as usize];
            let days_in_month = ((1u64 << (length + 1)) - 1) & !1;
            self.months & (1 << m) != 0 && self.days & days_in_month != 0
        })
    }
}

fn parse_field(spec: &Spec, text: &str) -> Result<Field, CronError> {
    let err = |reason: String| CronError::InvalidField {
        field: spec.name,
        value: text.to_string(),
        reason,
    };
    if text.contains('#') || text.contains('+') {
        return Err(err(extension_reason()));
    }
    let mut field = Field {
        bits: 0,
        star: false,
        uses_star: false,
    };
    for item in text.split(',') {
        if item.is_empty() {
            return Err(err("empty list item".to_string()));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(parse_step(step).map_err(&err)?)),
            None => (item, None),
        };
        let is_star = range == "*" || (spec.question && range == "?");
        let (lo, hi) = if is_star {
            (spec.min, spec.open_max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(spec, a), value(spec, b));
            let (a, mut b) = (a.map_err(&err)?, b.map_err(&err)?);
            if spec.name == DAY_OF_WEEK.name && b == 0 && a > 0 {
                // `FRI-SUN`, `5-0`: a weekday range may end on Sunday written as 0.
                b = 7;
            }
            if a > b {
                return Err(err(format!("range start {a} is greater than its end {b}")));
            }
            (a, b)
        } else {
            let a = value(spec, range).map_err(&err)?;
            // `5/15` steps from 5 to the end of the field, as in robfig/cron and Quartz.
            (a, if step.is_some() { spec.open_max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            field.bits |= 1 << v;
            v = v.saturating_add(step);
        }
        field.uses_star |= is_star;
        field.star |= is_star && step == 1;
    }
    Ok(field)
}

fn parse_step(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(0) => Err("a step must be at least 1".to_string()),
        Ok(step) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(step),
        _ => Err(format!("invalid step {text:?}")),
    }
}

/// One number or name, checked against the field's range.
fn value(spec: &Spec, text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Err("missing value in range".to_string());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(v) if (spec.min..=spec.max).contains(&v) => Ok(v),
            _ => Err(format!("{text} is out of range {}-{}", spec.min, spec.max)),
        };
    }
    if let Some(i) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(spec.min + i as u32);
    }
    let upper = text.to_ascii_uppercase();
    let digits = upper.trim_end_matches(['L', 'W']);
    if upper == "L"
        || upper == "LW"
        || (digits.len() < upper.len() && digits.parse::<u32>().is_ok())
    {
        return Err(extension_reason());
    }
    Err(match spec.name {
        "month" => format!("{text:?} is not a month number (1-12) or name (JAN-DEC)"),
        "day-of-week" => {
            format!("{text:?} is not a weekday number (0-7, Sunday is 0 or 7) or name (SUN-SAT)")
        }
        _ => format!("{text:?} is not a number"),
    })
}

fn extension_reason() -> String {
    "the extensions L, W, # and + are not supported".to_string()
}
