//! Flow control: per-key limits on deliveries in flight (`parallelism`) and started per period
//! (`rate` per `period`), across every URL that uses the key, plus the tenant-wide global
//! parallelism. A due message over a limit joins its key's waitlist and goes out in order as
//! soon as the limits allow: a finished attempt or a new rate period wakes the next one (the
//! period end is a timer job; nothing polls).
//!
//! Each message keeps the config it was published with. While messages with different configs
//! are pending, the most generous one wins (highest parallelism, highest rate per time; a
//! message without a limit lifts it); once the old ones are gone, the new config applies. A
//! pinned config overrides all of that until unpinned, and after unpinning it stays in effect
//! until a message brings a config again. Every attempt counts (retries included).

pub(crate) mod ops;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::limits::waitline::WaitLine;
use crate::engine::syntax::duration::parse_duration;

/// Longest accepted period: one week.
pub const MAX_PERIOD_SECS: u64 = 7 * 24 * 60 * 60;

/// The flow-control settings a message was published with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowSpec {
    pub key: String,
    pub parallelism: Option<u32>,
    pub rate: Option<u32>,
    /// Seconds; 1 unless given.
    pub period: u64,
}

/// `(parallelism, rate, period seconds)` of an `Upstash-Flow-Control-Value`, each optional.
pub(crate) type FlowValue = (Option<u32>, Option<u32>, Option<u64>);

/// Parses `parallelism=3, rate=10, period=1m` (any subset, any order, spaces allowed).
pub fn parse_value(v: &str) -> Result<FlowValue, String> {
    let (mut parallelism, mut rate, mut period) = (None, None, None);
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value"))?;
        let (k, val) = (k.trim().to_ascii_lowercase(), val.trim());
        let positive = |val: &str| match val.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{k} must be a positive integer, got {val:?}")),
        };
        match k.as_str() {
            "parallelism" => parallelism = Some(positive(val)?),
            "rate" | "ratepersecond" => rate = Some(positive(val)?),
            "period" => period = Some(parse_period(val)?),
            _ => {
                return Err(format!(
                    "unknown key {k:?} (use parallelism, rate and period)"
                ))
            }
        }
    }
    if parallelism.is_none() && rate.is_none() {
        return Err("parallelism or rate is required".into());
    }
    Ok((parallelism, rate, period))
}

/// A period in seconds: a duration (`1m`, `1h30m`) or a bare number of seconds; 1 s to 1 week.
pub fn parse_period(v: &str) -> Result<u64, String> {
    let secs = parse_duration(v).map_err(|e| e.to_string())?.as_secs();
    if secs == 0 || secs > MAX_PERIOD_SECS {
        return Err(format!("period must be between 1s and 7d, got {v:?}"));
    }
    Ok(secs)
}

type Config = (Option<u32>, Option<(u32, u64)>);

/// The state of one flow-control key.
#[derive(Debug, Clone)]
pub(crate) struct FlowKey {
    pub(crate) key: String,
    pub(crate) paused: bool,
    pub(crate) pinned_parallelism: Option<u32>,
    pub(crate) pinned_rate: Option<(u32, u64)>,
    /// A config left by an unpin, in effect until the next message with this key.
    sticky: Option<Config>,
    /// The config of the latest message.
    last: Config,
    /// Configs of the messages still pending, with their counts.
    pending: BTreeMap<Config, usize>,
    pub(crate) in_flight: usize,
    rate_count: u32,
    period_start: u64,
    pub(crate) waitlist: WaitLine,
    /// A rate-period wake-up already scheduled for this time.
    pub(crate) wake_at: Option<u64>,
}

fn config_of(s: &FlowSpec) -> Config {
    (s.parallelism, s.rate.map(|r| (r, s.period)))
}

/// Rate per second, for comparing configs; no rate is unlimited.
fn rate_per_sec(r: Option<(u32, u64)>) -> f64 {
    r.map_or(f64::INFINITY, |(n, p)| f64::from(n) / p.max(1) as f64)
}

