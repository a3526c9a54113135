//! The command line: `qstash dev` with Go-style flags (`-port 8081`, `-port=8081`, `--port 8081`
//! and `--port=8081` all work, as with the closed binary and the SDK that spawns it), env vars
//! for each flag, and the banner printed once the port is bound.

use std::net::IpAddr;

use clap::{Parser, Subcommand};
use owo_colors::{OwoColorize, Stream};

use crate::api::edge::guard::Guard;
use crate::config::{Config, Limits, QuotaPreset, Region};

#[derive(Debug, Parser)]
#[command(
    name = "qstash",
    version,
    about = "An open, in-memory QStash development server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the development server (state is in memory and resets when it exits).
    #[command(after_help = quota_help())]
    Dev(DevArgs),
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// API server port (8080; in exec mode a free one); 0 picks a free one.
    #[arg(long, env = "QSTASH_DEV_PORT")]
    pub port: Option<u16>,
    /// Log server port (accepted for compatibility; default port+1).
    #[arg(long = "log-port", env = "QSTASH_DEV_LOG_PORT")]
    pub log_port: Option<u16>,
    /// Quota preset whose limits are simulated.
    #[arg(long, env = "QSTASH_DEV_QUOTA", default_value = "payg", value_parser = ["payg", "pro"], ignore_case = true)]
    pub quota: String,
    /// Address to bind (the Docker image uses 0.0.0.0).
    #[arg(long, env = "QSTASH_DEV_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Emulate the throughput limits: the burst limit on management requests, and the daily
    /// quota of -messages-per-day. Off by default, so no test suite meets a 429 it did not ask
    /// for; `-throughput-limits=true` turns them on to test 429 handling.
    #[arg(long = "throughput-limits", env = "QSTASH_DEV_THROUGHPUT_LIMITS", default_value_t = false, action = clap::ArgAction::Set)]
    pub throughput_limits: bool,
    /// Daily message quota to emulate with -throughput-limits=true (publish, enqueue and batch
    /// items); both presets are unlimited by default.
    #[arg(long = "messages-per-day", env = "QSTASH_DEV_MESSAGES_PER_DAY")]
    pub messages_per_day: Option<u64>,
    /// Multiplies the default retry backoff (12 s, 2.5 min, …, still capped at one day);
    /// `0.001` turns seconds into milliseconds so retry paths can be tested quickly.
    #[arg(long = "backoff-scale", env = "QSTASH_DEV_BACKOFF_SCALE", default_value_t = 1.0, value_parser = parse_scale)]
    pub backoff_scale: f64,
    /// Send every delivery with the `Upstash-Region` header of this hosted region
    /// (`us-east-1` or `eu-central-1`), so multi-region receivers can be tested; none by default.
    #[arg(long, env = "QSTASH_DEV_REGION", value_parser = Region::parse)]
    pub region: Option<Region>,
    /// Start the server's clock at this instant (RFC 3339, e.g. `2026-03-07T12:00:00Z`)
    /// instead of now; it then runs at real speed and `/dev/clock` moves it.
    #[arg(long = "start-time", env = "QSTASH_DEV_START_TIME", value_parser = crate::clock::parse_instant)]
    pub start_time: Option<u64>,
    /// Keep state across restarts in this SQLite database (created if missing): every user's
    /// definitions, signing keys, pending messages, log, DLQ and workflow runs.
    #[arg(long = "persist", env = "QSTASH_DEV_PERSIST")]
    pub persist: Option<std::path::PathBuf>,
    /// Create the URL groups, queues, schedules and flow-control pins of this JSON file at
    /// start (the format of `GET /dev/export`); entries already there are left alone.
    #[arg(long = "seed", env = "QSTASH_DEV_SEED", value_parser = crate::seed::Seed::load)]
    pub seed: Option<crate::seed::Seed>,
    /// Accept this token as the default user's (the built-in one keeps working), so an app
    /// whose `.env` already holds a QStash token works unchanged.
    #[arg(long = "token", env = "QSTASH_DEV_TOKEN", value_parser = crate::config::parse_credential)]
    pub token: Option<&'static str>,
    /// Sign the default user's deliveries with this current signing key (`sig_…`).
    #[arg(long = "current-signing-key", env = "QSTASH_DEV_CURRENT_SIGNING_KEY", value_parser = crate::config::parse_credential)]
    pub current_signing_key: Option<&'static str>,
    /// The default user's next signing key.
    #[arg(long = "next-signing-key", env = "QSTASH_DEV_NEXT_SIGNING_KEY", value_parser = crate::config::parse_credential)]
    pub next_signing_key: Option<&'static str>,
    /// Serve `/metrics` (Prometheus) without a token, with every user's figures; by default it
    /// needs a user's token and shows that user's.
    #[arg(long = "metrics-public", env = "QSTASH_DEV_METRICS_PUBLIC", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_public: bool,
    /// Serve the local dashboard at `/`; `-dashboard=false` turns it off.
    #[arg(long = "dashboard", env = "QSTASH_DEV_DASHBOARD", default_value_t = true, action = clap::ArgAction::Set)]
    pub dashboard: bool,
    /// Host names to accept besides localhost, IP addresses, single-label names and
    /// host.docker.internal, comma-separated (`.example.com` also accepts its subdomains);
    /// `*` accepts any host. Requests for other hosts get 403 (DNS rebinding protection).
    #[arg(
        long = "allowed-hosts",
        env = "QSTASH_DEV_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Browser origins (`scheme://host[:port]`) allowed to call the server cross-site,
    /// comma-separated; `*` allows every origin. Other web pages get 403.
    #[arg(
        long = "allowed-origins",
        env = "QSTASH_DEV_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Exec mode: `qstash dev [flags] -- <command> [args…]` runs the command with the default
    /// user's QSTASH_URL, QSTASH_TOKEN and signing keys in its environment, stops the server
    /// when it exits and exits with its code; the server's lines go to stderr.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a non-negative number")),
    }
}

