//! `clock`: what time control saves. A week of a daily schedule, one message delayed by a day
//! and the default retry ladder (3 retries) to the DLQ, all made to happen by one
//! `POST /dev/clock/advance?by=7d`: the wall time of that request (every delivery made, to a
//! local receiver, before it answers) against the week it stands for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use qstash_dev::config::TEST_USERS;

use crate::load::median;
use crate::{bench_config, reps, Rts};

const WEEK_SECS: f64 = 7.0 * 86_400.0;

/// Deliveries received: `/ok/…` answered 200, `/fail/…` answered 500.
#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

async fn receive(
    State(c): State<Arc<Counts>>,
    Path((kind, _)): Path<(String, String)>,
) -> StatusCode {
    if kind == "fail" {
        c.failed.fetch_add(1, Ordering::Relaxed);
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        c.ok.fetch_add(1, Ordering::Relaxed);
        StatusCode::OK
    }
}

async fn receiver() -> (Arc<Counts>, SocketAddr) {
    let c = Arc::new(Counts::default());
    let app = Router::new()
        .route("/{kind}/{*rest}", post(receive))
        .with_state(c.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (c, addr)
}

/// One run: sets the week up, then times the advance. Returns the advance's wall time.
async fn one_week(server: &str, rx: SocketAddr, counts: &Counts) -> Duration {
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", TEST_USERS[0].token);
    let call = |path: String, headers: &[(&str, &str)]| {
        let mut rb = http
            .post(format!("{server}{path}"))
            .header("authorization", &auth);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send()
    };
    let ok = |h: &str| format!("http://{rx}/ok/{h}");
    let r = call(
        format!("/v2/schedules/{}", ok("daily")),
        &[("Upstash-Cron", "0 9 * * *")],
    );
    assert!(r.await.expect("schedule").status().is_success());
    let r = call(
        format!("/v2/publish/{}", ok("delayed")),
        &[("Upstash-Delay", "1d")],
    );
    assert!(r.await.expect("delayed").status().is_success());
    let r = call(format!("/v2/publish/http://{rx}/fail/ladder"), &[]);
    assert!(r.await.expect("failing").status().is_success());
    while counts.failed.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    let r = call("/dev/clock/advance?by=7d".into(), &[])
        .await
        .expect("advance");
    let took = started.elapsed();
    assert!(r.status().is_success(), "advance: {}", r.status());
    assert_eq!(
        counts.ok.load(Ordering::Relaxed),
        8,
        "7 firings and the delayed message"
    );
    assert_eq!(
        counts.failed.load(Ordering::Relaxed),
        4,
        "the first attempt and 3 retries"
    );
    took
}

pub fn run(rts: &Rts) {
    let mut ms = Vec::new();
    for _ in 0..reps() {
        let server = rts
            .server
            .block_on(qstash_dev::server::spawn(bench_config()))
            .expect("spawn");
        let took = rts.client.block_on(async {
            let (counts, rx) = receiver().await;
            one_week(&server.url(), rx, &counts).await
        });
        rts.server.block_on(server.stop());
        ms.push(took.as_secs_f64() * 1e3);
    }
    let m = median(ms.clone());
    println!(
        "\n## Clock: a week of a daily schedule, a 1d delay and a retry ladder, by one advance\n"
    );
    println!(
        "| wall time, median of {} (ms) | best (ms) | real time it stands for | speed-up |",
        reps()
    );
    println!("|---|---|---|---|");
    let best = ms.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "| {m:.1} | {best:.1} | 7 days ({WEEK_SECS:.0} s) | {:.1e}× |",
        WEEK_SECS * 1e3 / m
    );
}
