//! Durations (`1h30m`, `500ms`, bare seconds) and flow-control periods.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::engine::syntax::duration::parse_duration;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Err(e) = parse_duration(&s) {
        // Errors format and echo a bounded prefix of the input.
        let _ = e.to_string();
        assert!(e.input().chars().count() <= 65);
    }
});
