//! The `qstash` binary as a child process: start it and read its banner (and the lines after
//! it), signal it, wait for its exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_qstash");

pub fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, Vec<String>, String) {
    let (child, lines, url, _) = start_reading(args, env);
    (child, lines, url)
}

/// `start`, keeping the receiver of the lines printed after the banner.
pub fn start_reading(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    Child,
    Vec<String>,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let mut url = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        if url.is_empty() && line.contains("running at ") {
            url = line.rsplit(' ').next().unwrap().to_string();
        }
        let done = line.starts_with("QSTASH_NEXT_SIGNING_KEY=")
            && lines
                .iter()
                .filter(|l: &&String| l.starts_with("QSTASH_NEXT"))
                .count()
                == 3;
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines, url, rx)
}

pub fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

pub fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
