//! Publish configuration: the input is header lines (`Name: value`), parsed as a publish
//! request's headers, merged with the same lines as query config, and as redact values.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use qstash_dev::api::publish::upstash::{merge_sources, parse, parse_redact};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = s
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap_or((l, ""));
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let _ = parse(&pairs);
    let (half, query) = pairs.split_at(pairs.len() / 2);
    let borrowed = half
        .iter()
        .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
        .collect();
    let merged = merge_sources(borrowed, query);
    assert!(merged.len() >= half.len());
    let _ = parse(&merged);
    for (_, v) in &pairs {
        let _ = parse_redact("upstash-redact-fields", v);
    }
});
