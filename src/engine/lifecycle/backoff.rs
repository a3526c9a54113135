//! When the next attempt of a failed message starts: a retry-after hint from the destination
//! wins, then the message's `Upstash-Retry-Delay` expression, then the default exponential
//! backoff `min(86400, e^(2.5 n))` seconds. `-backoff-scale` multiplies that backoff and the
//! one-day cap still holds after it: a scale above 1 never waits longer than a day.

use std::time::Duration;

use crate::engine::expr::RetryDelayExpr;

/// Longest default backoff: one day.
const MAX_BACKOFF_SECS: f64 = 86_400.0;

/// Default backoff before retry number `n` (1-based): ≈12 s, 2 m 28 s, 30 m, 6 h 7 m, then 1 day.
pub(crate) fn default_backoff(n: u32) -> Duration {
    let secs = (2.5 * f64::from(n)).exp().min(MAX_BACKOFF_SECS);
    Duration::from_millis((secs * 1000.0) as u64)
}

/// The delay before the next attempt. `retried` counts the retries already done (0 when the
/// first retry is being scheduled), as the expression language defines it.
#[cfg(test)]
pub(crate) fn next_delay(
    hint: Option<Duration>,
    expr: Option<&RetryDelayExpr>,
    retried: u32,
) -> Duration {
    next_delay_scaled(hint, expr, retried, 1.0)
}

/// `next_delay` with the default backoff multiplied by `scale` (the `-backoff-scale` flag), then
/// capped at one day. A NaN or negative scale gives no wait; an infinite one, the cap.
pub(crate) fn next_delay_scaled(
    hint: Option<Duration>,
    expr: Option<&RetryDelayExpr>,
    retried: u32,
    scale: f64,
) -> Duration {
    if let Some(h) = hint {
        return h;
    }
    match expr {
        Some(e) => Duration::from_millis(e.delay_ms(retried)),
        None => {
            let secs = default_backoff(retried + 1).as_secs_f64() * scale;
            if secs.is_nan() {
                return Duration::ZERO;
            }
            Duration::from_secs_f64(secs.clamp(0.0, MAX_BACKOFF_SECS))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_matches_the_documented_table() {
        assert_eq!(default_backoff(1).as_secs(), 12);
        assert_eq!(default_backoff(2).as_secs(), 148);
        assert_eq!(default_backoff(3).as_secs(), 1808);
        assert_eq!(default_backoff(4).as_secs(), 22026);
        assert_eq!(default_backoff(5).as_secs(), 86_400);
        assert_eq!(default_backoff(50).as_secs(), 86_400);
    }

    #[test]
    fn the_scale_shrinks_only_the_default_backoff() {
        assert_eq!(next_delay_scaled(None, None, 0, 0.001).as_millis(), 12);
        let e = RetryDelayExpr::parse("250").unwrap();
        assert_eq!(
            next_delay_scaled(None, Some(&e), 0, 0.001),
            Duration::from_millis(250)
        );
        assert_eq!(next_delay_scaled(None, None, 0, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn a_scaled_backoff_never_passes_one_day() {
        let day = Duration::from_secs(86_400);
        // Retry n (1-based) is scheduled with `retried = n - 1`.
        assert_eq!(next_delay_scaled(None, None, 2, 10.0).as_secs(), 18_080);
        for retried in [3, 4, 5, 20, u32::MAX - 1] {
            assert_eq!(
                next_delay_scaled(None, None, retried, 10.0),
                day,
                "{retried}"
            );
        }
        assert_eq!(next_delay_scaled(None, None, 4, 1.0), day);
        assert_eq!(next_delay_scaled(None, None, 4, f64::INFINITY), day);
        assert_eq!(next_delay_scaled(None, None, 0, f64::MAX), day);
    }

    #[test]
    fn a_small_scale_still_scales_the_capped_backoff() {
        assert_eq!(
            next_delay_scaled(None, None, 4, 0.001),
            Duration::from_millis(86_400)
        );
        assert_eq!(next_delay_scaled(None, None, 2, 0.001).as_millis(), 1_808);
        assert_eq!(next_delay_scaled(None, None, 4, 0.0), Duration::ZERO);
        assert_eq!(next_delay_scaled(None, None, 4, -1.0), Duration::ZERO);
        assert_eq!(
            next_delay_scaled(None, None, 4, f64::NEG_INFINITY),
            Duration::ZERO
        );
        assert_eq!(next_delay_scaled(None, None, 4, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn a_hint_wins_over_the_expression_which_wins_over_the_default() {
        let e = RetryDelayExpr::parse("250").unwrap();
        assert_eq!(
            next_delay(Some(Duration::from_secs(2)), Some(&e), 0),
            Duration::from_secs(2)
        );
        assert_eq!(next_delay(None, Some(&e), 0), Duration::from_millis(250));
        assert_eq!(next_delay(None, None, 0).as_secs(), 12);
    }
}
