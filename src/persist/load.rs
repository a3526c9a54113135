//! Reading back what the journal wrote for one user: the specs first (each parsed once and
//! shared, as in memory), then the pending messages, the newest log entries, the DLQ and the
//! deduplication ids that refer to them. A row whose spec is missing or no longer parses (a
//! method or expression this build refuses) is left out with a line.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::engine::lifecycle::message::{Message, MessageSpec};
use crate::engine::lifecycle::restore::Restored;
use crate::engine::persister::ScheduleTimes;
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::logs::{LogEntry, Response, State};
use crate::engine::syntax::headers::ResponseHeaders;
use crate::engine::workflow::wait::Waits;
use crate::engine::workflow::Run;

/// Each message's id and spec, shared by its pending message, log entries and DLQ entry.
type Specs = HashMap<String, (Arc<str>, Arc<MessageSpec>)>;

/// The rowid of each pending message's row.
pub(crate) type RowIds = HashMap<Arc<str>, i64>;

/// Everything kept of `user`, and the rowid of each pending message; the log is cut to its
/// newest `log_cap` entries.
pub(super) fn user(
    conn: &Connection,
    user: &str,
    log_cap: usize,
) -> rusqlite::Result<(Restored, RowIds)> {
    let specs = specs(conn, user)?;
    let (messages, rows) = messages(conn, user, &specs)?;
    let restored = Restored {
        messages,
        log: log(conn, user, &specs, log_cap)?,
        dlq: dlq(conn, user, &specs)?,
        dedup: dedup(conn, user)?,
        schedules: schedules(conn, user)?,
        runs: runs(conn, user)?,
        waits: waits(conn, user)?,
    };
    Ok((restored, rows))
}

fn specs(conn: &Connection, user: &str) -> rusqlite::Result<Specs> {
    let mut q = conn.prepare("SELECT id, spec, body FROM specs WHERE user = ?1")?;
    let rows = q.query_map(params![user], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, json, body) = row?;
        match serde_json::from_str::<MessageSpec>(&json) {
            Ok(mut spec) => {
                spec.body = body.into();
                let shared = (Arc::from(id.as_str()), Arc::new(spec));
                out.insert(id, shared);
            }
            Err(e) => {
                tracing::warn!(target: "qstash::persist", "message {id} of {user} left out: {e}");
            }
        }
    }
    Ok(out)
}

/// The pending messages, oldest first (rows are appended as messages are published).
fn messages(
    conn: &Connection,
    user: &str,
    specs: &Specs,
) -> rusqlite::Result<(Vec<Message>, RowIds)> {
    let mut q = conn.prepare(
        "SELECT rowid, id, created_at, not_before, retried FROM pending
         WHERE user = ?1 ORDER BY rowid",
    )?;
    let rows = q.query_map(params![user], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, u32>(4)?,
        ))
    })?;
    let (mut out, mut rowids) = (Vec::new(), HashMap::new());
    for row in rows {
        let (rowid, id, created_at, not_before, retried) = row?;
        if let Some((id, spec)) = specs.get(&id) {
            let (created_at, not_before) = (created_at as u64, not_before as u64);
            let (id, spec) = (id.clone(), spec.clone());
            rowids.insert(id.clone(), rowid);
            out.push(Message::restored(id, spec, created_at, not_before, retried));
        }
    }
    Ok((out, rowids))
}

