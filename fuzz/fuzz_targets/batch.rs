//! Batch JSON: the request body as `/v2/batch` reads it, then each item.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::api::publish::batch::parse_item;
use qstash_dev::api::extract::body;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(items)) = body::json::<Vec<Value>>(data) {
        for item in items {
            if let Ok(p) = parse_item(item) {
                assert!(p.queue.as_deref() != Some(""));
                assert!(p.pairs.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));
            }
        }
    }
    // Any JSON value as a single item.
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = parse_item(v);
    }
});
