//! The dead-letter queue of one tenant: messages whose retries ran out, with the last
//! response, ordered by when they failed (oldest first, like the hosted service's default).
//! Entries expire after the quota's DLQ retention, and the store is bounded by the quota's
//! `max_dlq_entries` and `max_dlq_body_bytes`: when either is reached, the oldest entries are
//! dropped first (the newest one is always kept).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::engine::lifecycle::message::MessageSpec;
use crate::engine::persister::{Change, Recorder};
use crate::engine::store::filter::Filter;
use crate::engine::store::logs::{charged_bytes, Response};
use crate::ids;

#[derive(Debug, Clone)]
pub struct DlqEntry {
    pub dlq_id: String,
    pub(crate) message_id: Arc<str>,
    pub(crate) spec: Arc<MessageSpec>,
    pub(crate) created_at: u64,
    pub(crate) not_before: u64,
    /// When the message failed for good (Unix ms).
    pub(crate) failed_at: u64,
    pub(crate) response: Option<Arc<Response>>,
    /// The transport error of the last attempt, when there was no response.
    pub(crate) error: Option<String>,
}

impl DlqEntry {
    /// The last response's status; 0 when the last attempt got no response at all.
    pub(crate) fn response_status(&self) -> u16 {
        self.response.as_ref().map_or(0, |r| r.status)
    }

    /// What this entry is charged against the DLQ's byte budget: message body plus response
    /// body (see [`charged_bytes`]; shared bodies are counted once per entry, conservatively).
    pub(crate) fn charged_bytes(&self) -> usize {
        charged_bytes(&self.spec, self.response.as_deref())
    }

    fn matches(&self, f: &Filter) -> bool {
        f.matches_time(self.failed_at)
            && f.matches_status(self.response_status())
            && f.matches_message(&self.message_id, &self.spec)
    }
}

/// The bounds of a DLQ, from the quota preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DlqBounds {
    /// Entries kept; the newest is kept whatever this says.
    pub(crate) max_entries: usize,
    /// Sum of the entries' [`DlqEntry::charged_bytes`]; the newest is kept even when it alone
    /// is over it.
    pub(crate) max_bytes: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Dlq {
    entries: BTreeMap<(u64, u64), DlqEntry>,
    /// Sum of [`DlqEntry::charged_bytes`] over `entries`: every path that adds or removes an
    /// entry (`insert`, `expire`, `remove`) updates it.
    bytes: usize,
    seq: u64,
    /// Entries put and removed, for the persister.
    pub(crate) recorder: Recorder,
}

/// What to select in a bulk DLQ operation: explicit ids win over the filter.
#[derive(Debug, Clone, Default)]
pub(crate) struct DlqSelection {
    pub(crate) dlq_ids: Vec<String>,
    pub(crate) filter: Filter,
    pub(crate) cursor: Option<String>,
    pub(crate) count: usize,
}

impl Dlq {
    /// `record`: changes are recorded for a persister.
    pub(crate) fn new(record: bool) -> Self {
        Self {
            recorder: Recorder::new(record),
            ..Self::default()
        }
    }

    /// Stores a failed message and returns its new DLQ id. First drops the oldest entries
    /// (O(log n) each) until the new one fits both `bounds`, or nothing else is left: the new
    /// entry itself is always kept.
    pub(crate) fn insert(&mut self, mut entry: DlqEntry, now: u64, bounds: DlqBounds) -> String {
        self.seq += 1;
        let key = (now, self.seq);
        entry.dlq_id = ids::dlq_id(key.0, key.1);
        let id = entry.dlq_id.clone();
        self.recorder.record(|| Change::DeadLettered(entry.clone()));
        self.put(key, entry, bounds);
        id
    }

    /// Puts back an entry kept by an earlier run (`-persist`) under its id; an id that does
    /// not parse is left out.
    pub(crate) fn restore(&mut self, entry: DlqEntry, bounds: DlqBounds) {
        if let Some(key) = ids::parse_stream_id(&entry.dlq_id) {
            self.seq = self.seq.max(key.1);
            self.put(key, entry, bounds);
        }
    }

