//! Filters and cursors: query strings read as log/DLQ filters, counts, cursors and stream ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qstash_dev::api::extract::query::Query;
use qstash_dev::engine::store::logs::{Cursor, State};
use qstash_dev::ids::parse_stream_id;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let q = Query::parse(Some(&s));
    let _ = q.filter();
    if let Ok(c) = q.count(100, 1000) {
        assert!((1..=1000).contains(&c));
    }
    let _ = Cursor::parse(&s);
    let _ = State::parse_filter(&s);
    if let Some((ms, seq)) = parse_stream_id(&s) {
        assert_eq!(parse_stream_id(&format!("{ms}-{seq}")), Some((ms, seq)));
    }
    for v in q.all("cursor") {
        let _ = Cursor::parse(&v);
        let _ = parse_stream_id(&v);
    }
});
