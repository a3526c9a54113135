//! Opt-in persistence (`-persist <path>`): state kept in an embedded SQLite database (the
//! bundled SQLite, no system library), loaded at start and written as it changes. In memory
//! stays the default; without the flag nothing touches the disk.
//!
//! What is kept: each test user's definitions (URL groups with their endpoints and default
//! headers, queues, schedules, flow-control pins and pauses) in the format of `-seed` and
//! `GET /dev/export` and the signing keys, written in one transaction before the request that
//! changed them is answered; and, through the [`Journal`], whose commits a write request's
//! 2xx waits for, pending messages, the log, the DLQ, deduplication ids, schedule times,
//! workflow runs and their waiters and stored notifications. Not kept: the record of bulk
//! actions (each was done when answered) and a failed run's failure-callback report.
//!
//! The file carries its schema version (`PRAGMA user_version`): a file of a newer version, one
//! that is not a database, or one another running server holds (the connection takes SQLite's
//! exclusive lock and keeps it) is refused with one line, never reset.

mod journal;
mod load;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::config::TEST_USERS;
use crate::engine::lifecycle::restore::Restored;
use crate::engine::persister::Change;
use crate::engine::{Engine, Persister, SigningKeys, TenantId};
use crate::seed::{Definitions, Document};
pub(crate) use journal::Journal;

/// Why a database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: written by a newer qstash dev (schema version {found}; this one reads up to {known}); refusing to touch it")]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{0}: another running qstash dev holds this database; stop it or choose another -persist path")]
    Locked(PathBuf),
    #[error("{path}: not a usable qstash dev database ({reason}); move it away or choose another -persist path")]
    Corrupt { path: PathBuf, reason: String },
}

/// What a database holds for one user.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    pub(crate) definitions: Definitions,
    pub(crate) keys: Option<SigningKeys>,
}

/// An open database, held exclusively for the life of the server.
pub struct Store {
    path: PathBuf,
    /// Shared with the journal's writer thread.
    conn: std::sync::Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (or creates) the database at `path` and takes its lock.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let corrupt = |e: rusqlite::Error| classify(path, e);
        let conn = Connection::open(path).map_err(corrupt)?;
        schema::prepare(&conn).map_err(corrupt)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if found > schema::VERSION {
            return Err(OpenError::Newer {
                path: path.into(),
                found,
                known: schema::VERSION,
            });
        }
        schema::migrate(&conn, found).map_err(corrupt)?;
        Ok(Self {
            path: path.into(),
            conn: std::sync::Arc::new(Mutex::new(conn)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything saved, by user id.
    pub(crate) fn load(&self) -> rusqlite::Result<Vec<(String, Saved)>> {
        let conn = self.conn();
        let mut out: Vec<(String, Saved)> = Vec::new();
        let mut defs = conn.prepare("SELECT user, doc FROM definitions ORDER BY user")?;
        for row in defs.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (user, doc) = row?;
            let definitions = serde_json::from_str(&doc).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
            })?;
            out.push((
                user,
                Saved {
                    definitions,
                    keys: None,
                },
            ));
        }
        let mut keys =
            conn.prepare("SELECT user, current, next FROM signing_keys ORDER BY user")?;
        for row in keys.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })? {
            let (user, current, next) = row?;
            let k = SigningKeys {
                current: current.into(),
                next: next.into(),
            };
            match out.iter_mut().find(|(u, _)| *u == user) {
                Some((_, s)) => s.keys = Some(k),
                None => out.push((
                    user,
                    Saved {
                        definitions: Definitions::default(),
                        keys: Some(k),
                    },
                )),
            }
        }
        Ok(out)
    }

    /// Everything the journal kept of `user`, and the rowids of its pending messages (see
    /// `load`).
    pub(crate) fn load_user(
        &self,
        user: &str,
        log_cap: usize,
    ) -> rusqlite::Result<(Restored, load::RowIds)> {
        load::user(&self.conn(), user, log_cap)
    }

    /// Drops what nothing refers to any more: specs of messages gone from the log, the DLQ
    /// and the pending ones, and deduplication ids expired before `now`.
    fn sweep(&self, now: u64) -> rusqlite::Result<()> {
        let conn = self.conn();
        journal::sweep(&conn)?;
        conn.execute("DELETE FROM dedup WHERE expires <= ?1", params![now as i64])?;
        Ok(())
    }

    /// Replaces what is saved for `user`, in one transaction.
    fn save(&self, user: &str, defs: &Definitions, keys: &SigningKeys) -> rusqlite::Result<()> {
        let doc = serde_json::to_string(defs).unwrap_or_default();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO definitions (user, doc) VALUES (?1, ?2)",
            params![user, doc],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO signing_keys (user, current, next) VALUES (?1, ?2, ?3)",
            params![user, &*keys.current, &*keys.next],
        )?;
        tx.commit()
    }
}

