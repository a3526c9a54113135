//! The journal of pending messages: a message stored, retried or gone (delivered,
//! dead-lettered, cancelled) is written to the `messages` table by one writer thread, as many
//! changes to one transaction as are waiting (group commit: they share one fsync). Changes are
//! numbered in the order they are made; [`Journal::durable`] resolves once every change made
//! before it was called is committed, which the edge awaits before a write request's 2xx.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection};
use tokio::sync::watch;

use crate::engine::lifecycle::message::{Message, MessageSpec};

/// Changes taken into one transaction at most.
const BATCH: usize = 4096;

pub(crate) enum Op {
    Put {
        user: &'static str,
        id: Arc<str>,
        created_at: u64,
        not_before: u64,
        retried: u32,
        spec: Arc<MessageSpec>,
    },
    Gone {
        user: &'static str,
        id: Arc<str>,
    },
    /// Every message of a user (`/dev/reset`).
    Clear {
        user: &'static str,
    },
}

impl Op {
    pub(crate) fn put(user: &'static str, m: &Message) -> Self {
        Self::Put {
            user,
            id: m.id.clone(),
            created_at: m.created_at,
            not_before: m.not_before,
            retried: m.retried,
            spec: m.spec.clone(),
        }
    }
}

/// The sending side, shared by every tenant.
pub(crate) struct Journal {
    /// The last number given and the channel, under one lock: changes reach the writer in
    /// the order of their numbers, so "committed up to n" means every change before n too.
    tx: Mutex<(u64, mpsc::Sender<(u64, Op)>)>,
    committed: watch::Receiver<u64>,
}

impl Journal {
    /// Starts the writer thread on `conn` (shared with the definitions' saves).
    pub(crate) fn start(conn: Arc<Mutex<Connection>>) -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        let (done, committed) = watch::channel(0);
        std::thread::Builder::new()
            .name("qstash-journal".into())
            .spawn(move || write_loop(&conn, &rx, &done))
            .expect("the journal's writer thread starts");
        Arc::new(Self {
            tx: Mutex::new((0, tx)),
            committed,
        })
    }

    /// Queues a change; returns its number.
    pub(crate) fn send(&self, op: Op) -> u64 {
        let mut g = self
            .tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0 += 1;
        let n = g.0;
        // The writer only stops with the process; a send to it cannot fail before that.
        let _ = g.1.send((n, op));
        n
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
}

fn write_loop(conn: &Mutex<Connection>, rx: &mpsc::Receiver<(u64, Op)>, done: &watch::Sender<u64>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let last = batch.last().map_or(0, |(n, _)| *n);
        let mut conn = conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = write(&mut conn, batch) {
            tracing::error!(target: "qstash::persist", "could not write pending messages: {e}");
        }
        drop(conn);
        done.send_replace(last);
    }
}

fn write(conn: &mut Connection, batch: Vec<(u64, Op)>) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO messages (user, id, created_at, not_before, retried, spec, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut gone = tx.prepare_cached("DELETE FROM messages WHERE user = ?1 AND id = ?2")?;
        let mut clear = tx.prepare_cached("DELETE FROM messages WHERE user = ?1")?;
        for (_, op) in batch {
            match op {
                Op::Put {
                    user,
                    id,
                    created_at,
                    not_before,
                    retried,
                    spec,
                } => {
                    let json = serde_json::to_string(&*spec).unwrap_or_default();
                    put.execute(params![
                        user,
                        &*id,
                        created_at as i64,
                        not_before as i64,
                        retried,
                        json,
                        &spec.body[..]
                    ])?;
                }
                Op::Gone { user, id } => {
                    gone.execute(params![user, &*id])?;
                }
                Op::Clear { user } => {
                    clear.execute(params![user])?;
                }
            }
        }
    }
    tx.commit()
}
