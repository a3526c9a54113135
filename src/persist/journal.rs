//! The journal: the changes of each transition (pending messages, log entries, DLQ entries,
//! deduplication ids) are written by one writer thread, as many transitions to one SQLite
//! transaction as are waiting (group commit: they share one fsync). A transition's changes
//! travel together, so a commit holds all of a transition or none of it. Changes are numbered
//! in the order they are made; [`Journal::durable`] resolves once every change made before it
//! was called is committed, which the edge awaits before a write request's 2xx; on a clean
//! shutdown [`Journal::close`] folds the write-ahead log into the file, so the file alone holds
//! everything (a crash leaves the WAL beside it, which the next open recovers).

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, Transaction};
use tokio::sync::watch;

use crate::engine::persister::{Change, Pending};
use crate::engine::store::dlq::DlqEntry;
use crate::engine::store::logs::{LogEntry, Response};

/// Transitions taken into one transaction at most.
const BATCH: usize = 4096;
/// Changes between two sweeps of specs nothing refers to any more.
const SWEEP_EVERY: usize = 100_000;

/// One transition's changes for one user.
type Entry = (u64, &'static str, Vec<Change>);

/// The sending side, shared by every tenant.
pub(crate) struct Journal {
    /// The last number given and the channel, under one lock: changes reach the writer in
    /// the order of their numbers, so "committed up to n" means every change before n too.
    tx: Mutex<(u64, mpsc::Sender<Entry>)>,
    committed: watch::Receiver<u64>,
    /// The writer's connection, for the checkpoint of [`Journal::close`].
    conn: Arc<Mutex<Connection>>,
}

impl Journal {
    /// Starts the writer thread on `conn` (shared with the definitions' saves); the log keeps
    /// `log_cap` entries a user, so older rows are pruned. `rows`: the rowid of each pending
    /// message already in the file.
    pub(crate) fn start(conn: Arc<Mutex<Connection>>, log_cap: usize, rows: Rows) -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        let (done, committed) = watch::channel(0);
        let mut writer = Writer {
            log_cap: log_cap as i64,
            since_sweep: 0,
            rows,
        };
        let shared = conn.clone();
        std::thread::Builder::new()
            .name("qstash-journal".into())
            .spawn(move || writer.run(&conn, &rx, &done))
            .expect("the journal's writer thread starts");
        Arc::new(Self {
            tx: Mutex::new((0, tx)),
            committed,
            conn: shared,
        })
    }

    /// Queues one transition's changes for `user`.
    pub(crate) fn send(&self, user: &'static str, changes: Vec<Change>) {
        let mut g = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0 += 1;
        let n = g.0;
        // The writer only stops with the process; a send to it cannot fail before that.
        let _ = g.1.send((n, user, changes));
    }

    /// The number of the last change queued.
    fn last(&self) -> u64 {
        self.tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
    }

    /// Resolves once every change queued before this call is committed.
    pub(crate) fn durable(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let target = self.last();
        let mut committed = self.committed.clone();
        async move {
            let _ = committed.wait_for(|c| *c >= target).await;
        }
    }

    /// Waits for every change made so far to be committed, then folds the write-ahead log into
    /// the database file and empties it, so the file can be copied or moved on its own.
    pub(crate) async fn close(&self) {
        self.durable().await;
        let conn = self.conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        })
        .await;
        if let Ok(Err(e)) = done {
            tracing::warn!(target: "qstash::persist", "could not checkpoint the database: {e}");
        }
    }
}

/// The rowid of each pending message's row, by user and message id.
pub(crate) type Rows = HashMap<&'static str, super::load::RowIds>;

struct Writer {
    log_cap: i64,
    since_sweep: usize,
    rows: Rows,
}

