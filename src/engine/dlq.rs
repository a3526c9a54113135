//! The dead-letter queue of one tenant: messages whose retries ran out, with the last
//! response, ordered by when they failed (oldest first, like the hosted service's default).
//! Entries expire after the quota's DLQ retention, and the count is bounded by the quota's
//! `max_dlq_entries`: when it is reached, the oldest entries are dropped first.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::filter::Filter;
use super::logs::Response;
use super::message::MessageSpec;
use crate::ids;

#[derive(Debug, Clone)]
pub struct DlqEntry {
    pub dlq_id: String,
    pub message_id: Arc<str>,
    pub spec: Arc<MessageSpec>,
    pub created_at: u64,
    pub not_before: u64,
    /// When the message failed for good (Unix ms).
    pub failed_at: u64,
    pub response: Option<Arc<Response>>,
    /// The transport error of the last attempt, when there was no response.
    pub error: Option<String>,
}

impl DlqEntry {
    /// The last response's status; 0 when the last attempt got no response at all.
    pub fn response_status(&self) -> u16 {
        self.response.as_ref().map_or(0, |r| r.status)
    }

    fn matches(&self, f: &Filter) -> bool {
        f.matches_time(self.failed_at)
            && f.matches_status(self.response_status())
            && f.matches_message(&self.message_id, &self.spec)
    }
}

#[derive(Debug, Default)]
pub struct Dlq {
    entries: BTreeMap<(u64, u64), DlqEntry>,
    seq: u64,
}

impl Dlq {
    /// Stores a failed message and returns its new DLQ id. Keeps at most `max_entries`
    /// entries: the oldest are dropped first (O(log n) each).
    pub fn insert(&mut self, mut entry: DlqEntry, now: u64, max_entries: usize) -> String {
        self.seq += 1;
        let key = (now, self.seq);
        entry.dlq_id = ids::dlq_id(key.0, key.1);
        let id = entry.dlq_id.clone();
        self.entries.insert(key, entry);
        while self.entries.len() > max_entries {
            self.entries.pop_first();
        }
        id
    }

    /// Drops entries that failed before `oldest_kept` (Unix ms).
    pub fn expire(&mut self, oldest_kept: u64) {
        self.entries = self.entries.split_off(&(oldest_kept, 0));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, dlq_id: &str) -> Option<&DlqEntry> {
        self.entries.get(&ids::parse_stream_id(dlq_id)?)
    }

    pub fn remove(&mut self, dlq_id: &str) -> Option<DlqEntry> {
        self.entries.remove(&ids::parse_stream_id(dlq_id)?)
    }

    /// Up to `count` entries matching `f`, starting at the `cursor` entry (inclusive), and the
    /// cursor of the next page if more match.
    pub fn list(
        &self,
        f: &Filter,
        cursor: Option<&str>,
        count: usize,
    ) -> (Vec<DlqEntry>, Option<String>) {
        let start = cursor.and_then(ids::parse_stream_id).unwrap_or((0, 0));
        let mut page = Vec::new();
        for e in self
            .entries
            .range(start..)
            .map(|(_, e)| e)
            .filter(|e| e.matches(f))
        {
            if page.len() == count {
                return (page, Some(e.dlq_id.clone()));
            }
            page.push(e.clone());
        }
        (page, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PAYG, PRO};
    use crate::engine::options::PublishOptions;
    use crate::engine::publish::build_spec;

    fn entry(id: &str, failed_at: u64) -> DlqEntry {
        let spec = build_spec(
            "http://example.com".into(),
            PublishOptions::default(),
            Default::default(),
            String::new(),
            &PAYG,
        );
        DlqEntry {
            dlq_id: String::new(),
            message_id: id.into(),
            spec: Arc::new(spec),
            created_at: failed_at,
            not_before: failed_at,
            failed_at,
            response: None,
            error: None,
        }
    }

    #[test]
    fn entries_older_than_the_presets_retention_expire() {
        const DAY: u64 = 24 * 60 * 60 * 1000;
        let now = 1_000 * DAY;
        let mut dlq = Dlq::default();
        let ages = [31, 8, 7, 1, 0];
        let ids: Vec<String> = ages
            .iter()
            .map(|days| {
                let at = now - days * DAY;
                dlq.insert(entry("msg", at), at, PAYG.max_dlq_entries)
            })
            .collect();
        dlq.expire(now - PRO.dlq_retention.as_millis() as u64);
        assert!(dlq.get(&ids[0]).is_none(), "31 days is past pro's 30");
        assert_eq!(dlq.len(), 4);
        dlq.expire(now - PAYG.dlq_retention.as_millis() as u64);
        assert!(dlq.get(&ids[1]).is_none(), "8 days is past payg's 7");
        assert!(
            ids[2..].iter().all(|id| dlq.get(id).is_some()),
            "7 days exactly is kept"
        );
        assert_eq!(dlq.len(), 3);
    }

    #[test]
    fn past_the_count_bound_the_oldest_entries_are_dropped_first() {
        const CAP: usize = 3;
        let mut dlq = Dlq::default();
        // Two entries share a millisecond: the sequence orders them.
        let times = [10, 20, 20, 30, 40];
        let ids: Vec<String> = times
            .iter()
            .enumerate()
            .map(|(i, &at)| dlq.insert(entry(&format!("msg{i}"), at), at, CAP))
            .collect();
        assert_eq!(dlq.len(), CAP);
        assert!(dlq.get(&ids[0]).is_none() && dlq.get(&ids[1]).is_none());
        for (i, id) in ids.iter().enumerate().skip(2) {
            let kept = dlq.get(id).expect("a kept entry resolves by its id");
            assert_eq!(&*kept.message_id, format!("msg{i}"));
            assert_eq!(&kept.dlq_id, id);
        }
        let (page, cursor) = dlq.list(&Filter::default(), None, 10);
        let listed: Vec<&str> = page.iter().map(|e| &*e.message_id).collect();
        assert_eq!(listed, ["msg2", "msg3", "msg4"], "oldest first");
        assert!(cursor.is_none());
        assert!(dlq.remove(&ids[3]).is_some());
        dlq.insert(entry("msg5", 50), 50, CAP);
        assert_eq!(
            dlq.len(),
            CAP,
            "a removal leaves room: nothing else is dropped"
        );
        assert!(dlq.get(&ids[2]).is_some());
    }
}