fn log(
    conn: &Connection,
    user: &str,
    specs: &Specs,
    cap: usize,
) -> rusqlite::Result<Vec<LogEntry>> {
    let mut q = conn.prepare(
        "SELECT seq, time, state, message_id, error, next_delivery_time, status, headers, response
         FROM log WHERE user = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let rows = q.query_map(params![user, cap as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<i64>>(5)?,
            response(r, 6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, time, state, id, error, next, response) = row?;
        let (Some(state), Some((id, spec))) = (State::from_name(&state), specs.get(&id)) else {
            continue;
        };
        out.push(LogEntry {
            seq: seq as u64,
            time: time as u64,
            state,
            message_id: id.clone(),
            spec: spec.clone(),
            error: error.map(String::into_boxed_str),
            next_delivery_time: next.and_then(|t| NonZeroU64::new(t as u64)),
            response,
        });
    }
    out.reverse();
    Ok(out)
}

fn dlq(conn: &Connection, user: &str, specs: &Specs) -> rusqlite::Result<Vec<DlqEntry>> {
    let mut q = conn.prepare(
        "SELECT dlq_id, message_id, created_at, not_before, failed_at, error, status, headers,
           response
         FROM dlq WHERE user = ?1 ORDER BY failed_at, dlq_id",
    )?;
    let rows = q.query_map(params![user], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            [
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ],
            r.get::<_, Option<String>>(5)?,
            response(r, 6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (dlq_id, id, [created_at, not_before, failed_at], error, response) = row?;
        let Some((id, spec)) = specs.get(&id) else {
            continue;
        };
        out.push(DlqEntry {
            dlq_id,
            message_id: id.clone(),
            spec: spec.clone(),
            created_at: created_at as u64,
            not_before: not_before as u64,
            failed_at: failed_at as u64,
            response,
            error,
        });
    }
    Ok(out)
}

fn dedup(conn: &Connection, user: &str) -> rusqlite::Result<Vec<(String, Arc<str>, u64)>> {
    let mut q =
        conn.prepare("SELECT key, id, expires FROM dedup WHERE user = ?1 ORDER BY expires")?;
    let rows = q.query_map(params![user], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Arc::from(r.get::<_, String>(1)?),
            r.get::<_, i64>(2)? as u64,
        ))
    })?;
    rows.collect()
}

/// Workflow runs, each with whether it ended, in the order of their last change.
fn runs(conn: &Connection, user: &str) -> rusqlite::Result<Vec<(Run, bool)>> {
    let mut q = conn.prepare("SELECT id, ended, doc FROM runs WHERE user = ?1 ORDER BY rowid")?;
    let rows = q.query_map(params![user], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, ended, doc) = row?;
        match serde_json::from_str(&doc) {
            Ok(run) => out.push((run, ended)),
            Err(e) => {
                tracing::warn!(target: "qstash::persist", "workflow run {id} of {user} left out: {e}")
            }
        }
    }
    Ok(out)
}

fn waits(conn: &Connection, user: &str) -> rusqlite::Result<Option<Waits>> {
    let doc: Option<String> = conn
        .query_row(
            "SELECT doc FROM waits WHERE user = ?1",
            params![user],
            |r| r.get(0),
        )
        .optional()?;
    Ok(doc.and_then(|d| match serde_json::from_str(&d) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(target: "qstash::persist", "workflow waiters of {user} left out: {e}");
            None
        }
    }))
}

fn schedules(conn: &Connection, user: &str) -> rusqlite::Result<Vec<ScheduleTimes>> {
    let mut q = conn.prepare("SELECT id, created_at, last, next FROM schedules WHERE user = ?1")?;
    let rows = q.query_map(params![user], |r| {
        Ok(ScheduleTimes {
            id: r.get(0)?,
            created_at: r.get::<_, i64>(1)? as u64,
            last: r.get::<_, Option<i64>>(2)?.map(|t| t as u64),
            next: r.get::<_, Option<i64>>(3)?.map(|t| t as u64),
        })
    })?;
    rows.collect()
}

/// The response kept in the columns from `at`: status (NULL: none), headers, body.
fn response(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<Arc<Response>>> {
    let Some(status) = r.get::<_, Option<u16>>(at)? else {
        return Ok(None);
    };
    let headers: Option<Vec<u8>> = r.get(at + 1)?;
    let body: Option<Vec<u8>> = r.get(at + 2)?;
    Ok(Some(Arc::new(Response {
        status,
        headers: ResponseHeaders::from_wire(&headers.unwrap_or_default()),
        body: body.unwrap_or_default().into(),
        signature: None,
        took_ms: 0,
    })))
}