impl Writer {
    fn run(
        &mut self,
        conn: &Mutex<Connection>,
        rx: &mpsc::Receiver<Entry>,
        done: &watch::Sender<u64>,
    ) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let last = batch.last().map_or(0, |(n, _, _)| *n);
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = self.write(&mut conn, batch) {
                tracing::error!(target: "qstash::persist", "could not write changes: {e}");
            }
            drop(conn);
            done.send_replace(last);
        }
    }

    /// A new message's spec; its pending row, added or updated in place.
    fn keep(
        &mut self,
        tx: &Transaction<'_>,
        user: &'static str,
        p: &Pending,
    ) -> rusqlite::Result<()> {
        if p.new {
            let json = serde_json::to_string(&*p.spec).unwrap_or_default();
            tx.prepare_cached("INSERT INTO specs (user, id, spec, body) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![user, &*p.id, json, &p.spec.body[..]])?;
        }
        let rows = self.rows.entry(user).or_default();
        if let Some(row) = rows.get(&p.id) {
            return tx
                .prepare_cached(
                    "UPDATE pending SET not_before = ?2, retried = ?3 WHERE rowid = ?1",
                )?
                .execute(params![row, p.not_before as i64, p.retried])
                .map(drop);
        }
        tx.prepare_cached(
            "INSERT INTO pending (user, id, created_at, not_before, retried)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            user,
            &*p.id,
            p.created_at as i64,
            p.not_before as i64,
            p.retried
        ])?;
        rows.insert(p.id.clone(), tx.last_insert_rowid());
        Ok(())
    }

    fn write(&mut self, conn: &mut Connection, batch: Vec<Entry>) -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        let mut newest_log: HashMap<&'static str, u64> = HashMap::new();
        for (_, user, changes) in batch {
            self.since_sweep += changes.len();
            for change in changes {
                if let Change::Logged(e) = &change {
                    newest_log.insert(user, e.seq);
                }
                self.apply(&tx, user, change)?;
            }
        }
        for (user, seq) in newest_log {
            tx.prepare_cached("DELETE FROM log WHERE user = ?1 AND seq <= ?2")?
                .execute(params![user, seq as i64 - self.log_cap])?;
        }
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            sweep(&tx)?;
            prune_runs(&tx, self.log_cap)?;
        }
        tx.commit()
    }

    fn apply(
        &mut self,
        tx: &Transaction<'_>,
        user: &'static str,
        change: Change,
    ) -> rusqlite::Result<()> {
        match change {
            Change::Kept(p) => self.keep(tx, user, &p),
            Change::Gone(id) => self.gone(tx, user, &id),
            Change::Cleared => self.clear(tx, user),
            Change::Logged(e) => log_entry(tx, user, &e),
            Change::DeadLettered(e) => dlq_entry(tx, user, &e),
            Change::DlqGone(id) => run(
                tx,
                "DELETE FROM dlq WHERE user = ?1 AND dlq_id = ?2",
                params![user, id],
            ),
            Change::Schedule(s) => run(
                tx,
                "INSERT OR REPLACE INTO schedules (user, id, created_at, last, next)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    user,
                    s.id,
                    s.created_at as i64,
                    s.last.map(|t| t as i64),
                    s.next.map(|t| t as i64)
                ],
            ),
            Change::ScheduleGone(id) => run(
                tx,
                "DELETE FROM schedules WHERE user = ?1 AND id = ?2",
                params![user, id],
            ),
            Change::Run { run: r, ended } => run(
                tx,
                "INSERT OR REPLACE INTO runs (user, id, ended, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    user,
                    r.id,
                    ended,
                    serde_json::to_string(&r).unwrap_or_default()
                ],
            ),
            Change::Waits(w) => run(
                tx,
                "INSERT OR REPLACE INTO waits (user, doc) VALUES (?1, ?2)",
                params![user, serde_json::to_string(&w).unwrap_or_default()],
            ),
            Change::Deduplicated { key, id, expires } => run(
                tx,
                "INSERT OR REPLACE INTO dedup (user, key, id, expires) VALUES (?1, ?2, ?3, ?4)",
                params![user, key, &*id, expires as i64],
            ),
        }
    }

    /// A pending message's row removed (delivered, dead-lettered or cancelled).
    fn gone(&mut self, tx: &Transaction<'_>, user: &str, id: &str) -> rusqlite::Result<()> {
        match self.rows.get_mut(user).and_then(|r| r.remove(id)) {
            Some(row) => run(tx, "DELETE FROM pending WHERE rowid = ?1", params![row]),
            None => Ok(()),
        }
    }

    /// Everything of `user` removed (`/dev/reset`).
    fn clear(&mut self, tx: &Transaction<'_>, user: &str) -> rusqlite::Result<()> {
        self.rows.remove(user);
        let tables = [
            "pending",
            "specs",
            "log",
            "dlq",
            "dedup",
            "schedules",
            "runs",
            "waits",
        ];
        for table in tables {
            tx.execute(
                &format!("DELETE FROM {table} WHERE user = ?1"),
                params![user],
            )?;
        }
        Ok(())
    }
}

