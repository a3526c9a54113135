//! The load generator: a native HTTP/1.1 client (reqwest on hyper) driving one target with many
//! keep-alive connections, closed loop (N connections back to back: saturation) or open loop
//! (a fixed request rate, each request timed from when it is issued).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// One kind of request, sent again and again.
#[derive(Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .http1_only()
        .build()
        .expect("http client")
}

impl Target {
    pub fn new(url: String, headers: HeaderMap, body: Bytes) -> Self {
        Self {
            client: client(),
            url,
            headers,
            body,
        }
    }

    /// Sends once; true on a 2xx.
    pub async fn send(&self) -> bool {
        let req = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(self.body.clone());
        match req.send().await {
            Ok(r) => {
                let ok = r.status().is_success();
                ok && r.bytes().await.is_ok()
            }
            Err(_) => false,
        }
    }
}

/// The result of one load run.
pub struct Run {
    pub n: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted.
    pub lat: Vec<Duration>,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.n as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th percentile latency in ms.
    pub fn pct(&self, p: f64) -> f64 {
        pct(&self.lat, p)
    }
}

pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p / 100.0).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn take(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// `n` requests over `conns` connections, each connection sending back to back.
pub async fn closed(t: &Target, conns: usize, n: usize) -> Run {
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (t, left) = (t.clone(), left.clone());
            tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0);
                while take(&left) {
                    let s = Instant::now();
                    errors += usize::from(!t.send().await);
                    lat.push(s.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    collect(n, start, tasks).await
}

/// `rate` requests per second for `dur`, each on its own task (open loop: a slow answer does
/// not slow the sender down).
pub async fn open(t: &Target, rate: u32, dur: Duration) -> Run {
    let n = (rate as f64 * dur.as_secs_f64()) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tick.tick().await;
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let s = Instant::now();
            let ok = t.send().await;
            (vec![s.elapsed()], usize::from(!ok))
        }));
    }
    collect(n, start, tasks).await
}

async fn collect(
    n: usize,
    start: Instant,
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
) -> Run {
    let (mut lat, mut errors) = (Vec::with_capacity(n), 0);
    for task in tasks {
        if let Ok((l, e)) = task.await {
            lat.extend(l);
            errors += e;
        }
    }
    let elapsed = start.elapsed();
    lat.sort_unstable();
    Run {
        n,
        errors,
        elapsed,
        lat,
    }
}

/// The median of some measurements.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The largest of some measurements.
pub fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

/// The ratios `a[i] / b[i]` of paired runs.
fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// Geometric mean and median of the ratios `a[i] / b[i]` of paired runs. The arithmetic mean
/// of ratios of two noisy rates reads high (by about half the variance of the log-ratio); the
/// geometric mean does not, and gives the same answer whichever side is the numerator.
pub fn paired_geo_median(a: &[f64], b: &[f64]) -> (f64, f64) {
    let r = ratios(a, b);
    if r.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let geo = (r.iter().map(|x| x.ln()).sum::<f64>() / r.len() as f64).exp();
    (geo, median(r))
}

/// Mean and standard error of the ratios `a[i] / b[i]` of paired runs (each pair run back to
/// back, so a slow spell of the machine hits both sides of it); NaN without two pairs.
pub fn paired(a: &[f64], b: &[f64]) -> (f64, f64) {
    let r = ratios(a, b);
    if r.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}
