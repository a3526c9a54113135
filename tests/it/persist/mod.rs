//! `-persist <file>` through the binary: definitions and signing keys survive a SIGTERM and a
//! `kill -9` right after the answer; a second server on the same file, a file from a newer
//! version and a file that is not a database are refused with one line and exit code 1;
//! `/dev/reset` clears what is kept.

mod crash;
mod history;
mod workflow;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use qstash_dev::config::TEST_USERS;
use serde_json::{json, Value};

use crate::support::binary::*;

pub(super) fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qstash-it-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("state.db")
}

pub(super) fn start_on(db: &Path) -> (Child, Vec<String>, String) {
    start(
        &["dev", "-port=0", &format!("-persist={}", db.display())],
        &[],
    )
}

pub(super) async fn call(
    url: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method, format!("{url}{path}"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn build(url: &str) -> Value {
    use reqwest::Method;
    let eps = json!({"endpoints": [{"name": "a", "url": "http://localhost:3000/a"}]});
    assert_eq!(
        call(url, Method::POST, "/v2/topics/team/endpoints", Some(eps))
            .await
            .0,
        200
    );
    let q = json!({"queueName": "orders", "parallelism": 3});
    assert_eq!(call(url, Method::POST, "/v2/queues", Some(q)).await.0, 200);
    let r = reqwest::Client::new()
        .post(format!("{url}/v2/schedules/http://localhost:3000/cron"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .header("Upstash-Cron", "0 9 * * *")
        .header("Upstash-Schedule-Id", "daily")
        .header("Upstash-Retries", "1")
        .body("tick")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pin = "/v2/flowControl/k/pin?parallelism=2";
    assert_eq!(call(url, Method::POST, pin, None).await.0, 200);
    let (status, keys) = call(url, Method::POST, "/v2/keys/rotate", None).await;
    assert_eq!(status, 200);
    keys
}

async fn export(url: &str) -> Value {
    call(url, reqwest::Method::GET, "/dev/export", None).await.1
}

#[tokio::test]
async fn definitions_and_keys_survive_sigterm_and_kill_9() {
    let db = temp_db("survive");
    let (mut child, lines, url) = start_on(&db);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("State: kept in {}", db.display()))),
        "{lines:?}"
    );
    let keys = build(&url).await;
    let before = export(&url).await;
    assert_eq!(
        before["users"]["defaultUser"]["queues"][0]["parallelism"],
        3
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());

    let (mut child, _, url) = start_on(&db);
    assert_eq!(export(&url).await, before, "everything back after SIGTERM");
    assert_eq!(
        call(&url, reqwest::Method::GET, "/v2/keys", None).await.1,
        keys
    );
    let group = json!({"endpoints": [{"url": "http://localhost:3000/late"}]});
    let (status, _) = call(
        &url,
        reqwest::Method::POST,
        "/v2/topics/late/endpoints",
        Some(group),
    )
    .await;
    assert_eq!(status, 200);
    child.kill().unwrap(); // SIGKILL right after the answer
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    let after = export(&url).await;
    let groups = &after["users"]["defaultUser"]["urlGroups"];
    assert_eq!(
        groups.as_array().map(Vec::len),
        Some(2),
        "the acknowledged change survived kill -9: {after}"
    );
    assert_eq!(
        call(&url, reqwest::Method::POST, "/dev/reset", None)
            .await
            .0,
        200
    );
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(5));

    let (mut child, _, url) = start_on(&db);
    assert_eq!(
        export(&url).await,
        json!({"version": 1, "users": {}}),
        "reset cleared the file too"
    );
    let (_, keys_now) = call(&url, reqwest::Method::GET, "/v2/keys", None).await;
    assert_eq!(keys_now["current"], TEST_USERS[0].current_signing_key);
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(5));
}

/// What a start on `db` prints; it must end at once with exit code 1 and one line.
fn refused(db: &Path) -> String {
    let mut child = Command::new(BIN)
        .args(["dev", "-port=0", &format!("-persist={}", db.display())])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
    }
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut printed).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{printed}");
    assert_eq!(printed.lines().count(), 1, "one line: {printed}");
    printed
}

