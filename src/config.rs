//! Configuration of one server: where it listens, which quota preset it simulates, and the
//! four predefined test users. Everything here is immutable once the server starts and is
//! shared as `Arc<Config>`. Imports nothing from the rest of the crate but `ids`.

use std::net::IpAddr;
use std::time::Duration;

/// The quota preset a server simulates (`-quota payg|pro`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPreset {
    Payg,
    Pro,
}

impl QuotaPreset {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "payg" => Some(Self::Payg),
            "pro" => Some(Self::Pro),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Payg => "payg",
            Self::Pro => "pro",
        }
    }

    pub fn limits(self) -> &'static Limits {
        match self {
            Self::Payg => &PAYG,
            Self::Pro => &PRO,
        }
    }
}

/// The limits of a quota preset. One table (`PAYG`, `PRO`) used wherever a limit is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted `Upstash-Retries`.
    pub max_retries: u32,
    /// Longest accepted delay (`Upstash-Delay`, or `Upstash-Not-Before` from now).
    pub max_delay: Duration,
    /// Longest accepted `Upstash-Timeout`; also the default delivery timeout.
    pub max_timeout: Duration,
    /// Messages per day; `None` is unlimited.
    pub messages_per_day: Option<u64>,
    /// Requests per second on non-publish endpoints.
    pub burst_requests_per_second: u32,
    pub max_queues: u32,
    pub max_queue_parallelism: u32,
    pub max_schedules: u32,
    pub max_url_groups: u32,
    pub max_endpoints_per_group: u32,
    /// Deliveries in flight per user; more wait, never error.
    pub global_parallelism: u32,
    pub dlq_retention: Duration,
    /// DLQ entries kept per user; when full, the oldest are dropped first (like the log). The
    /// hosted service bounds its DLQ by retention only; this count bound keeps memory finite
    /// when an endpoint fails forever. Ten times the log's bound: far more than a development
    /// run dead-letters within the retention.
    pub max_dlq_entries: usize,
    /// Bytes of DLQ entries kept per user: each entry is charged its message body plus the
    /// last response's body; past the budget the oldest entries are dropped first, but the
    /// newest is always kept, even when it alone is over. The hosted service has no such bound
    /// (it keeps the DLQ on disk); the dev server keeps it in memory, so it bounds its bytes
    /// as well as its count. Only entries over 5 KB (payg) or 2 KB (pro) on average reach it
    /// before the count bound.
    pub max_dlq_body_bytes: usize,
    /// Log entries kept per user; the oldest are dropped first.
    pub max_log_entries: usize,
    /// Bytes of log entries kept per user: each entry is charged its message body plus its
    /// response's body (entries of one message share one body, so this over-counts, never
    /// under-counts); past the budget the oldest entries are dropped first, but the newest is
    /// always kept, even when it alone is over. The hosted service has no such bound (it keeps
    /// logs on disk); the dev server keeps them in memory, so it bounds their bytes as well as
    /// their count. Only entries over 26 KB (payg) or 10 KB (pro) on average reach it before
    /// the count bound.
    pub max_log_body_bytes: usize,
    pub dedup_window: Duration,
    /// Messages waiting or in delivery per user (callbacks included); a publish that would go
    /// past it is refused with 412. Not a hosted-service limit: it keeps memory bounded.
    pub max_pending_messages: usize,
    /// Sum of the bodies of those messages, in bytes; same refusal. With the log and DLQ byte
    /// budgets, bodies take at most about 2.75 GB per user (payg) or 5 GB (pro), whatever a
    /// client does; less in practice, as the three stores share a message's body.
    pub max_pending_body_bytes: usize,
}

const DAY: u64 = 24 * 60 * 60;
const MB: usize = 1024 * 1024;
const GB: usize = 1024 * MB;

pub const PAYG: Limits = Limits {
    max_body_bytes: 10 * MB,
    max_retries: 5,
    max_delay: Duration::from_secs(365 * DAY),
    max_timeout: Duration::from_secs(2 * 60 * 60),
    messages_per_day: None,
    burst_requests_per_second: 100,
    max_queues: 100,
    max_queue_parallelism: 100,
    max_schedules: 1_000,
    max_url_groups: 100,
    max_endpoints_per_group: 100,
    global_parallelism: 100,
    dlq_retention: Duration::from_secs(7 * DAY),
    max_dlq_entries: 100_000,
    max_dlq_body_bytes: 512 * MB,
    max_log_entries: 10_000,
    max_log_body_bytes: 256 * MB,
    dedup_window: Duration::from_secs(10 * 60),
    max_pending_messages: 2_000_000,
    max_pending_body_bytes: 2 * GB,
};

