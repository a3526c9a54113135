//! Destination URLs parsed once per worker thread. An app publishes to the same few URLs over
//! and over; each publish checks its destination and each attempt hands the HTTP client a
//! parsed URL, and a full parse (with IDNA host processing) costs about as much as the rest of
//! a publish's validation. A small per-thread map from the URL text to its parse answers
//! repeats without a lock; it is emptied when full, so many distinct URLs cost one insert
//! each and memory stays bounded.

use std::cell::RefCell;

use rustc_hash::FxHashMap;
use url::{ParseError, Url};

/// Entries per thread before the map is emptied.
const CAP: usize = 256;

thread_local! {
    static PARSED: RefCell<FxHashMap<Box<str>, Url>> = RefCell::new(FxHashMap::default());
}

/// Calls `f` with `s` parsed, from the cache when `s` was parsed on this thread before.
pub fn with_parsed<R>(s: &str, f: impl FnOnce(&Url) -> R) -> Result<R, ParseError> {
    PARSED.with(|cache| {
        if let Some(url) = cache.borrow().get(s) {
            return Ok(f(url));
        }
        let url = Url::parse(s)?;
        let answer = f(&url);
        let mut cache = cache.borrow_mut();
        if cache.len() >= CAP {
            cache.clear();
        }
        cache.insert(s.into(), url);
        Ok(answer)
    })
}

/// `s` parsed (see [`with_parsed`]).
pub fn parse(s: &str) -> Result<Url, ParseError> {
    with_parsed(s, Url::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_parse_is_the_parse() {
        for s in [
            "http://127.0.0.1:8080/a?b=c#d",
            "https://EXAMPLE.com/x/../y",
            "https://bücher.example/ä",
        ] {
            let first = parse(s).unwrap();
            assert_eq!(first, Url::parse(s).unwrap());
            assert_eq!(parse(s).unwrap(), first, "from the cache");
        }
        assert!(parse("not a url").is_err());
        assert!(parse("not a url").is_err(), "errors are not cached as URLs");
    }

    #[test]
    fn the_cache_stays_bounded() {
        for i in 0..CAP * 3 {
            let s = format!("http://h/{i}");
            assert_eq!(parse(&s).unwrap().path(), format!("/{i}"));
        }
        PARSED.with(|c| assert!(c.borrow().len() <= CAP));
    }
}