/// SQLite's answer to a file it cannot use, as the one line a user reads.
fn classify(path: &Path, e: rusqlite::Error) -> OpenError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OpenError::Locked(path.into()),
        _ => OpenError::Corrupt {
            path: path.into(),
            reason: e.to_string(),
        },
    }
}

/// Loads what `store` holds into `engine`: keys, then definitions through the seed's checks,
/// then pending messages. From then on every change is saved; returns the journal whose
/// `durable` the edge awaits.
pub(crate) fn attach(
    engine: &Engine,
    store: std::sync::Arc<Store>,
) -> Result<std::sync::Arc<Journal>, String> {
    let at = |e: rusqlite::Error| format!("{}: {e}", store.path.display());
    let mut doc = Document {
        version: crate::seed::VERSION,
        users: Default::default(),
    };
    for (user, saved) in store.load().map_err(at)? {
        let Some(i) = TEST_USERS.iter().position(|u| u.user_id == user) else {
            continue;
        };
        // Keys pinned on the command line win over the ones kept.
        let pinned = i == 0 && engine.config().pinned.pins_keys();
        if let (Some(keys), false) = (saved.keys, pinned) {
            engine.set_keys(TenantId(i), keys);
        }
        doc.users.insert(user, saved.definitions);
    }
    crate::seed::apply(engine, &doc).map_err(|e| format!("{}: {e}", store.path.display()))?;
    store.sweep(engine.now()).map_err(at)?;
    let log_cap = engine.limits().max_log_entries;
    let mut rows = journal::Rows::new();
    for (i, u) in TEST_USERS.iter().enumerate() {
        let (restored, rowids) = store.load_user(u.user_id, log_cap).map_err(at)?;
        engine.restore(TenantId(i), restored);
        rows.insert(u.user_id, rowids);
    }
    let journal = Journal::start(store.conn.clone(), log_cap, rows);
    engine.set_persister(Box::new(Saver {
        store,
        journal: journal.clone(),
        order: Mutex::new(()),
    }));
    Ok(journal)
}

/// Saves a user's definitions and keys whenever the engine says they changed, and journals
/// their pending messages.
struct Saver {
    store: std::sync::Arc<Store>,
    journal: std::sync::Arc<Journal>,
    /// Export and write happen under it, so the last write holds the newest state.
    order: Mutex<()>,
}

impl Persister for Saver {
    fn definitions_changed(&self, engine: &Engine, t: TenantId) {
        let user = TEST_USERS[t.0].user_id;
        let _in_order = self
            .order
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let doc = crate::seed::export(engine, &[t]);
        let defs = doc.users.get(user).cloned().unwrap_or_default();
        if let Err(e) = self.store.save(user, &defs, &engine.keys(t)) {
            let path = self.store.path.display();
            tracing::error!(target: "qstash::persist", "could not save {user}'s definitions to {path}: {e}");
        }
    }

    fn changed(&self, t: TenantId, changes: Vec<Change>) {
        self.journal.send(TEST_USERS[t.0].user_id, changes);
    }
}

#[cfg(test)]
mod tests;
