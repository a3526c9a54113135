//! `persist`: what `-persist` costs. Publish throughput (1 KB, `Upstash-Delay: 1h`, 64
//! connections) and end to end (publish → delivered to a local receiver, 32 connections) of a
//! server with `-persist` on a fresh file against the in-memory default, both sides in the
//! same repetition; then the release binary's restart with 100,000 pending messages in its
//! file: spawn → readiness line, every message loaded and armed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::load::{closed, median, Target};
use crate::{bench_config, body_1kb, child, headers, ratio, refs, reps, Rts};

const PUBLISHES: usize = 20_000;
const PENDING: usize = 100_000;

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qstash-bench-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// (publish msg/s, delivered msg/s) of one server, persisting to `file` if given.
fn one(rts: &Rts, file: Option<PathBuf>, dest: &str, recv: &refs::Receiver) -> (f64, f64) {
    let config = qstash_dev::config::Config {
        persist: file,
        ..bench_config()
    };
    let s = rts
        .server
        .block_on(qstash_dev::server::spawn(config))
        .expect("spawn qstash");
    let url = |d: &str| format!("http://{}/v2/publish/{d}", s.addr);
    let rates = rts.client.block_on(async {
        let delayed = Target::new(
            url("http://127.0.0.1:9/hook"),
            headers(Some("1h")),
            body_1kb(),
        );
        closed(&delayed, 64, 2_000).await;
        let publish = closed(&delayed, 64, PUBLISHES).await.rate();
        let e2e = Target::new(url(dest), headers(None), body_1kb());
        recv.reset();
        let start = Instant::now();
        closed(&e2e, 32, PUBLISHES).await;
        recv.wait_for(PUBLISHES, Duration::from_secs(120)).await;
        (publish, PUBLISHES as f64 / start.elapsed().as_secs_f64())
    });
    rts.server.block_on(s.stop());
    rates
}

/// Spawn → readiness of the release binary on a file holding `PENDING` pending messages.
fn restart(rts: &Rts) -> (f64, f64) {
    let file = temp_file("restart");
    let arg = format!("-persist={}", file.display());
    let first = child::Qstash::start(&["-throughput-limits=false", &arg]);
    let t = Target::new(
        format!("{}/v2/publish/http://127.0.0.1:9/hook", first.url),
        headers(Some("1h")),
        body_1kb(),
    );
    let errors = rts.client.block_on(closed(&t, 32, PENDING)).errors;
    assert_eq!(errors, 0, "every publish acknowledged");
    drop(first); // SIGKILL
    let size = std::fs::metadata(&file).map_or(0, |m| m.len())
        + std::fs::metadata(format!("{}-wal", file.display())).map_or(0, |m| m.len());
    let mut times = Vec::new();
    for _ in 0..reps() {
        let again = child::Qstash::start(&[&arg]);
        times.push(again.started_in.as_secs_f64() * 1e3);
    }
    (median(times), size as f64 / 1e6)
}

pub fn run(rts: &Rts) {
    let (recv, raddr) = rts.server.block_on(refs::Receiver::start());
    let dest = format!("http://{raddr}/hook");
    let (mut memory, mut kept) = (Vec::new(), Vec::new());
    for rep in 0..reps() {
        let file = temp_file(&format!("rep{rep}"));
        // Alternate the order, so what one run leaves behind falls on both sides alike.
        if rep % 2 == 0 {
            memory.push(one(rts, None, &dest, &recv));
            kept.push(one(rts, Some(file), &dest, &recv));
        } else {
            kept.push(one(rts, Some(file), &dest, &recv));
            memory.push(one(rts, None, &dest, &recv));
        }
    }
    let col = |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| median(v.iter().map(f).collect());
    println!(
        "\n## -persist against in memory, {PUBLISHES} messages each, median of {} runs\n",
        reps()
    );
    println!("| | -persist | in memory | ratio |");
    println!("|---|---|---|---|");
    let (pk, pm) = (col(&kept, |x| x.0), col(&memory, |x| x.0));
    println!(
        "| publish msg/s (1 KB, delayed 1h, 64 conns) | {pk:.0} | {pm:.0} | {} |",
        ratio(pk, pm)
    );
    let (ek, em) = (col(&kept, |x| x.1), col(&memory, |x| x.1));
    println!(
        "| end to end delivered msg/s (32 conns) | {ek:.0} | {em:.0} | {} |",
        ratio(ek, em)
    );
    let (ms, mb) = restart(rts);
    println!(
        "| restart with {PENDING} pending (spawn → readiness, median of {}) | {ms:.0} ms | | file {mb:.0} MB |",
        reps()
    );
}