impl FlowKey {
    pub(crate) fn new(key: &str, now: u64) -> Self {
        Self {
            key: key.to_string(),
            paused: false,
            pinned_parallelism: None,
            pinned_rate: None,
            sticky: None,
            last: (None, None),
            pending: BTreeMap::new(),
            in_flight: 0,
            rate_count: 0,
            period_start: now,
            waitlist: WaitLine::default(),
            wake_at: None,
        }
    }

    /// A new message with this key.
    pub(crate) fn register(&mut self, s: &FlowSpec) {
        let c = config_of(s);
        self.last = c;
        self.sticky = None;
        *self.pending.entry(c).or_default() += 1;
    }

    /// A message with this key is finished (delivered, failed or cancelled).
    pub(crate) fn unregister(&mut self, s: &FlowSpec, id: &str) {
        let c = config_of(s);
        if let Some(n) = self.pending.get_mut(&c) {
            *n -= 1;
            if *n == 0 {
                self.pending.remove(&c);
            }
        }
        self.waitlist.remove(id);
    }

    /// The config in force, before pins.
    fn base(&self) -> Config {
        if let Some(c) = self.sticky {
            return c;
        }
        if self.pending.is_empty() {
            return self.last;
        }
        let par = self
            .pending
            .keys()
            .map(|c| c.0)
            .reduce(|a, b| match (a, b) {
                (Some(x), Some(y)) => Some(x.max(y)),
                _ => None,
            });
        let rate = self.pending.keys().map(|c| c.1).reduce(|a, b| {
            if rate_per_sec(b) > rate_per_sec(a) {
                b
            } else {
                a
            }
        });
        (par.flatten(), rate.flatten())
    }

    pub(crate) fn parallelism(&self) -> Option<u32> {
        self.pinned_parallelism.or(self.base().0)
    }

    pub(crate) fn rate(&self) -> Option<(u32, u64)> {
        self.pinned_rate.or(self.base().1)
    }

    /// Deliveries started in the current period (0 once it has ended).
    pub(crate) fn rate_count(&self, now: u64) -> u32 {
        match self.rate() {
            Some((_, p)) if now < self.period_start + p * 1000 => self.rate_count,
            _ => 0,
        }
    }

    pub(crate) fn period_start(&self) -> u64 {
        self.period_start
    }

    fn roll_period(&mut self, now: u64) {
        if let Some((_, p)) = self.rate() {
            if now >= self.period_start + p * 1000 {
                self.period_start = now;
                self.rate_count = 0;
            }
        }
    }

    /// How many more deliveries may start now.
    pub(crate) fn room(&mut self, now: u64) -> usize {
        if self.paused {
            return 0;
        }
        self.roll_period(now);
        let par = self
            .parallelism()
            .map_or(usize::MAX, |p| (p as usize).saturating_sub(self.in_flight));
        let rate = self.rate().map_or(usize::MAX, |(r, _)| {
            r.saturating_sub(self.rate_count) as usize
        });
        par.min(rate)
    }

    /// When the current rate period ends, if the rate is what holds messages back.
    pub(crate) fn period_end(&self) -> Option<u64> {
        self.rate().map(|(_, p)| self.period_start + p * 1000)
    }

    /// Whether `id` may start now; if not, it waits in the waitlist (in arrival order).
    pub(crate) fn admits(&mut self, id: &Arc<str>, now: u64) -> bool {
        if self.waitlist.is_turn_of(id) && self.room(now) > 0 {
            return true;
        }
        self.waitlist.push(id);
        false
    }

    /// An attempt of `id` starts.
    pub(crate) fn start(&mut self, id: &Arc<str>) {
        self.waitlist.remove(id);
        self.in_flight += 1;
        self.rate_count += 1;
    }

