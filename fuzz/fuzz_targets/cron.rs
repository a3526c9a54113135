//! Cron expressions: the first 8 bytes are a start time, the rest the expression.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::engine::cron::CronSchedule;

fuzz_target!(|data: &[u8]| {
    let (t, rest) = match data.split_first_chunk::<8>() {
        Some((t, rest)) => (u64::from_le_bytes(*t), rest),
        None => (0, data),
    };
    let Ok(src) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(c) = CronSchedule::parse(src) {
        // Keep starts in a range the search handles quickly, plus the raw value.
        for after in [t % 4_102_444_800_000, t] {
            if let Some(next) = c.next_after(after) {
                assert!(next > after, "{src:?}: {next} <= {after}");
            }
        }
        assert!(CronSchedule::parse(c.as_str()).is_ok());
    }
});
