//! Publish destinations and query strings: the input is a request target.
#![no_main]

use http::Uri;
use libfuzzer_sys::fuzz_target;
use qstash_dev::api::normalize_path;
use qstash_dev::api::publish::destination;
use qstash_dev::api::extract::query::Query;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let once = normalize_path(&s);
    assert_eq!(normalize_path(&once), once);
    let Ok(uri) = Uri::try_from(format!("/v2/publish/{s}")) else {
        return;
    };
    let (dest, config) = destination(&uri, "/v2/publish/");
    assert!(config.iter().all(|(k, _)| k.starts_with("upstash-")));
    let _ = dest;
    let _ = normalize_path(uri.path());
    let q = Query::parse(uri.query());
    let _ = q.filter();
    let _ = q.count(100, 1000);
});
