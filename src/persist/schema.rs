//! The database's tables and their versions. `VERSION` is written in `PRAGMA user_version`;
//! a later version adds a migration step here, applied in order.

use rusqlite::Connection;

/// The schema this build reads and writes.
pub(super) const VERSION: i64 = 3;

/// Connection settings, taken before anything is read: the exclusive lock (held until the
/// connection closes, so a second server sees the file busy at once), no waiting for a lock,
/// and WAL with `synchronous=NORMAL`: a commit is in the file (the operating system's cache of
/// it) before it returns, so a crash or `kill -9` of the server loses nothing committed; only
/// a crash of the machine itself may lose the last commits, never the file's consistency. A
/// sync at every commit would cost about a seventh of the publish rate, for a guarantee a
/// development server does not need.
pub(super) fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::ZERO)?;
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Pages of the tables being appended to stay in memory between commits (KiB).
    conn.pragma_update(None, "cache_size", -16_384)?;
    // Takes the lock now rather than at the first write.
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
}

/// Brings a database of version `from` (0: new) to [`VERSION`].
pub(super) fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    if from < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE definitions (user TEXT PRIMARY KEY, doc TEXT NOT NULL);
             CREATE TABLE signing_keys (user TEXT PRIMARY KEY, current TEXT NOT NULL, next TEXT NOT NULL);
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    if from < 2 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE messages (
               user TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
               not_before INTEGER NOT NULL, retried INTEGER NOT NULL,
               spec TEXT NOT NULL, body BLOB NOT NULL,
               PRIMARY KEY (user, id));
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if from < 3 {
        // Every write appends in key order, so a commit dirties a few pages at the end of
        // each table rather than one page a message: `specs` and `pending` are plain rowid
        // tables (the writer knows the rowid of each pending message; specs are only ever
        // read whole), the log is keyed by its sequence. A message's spec and body, shared by
        // its pending row, log entries and DLQ entry, are in `specs`; a response is its status
        // (NULL: none), headers and body.
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE specs (user TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL,
               body BLOB NOT NULL);
             INSERT INTO specs SELECT user, id, spec, body FROM messages;
             CREATE TABLE pending (user TEXT NOT NULL, id TEXT NOT NULL,
               created_at INTEGER NOT NULL, not_before INTEGER NOT NULL,
               retried INTEGER NOT NULL);
             INSERT INTO pending SELECT user, id, created_at, not_before, retried FROM messages
               ORDER BY created_at, id;
             DROP TABLE messages;
             CREATE TABLE log (
               user TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
               state TEXT NOT NULL, message_id TEXT NOT NULL, error TEXT,
               next_delivery_time INTEGER, status INTEGER, headers TEXT, response BLOB,
               PRIMARY KEY (user, seq)) WITHOUT ROWID;
             CREATE TABLE dlq (
               user TEXT NOT NULL, dlq_id TEXT NOT NULL, message_id TEXT NOT NULL,
               created_at INTEGER NOT NULL, not_before INTEGER NOT NULL,
               failed_at INTEGER NOT NULL, error TEXT,
               status INTEGER, headers TEXT, response BLOB,
               PRIMARY KEY (user, dlq_id));
             CREATE TABLE dedup (
               user TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL,
               expires INTEGER NOT NULL, PRIMARY KEY (user, key));
             CREATE TABLE schedules (
               user TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
               last INTEGER, next INTEGER, PRIMARY KEY (user, id));
             CREATE TABLE runs (
               user TEXT NOT NULL, id TEXT NOT NULL, ended INTEGER NOT NULL, doc TEXT NOT NULL,
               PRIMARY KEY (user, id));
             CREATE TABLE waits (user TEXT PRIMARY KEY, doc TEXT NOT NULL);
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    Ok(())
}
