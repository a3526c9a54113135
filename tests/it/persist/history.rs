//! `-persist`: the log, the DLQ and deduplication ids survive a `kill -9`, with their cursors
//! and ids working after the restart; a DLQ entry deleted before the kill stays deleted.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use qstash_dev::config::TEST_USERS;

use super::{call, publish, start_on, temp_db};
use crate::support::binary::*;
use crate::support::{Answer, Receiver};

async fn idle(url: &str) {
    let (status, body) = call(url, Method::POST, "/dev/wait-idle?timeout=10s", None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_log_dlq_and_deduplication_ids_survive_kill_9() {
    let db = temp_db("history");
    let rx = Receiver::start().await;
    rx.always(Answer::status(500).body("broken"));
    let (mut child, _, url) = start_on(&db);
    let failed = publish(&url, &rx.url("/fail"), &[("Upstash-Retries", "0")]).await;
    let delayed = publish(
        &url,
        &rx.url("/later"),
        &[("Upstash-Delay", "1h"), ("Upstash-Deduplication-Id", "d1")],
    )
    .await;
    idle(&url).await;
    let (_, log) = call(&url, Method::GET, "/v2/logs", None).await;
    let (_, page1) = call(&url, Method::GET, "/v2/logs?count=2", None).await;
    let cursor = page1["cursor"].as_str().expect("a second page").to_string();
    let (_, page2) = call(
        &url,
        Method::GET,
        &format!("/v2/logs?count=2&cursor={cursor}"),
        None,
    )
    .await;
    let (_, dlq) = call(&url, Method::GET, "/v2/dlq", None).await;
    let dlq_id = dlq["messages"][0]["dlqId"].as_str().unwrap().to_string();
    assert_eq!(dlq["messages"][0]["messageId"], failed.as_str());
    assert_eq!(dlq["messages"][0]["responseBody"], "broken");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    assert_eq!(
        call(&url, Method::GET, "/v2/logs", None).await.1,
        log,
        "the log is back"
    );
    let again = call(
        &url,
        Method::GET,
        &format!("/v2/logs?count=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(
        again.1, page2,
        "a cursor from before the restart still works"
    );
    assert_eq!(
        call(&url, Method::GET, "/v2/dlq", None).await.1,
        dlq,
        "the DLQ is back"
    );
    let dup = reqwest::Client::new()
        .post(format!("{url}/v2/publish/{}", rx.url("/later")))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .header("Upstash-Deduplication-Id", "d1")
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 202, "a duplicate publish");
    let dup: Value = dup.json().await.unwrap();
    assert_eq!(
        dup["messageId"],
        delayed.as_str(),
        "the deduplication id is remembered"
    );
    let (status, _) = call(&url, Method::DELETE, &format!("/v2/dlq/{dlq_id}"), None).await;
    assert_eq!(status, 200);
    let (_, before_newer) = call(&url, Method::GET, "/v2/logs", None).await;
    let newer = publish(&url, &rx.url("/fail"), &[("Upstash-Retries", "0")]).await;
    idle(&url).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    let (_, dlq) = call(&url, Method::GET, "/v2/dlq", None).await;
    let ids: Vec<&Value> = dlq["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["messageId"])
        .collect();
    assert_eq!(
        ids,
        [&Value::from(newer.as_str())],
        "the deleted entry stays deleted: {dlq}"
    );
    let (_, log) = call(&url, Method::GET, "/v2/logs?count=1", None).await;
    let newest = &log["logs"][0];
    assert_eq!(newest["state"], "FAILED", "{log}");
    assert_eq!(newest["messageId"], newer.as_str(), "{log}");
    let (_, all) = call(&url, Method::GET, "/v2/logs", None).await;
    let (all, old) = (
        all["logs"].as_array().unwrap(),
        before_newer["logs"].as_array().unwrap(),
    );
    assert!(all.len() > old.len(), "{all:?}");
    assert_eq!(
        &all[all.len() - old.len()..],
        &old[..],
        "new entries come after the restored ones"
    );
    let (status, _) = call(&url, Method::POST, "/dev/reset", None).await;
    assert_eq!(status, 200);
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, url) = start_on(&db);
    let (_, log) = call(&url, Method::GET, "/v2/logs", None).await;
    assert_eq!(
        log["logs"],
        serde_json::json!([]),
        "reset cleared the kept log"
    );
    let (_, dlq) = call(&url, Method::GET, "/v2/dlq", None).await;
    assert_eq!(dlq["messages"], serde_json::json!([]), "and the kept DLQ");
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
}

#[tokio::test]
async fn schedules_keep_their_times_and_a_missed_firing_is_said() {
    let db = temp_db("schedule-times");
    let persist = format!("-persist={}", db.display());
    let args = [
        "dev",
        "-port=0",
        &persist,
        "-start-time=2026-01-01T00:00:00Z",
    ];
    let (mut child, _, url) = start(&args, &[]);
    let created = reqwest::Client::new()
        .post(format!("{url}/v2/schedules/http://localhost:3000/cron"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .header("Upstash-Cron", "0 9 * * *")
        .header("Upstash-Schedule-Id", "daily")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let trigger = call(&url, Method::POST, "/dev/schedules/daily/trigger", None).await;
    assert_eq!(trigger.0, 200, "{trigger:?}");
    let (_, before) = call(&url, Method::GET, "/v2/schedules/daily", None).await;
    assert!(before["lastScheduleTime"].as_u64().is_some(), "{before}");
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, mut lines, url, rx) = start_reading(&["dev", "-port=0", &persist], &[]);
    let (_, after) = call(&url, Method::GET, "/v2/schedules/daily", None).await;
    for field in ["createdAt", "lastScheduleTime", "cron", "destination"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        after["nextScheduleTime"].as_u64().unwrap() > now,
        "the missed firing is not replayed: {after}"
    );
    lines.extend(rx.try_iter());
    let missed = "schedule daily of defaultUser missed its firing at 2026-01-01T09:00:00";
    assert!(lines.iter().any(|l| l.contains(missed)), "{lines:#?}");
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
}
