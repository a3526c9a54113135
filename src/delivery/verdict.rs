//! Turning a destination's response into a verdict, purely: 2xx delivered; 489 with
//! `Upstash-NonRetryable-Error: true` failed for good; anything else retried, after the
//! destination's retry-after hint when it gave one.

use std::time::SystemTime;

use super::hints::retry_after_hint;
use crate::engine::lifecycle::attempt::Verdict;
use crate::engine::syntax::headers::ResponseHeaders;

pub(crate) fn verdict(status: u16, headers: &ResponseHeaders, now: SystemTime) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Delivered;
    }
    let non_retryable = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("upstash-nonretryable-error")
            && v.trim().eq_ignore_ascii_case("true")
    });
    if status == 489 && non_retryable {
        return Verdict::Fail;
    }
    let hint = retry_after_hint(headers.iter(), now);
    Verdict::Retry { hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn h(k: &str, v: &str) -> ResponseHeaders {
        ResponseHeaders::from_pairs([(k, v)])
    }

    fn none() -> ResponseHeaders {
        ResponseHeaders::default()
    }

    #[test]
    fn statuses_map_to_verdicts() {
        let now = crate::clock::wall_time();
        assert_eq!(verdict(200, &none(), now), Verdict::Delivered);
        assert_eq!(verdict(204, &none(), now), Verdict::Delivered);
        assert_eq!(verdict(500, &none(), now), Verdict::Retry { hint: None });
        assert_eq!(verdict(302, &none(), now), Verdict::Retry { hint: None });
        assert_eq!(
            verdict(489, &h("Upstash-NonRetryable-Error", "true"), now),
            Verdict::Fail
        );
        assert_eq!(verdict(489, &none(), now), Verdict::Retry { hint: None });
        assert_eq!(
            verdict(500, &h("upstash-nonretryable-error", "true"), now),
            Verdict::Retry { hint: None }
        );
    }

    #[test]
    fn retry_after_becomes_the_hint() {
        let v = verdict(429, &h("Retry-After", "3"), crate::clock::wall_time());
        assert_eq!(
            v,
            Verdict::Retry {
                hint: Some(Duration::from_secs(3))
            }
        );
    }
}