    /// An attempt finished.
    pub(crate) fn done(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Pins any subset of the config; resets the rate count and period.
    pub(crate) fn pin(
        &mut self,
        parallelism: Option<u32>,
        rate: Option<u32>,
        period: Option<u64>,
        now: u64,
    ) {
        if let Some(p) = parallelism {
            self.pinned_parallelism = Some(p);
        }
        if rate.is_some() || period.is_some() {
            let old = self.rate();
            let r = rate.or(old.map(|o| o.0)).unwrap_or(1);
            let p = period.or(old.map(|o| o.1)).unwrap_or(1);
            self.pinned_rate = Some((r, p));
        }
        self.reset_rate(now);
    }

    /// Unpins; the pinned values stay in effect until a message brings a config.
    pub(crate) fn unpin(&mut self, parallelism: bool, rate: bool) {
        let mut c = self.sticky.unwrap_or_else(|| self.base());
        if parallelism {
            if let Some(p) = self.pinned_parallelism.take() {
                c.0 = Some(p);
            }
        }
        if rate {
            if let Some(r) = self.pinned_rate.take() {
                c.1 = Some(r);
            }
        }
        if parallelism || rate {
            self.sticky = Some(c);
        }
    }

    pub(crate) fn reset_rate(&mut self, now: u64) {
        self.rate_count = 0;
        self.period_start = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: Option<u32>, r: Option<u32>, period: u64) -> FlowSpec {
        FlowSpec {
            key: "k".into(),
            parallelism: p,
            rate: r,
            period,
        }
    }

    #[test]
    fn values_parse_in_any_order_with_spaces() {
        assert_eq!(
            parse_value("parallelism=3, rate=5").unwrap(),
            (Some(3), Some(5), None)
        );
        assert_eq!(
            parse_value(" period=1m ,rate=10").unwrap(),
            (None, Some(10), Some(60))
        );
        assert_eq!(
            parse_value("rate=2,period=30").unwrap(),
            (None, Some(2), Some(30))
        );
        assert!(parse_value("period=1s").is_err());
        assert!(parse_value("parallelism=0").is_err());
        assert!(parse_value("rate=x").is_err());
        assert!(parse_value("speed=1").is_err());
        assert!(parse_value("rate=1,period=8d").is_err());
        assert!(parse_value("").is_err());
    }

    #[test]
    fn the_most_generous_pending_config_wins_until_it_is_gone() {
        let mut k = FlowKey::new("k", 0);
        let old = spec(Some(2), Some(10), 1);
        let new = spec(Some(5), Some(1), 1);
        k.register(&old);
        k.register(&new);
        assert_eq!(k.parallelism(), Some(5));
        assert_eq!(k.rate(), Some((10, 1)));
        k.unregister(&old, "a");
        assert_eq!(k.parallelism(), Some(5));
        assert_eq!(k.rate(), Some((1, 1)));
    }

    #[test]
    fn parallelism_and_rate_both_limit_room() {
        let mut k = FlowKey::new("k", 0);
        k.register(&spec(Some(2), Some(3), 1));
        let ids: Vec<Arc<str>> = (0..4).map(|i| Arc::from(format!("m{i}"))).collect();
        assert!(k.admits(&ids[0], 0));
        k.start(&ids[0]);
        assert!(k.admits(&ids[1], 0));
        k.start(&ids[1]);
        assert!(!k.admits(&ids[2], 0), "parallelism 2 reached");
        k.done();
        assert!(k.admits(&ids[2], 0));
        k.start(&ids[2]);
        k.done();
        assert!(!k.admits(&ids[3], 10), "rate 3 per second reached");
        assert_eq!(k.period_end(), Some(1000));
        assert!(k.admits(&ids[3], 1000), "a new period");
    }

    #[test]
    fn pin_overrides_and_unpin_keeps_the_pinned_values_until_a_new_message() {
        let mut k = FlowKey::new("k", 0);
        k.register(&spec(Some(1), None, 1));
        k.pin(Some(7), Some(4), Some(2), 0);
        assert_eq!((k.parallelism(), k.rate()), (Some(7), Some((4, 2))));
        k.unpin(true, false);
        assert_eq!(k.pinned_parallelism, None);
        assert_eq!(k.parallelism(), Some(7));
        assert_eq!(k.pinned_rate, Some((4, 2)));
        k.register(&spec(Some(3), None, 1));
        assert_eq!(k.parallelism(), Some(3));
    }
}
