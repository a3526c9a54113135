//! The event log of one tenant: every state transition of every message, newest first,
//! bounded (the oldest entries drop off when the quota's count is reached). Cursors are
//! `<time>-<seq>` strings; a bare integer is read as a Unix-ms time ("older than this").

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::filter::Filter;
use super::headers::Headers;
use super::message::MessageSpec;

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
        let one = match s.trim().to_ascii_uppercase().as_str() {
            "CREATED" => Self::Created,
            "ACTIVE" => Self::Active,
            "RETRY" => Self::Retry,
            "ERROR" => Self::Error,
            "DELIVERED" => Self::Delivered,
            "FAILED" => Self::Failed,
            "CANCEL_REQUESTED" => Self::CancelRequested,
            "CANCELED" | "CANCELLED" => Self::Canceled,
            "IN_PROGRESS" => return Some(vec![Self::Active, Self::Retry, Self::Error]),
            _ => return None,
        };
        Some(vec![one])
    }
}

/// A destination's response to one attempt.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: Bytes,
}

/// One state transition.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    pub time: u64,
    pub state: State,
    pub message_id: Arc<str>,
    pub spec: Arc<MessageSpec>,
    pub error: Option<String>,
    pub next_delivery_time: Option<u64>,
    pub response: Option<Arc<Response>>,
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
pub struct LogRing {
    entries: VecDeque<LogEntry>,
    cap: usize,
    next_seq: u64,
}

impl LogRing {
    pub fn new(cap: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            cap: cap.max(1),
            next_seq: 1,
        }
    }

    /// Appends an entry, giving it the next sequence number; drops the oldest past the cap.
    pub fn push(&mut self, mut entry: LogEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == self.cap {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// Up to `count` matching entries, newest first, and the cursor of the next page if any.
    pub fn list(
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
            (true, Some(last)) => Some(format!("{}-{}", last.time, last.seq)),
            _ => None,
        };
        (page, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PAYG;
    use crate::engine::options::PublishOptions;
    use crate::engine::publish::build_spec;

    fn entry(time: u64) -> LogEntry {
        let spec = build_spec(
            "http://example.com".into(),
            PublishOptions::default(),
            Default::default(),
            String::new(),
            &PAYG,
        );
        LogEntry {
            seq: 0,
            time,
            state: State::Created,
            message_id: format!("msg_{time}").into(),
            spec: Arc::new(spec),
            error: None,
            next_delivery_time: None,
            response: None,
        }
    }

    #[test]
    fn the_ring_keeps_only_the_newest_entries_up_to_its_cap() {
        let mut ring = LogRing::new(3);
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
}
