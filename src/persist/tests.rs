//! The database file's guarantees, pinned on rusqlite's behaviour: the exclusive lock holds a
//! second opener off at once, a newer schema or a file that is not a database is refused, and
//! what is saved is loaded back.

use super::*;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qstash-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.db")
}

#[test]
fn a_second_opener_is_refused_while_the_first_holds_the_file() {
    let path = temp("locked");
    let first = Store::open(&path).expect("opens a new file");
    match Store::open(&path) {
        Err(OpenError::Locked(p)) => assert_eq!(p, path),
        other => panic!("expected Locked, got {other:?}", other = other.map(|_| ())),
    }
    drop(first);
    Store::open(&path).expect("free again once the first closes");
}

#[test]
fn a_newer_schema_and_a_file_that_is_not_a_database_are_refused() {
    let path = temp("newer");
    drop(Store::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = Store::open(&path).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::Newer {
                found: 99,
                known: schema::VERSION,
                ..
            }
        ),
        "{err}"
    );

    let junk = temp("junk");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let err = Store::open(&junk).map(|_| ()).unwrap_err();
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("not a usable qstash dev database"));
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![b'x'; 4096],
        "left as it was"
    );
}

#[test]
fn what_is_saved_is_loaded_back() {
    let path = temp("roundtrip");
    let store = Store::open(&path).unwrap();
    let defs = crate::seed::parse(
        r#"{"version": 1, "users": {"testUser1": {"queues": [{"name": "q", "parallelism": 3}]}}}"#,
    )
    .unwrap()
    .users["testUser1"]
        .clone();
    let keys = SigningKeys {
        current: "sig_a".into(),
        next: "sig_b".into(),
    };
    store.save("testUser1", &defs, &keys).unwrap();
    drop(store);
    let loaded = Store::open(&path).unwrap().load().unwrap();
    assert_eq!(loaded.len(), 1);
    let (user, saved) = &loaded[0];
    assert_eq!(user, "testUser1");
    assert_eq!(saved.definitions, defs);
    assert_eq!(saved.keys, Some(keys));
}

#[test]
fn a_version_2_file_keeps_its_pending_messages() {
    let path = temp("v2");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE definitions (user TEXT PRIMARY KEY, doc TEXT NOT NULL);
         CREATE TABLE signing_keys (user TEXT PRIMARY KEY, current TEXT NOT NULL, next TEXT NOT NULL);
         CREATE TABLE messages (
           user TEXT NOT NULL, id TEXT NOT NULL, created_at INTEGER NOT NULL,
           not_before INTEGER NOT NULL, retried INTEGER NOT NULL,
           spec TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (user, id));
         PRAGMA user_version = 2;",
    )
    .unwrap();
    let spec = crate::engine::lifecycle::publish::build_spec(
        "http://example.com/x".into(),
        Default::default(),
        bytes::Bytes::new(),
        String::new(),
        &crate::config::PAYG,
    );
    conn.execute(
        "INSERT INTO messages VALUES ('testUser1', 'msg_1', 5, 7, 1, ?1, x'6869')",
        params![serde_json::to_string(&spec).unwrap()],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    let (restored, _) = store.load_user("testUser1", 10).unwrap();
    let [m] = &restored.messages[..] else {
        panic!("{:?}", restored.messages);
    };
    assert_eq!(
        (&*m.id, m.created_at, m.not_before, m.retried),
        ("msg_1", 5, 7, 1)
    );
    assert_eq!(
        (&*m.spec.url, &m.spec.body[..]),
        ("http://example.com/x", &b"hi"[..])
    );
}

#[test]
fn a_sweep_drops_only_the_specs_nothing_refers_to() {
    let path = temp("sweep");
    let store = Store::open(&path).unwrap();
    let conn = store.conn();
    conn.execute_batch(
        "INSERT INTO specs VALUES ('u', 'pending', '{}', x''), ('u', 'logged', '{}', x''),
           ('u', 'dead', '{}', x''), ('u', 'gone', '{}', x''), ('v', 'pending', '{}', x'');
         INSERT INTO pending VALUES ('u', 'pending', 1, 1, 0);
         INSERT INTO log (user, seq, time, state, message_id) VALUES ('u', 1, 1, 'CREATED', 'logged');
         INSERT INTO dlq (user, dlq_id, message_id, created_at, not_before, failed_at)
           VALUES ('u', '1-1', 'dead', 1, 1, 1);",
    )
    .unwrap();
    journal::sweep(&conn).unwrap();
    let mut q = conn
        .prepare("SELECT user || '/' || id FROM specs ORDER BY 1")
        .unwrap();
    let kept: Vec<String> = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kept, ["u/dead", "u/logged", "u/pending"]);
}