#[tokio::test]
async fn a_held_newer_or_broken_file_is_refused_with_one_line() {
    let db = temp_db("refused");
    let (mut child, _, _) = start_on(&db);
    assert!(refused(&db).contains("another running qstash dev holds this database"));
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(5));

    let conn = version_bump(&db);
    assert!(conn.contains("written by a newer qstash dev"), "{conn}");

    let junk = temp_db("junk");
    std::fs::write(
        &junk,
        b"not a database at all, but long enough to look like a header....",
    )
    .unwrap();
    assert!(refused(&junk).contains("not a usable qstash dev database"));
}

/// Marks the file as written by a newer version and returns what a start prints.
fn version_bump(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    refused(db)
}

pub(super) async fn publish(url: &str, dest: &str, headers: &[(&str, &str)]) -> String {
    let mut rb = reqwest::Client::new()
        .post(format!("{url}/v2/publish/{dest}"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .body("kept");
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["messageId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn pending_messages_survive_a_restart_and_are_delivered_at_their_time() {
    let db = temp_db("messages");
    let rx = crate::support::Receiver::start().await;
    let (mut child, _, url) = start_on(&db);
    let soon = publish(&url, &rx.url("/soon"), &[("Upstash-Delay", "2s")]).await;
    let later = publish(
        &url,
        &rx.url("/later"),
        &[("Upstash-Delay", "1h"), ("Upstash-Retries", "1")],
    )
    .await;
    let queued = reqwest::Client::new()
        .post(format!("{url}/v2/enqueue/q1/{}", rx.url("/queued")))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .header("Upstash-Delay", "1h")
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 200);
    publish(&url, &rx.url("/now"), &[]).await;
    rx.wait_for(1).await;
    let (_, before) = call(
        &url,
        reqwest::Method::GET,
        &format!("/v2/messages/{later}"),
        None,
    )
    .await;
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());

    let (mut child, _, url) = start_on(&db);
    let (status, after) = call(
        &url,
        reqwest::Method::GET,
        &format!("/v2/messages/{later}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{after}");
    for field in ["createdAt", "notBefore", "url", "maxRetries", "body"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let (_, q) = call(&url, reqwest::Method::GET, "/v2/queues/q1", None).await;
    assert_eq!(q["lag"], 1, "the queued message is back in its queue: {q}");
    let got = rx.wait_for(2).await;
    assert!(
        got.iter().any(|d| d.path == "/soon"),
        "the 2 s message is delivered after the restart"
    );
    assert_eq!(
        got.iter().filter(|d| d.path == "/now").count(),
        1,
        "a delivered message is not sent again"
    );
    let gone = format!("/v2/messages/{soon}");
    let mut status = 0;
    for _ in 0..200 {
        status = call(&url, reqwest::Method::GET, &gone, None).await.0;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, 404, "delivered, so no longer pending");

    let late = publish(&url, &rx.url("/killed"), &[("Upstash-Delay", "1h")]).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, _, url) = start_on(&db);
    let (status, _) = call(
        &url,
        reqwest::Method::GET,
        &format!("/v2/messages/{late}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "acknowledged, so kept through kill -9");
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(5));
}

#[tokio::test]
async fn after_a_clean_stop_the_file_alone_holds_everything() {
    let db = temp_db("clean-stop");
    let (mut child, _, url) = start_on(&db);
    let id = publish(&url, "http://127.0.0.1:9/later", &[("Upstash-Delay", "1h")]).await;
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
    let wal = db.with_file_name("state.db-wal");
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_len, 0, "the write-ahead log is folded into the file");

    let copy = temp_db("clean-stop-copy");
    std::fs::copy(&db, &copy).unwrap();
    let (mut child, _, url) = start_on(&copy);
    let (status, m) = call(
        &url,
        reqwest::Method::GET,
        &format!("/v2/messages/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "the copied file alone has the message: {m}");
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(5));
}
