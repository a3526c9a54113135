//! `pages`: what reading a log of large bodies costs the server. The release binary (a child
//! process) gets `BENCH_PAGE_MESSAGES` (default 40) messages of 9 MiB delivered to the local
//! receiver; then `BENCH_PAGE_READERS` (default 5) clients each read the whole log with
//! `GET /v2/events?count=1000`, following cursors as the dashboard does, first at a capped rate
//! (slow readers: the server holds what they have not read yet), then as fast as they can.
//! Meanwhile another user sends a small request every 50 ms. Reported per phase: the peak
//! resident memory of the server (VmHWM, reset before the phase) and that user's latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use qstash_dev::config::TEST_USERS;
use reqwest::header::HeaderValue;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::child::Qstash;
use crate::load::{self, median, pct};
use crate::{headers, refs, Rts};

const BODY: usize = 9 * 1024 * 1024;
/// What a slow reader takes in per second.
const SLOW_RATE: f64 = 32e6;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Only the page's shape: the entries are skipped, not kept.
#[derive(Deserialize)]
struct Page {
    cursor: Option<String>,
    #[serde(default)]
    events: Vec<IgnoredAny>,
}

/// What one reader saw: pages, entries, bytes, and whether every page answered 200.
#[derive(Default)]
struct Read {
    pages: usize,
    entries: usize,
    bytes: usize,
    failed: bool,
}

/// Reads the whole log, page by page, at most `rate` bytes a second (`None`: no cap).
async fn read_log(client: reqwest::Client, base: String, rate: Option<f64>) -> Read {
    let mut out = Read::default();
    let mut cursor: Option<String> = None;
    let start = Instant::now();
    loop {
        let mut url = format!("{base}/v2/events?count=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let Ok(mut resp) = client.get(&url).headers(headers(None)).send().await else {
            out.failed = true;
            return out;
        };
        out.failed |= !resp.status().is_success();
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            body.extend_from_slice(&chunk);
            out.bytes += chunk.len();
            if let Some(rate) = rate {
                let due = start + Duration::from_secs_f64(out.bytes as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let Ok(page) = serde_json::from_slice::<Page>(&body) else {
            out.failed = true;
            return out;
        };
        out.pages += 1;
        out.entries += page.events.len();
        match page.cursor.filter(|c| !c.is_empty()) {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

/// The other user's small request, timed every 50 ms until `done`.
async fn probe(client: reqwest::Client, base: String, done: Arc<AtomicBool>) -> Vec<Duration> {
    let mut h = headers(None);
    let auth = format!("Bearer {}", TEST_USERS[1].token);
    h.insert(
        "authorization",
        HeaderValue::from_str(&auth).expect("token"),
    );
    let mut times = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let url = format!("{base}/v2/events?count=10");
        if let Ok(r) = client.get(&url).headers(h.clone()).send().await {
            let _ = r.bytes().await;
        }
        times.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    times.sort_unstable();
    times
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// One phase's row of the table.
struct Row {
    name: &'static str,
    before_mb: f64,
    peak_mb: f64,
    after_mb: f64,
    reads: Vec<Read>,
    secs: f64,
    probes: Vec<Duration>,
}

fn phase(rts: &Rts, q: &Qstash, name: &'static str, rate: Option<f64>) -> Row {
    let pid = q.pid();
    // "5" resets VmHWM to the current RSS, so the peak is this phase's.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    assert!(reset, "cannot reset the peak RSS of the server");
    let before_mb = status_kb(pid, "VmRSS:") as f64 / 1e3;
    let readers = env_usize("BENCH_PAGE_READERS", 5);
    let t0 = Instant::now();
    let (reads, probes) = rts.client.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let prober = tokio::spawn(probe(load::client(), q.url.clone(), done.clone()));
        let tasks: Vec<_> = (0..readers)
            .map(|_| tokio::spawn(read_log(load::client(), q.url.clone(), rate)))
            .collect();
        let mut reads = Vec::new();
        for t in tasks {
            reads.push(t.await.unwrap_or_default());
        }
        done.store(true, Ordering::Relaxed);
        (reads, prober.await.unwrap_or_default())
    });
    let secs = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    Row {
        name,
        before_mb,
        peak_mb: status_kb(pid, "VmHWM:") as f64 / 1e3,
        after_mb: status_kb(pid, "VmRSS:") as f64 / 1e3,
        reads,
        secs,
        probes,
    }
}

/// Publishes `n` large messages to the receiver and waits until every one was delivered.
fn fill(rts: &Rts, q: &Qstash, n: usize) {
    let (_recv, raddr) = rts.server.block_on(refs::Receiver::start());
    let url = format!("{}/v2/publish/http://{raddr}/hook", q.url);
    let body = Bytes::from(vec![b'x'; BODY]);
    rts.client.block_on(async {
        let client = load::client();
        for _ in 0..n {
            let r = client.post(&url).headers(headers(None)).body(body.clone());
            let ok = r.send().await.is_ok_and(|r| r.status().is_success());
            assert!(ok, "publishing a large message failed");
        }
        let idle = format!("{}/dev/wait-idle?timeout=300s", q.url);
        let r = client.get(&idle).headers(headers(None)).send().await;
        assert!(r.is_ok_and(|r| r.status().is_success()), "wait-idle");
    });
}

fn print(rows: &[Row], n: usize) {
    println!(
        "\n## Pages of a log of {n} delivered 9 MiB messages, read whole with `count=1000` by {} clients\n",
        env_usize("BENCH_PAGE_READERS", 5)
    );
    println!("| readers | server RSS before / peak / after, MB | pages per reader | entries per reader | MB per reader | wall s | other user's request p50 / max ms | failed readers |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        let ms = |p: f64| pct(&r.probes, p);
        let first = r.reads.first();
        println!(
            "| {} | {:.0} / {:.0} / {:.0} | {} | {} | {:.0} | {:.1} | {:.1} / {:.1} | {} |",
            r.name,
            r.before_mb,
            r.peak_mb,
            r.after_mb,
            median(r.reads.iter().map(|x| x.pages as f64).collect()),
            first.map_or(0, |x| x.entries),
            median(r.reads.iter().map(|x| x.bytes as f64 / 1e6).collect()),
            r.secs,
            ms(50.0),
            ms(100.0),
            r.reads.iter().filter(|x| x.failed).count(),
        );
    }
}

/// Each phase on a fresh server: memory the allocator kept from one phase would hide the
/// next one's peak.
pub fn run(rts: &Rts) {
    let n = env_usize("BENCH_PAGE_MESSAGES", 40);
    let phases = [
        ("slow (32 MB/s each)", Some(SLOW_RATE)),
        ("fast (no cap)", None),
    ];
    let rows: Vec<Row> = phases
        .into_iter()
        .map(|(name, rate)| {
            let q = Qstash::start(&["-throughput-limits=false"]);
            fill(rts, &q, n);
            std::thread::sleep(Duration::from_millis(300));
            phase(rts, &q, name, rate)
        })
        .collect();
    print(&rows, n);
}
