//! Retry-after hints: one value, and header lines (`Name: value`) read as a response.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use qstash_dev::delivery::hints::{parse_hint_value, retry_after_hint, MAX_HINT};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    for now in [UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(1_700_000_000)] {
        if let Some(wait) = parse_hint_value(&s, now) {
            assert!(wait <= MAX_HINT);
        }
        let headers: Vec<(&str, &str)> = s
            .lines()
            .map(|l| l.split_once(':').unwrap_or((l, "")))
            .collect();
        if let Some(wait) = retry_after_hint(headers, now) {
            assert!(wait <= MAX_HINT);
        }
    }
});
