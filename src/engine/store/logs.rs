//! The event log of one tenant: every state transition of every message, newest first,
//! bounded by count and by body bytes (the oldest entries drop off when the quota's
//! `max_log_entries` or `max_log_body_bytes` is reached; the newest entry is always kept).
//! Cursors are `<time>-<seq>` strings; a bare integer is read as a Unix-ms time ("older than
//! this").

use std::collections::VecDeque;
use std::num::NonZeroU64;
use std::sync::Arc;

use bytes::Bytes;

use crate::engine::lifecycle::message::MessageSpec;
use crate::engine::persister::{Change, Recorder};
use crate::engine::store::filter::Filter;
use crate::engine::syntax::headers::{Headers, ResponseHeaders};

/// A message state as the log and its filters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Active,
    Retry,
    Error,
    Delivered,
    Failed,
    CancelRequested,
    Canceled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Active => "ACTIVE",
            Self::Retry => "RETRY",
            Self::Error => "ERROR",
            Self::Delivered => "DELIVERED",
            Self::Failed => "FAILED",
            Self::CancelRequested => "CANCEL_REQUESTED",
            Self::Canceled => "CANCELED",
        }
    }

    /// Parses a state filter. `IN_PROGRESS` stands for ACTIVE, RETRY and ERROR; both
    /// spellings of cancelled are accepted, `CANCELED` is what the log emits.
    pub fn parse_filter(s: &str) -> Option<Vec<State>> {
        let s = s.trim().to_ascii_uppercase();
        if s == "IN_PROGRESS" {
            return Some(vec![Self::Active, Self::Retry, Self::Error]);
        }
        Self::from_name(&s).map(|one| vec![one])
    }

    /// The state named `s` in upper case, as [`Self::as_str`] writes it (or `CANCELLED`).
    pub(crate) fn from_name(s: &str) -> Option<State> {
        Some(match s {
            "CREATED" => Self::Created,
            "ACTIVE" => Self::Active,
            "RETRY" => Self::Retry,
            "ERROR" => Self::Error,
            "DELIVERED" => Self::Delivered,
            "FAILED" => Self::Failed,
            "CANCEL_REQUESTED" => Self::CancelRequested,
            "CANCELED" | "CANCELLED" => Self::Canceled,
            _ => return None,
        })
    }
}

/// A destination's response to one attempt.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: ResponseHeaders,
    pub(crate) body: Bytes,
    /// The `Upstash-Signature` of the request that got this answer, for the message timeline;
    /// none for an answer the server stands in with or one kept by `-persist`.
    pub(crate) signature: Option<String>,
    /// From sending the request to the end of the answer.
    pub(crate) took_ms: u32,
}

/// The bytes an entry holding `spec` and `response` is charged against a byte budget (log or
/// DLQ): the message body and headers plus the response body and headers (headers may reach
/// 64 KiB a message). Entries of one message share the same `Arc`'d spec, so summing this per
/// entry over-counts; that is deliberate and conservative (the real footprint is at most the
/// charged total), and cheaper than tracking which specs are shared.
pub(crate) fn charged_bytes(spec: &MessageSpec, response: Option<&Response>) -> usize {
    let headers = |h: &Headers| h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    spec.body
        .len()
        .saturating_add(headers(&spec.header))
        .saturating_add(response.map_or(0, |r| {
            r.body.len() + r.headers.byte_len() + r.signature.as_ref().map_or(0, String::len)
        }))
}

/// One state transition. Ten thousand of these per user are kept, and each push writes over
/// the oldest: kept compact (80 bytes, a unit test pins it), because every byte of it is a
/// cold write per state change.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub(crate) seq: u64,
    pub time: u64,
    pub state: State,
    pub message_id: Arc<str>,
    pub(crate) spec: Arc<MessageSpec>,
    pub(crate) error: Option<Box<str>>,
    pub(crate) next_delivery_time: Option<NonZeroU64>,
    pub(crate) response: Option<Arc<Response>>,
}

impl LogEntry {
    /// What this entry is charged against the log's byte budget ([`charged_bytes`]).
    pub(crate) fn charged_bytes(&self) -> usize {
        charged_bytes(&self.spec, self.response.as_deref())
    }

