//! `cargo bench --bench bench -- [publish|e2e|lateness|pending|start|clock|pages|persist|all]`: qstash-dev
//! measured side by side, in the same run, with bare references built into this bench (see
//! `refs`), and reported as ratios. Not part of the test suite. `BENCH_REPS` (default 3) sets
//! how often each comparison repeats; the tables show the median (and the best where it says
//! so). `BENCH_E2E_MESSAGES` (default 20000) sets the size of an end-to-end run: longer runs
//! average out a noisy machine. Each repetition of end to end runs both sides back to back, and
//! the table also gives the mean of the per-repetition ratios: with `BENCH_REPS=30` that is the
//! paired measure `BENCHMARKS.md` reports. `pages` and `persist` (see their modules) are heavy
//! and run only when named, never as part of `all`.

mod child;
mod clock;
mod load;
mod pages;
mod persist;
mod refs;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use load::{best, closed, median, open, paired, Run, Target};
use qstash_dev::config::{Config, TEST_USERS};
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::runtime::Runtime;

/// The servers run on one runtime, the load generator on another (2 worker threads each).
struct Rts {
    server: Runtime,
    client: Runtime,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn reps() -> usize {
    std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

const KB: usize = 1024;

fn body_1kb() -> Bytes {
    Bytes::from(vec![b'x'; KB])
}

fn headers(delay: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let auth = format!("Bearer {}", TEST_USERS[0].token);
    h.insert(
        "authorization",
        HeaderValue::from_str(&auth).expect("token"),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(d) = delay {
        h.insert("upstash-delay", HeaderValue::from_str(d).expect("delay"));
    }
    h
}

fn bench_config() -> Config {
    Config {
        port: 0,
        throughput_limits: false,
        ..Config::default()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Qstash,
    Bare,
}

/// A server of either kind on the server runtime; the qstash one is stopped on `stop`.
struct Up {
    addr: SocketAddr,
    spawned: Option<qstash_dev::server::Spawned>,
}

impl Up {
    fn start(rts: &Rts, which: Impl, pipeline: bool) -> Self {
        rts.server.block_on(async {
            match (which, pipeline) {
                (Impl::Qstash, _) => {
                    let s = qstash_dev::server::spawn(bench_config())
                        .await
                        .expect("spawn qstash");
                    Self {
                        addr: s.addr,
                        spawned: Some(s),
                    }
                }
                (Impl::Bare, false) => Self {
                    addr: refs::bare_publish().await,
                    spawned: None,
                },
                (Impl::Bare, true) => Self {
                    addr: refs::bare_pipeline().await,
                    spawned: None,
                },
            }
        })
    }

    fn publish_url(&self, dest: &str) -> String {
        format!("http://{}/v2/publish/{dest}", self.addr)
    }

    fn stop(self, rts: &Rts) {
        if let Some(s) = self.spawned {
            rts.server.block_on(s.stop());
        }
    }
}

/// Both sides of a comparison, or only one with `BENCH_ONLY=qstash|bare` (for profiling one
/// side with `perf`; the ratios are then meaningless).
/// The order alternates from one repetition to the next (qstash first, then the bare side
/// first), so whatever a run leaves behind for the next one in the same process (warm caches,
/// the allocator's pages, a busier machine) falls on both sides alike.
fn sides(rep: usize) -> impl Iterator<Item = (usize, Impl)> {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let mut order = [(0, Impl::Qstash), (1, Impl::Bare)];
    if rep % 2 == 1 {
        order.reverse();
    }
    order
        .into_iter()
        .filter(move |(_, which)| match only.as_str() {
            "qstash" => *which == Impl::Qstash,
            "bare" => *which == Impl::Bare,
            _ => true,
        })
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.0}%", 100.0 * a / b)
}

fn errors(runs: &[&Run]) -> usize {
    runs.iter().map(|r| r.errors).sum()
}

/// Publish throughput and latency at 1k/s, 5k/s and saturation, vs the bare handler.
fn publish(rts: &Rts) {
    let loads: [(&str, Option<u32>); 3] = [
        ("1k msg/s", Some(1_000)),
        ("5k msg/s", Some(5_000)),
        ("saturation (64 conns)", None),
    ];
    // [load][impl] -> (rate, p50, p99) per rep
    let mut m = vec![[Vec::new(), Vec::new()]; loads.len()];
    let mut errs = 0;
    for rep in 0..reps() {
        for (k, which) in sides(rep) {
            let up = Up::start(rts, which, false);
            let t = Target::new(
                up.publish_url("http://127.0.0.1:9/hook"),
                headers(Some("1h")),
                body_1kb(),
            );
            rts.client.block_on(async {
                closed(&t, 64, 2_000).await; // warm up: connections, allocator
                for (i, (_, rate)) in loads.iter().enumerate() {
                    let r = match rate {
                        Some(rate) => open(&t, *rate, Duration::from_secs(4)).await,
                        None => closed(&t, 64, 40_000).await,
                    };
                    errs += errors(&[&r]);
                    m[i][k].push((r.rate(), r.pct(50.0), r.pct(99.0)));
                }
            });
            up.stop(rts);
        }
    }
    println!(
        "\n## Publish (1 KB body, `Upstash-Delay: 1h`), median of {} runs\n",
        reps()
    );
    println!("| load | qstash msg/s | bare msg/s | ratio | qstash p50 / p99 ms | bare p50 / p99 ms | best qstash / bare msg/s |");
    println!("|---|---|---|---|---|---|---|");
    for (i, (name, _)) in loads.iter().enumerate() {
        let col =
            |k: usize, f: fn(&(f64, f64, f64)) -> f64| median(m[i][k].iter().map(f).collect());
        let (qr, br) = (col(0, |x| x.0), col(1, |x| x.0));
        let bq: Vec<f64> = m[i][0].iter().map(|x| x.0).collect();
        let bb: Vec<f64> = m[i][1].iter().map(|x| x.0).collect();
        println!(
            "| {name} | {qr:.0} | {br:.0} | {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.0} / {:.0} |",
            ratio(qr, br),
            col(0, |x| x.1),
            col(0, |x| x.2),
            col(1, |x| x.1),
            col(1, |x| x.2),
            best(&bq),
            best(&bb),
        );
    }
    println!("\nfailed requests: {errs}");
}

/// Publish -> delivered to a local receiver, vs publish -> sign -> deliver with no storage.
fn e2e(rts: &Rts) {
    let n: usize = std::env::var("BENCH_E2E_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (recv, raddr) = rts.server.block_on(refs::Receiver::start());
    let dest = format!("http://{raddr}/hook");
    let mut m = [Vec::new(), Vec::new()];
    let mut pubrate = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut lost = 0;
    let mut documented = [0, 0];
    for rep in 0..reps() {
        for (k, which) in sides(rep) {
            let up = Up::start(rts, which, true);
            let t = Target::new(up.publish_url(&dest), headers(None), body_1kb());
            rts.client.block_on(async {
                recv.reset();
                closed(&t, 32, 1_000).await;
                recv.wait_for(1_000, Duration::from_secs(30)).await;
                recv.reset();
                let (start, cpu0) = (Instant::now(), child::cpu_seconds());
                let r = closed(&t, 32, n).await;
                if !recv.wait_for(n, Duration::from_secs(120)).await {
                    lost += 1;
                }
                documented[k] += recv.documented.load(std::sync::atomic::Ordering::Relaxed);
                m[k].push(n as f64 / start.elapsed().as_secs_f64());
                cpu[k].push((child::cpu_seconds() - cpu0) / n as f64 * 1e6);
                pubrate[k].push(r.rate());
            });
            up.stop(rts);
        }
    }
    let (q, b) = (median(m[0].clone()), median(m[1].clone()));
    println!(
        "\n## End to end: {n} publishes (1 KB, 32 conns) -> delivered, median of {} runs\n",
        reps()
    );
    println!("| | qstash | bare pipeline | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| delivered msg/s (median) | {q:.0} | {b:.0} | {} |",
        ratio(q, b)
    );
    println!(
        "| delivered msg/s (best) | {:.0} | {:.0} | {} |",
        best(&m[0]),
        best(&m[1]),
        ratio(best(&m[0]), best(&m[1]))
    );
    let (pq, pb) = (median(pubrate[0].clone()), median(pubrate[1].clone()));
    println!(
        "| publish msg/s during the run | {pq:.0} | {pb:.0} | {} |",
        ratio(pq, pb)
    );
    let (cq, cb) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!(
        "| CPU µs per delivered message (whole process: load generator, server, receiver) | {cq:.1} | {cb:.1} | {} |",
        ratio(cb, cq)
    );
    let (rm, rse) = paired(&m[0], &m[1]);
    let (cm, cse) = paired(&cpu[1], &cpu[0]);
    println!(
        "| paired: mean of the per-run ratios ± standard error (throughput / CPU) | | | {:.1}% ± {:.1} / {:.1}% ± {:.1} |",
        100.0 * rm,
        100.0 * rse,
        100.0 * cm,
        100.0 * cse
    );
    let (tg, tm) = load::paired_geo_median(&m[0], &m[1]);
    let (cg, cmed) = load::paired_geo_median(&cpu[1], &cpu[0]);
    println!(
        "| paired: geometric mean / median of the per-run ratios (throughput; CPU) | | | {:.1}% / {:.1}%; {:.1}% / {:.1}% |",
        100.0 * tg,
        100.0 * tm,
        100.0 * cg,
        100.0 * cmed
    );
    let half = |v: &[f64], first: usize| -> Vec<f64> {
        v.iter().skip(first).step_by(2).copied().collect()
    };
    let (qf, _) = paired(&half(&m[0], 0), &half(&m[1], 0));
    let (bf, _) = paired(&half(&m[0], 1), &half(&m[1], 1));
    println!(
        "| paired throughput ratio of the repetitions with qstash first / with the bare side first | | | {:.1}% / {:.1}% |",
        100.0 * qf,
        100.0 * bf
    );
    println!(
        "| deliveries carrying the documented header set ({}) | {} | {} | |",
        refs::DOCUMENTED.join(", "),
        documented[0],
        documented[1]
    );
    println!("\nruns that timed out before every delivery arrived: {lost}");
}

/// Lateness of delayed messages: delivered time minus due time.
fn lateness(rts: &Rts) {
    const M: usize = 2_000;
    let (recv, raddr) = rts.server.block_on(refs::Receiver::start());
    let dest = format!("http://{raddr}/hook");
    let mut m = [Vec::new(), Vec::new()];
    for rep in 0..reps() {
        for (k, which) in sides(rep) {
            let up = Up::start(rts, which, true);
            let url = up.publish_url(&dest);
            let late = rts.client.block_on(async {
                recv.reset();
                let client = load::client();
                let mut tick = tokio::time::interval(Duration::from_micros(2_500));
                for i in 0..M {
                    tick.tick().await;
                    let delay_ms = (i * 37) % 900 + 100;
                    let mut h = headers(Some(&format!("{delay_ms}ms")));
                    let due = refs::now_us() + delay_ms as u64 * 1_000;
                    h.insert("upstash-forward-bench-due", HeaderValue::from(due));
                    let req = client.post(&url).headers(h).body(body_1kb());
                    tokio::spawn(async move {
                        if let Ok(r) = req.send().await {
                            let _ = r.bytes().await;
                        }
                    });
                }
                recv.wait_for(M, Duration::from_secs(30)).await;
                let mut late = recv.late_us.lock().clone();
                late.sort_unstable();
                late
            });
            m[k].push(late);
            up.stop(rts);
        }
    }
    let p = |v: &[i64], q: f64| -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() as f64 * q / 100.0).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1e3
    };
    let stat = |k: usize, f: &dyn Fn(&[i64]) -> f64| median(m[k].iter().map(|v| f(v)).collect());
    println!(
        "\n## Lateness: {M} messages at 400/s, delays 100..1000 ms, median of {} runs\n",
        reps()
    );
    println!("| ms after due | qstash | bare (tokio sleep) |");
    println!("|---|---|---|");
    for (name, q) in [("p50", 50.0), ("p99", 99.0), ("max", 100.0)] {
        println!(
            "| {name} | {:.2} | {:.2} |",
            stat(0, &|v| p(v, q)),
            stat(1, &|v| p(v, q))
        );
    }
    println!(
        "| min (negative = early) | {:.2} | {:.2} |",
        stat(0, &|v| p(v, 0.0)),
        stat(1, &|v| p(v, 0.0))
    );
    println!(
        "| delivered | {:.0} / {M} | {:.0} / {M} |",
        stat(0, &|v| v.len() as f64),
        stat(1, &|v| v.len() as f64)
    );
}

/// Resident memory and publish throughput with 1k, 100k and 1M pending 1 KB messages.
fn pending(rts: &Rts) {
    const WINDOW: usize = 20_000;
    let q = child::Qstash::start(&["-throughput-limits=false"]);
    let idle = q.rss_bytes();
    let t = Target::new(
        format!("{}/v2/publish/http://127.0.0.1:9/hook", q.url),
        headers(Some("1h")),
        body_1kb(),
    );
    let mut rows = Vec::new();
    let mut sent = 0;
    let mut errs = 0;
    for level in [1_000usize, 100_000, 1_000_000] {
        rts.client.block_on(async {
            let fill = closed(&t, 32, level - sent).await;
            errs += fill.errors;
            sent = level;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let rss = q.rss_bytes();
            let w = closed(&t, 32, WINDOW).await;
            errs += w.errors;
            sent += WINDOW;
            rows.push((level, rss, w.rate(), w.pct(50.0), w.pct(99.0)));
        });
    }
    let after = q.rss_bytes();
    let base = rows[0].2;
    println!("\n## Pending delayed 1 KB messages (`Upstash-Delay: 1h`), release binary as a child process\n");
    println!("idle RSS before publishing: {:.1} MB\n", idle as f64 / 1e6);
    println!("| pending | RSS MB | RSS / raw payload | bytes per message over idle | publish msg/s (next {WINDOW}) | vs at 1k | p50 / p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    for (level, rss, rate, p50, p99) in &rows {
        println!(
            "| {level} | {:.0} | {:.2}x | {:.0} | {rate:.0} | {} | {p50:.3} / {p99:.3} |",
            *rss as f64 / 1e6,
            *rss as f64 / (*level * KB) as f64,
            rss.saturating_sub(idle) as f64 / *level as f64,
            ratio(*rate, base),
        );
    }
    println!(
        "\nRSS after the last window ({sent} pending): {:.0} MB; failed requests: {errs}",
        after as f64 / 1e6
    );
}

/// Start to listening, idle memory, binary size.
fn start() {
    const N: usize = 20;
    let mut times = Vec::new();
    let mut idle = Vec::new();
    let mut floor = Vec::new();
    for _ in 0..N {
        floor.push(child::spawn_floor().as_secs_f64() * 1e3);
        let q = child::Qstash::start(&[]);
        times.push(q.started_in.as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(200));
        idle.push(q.rss_bytes() as f64 / 1e6);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let size = std::fs::metadata(child::BIN).map_or(0, |m| m.len());
    println!("\n## Start, idle memory, size ({N} starts of `qstash dev -port=0`)\n");
    println!("| | best | median | reference |");
    println!("|---|---|---|---|");
    println!(
        "| spawn -> readiness line, ms | {:.2} | {:.2} | spawn+exit of `true`: best {:.2}, median {:.2} |",
        min(&times),
        median(times.clone()),
        min(&floor),
        median(floor.clone())
    );
    println!(
        "| idle RSS, MB | {:.1} | {:.1} | |",
        min(&idle),
        median(idle.clone())
    );
    println!(
        "| binary size, MB | {:.2} | | `{}` |",
        size as f64 / 1e6,
        child::BIN
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = args.is_empty() || args.iter().any(|a| a == "all");
    let want = |s: &str| all || args.iter().any(|a| a == s);
    let rts = Rts {
        server: runtime(),
        client: runtime(),
    };
    println!("# qstash-dev bench (BENCH_REPS={})", reps());
    if want("start") {
        start();
    }
    if want("publish") {
        publish(&rts);
    }
    if want("e2e") {
        e2e(&rts);
    }
    if want("lateness") {
        lateness(&rts);
    }
    if want("pending") {
        pending(&rts);
    }
    if want("clock") {
        clock::run(&rts);
    }
    if args.iter().any(|a| a == "pages") {
        pages::run(&rts);
    }
    if args.iter().any(|a| a == "persist") {
        persist::run(&rts);
    }
}
