//! Retry-delay expressions: parse anything; a parsed one evaluates without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::engine::expr::{RetryDelayExpr, MAX_DELAY_MS};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = RetryDelayExpr::parse(src) {
        for retried in [0, 1, 2, 7, 100, u32::MAX] {
            assert!(e.delay_ms(retried) <= MAX_DELAY_MS);
        }
        // The echoed text parses to the same program.
        assert_eq!(RetryDelayExpr::parse(e.as_str()).as_ref(), Ok(&e));
    }
});