pub const PRO: Limits = Limits {
    max_body_bytes: 50 * MB,
    max_retries: 20,
    max_delay: Duration::from_secs(10 * 365 * DAY),
    max_timeout: Duration::from_secs(2 * 60 * 60),
    messages_per_day: None,
    burst_requests_per_second: 1_000,
    max_queues: 1_000,
    max_queue_parallelism: 1_000,
    max_schedules: 10_000,
    max_url_groups: 1_000,
    max_endpoints_per_group: 1_000,
    global_parallelism: 1_000,
    dlq_retention: Duration::from_secs(30 * DAY),
    max_dlq_entries: 1_000_000,
    max_dlq_body_bytes: 2 * GB,
    max_log_entries: 100_000,
    max_log_body_bytes: GB,
    dedup_window: Duration::from_secs(10 * 60),
    max_pending_messages: 2_000_000,
    max_pending_body_bytes: 2 * GB,
};

/// Retries used when a message does not say (clamped to the preset's maximum).
pub const DEFAULT_RETRIES: u32 = 3;

/// One predefined test user: a tenant of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    pub user_id: &'static str,
    pub password: &'static str,
    pub token: &'static str,
    pub current_signing_key: &'static str,
    pub next_signing_key: &'static str,
}

/// The four fixed users of `qstash dev`. The tokens are base64 of
/// `{"UserID":…,"Password":…}` and the keys are the ones the official SDKs hard-code.
pub const TEST_USERS: [TestUser; 4] = [
    TestUser {
        user_id: "defaultUser",
        password: "defaultPassword",
        token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        current_signing_key: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        next_signing_key: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    },
    TestUser {
        user_id: "testUser1",
        password: "testPassword",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_signing_key: "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        next_signing_key: "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    },
    TestUser {
        user_id: "testUser2",
        password: "testPassword",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_signing_key: "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        next_signing_key: "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    },
    TestUser {
        user_id: "testUser3",
        password: "testPassword",
        token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        current_signing_key: "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        next_signing_key: "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    },
];

/// Credentials the default user takes instead of its built-in ones (`-token`,
/// `-current-signing-key`, `-next-signing-key`), so an app whose `.env` already holds its own
/// works unchanged. The built-in token of the default user keeps working beside a pinned one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pinned {
    pub token: Option<&'static str>,
    pub current_signing_key: Option<&'static str>,
    pub next_signing_key: Option<&'static str>,
}

impl Pinned {
    pub fn pins_keys(&self) -> bool {
        self.current_signing_key.is_some() || self.next_signing_key.is_some()
    }
}

/// A value of `-token` or a signing-key flag, kept for the life of the process; refused when it
/// could not travel in an HTTP header or clashes with another test user's token.
pub fn parse_credential(s: &str) -> Result<&'static str, String> {
    const MAX: usize = 1024;
    if s.is_empty() || s.len() > MAX || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "must be 1 to {MAX} printable ASCII characters without spaces (a QStash token or a sig_… key)"
        ));
    }
    if let Some(u) = TEST_USERS[1..].iter().find(|u| u.token == s) {
        return Err(format!("is the token of the built-in user {}", u.user_id));
    }
    // Parsed once per process start: the value lives as long as the server does.
    Ok(Box::leak(s.to_string().into_boxed_str()))
}

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    /// 0 binds a free port.
    pub port: u16,
    /// Accepted for compatibility with the closed binary; no log server listens there yet.
    pub log_port: Option<u16>,
    pub quota: QuotaPreset,
    /// How long in-flight deliveries may finish after a shutdown request.
    pub shutdown_drain: Duration,
    /// Emulate the throughput limits (daily message quota, burst requests per second). Off by
    /// default: a development server must not fail a test suite that creates and deletes
    /// resources quickly; on, 429 handling can be tested.
    pub throughput_limits: bool,
    /// Overrides the preset's messages per day (`None` keeps the preset's value).
    pub messages_per_day: Option<u64>,
    /// Multiplies the default retry backoff (e.g. 0.001 turns seconds into milliseconds), so
    /// retry paths can be tested quickly; the scaled wait is still capped at one day.
    /// `Upstash-Retry-Delay` and retry-after hints keep their values.
    pub backoff_scale: f64,
    /// Serve the dashboard at `/`.
    pub dashboard: bool,
    /// Serve `/metrics` without a token, every user's figures (`-metrics-public`).
    pub metrics_public: bool,
    /// The hosted region whose `Upstash-Region` header deliveries carry (`-region`); none by
    /// default, as the official dev server sends none.
    pub region: Option<Region>,
    /// The database that keeps state across restarts (`-persist`); `None`: in memory only.
    pub persist: Option<std::path::PathBuf>,
    /// The default user's own credentials, when given.
    pub pinned: Pinned,
    /// Definitions created at start (`-seed`).
    pub seed: Option<std::sync::Arc<crate::seed::Seed>>,
    /// Where the server's clock starts (Unix ms, `-start-time`); it then runs at real speed.
    /// `None`: real time.
    pub start_time: Option<u64>,
    /// Overrides the preset's `max_pending_messages` (tests use a small bound).
    pub max_pending_override: Option<usize>,
    /// Host names accepted besides the built-in local ones (`-allowed-hosts`); `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides the server's own (`-allowed-origins`); `*` accepts any.
    pub allowed_origins: Vec<String>,
    /// Override the HTTP connection limits documented in `server::conn` (the deadline for a
    /// request head, the stall timeout, the most open connections); tests use small values.
    pub header_read_timeout_override: Option<Duration>,
    pub stall_timeout_override: Option<Duration>,
    pub max_connections_override: Option<usize>,
}

