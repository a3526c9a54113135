//! `-persist` under a crash: publishers go as fast as they can, the server is killed with
//! SIGKILL at a random moment, and after the restart every message whose publish got a 2xx is
//! delivered or still pending. None is lost, and none is delivered twice except an attempt in
//! flight at the crash, which runs once more after the restart (at least once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qstash_dev::config::TEST_USERS;
use rand::Rng;
use reqwest::Method;

use super::{call, start_on, temp_db};
use crate::support::binary::*;
use crate::support::Receiver;

/// Publishes to `dest` from `tasks` tasks until the server stops answering; the ids of the
/// publishes that got a 2xx.
async fn publish_until_gone(url: &str, dest: &str, tasks: usize) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (url, dest, acked) = (url.to_string(), dest.to_string(), acked.clone());
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let sent = client
                    .post(format!("{url}/v2/publish/{dest}"))
                    .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
                    .body("crash")
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                let Ok(r) = sent else { break };
                if !r.status().is_success() {
                    continue;
                }
                let Ok(v) = r.json::<serde_json::Value>().await else {
                    break;
                };
                let id = v["messageId"].as_str().unwrap().to_string();
                acked.lock().unwrap().push(id);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let ids = acked.lock().unwrap().clone();
    ids
}

/// Every acknowledged id is delivered or pending, and each delivery after the first comes
/// after a crash, the one before it from before that crash: the retry of an attempt in flight.
/// `deaths` are the instants each killed server was gone; a request it sent may reach the
/// receiver's handler a little later, hence the grace.
async fn check(url: &str, rx: &Receiver, acked: &[String], deaths: &[Instant]) {
    const GRACE: Duration = Duration::from_millis(500);
    let (status, body) = call(url, Method::POST, "/dev/wait-idle?timeout=20s", None).await;
    assert_eq!(status, 200, "{body}");
    let mut deliveries: HashMap<String, Vec<Instant>> = HashMap::new();
    for d in rx.received() {
        let id = d.header("Upstash-Message-Id").unwrap();
        deliveries.entry(id).or_default().push(d.at);
    }
    for id in acked {
        let times = deliveries.get(id).map(Vec::as_slice).unwrap_or_default();
        if times.is_empty() {
            let (status, _) = call(url, Method::GET, &format!("/v2/messages/{id}"), None).await;
            assert_eq!(status, 200, "{id} was acknowledged: delivered or pending");
        }
        for pair in times.windows(2) {
            assert!(
                deaths.iter().any(|d| pair[0] <= *d + GRACE && *d < pair[1]),
                "{id} delivered again with no crash in between"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_publish_survives_a_sigkill_at_a_random_moment() {
    let db = temp_db("crash");
    let rx = Receiver::start().await;
    let dest = rx.url("/crash");
    let (mut acked, mut deaths) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (mut child, _, url) = start_on(&db);
        check(&url, &rx, &acked, &deaths).await;
        let publishers = {
            let (url, dest) = (url.clone(), dest.clone());
            tokio::spawn(async move { publish_until_gone(&url, &dest, 8).await })
        };
        let wait = rand::thread_rng().gen_range(100..500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        deaths.push(Instant::now());
        let round = publishers.await.unwrap();
        assert!(round.len() > 10, "publishers got going: {}", round.len());
        acked.extend(round);
    }
    let (mut child, _, url) = start_on(&db);
    check(&url, &rx, &acked, &deaths).await;
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
}