    /// The cursor of the page after this entry: `<time>-<seq>`.
    pub(crate) fn cursor(&self) -> String {
        format!("{}-{}", self.time, self.seq)
    }
}

/// A position in a listing: strictly older than an entry, or than a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    Seq(u64),
    Time(u64),
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some((_, seq)) = s.split_once('-') {
            return seq.parse().ok().map(Self::Seq);
        }
        s.parse().ok().map(Self::Time)
    }

    fn admits(self, e: &LogEntry) -> bool {
        match self {
            Self::Seq(seq) => e.seq < seq,
            Self::Time(t) => e.time < t,
        }
    }
}

/// The bounded log of one tenant.
#[derive(Debug)]
pub(crate) struct LogRing {
    entries: VecDeque<LogEntry>,
    /// Each entry's charge, in step with `entries`: evicting an old entry then needs no look
    /// at its (long cold) message.
    charges: VecDeque<u32>,
    cap: usize,
    /// Budget for the sum of the entries' [`LogEntry::charged_bytes`].
    max_bytes: usize,
    /// That sum over `entries`, kept up to date by `push` (the only path that adds or drops).
    bytes: usize,
    next_seq: u64,
    /// Each entry pushed, for the persister.
    pub(crate) recorder: Recorder,
}

impl LogRing {
    /// A log of at most `cap` entries (at least 1) charged at most `max_bytes` in all, except
    /// that the newest entry is kept even when it alone is over the budget.
    /// `record`: pushed entries are recorded for a persister.
    pub(crate) fn new(cap: usize, max_bytes: usize, record: bool) -> Self {
        Self {
            entries: VecDeque::new(),
            charges: VecDeque::new(),
            cap: cap.max(1),
            max_bytes,
            bytes: 0,
            next_seq: 1,
            recorder: Recorder::new(record),
        }
    }

    /// Appends an entry, giving it the next sequence number; first drops the oldest entries
    /// until the new one fits both the count and the byte budget (or nothing else is left).
    pub(crate) fn push(&mut self, mut entry: LogEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.recorder.record(|| Change::Logged(entry.clone()));
        self.put(entry);
    }

    /// Appends an entry kept by an earlier run (`-persist`, oldest first) with its sequence
    /// number, so cursors given out before the restart still work.
    pub(crate) fn restore(&mut self, entry: LogEntry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        self.put(entry);
    }

    fn put(&mut self, entry: LogEntry) {
        // Charges are bounded far below 4 GiB (the quota presets' body and header limits).
        let charge = u32::try_from(entry.charged_bytes()).unwrap_or(u32::MAX);
        let size = charge as usize;
        while self.entries.len() >= self.cap || self.bytes.saturating_add(size) > self.max_bytes {
            if self.entries.pop_front().is_none() {
                break;
            }
            let old = self.charges.pop_front().unwrap_or(0);
            self.bytes = self.bytes.saturating_sub(old as usize);
        }
        self.bytes = self.bytes.saturating_add(size);
        self.entries.push_back(entry);
        self.charges.push_back(charge);
    }

