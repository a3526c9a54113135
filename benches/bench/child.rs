//! The release binary as a child process: start-to-listening time, resident memory.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_qstash");

/// A running `qstash dev -port=0`; killed on drop.
pub struct Qstash {
    child: Child,
    pub url: String,
    /// From spawn to the readiness line on stdout.
    pub started_in: Duration,
}

impl Qstash {
    pub fn start(extra: &[&str]) -> Self {
        let t0 = Instant::now();
        let mut child = Command::new(BIN)
            .args(["dev", "-port=0"])
            .args(extra)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the qstash binary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Keep draining so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("is running at ").nth(1) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send((Instant::now(), url.trim().to_string()));
                    }
                }
            }
        });
        let (ready, url) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("readiness line");
        Self {
            child,
            url,
            started_in: ready - t0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_bytes(&self) -> u64 {
        rss(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Qstash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of a `/proc/<pid>/status` file, in bytes.
pub fn rss(status: &str) -> u64 {
    let text = std::fs::read_to_string(status).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Time to spawn and reap `/bin/true`: the floor any process start pays.
pub fn spawn_floor() -> Duration {
    let t0 = Instant::now();
    let _ = Command::new("true").status();
    t0.elapsed()
}

/// CPU time (user + system) this process has used so far, every thread, in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`, which may contain spaces: utime and stime are the 12th and
    // 13th from there, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}