/// A region of the hosted service. The official receivers know these two and no other: the
/// TypeScript `Receiver` picks `<REGION>_QSTASH_*_SIGNING_KEY` from the `Upstash-Region`
/// header of a delivery when `QSTASH_REGION` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    UsEast1,
    EuCentral1,
}

impl Region {
    /// `us-east-1`, `US_EAST_1`, `US-EAST-1`, … (any case, `-` or `_`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "US-EAST-1" => Ok(Self::UsEast1),
            "EU-CENTRAL-1" => Ok(Self::EuCentral1),
            _ => Err(format!(
                "{s:?} is not a QStash region: use us-east-1 or eu-central-1"
            )),
        }
    }

    /// The `Upstash-Region` value the hosted service sends: upper case, hyphenated.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::UsEast1 => "US-EAST-1",
            Self::EuCentral1 => "EU-CENTRAL-1",
        }
    }
}

impl Config {
    pub fn limits(&self) -> &'static Limits {
        self.quota.limits()
    }

    /// The test users as this server knows them: the built-in ones, the default user with its
    /// pinned credentials if any.
    pub fn users(&self) -> [TestUser; 4] {
        let mut users = TEST_USERS;
        let first = &mut users[0];
        first.token = self.pinned.token.unwrap_or(first.token);
        first.current_signing_key = self
            .pinned
            .current_signing_key
            .unwrap_or(first.current_signing_key);
        first.next_signing_key = self
            .pinned
            .next_signing_key
            .unwrap_or(first.next_signing_key);
        users
    }

    /// Messages per day when the daily quota is emulated and finite.
    pub fn daily_quota(&self) -> Option<u64> {
        self.throughput_limits
            .then(|| self.messages_per_day.or(self.limits().messages_per_day))
            .flatten()
    }

    /// Messages a user may have waiting or in delivery.
    pub fn max_pending_messages(&self) -> usize {
        self.max_pending_override
            .unwrap_or(self.limits().max_pending_messages)
    }

    /// Requests per second on management endpoints, when emulated.
    pub fn burst_limit(&self) -> Option<u32> {
        self.throughput_limits
            .then_some(self.limits().burst_requests_per_second)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            log_port: None,
            quota: QuotaPreset::Payg,
            shutdown_drain: Duration::from_millis(1500),
            throughput_limits: false,
            messages_per_day: None,
            backoff_scale: 1.0,
            dashboard: true,
            metrics_public: false,
            region: None,
            start_time: None,
            seed: None,
            pinned: Pinned::default(),
            persist: None,
            max_pending_override: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            header_read_timeout_override: None,
            stall_timeout_override: None,
            max_connections_override: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn tokens_decode_to_their_user_and_password() {
        for u in TEST_USERS {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(u.token)
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            assert_eq!(v["UserID"], u.user_id);
            assert_eq!(v["Password"], u.password);
        }
    }

    #[test]
    fn presets_parse_case_insensitively() {
        assert_eq!(QuotaPreset::parse("PAYG"), Some(QuotaPreset::Payg));
        assert_eq!(QuotaPreset::parse("pro"), Some(QuotaPreset::Pro));
        assert_eq!(QuotaPreset::parse("free"), None);
    }
}