    /// The sum the running total must equal, recomputed (tests check the two agree).
    #[cfg(test)]
    fn recount(&self) -> usize {
        self.entries.iter().map(LogEntry::charged_bytes).sum()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// Up to `count` matching entries, newest first, and the cursor of the next page if any.
    pub(crate) fn list(
        &self,
        filter: &Filter,
        cursor: Option<Cursor>,
        count: usize,
    ) -> (Vec<LogEntry>, Option<String>) {
        let mut page = Vec::new();
        let mut more = false;
        let matching = self
            .entries
            .iter()
            .rev()
            .filter(|e| cursor.is_none_or(|c| c.admits(e)))
            .filter(|e| filter.matches_log(e));
        for e in matching {
            if page.len() == count {
                more = true;
                break;
            }
            page.push(e.clone());
        }
        let next = match (more, page.last()) {
            (true, Some(last)) => Some(last.cursor()),
            _ => None,
        };
        (page, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PAYG;
    use crate::engine::lifecycle::publish::build_spec;
    use crate::engine::syntax::options::PublishOptions;

    #[test]
    fn an_entry_is_80_bytes() {
        assert_eq!(std::mem::size_of::<LogEntry>(), 80);
    }

    fn entry(time: u64) -> LogEntry {
        sized(time, Arc::new(spec(0)), None)
    }

    fn spec(body: usize) -> MessageSpec {
        build_spec(
            "http://example.com".into(),
            PublishOptions::default(),
            vec![b'x'; body].into(),
            String::new(),
            &PAYG,
        )
    }

    /// An entry of the message `spec`, with a response of `response` bytes if given.
    fn sized(time: u64, spec: Arc<MessageSpec>, response: Option<usize>) -> LogEntry {
        LogEntry {
            seq: 0,
            time,
            state: State::Created,
            message_id: format!("msg_{time}").into(),
            spec,
            error: None,
            next_delivery_time: None,
            response: response.map(|n| {
                Arc::new(Response {
                    status: 200,
                    headers: ResponseHeaders::default(),
                    body: vec![b'r'; n].into(),
                    signature: None,
                    took_ms: 0,
                })
            }),
        }
    }

    fn times(ring: &LogRing) -> Vec<u64> {
        ring.iter().map(|e| e.time).collect()
    }

    #[test]
    fn the_ring_keeps_only_the_newest_entries_up_to_its_cap() {
        let mut ring = LogRing::new(3, usize::MAX, false);
        for t in 1..=5 {
            ring.push(entry(t));
        }
        assert_eq!(ring.len(), 3);
        let (page, next) = ring.list(&Filter::default(), None, 10);
        let kept: Vec<(u64, u64)> = page.iter().map(|e| (e.time, e.seq)).collect();
        assert_eq!(
            kept,
            [(5, 5), (4, 4), (3, 3)],
            "newest first, oldest dropped"
        );
        assert_eq!(next, None);
    }

    #[test]
    fn past_the_byte_budget_the_oldest_entries_are_dropped_first() {
        let mut ring = LogRing::new(100, 1000, false);
        for t in 1..=4 {
            ring.push(sized(t, Arc::new(spec(300)), None));
        }
        assert_eq!(times(&ring), [2, 3, 4], "1200 > 1000: the oldest went");
        assert_eq!((ring.bytes, ring.recount()), (900, 900));
        // The response body counts too: 50 + 50 more fills the budget exactly.
        ring.push(sized(5, Arc::new(spec(50)), Some(50)));
        assert_eq!(times(&ring), [2, 3, 4, 5]);
        assert_eq!(ring.bytes, 1000);
        ring.push(sized(6, Arc::new(spec(650)), None));
        assert_eq!(times(&ring), [5, 6], "as many dropped as needed");
        assert_eq!((ring.bytes, ring.recount()), (750, 750));
        let seqs: Vec<u64> = ring.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [5, 6], "sequence numbers go on across evictions");
        // Both bounds at once: the count bound still applies.
        let mut ring = LogRing::new(2, 1000, false);
        for t in 1..=3 {
            ring.push(sized(t, Arc::new(spec(1)), None));
        }
        assert_eq!((times(&ring), ring.bytes), (vec![2, 3], 2));
    }

    #[test]
    fn the_newest_entry_is_kept_even_when_it_alone_is_over_the_budget() {
        let mut ring = LogRing::new(100, 100, false);
        ring.push(sized(1, Arc::new(spec(10)), None));
        ring.push(sized(2, Arc::new(spec(500)), Some(500)));
        assert_eq!(times(&ring), [2]);
        assert_eq!((ring.bytes, ring.recount()), (1000, 1000));
        ring.push(sized(3, Arc::new(spec(0)), None));
        assert_eq!(
            times(&ring),
            [3],
            "the big one goes as soon as it is not the newest"
        );
        assert_eq!(ring.bytes, 0);
        let mut ring = LogRing::new(0, 0, false);
        ring.push(sized(1, Arc::new(spec(1)), None));
        ring.push(sized(2, Arc::new(spec(1)), None));
        assert_eq!(times(&ring), [2], "zero bounds keep the newest");
    }

    #[test]
    fn entries_sharing_a_body_are_each_charged_for_it() {
        let mut ring = LogRing::new(100, 250, false);
        let shared = Arc::new(spec(100));
        for t in 1..=3 {
            ring.push(sized(t, shared.clone(), None));
        }
        assert_eq!(times(&ring), [2, 3], "conservative: 300 charged, not 100");
        assert_eq!((ring.bytes, ring.recount()), (200, 200));
    }
}
