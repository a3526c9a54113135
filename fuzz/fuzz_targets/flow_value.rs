//! `Upstash-Flow-Control-Value` (`parallelism=3, rate=10, period=1m`) and periods.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::engine::limits::flow::{parse_period, parse_value, MAX_PERIOD_SECS};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok((parallelism, rate, period)) = parse_value(&s) {
        assert!(parallelism.is_some() || rate.is_some());
        assert!(parallelism != Some(0) && rate != Some(0));
        assert!(period.is_none_or(|p| (1..=MAX_PERIOD_SECS).contains(&p)));
    }
    if let Ok(p) = parse_period(&s) {
        assert!((1..=MAX_PERIOD_SECS).contains(&p));
    }
});