/// Runs one statement, kept prepared for the next time.
fn run(tx: &Transaction<'_>, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute(p).map(drop)
}

fn log_entry(tx: &Transaction<'_>, user: &str, e: &LogEntry) -> rusqlite::Result<()> {
    let (status, headers, body) = response_columns(e.response.as_deref());
    run(
        tx,
        "INSERT OR REPLACE INTO log (user, seq, time, state, message_id, error,
           next_delivery_time, status, headers, response)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            user,
            e.seq as i64,
            e.time as i64,
            e.state.as_str(),
            &*e.message_id,
            e.error.as_deref(),
            e.next_delivery_time.map(|t| t.get() as i64),
            status,
            headers,
            body
        ],
    )
}

fn dlq_entry(tx: &Transaction<'_>, user: &str, e: &DlqEntry) -> rusqlite::Result<()> {
    let (status, headers, body) = response_columns(e.response.as_deref());
    run(
        tx,
        "INSERT OR REPLACE INTO dlq (user, dlq_id, message_id, created_at, not_before,
           failed_at, error, status, headers, response)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            user,
            e.dlq_id,
            &*e.message_id,
            e.created_at as i64,
            e.not_before as i64,
            e.failed_at as i64,
            e.error,
            status,
            headers,
            body
        ],
    )
}

/// Keeps the `cap` most recently ended runs of each user, as many as it remembers.
pub(super) fn prune_runs(conn: &Connection, cap: i64) -> rusqlite::Result<()> {
    for u in crate::config::TEST_USERS {
        conn.execute(
            "DELETE FROM runs WHERE user = ?1 AND ended = 1 AND rowid <= (
               SELECT rowid FROM runs WHERE user = ?1 AND ended = 1
               ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
            params![u.user_id, cap],
        )?;
    }
    Ok(())
}

/// Deletes the specs that no pending message, log entry or DLQ entry refers to. The ids
/// still referred to go to an indexed temporary table first, so each spec is one lookup.
pub(super) fn sweep(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS live (user TEXT, id TEXT, PRIMARY KEY (user, id))
           WITHOUT ROWID;
         DELETE FROM temp.live;
         INSERT OR IGNORE INTO temp.live SELECT user, id FROM pending
           UNION ALL SELECT user, message_id FROM log UNION ALL SELECT user, message_id FROM dlq;
         DELETE FROM specs WHERE NOT EXISTS
           (SELECT 1 FROM temp.live l WHERE l.user = specs.user AND l.id = specs.id);
         DELETE FROM temp.live;",
    )
}

/// A response as three columns: status (NULL: no response), headers and body.
fn response_columns(r: Option<&Response>) -> (Option<u16>, Option<Vec<u8>>, Option<&[u8]>) {
    match r {
        Some(r) => (Some(r.status), Some(r.headers.to_wire()), Some(&r.body[..])),
        None => (None, None, None),
    }
}