    fn put(&mut self, key: (u64, u64), entry: DlqEntry, bounds: DlqBounds) {
        let size = entry.charged_bytes();
        while self.entries.len() >= bounds.max_entries
            || self.bytes.saturating_add(size) > bounds.max_bytes
        {
            let Some((_, old)) = self.entries.pop_first() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(old.charged_bytes());
            self.recorder.record(|| Change::DlqGone(old.dlq_id));
        }
        self.bytes = self.bytes.saturating_add(size);
        self.entries.insert(key, entry);
    }

    /// Drops entries that failed before `oldest_kept` (Unix ms).
    pub(crate) fn expire(&mut self, oldest_kept: u64) {
        let kept = self.entries.split_off(&(oldest_kept, 0));
        let expired = std::mem::replace(&mut self.entries, kept);
        for e in expired.into_values() {
            self.bytes = self.bytes.saturating_sub(e.charged_bytes());
            self.recorder.record(|| Change::DlqGone(e.dlq_id));
        }
    }

    /// The sum the running total must equal, recomputed (tests check the two agree).
    #[cfg(test)]
    fn recount(&self) -> usize {
        self.entries.values().map(DlqEntry::charged_bytes).sum()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry of message `id`.
    pub(crate) fn find_message(&self, id: &str) -> Option<&DlqEntry> {
        self.entries.values().rev().find(|e| &*e.message_id == id)
    }

    pub(crate) fn get(&self, dlq_id: &str) -> Option<&DlqEntry> {
        self.entries.get(&ids::parse_stream_id(dlq_id)?)
    }

    /// Removes the selected entries: the ids given, or else a page of the filter's.
    /// Returns them and the cursor of the rest.
    pub(crate) fn take(&mut self, sel: &DlqSelection) -> (Vec<DlqEntry>, Option<String>) {
        if !sel.dlq_ids.is_empty() {
            let taken = sel
                .dlq_ids
                .iter()
                .filter_map(|id| self.remove(id))
                .collect();
            return (taken, None);
        }
        let (page, cursor) = self.list(&sel.filter, sel.cursor.as_deref(), sel.count);
        for e in &page {
            self.remove(&e.dlq_id);
        }
        (page, cursor)
    }

    pub(crate) fn remove(&mut self, dlq_id: &str) -> Option<DlqEntry> {
        let e = self.entries.remove(&ids::parse_stream_id(dlq_id)?)?;
        self.bytes = self.bytes.saturating_sub(e.charged_bytes());
        self.recorder.record(|| Change::DlqGone(e.dlq_id.clone()));
        Some(e)
    }

    /// Up to `count` entries matching `f`, starting at the `cursor` entry (inclusive), and the
    /// cursor of the next page if more match.
    pub(crate) fn list(
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
    use crate::engine::lifecycle::publish::build_spec;
    use crate::engine::syntax::options::PublishOptions;

    fn entry(id: &str, failed_at: u64) -> DlqEntry {
        sized(id, failed_at, 0, None)
    }

    /// An entry with a `body`-byte message body and, if given, a response of `response` bytes.
    fn sized(id: &str, failed_at: u64, body: usize, response: Option<usize>) -> DlqEntry {
        let spec = build_spec(
            "http://example.com".into(),
            PublishOptions::default(),
            vec![b'x'; body].into(),
            String::new(),
            &PAYG,
        );
        let response = response.map(|n| {
            Arc::new(Response {
                status: 500,
                headers: Default::default(),
                body: vec![b'r'; n].into(),
                signature: None,
                took_ms: 0,
            })
        });
        DlqEntry {
            dlq_id: String::new(),
            message_id: id.into(),
            spec: Arc::new(spec),
            created_at: failed_at,
            not_before: failed_at,
            failed_at,
            response,
            error: None,
        }
    }

    fn count(max_entries: usize) -> DlqBounds {
        DlqBounds {
            max_entries,
            max_bytes: usize::MAX,
        }
    }

    fn bytes(max_bytes: usize) -> DlqBounds {
        DlqBounds {
            max_entries: usize::MAX,
            max_bytes,
        }
    }

    fn kept(dlq: &Dlq) -> Vec<String> {
        let (page, _) = dlq.list(&Filter::default(), None, usize::MAX);
        page.iter().map(|e| e.message_id.to_string()).collect()
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
                dlq.insert(entry("msg", at), at, count(PAYG.max_dlq_entries))
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
            .map(|(i, &at)| dlq.insert(entry(&format!("msg{i}"), at), at, count(CAP)))
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
        dlq.insert(entry("msg5", 50), 50, count(CAP));
        assert_eq!(
            dlq.len(),
            CAP,
            "a removal leaves room: nothing else is dropped"
        );
        assert!(dlq.get(&ids[2]).is_some());
    }

    #[test]
    fn past_the_byte_budget_the_oldest_entries_are_dropped_first() {
        const KB: usize = 1024;
        let mut dlq = Dlq::default();
        let budget = bytes(10 * KB);
        // Body and response both count: 3 KB + 1 KB per entry.
        for (i, at) in [10, 20, 30].into_iter().enumerate() {
            dlq.insert(sized(&format!("m{i}"), at, 3 * KB, Some(KB)), at, budget);
        }
        assert_eq!(kept(&dlq), ["m1", "m2"], "12 KB > 10 KB: the oldest went");
        assert_eq!((dlq.bytes, dlq.recount()), (8 * KB, 8 * KB));
        dlq.insert(sized("m3", 40, 2 * KB, None), 40, budget);
        assert_eq!(kept(&dlq), ["m1", "m2", "m3"], "10 KB exactly fits");
        dlq.insert(sized("m4", 50, 7 * KB, None), 50, budget);
        assert_eq!(kept(&dlq), ["m3", "m4"], "as many dropped as needed");
        assert_eq!((dlq.bytes, dlq.recount()), (9 * KB, 9 * KB));
        let both = DlqBounds {
            max_entries: 2,
            max_bytes: 10 * KB,
        };
        dlq.insert(sized("m5", 60, 0, None), 60, both);
        assert_eq!(kept(&dlq), ["m4", "m5"], "the count bound still applies");
        assert_eq!(dlq.bytes, 7 * KB);
    }

    #[test]
    fn the_newest_entry_is_kept_even_when_it_alone_is_over_the_budget() {
        let mut dlq = Dlq::default();
        dlq.insert(sized("small", 10, 10, None), 10, bytes(100));
        let id = dlq.insert(sized("huge", 20, 500, Some(500)), 20, bytes(100));
        assert_eq!(kept(&dlq), ["huge"]);
        assert!(dlq.get(&id).is_some(), "its id resolves");
        assert_eq!((dlq.bytes, dlq.recount()), (1000, 1000));
        // Even when the clock went back and it is not the latest by time.
        let id = dlq.insert(sized("early", 5, 200, None), 5, bytes(100));
        assert_eq!(kept(&dlq), ["early"]);
        assert!(dlq.get(&id).is_some());
        assert_eq!(dlq.bytes, 200);
        let zero = DlqBounds {
            max_entries: 0,
            max_bytes: 0,
        };
        dlq.insert(sized("alone", 30, 1, None), 30, zero);
        assert_eq!(kept(&dlq), ["alone"], "a zero bound keeps the newest");
    }

    #[test]
    fn the_byte_total_follows_removals_and_expiry() {
        let mut dlq = Dlq::default();
        let ids: Vec<String> = (0..6u64)
            .map(|i| {
                let e = sized(&format!("m{i}"), i * 10, 100 * (i as usize + 1), Some(7));
                dlq.insert(e, i * 10, bytes(usize::MAX))
            })
            .collect();
        assert_eq!(dlq.bytes, 2100 + 6 * 7);
        assert!(dlq.remove(&ids[2]).is_some());
        assert!(
            dlq.remove(&ids[2]).is_none(),
            "a second removal changes nothing"
        );
        assert!(dlq.remove("not-an-id").is_none());
        assert_eq!((dlq.bytes, dlq.recount()), (1800 + 5 * 7, 1800 + 5 * 7));
        dlq.expire(20);
        assert_eq!(kept(&dlq), ["m3", "m4", "m5"]);
        assert_eq!((dlq.bytes, dlq.recount()), (1500 + 3 * 7, 1500 + 3 * 7));
        dlq.expire(0);
        assert_eq!(dlq.bytes, dlq.recount(), "expiring nothing changes nothing");
        // A tighter budget now evicts from what is left, and the total follows.
        dlq.insert(sized("m6", 60, 1000, None), 60, bytes(1607));
        assert_eq!(kept(&dlq), ["m5", "m6"]);
        assert_eq!((dlq.bytes, dlq.recount()), (1607, 1607));
        dlq.expire(u64::MAX);
        assert!(dlq.is_empty());
        assert_eq!(dlq.bytes, 0);
    }
}