impl DevArgs {
    pub fn config(&self) -> Config {
        Config {
            host: self.host,
            port: self
                .port
                .unwrap_or(if self.command.is_empty() { 8080 } else { 0 }),
            log_port: self.log_port,
            quota: QuotaPreset::parse(&self.quota).unwrap_or(QuotaPreset::Payg),
            throughput_limits: self.throughput_limits,
            messages_per_day: self.messages_per_day,
            backoff_scale: self.backoff_scale,
            dashboard: self.dashboard,
            metrics_public: self.metrics_public,
            region: self.region,
            start_time: self.start_time,
            seed: self.seed.clone().map(std::sync::Arc::new),
            persist: self.persist.clone(),
            pinned: crate::config::Pinned {
                token: self.token,
                current_signing_key: self.current_signing_key,
                next_signing_key: self.next_signing_key,
            },
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_origins: self.allowed_origins.clone(),
            ..Config::default()
        }
    }
}

/// Rewrites Go-style single-dash long flags (`-port=1`) to clap's `--port=1`, up to a `--`:
/// what follows it is the command of exec mode, passed on as it is.
pub fn go_style_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut after_dashes = false;
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            after_dashes |= a == "--";
            let single_dash_word =
                a.len() > 2 && a.starts_with('-') && a.as_bytes()[1].is_ascii_alphabetic();
            if i > 0 && single_dash_word && !after_dashes {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn size(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= 1024 * MB && bytes % (1024 * MB) == 0 {
        return format!("{} GB", bytes / (1024 * MB));
    }
    format!("{} MB", bytes / MB)
}

fn days(d: std::time::Duration) -> String {
    format!("{} days", d.as_secs() / 86_400)
}

fn limit_rows(l: &Limits) -> Vec<(&'static str, String)> {
    vec![
        ("max message body", size(l.max_body_bytes)),
        ("max retries", l.max_retries.to_string()),
        ("max delay", days(l.max_delay)),
        (
            "max timeout",
            format!("{} hours", l.max_timeout.as_secs() / 3600),
        ),
        ("log entries kept", l.max_log_entries.to_string()),
        ("log body bytes kept", size(l.max_log_body_bytes)),
        ("DLQ retention", days(l.dlq_retention)),
        ("DLQ entries kept", l.max_dlq_entries.to_string()),
        ("DLQ body bytes kept", size(l.max_dlq_body_bytes)),
        (
            "deduplication window",
            format!("{} minutes", l.dedup_window.as_secs() / 60),
        ),
        ("queues", l.max_queues.to_string()),
        ("queue parallelism", l.max_queue_parallelism.to_string()),
        ("schedules", l.max_schedules.to_string()),
        ("URL groups", l.max_url_groups.to_string()),
        (
            "endpoints per URL group",
            l.max_endpoints_per_group.to_string(),
        ),
        ("global parallelism", l.global_parallelism.to_string()),
        ("burst requests/s", l.burst_requests_per_second.to_string()),
        (
            "messages per day",
            l.messages_per_day
                .map_or("unlimited".to_string(), |d| d.to_string()),
        ),
    ]
}

/// Which throughput limits are on, for the banner.
pub fn throughput_line(config: &Config) -> String {
    if !config.throughput_limits {
        let daily = match config.messages_per_day {
            Some(_) => "; -messages-per-day takes effect only with it",
            None => "",
        };
        return format!(
            "Throughput limits: off (-throughput-limits=true emulates the burst limit{daily})"
        );
    }
    let burst = config.burst_limit().map_or_else(String::new, |b| {
        format!("{b} requests/s on management endpoints")
    });
    let daily = config.daily_quota().map_or_else(
        || "daily messages unlimited".to_string(),
        |d| format!("{d} messages per day"),
    );
    format!("Throughput limits: on ({burst}, {daily}); -throughput-limits=false turns them off")
}

fn quota_help() -> String {
    let (p, r) = (
        limit_rows(QuotaPreset::Payg.limits()),
        limit_rows(QuotaPreset::Pro.limits()),
    );
    let mut s =
        String::from("Quota presets (-quota):\n  limit                    payg         pro\n");
    for ((name, a), (_, b)) in p.iter().zip(r.iter()) {
        s.push_str(&format!("  {name:<24} {a:<12} {b}\n"));
    }
    s
}

/// The banner: the readiness line the SDKs wait for, the quota, and a paste-ready block of
/// variables per test user.
pub fn banner(config: &Config, url: &str) -> String {
    let mut out = String::new();
    let ready = format!("Upstash QStash development server is running at {url}");
    out.push_str(&format!(
        "{}\n\n",
        ready.if_supports_color(Stream::Stdout, |t| t.green())
    ));
    let limits = limit_rows(config.limits());
    let quota: Vec<String> = limits
        .iter()
        .take(4)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    out.push_str(&format!(
        "Quota preset {}: {}\n{}\n{}\n\n",
        config.quota.name(),
        quota.join(", "),
        throughput_line(config),
        Guard::new(config).describe()
    ));
    out.push_str(&match &config.persist {
        Some(path) => format!(
            "State: kept in {} (definitions, keys, messages, log, DLQ, workflow runs)\n\n",
            path.display()
        ),
        None => "State: in memory (-persist <file> keeps it across restarts)\n\n".to_string(),
    });
    if let Some(seed) = &config.seed {
        out.push_str(&format!(
            "Seed: {} ({})\n\n",
            seed.path.display(),
            seed.summary()
        ));
    }
    if let Some(at) = config.start_time {
        out.push_str(&format!(
            "Clock: started at {} (-start-time) and runs from there; POST /dev/clock/advance?by=1d moves it\n\n",
            crate::clock::rfc3339(at)
        ));
    }
    if config.dashboard {
        out.push_str(&format!(
            "Dashboard: {}/ (-dashboard=false turns it off)\n\n",
            url.if_supports_color(Stream::Stdout, |t| t.cyan())
        ));
    }
    for (i, u) in config.users().iter().enumerate() {
        let title = if i == 0 {
            format!("# {} (default user): paste into your .env", u.user_id)
        } else {
            format!("# {} (test user {i}, a tenant of its own)", u.user_id)
        };
        out.push_str(&format!(
            "{}\n",
            title.if_supports_color(Stream::Stdout, |t| t.dimmed())
        ));
        for (k, v) in [
            ("QSTASH_URL", url),
            ("QSTASH_TOKEN", u.token),
            ("QSTASH_CURRENT_SIGNING_KEY", u.current_signing_key),
            ("QSTASH_NEXT_SIGNING_KEY", u.next_signing_key),
        ] {
            out.push_str(&format!(
                "{}={v}\n",
                k.if_supports_color(Stream::Stdout, |t| t.cyan())
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> DevArgs {
        let args = go_style_args(args.iter().map(|s| s.to_string()));
        match Cli::try_parse_from(args).unwrap().command {
            Command::Dev(d) => d,
        }
    }

    #[test]
    fn every_go_style_form_of_a_flag_works() {
        for form in [
            &["qstash", "dev", "-port", "8081"][..],
            &["qstash", "dev", "-port=8081"],
            &["qstash", "dev", "--port", "8081"],
            &["qstash", "dev", "--port=8081"],
        ] {
            assert_eq!(parse(form).port, Some(8081), "{form:?}");
        }
        let d = parse(&[
            "qstash",
            "dev",
            "-quota=PRO",
            "-log-port",
            "9000",
            "-host=0.0.0.0",
        ]);
        assert_eq!(d.config().quota, QuotaPreset::Pro);
        assert_eq!(d.log_port, Some(9000));
        assert!(d.host.is_unspecified());
    }

    #[test]
    fn throughput_limits_are_off_by_default_and_host_lists_split_on_commas() {
        let d = parse(&["qstash", "dev"]);
        assert!(!d.config().throughput_limits);
        assert!(
            parse(&["qstash", "dev", "-throughput-limits=true"])
                .config()
                .throughput_limits
        );
        let d = parse(&[
            "qstash",
            "dev",
            "-allowed-hosts=a.test,.b.test",
            "-allowed-origins",
            "http://localhost:3000",
        ]);
        assert_eq!(d.config().allowed_hosts, ["a.test", ".b.test"]);
        assert_eq!(d.config().allowed_origins, ["http://localhost:3000"]);
        let b = banner(&d.config(), "http://127.0.0.1:8080");
        assert!(b.contains("Throughput limits: off (-throughput-limits=true"));
        assert!(b.contains("Accepted hosts: localhost, IP addresses"));
        assert!(b.contains(".b.test (-allowed-hosts adds more)"));
        assert!(b.contains("browser origins: its own, http://localhost:3000"));
    }

    #[test]
    fn the_banner_has_the_readiness_line_and_four_users() {
        let b = banner(&Config::default(), "http://127.0.0.1:8080");
        assert!(b
            .lines()
            .next()
            .unwrap()
            .contains("is running at http://127.0.0.1:8080"));
        assert_eq!(b.matches("QSTASH_TOKEN=").count(), 4);
        assert!(b.contains("QSTASH_CURRENT_SIGNING_KEY=sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"));
        assert!(b.contains("Dashboard: http://127.0.0.1:8080/"));
        let off = Config {
            dashboard: false,
            ..Config::default()
        };
        assert!(!banner(&off, "http://127.0.0.1:8080").contains("Dashboard"));
    }
}
