//! Deduplication of publishes within a window (10 minutes): by `Upstash-Deduplication-Id`, or
//! by a hash of destination, body and the headers that reach the destination when
//! `Upstash-Content-Based-Deduplication` is on. Keys are per tenant.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::engine::persister::{Change, Recorder};
use crate::engine::syntax::headers::Headers;

#[derive(Debug, Default)]
pub(crate) struct Dedup {
    seen: HashMap<String, (Arc<str>, u64)>,
    /// Keys in insertion order with their expiry, so expiry is a pop from the front.
    order: VecDeque<(u64, String)>,
    /// Keys remembered, for the persister (an expired key needs no record: it is dropped on load).
    pub(crate) recorder: Recorder,
}

/// The key of an explicit deduplication id.
pub(crate) fn id_key(id: &str) -> String {
    format!("id:{id}")
}

/// The key of content-based deduplication: destination, body, Content-Type and forwarded headers.
pub(crate) fn content_key(destination: &str, body: &[u8], header: &Headers) -> String {
    let mut h = Sha256::new();
    h.update(destination.as_bytes());
    h.update([0]);
    h.update(body);
    let mut pairs: Vec<_> = header.iter().collect();
    pairs.sort();
    for (k, v) in pairs {
        h.update([0]);
        h.update(k.to_ascii_lowercase().as_bytes());
        h.update(b":");
        h.update(v.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("content:{hex}")
}

impl Dedup {
    /// `record`: remembered keys are recorded for a persister.
    pub(crate) fn new(record: bool) -> Self {
        Self {
            recorder: Recorder::new(record),
            ..Self::default()
        }
    }

    fn expire(&mut self, now: u64) {
        while let Some((exp, _)) = self.order.front() {
            if *exp > now {
                break;
            }
            if let Some((exp, key)) = self.order.pop_front() {
                if self.seen.get(&key).is_some_and(|(_, e)| *e == exp) {
                    self.seen.remove(&key);
                }
            }
        }
    }

    /// The message id already published under `key` within the window, if any.
    pub(crate) fn check(&mut self, key: &str, now: u64) -> Option<Arc<str>> {
        self.expire(now);
        self.seen.get(key).map(|(id, _)| id.clone())
    }

    pub(crate) fn insert(&mut self, key: String, id: Arc<str>, now: u64, window_ms: u64) {
        let expires = now + window_ms;
        self.recorder.record(|| Change::Deduplicated {
            key: key.clone(),
            id: id.clone(),
            expires,
        });
        self.restore(key, id, expires);
    }

    /// Remembers `key` until `expires`; keys kept by an earlier run (`-persist`) come back
    /// through here in the order of their expiry.
    pub(crate) fn restore(&mut self, key: String, id: Arc<str>, expires: u64) {
        self.order.push_back((expires, key.clone()));
        self.seen.insert(key, (id, expires));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_remembered_for_the_window_only() {
        let mut d = Dedup::default();
        d.insert(id_key("a"), "msg_1".into(), 1_000, 600_000);
        assert_eq!(d.check(&id_key("a"), 500_000).as_deref(), Some("msg_1"));
        assert_eq!(d.check(&id_key("a"), 601_000), None);
        assert_eq!(d.check(&id_key("b"), 1_000), None);
    }

    #[test]
    fn content_key_depends_on_destination_body_and_headers() {
        let h1 = vec![("Content-Type".to_string(), "a".to_string())];
        let h2 = vec![("Content-Type".to_string(), "b".to_string())];
        let k = content_key("http://x", b"1", &h1);
        assert_eq!(k, content_key("http://x", b"1", &h1));
        assert_ne!(k, content_key("http://y", b"1", &h1));
        assert_ne!(k, content_key("http://x", b"2", &h1));
        assert_ne!(k, content_key("http://x", b"1", &h2));
    }
}
