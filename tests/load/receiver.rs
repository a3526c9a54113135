//! The faulty receiver of the load test: a raw HTTP/1.1 server on keep-alive connections that,
//! per (message index, attempt) and from a seed, answers 500, drops the connection (half the
//! time with an RST), answers after the timeout, answers slowly or at once, and counts what it
//! saw per message.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the receiver does with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Fail500,
    Reset { rst: bool },
    Timeout,
    Slow(u64),
    Ok,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seeded decision for attempt `retried` of message `index`: 30% of attempts fail.
fn fault(seed: u64, index: u64, retried: u64) -> Fault {
    let h = splitmix(seed ^ splitmix(index.wrapping_mul(31).wrapping_add(retried)));
    match h % 1000 {
        0..150 => Fault::Fail500,
        150..250 => Fault::Reset { rst: h & 1024 == 0 },
        250..300 => Fault::Timeout,
        300..400 => Fault::Slow(50 + (h >> 20) % 251),
        _ => Fault::Ok,
    }
}

impl Fault {
    fn slot(self) -> usize {
        match self {
            Self::Fail500 => 0,
            Self::Reset { .. } => 1,
            Self::Timeout => 2,
            Self::Slow(_) => 3,
            Self::Ok => 4,
        }
    }
}

/// What the receiver saw, per message index.
pub struct Stats {
    seed: u64,
    pub attempts: Vec<AtomicU32>,
    /// 2xx answers written within the timeout.
    pub oks: Vec<AtomicU32>,
    pub faults: [AtomicU64; 5],
    /// `Upstash-Retried` differing from the attempts seen before, or a foreign message id.
    pub mismatches: AtomicU64,
    ids: Mutex<Vec<Option<Box<str>>>>,
}

impl Stats {
    pub fn new(n: usize, seed: u64) -> Self {
        Self {
            seed,
            attempts: (0..n).map(|_| AtomicU32::new(0)).collect(),
            oks: (0..n).map(|_| AtomicU32::new(0)).collect(),
            faults: Default::default(),
            mismatches: AtomicU64::new(0),
            ids: Mutex::new(vec![None; n]),
        }
    }

    /// Records an attempt and decides what to do with it.
    fn attempt(&self, index: usize, id: &str, retried: u32) -> Fault {
        let before = self.attempts[index].fetch_add(1, Ordering::SeqCst);
        let mut ids = self.ids.lock();
        let known = ids[index].get_or_insert_with(|| id.into());
        if before != retried || &**known != id {
            self.mismatches.fetch_add(1, Ordering::SeqCst);
        }
        drop(ids);
        let f = fault(self.seed, index as u64, u64::from(retried));
        self.faults[f.slot()].fetch_add(1, Ordering::SeqCst);
        f
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads more into `buf`; false on EOF or error.
async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut tmp = [0u8; 16 * 1024];
    match sock.read(&mut tmp).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buf.extend_from_slice(&tmp[..n]);
            true
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
const FAIL: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 4\r\n\r\nfail";

/// Serves one keep-alive connection of the dispatcher.
async fn serve_conn(mut sock: TcpStream, st: Arc<Stats>) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 1 << 20 || !fill(&mut sock, &mut buf).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len: usize = header(&head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            if !fill(&mut sock, &mut buf).await {
                return;
            }
        }
        let index = std::str::from_utf8(&buf[head_end..head_end + 8.min(len)])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|i| *i < st.attempts.len());
        buf.drain(..head_end + len);
        let id = header(&head, "upstash-message-id").unwrap_or("");
        let retried = header(&head, "upstash-retried")
            .and_then(|v| v.parse().ok())
            .unwrap_or(u32::MAX);
        let Some(index) = index else {
            st.mismatches.fetch_add(1, Ordering::SeqCst);
            return;
        };
        match st.attempt(index, id, retried) {
            Fault::Fail500 => {
                if sock.write_all(FAIL).await.is_err() {
                    return;
                }
            }
            Fault::Reset { rst } => {
                if rst {
                    // SO_LINGER 0 makes the close an RST; it never blocks.
                    #[allow(deprecated)]
                    let _ = sock.set_linger(Some(Duration::ZERO));
                }
                return;
            }
            Fault::Timeout => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = sock.write_all(OK).await;
                return;
            }
            Fault::Slow(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if sock.write_all(OK).await.is_err() {
                    return;
                }
                st.oks[index].fetch_add(1, Ordering::SeqCst);
            }
            Fault::Ok => {
                if sock.write_all(OK).await.is_err() {
                    return;
                }
                st.oks[index].fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

pub async fn start_receiver(st: Arc<Stats>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            tokio::spawn(serve_conn(sock, st.clone()));
        }
    });
    format!("http://{addr}/hook")
}
