//! The binary itself: banner, readiness line, flags, busy port, SIGTERM.

use std::process::Command;
use std::time::Duration;

use qstash_dev::config::TEST_USERS;

use crate::support::binary::*;

#[tokio::test]
async fn dev_with_port_zero_prints_the_banner_serves_and_stops_on_sigterm() {
    let (mut child, lines, url) = start(&["dev", "-port=0"], &[]);
    let ready = regex_like_readiness(&lines[0]);
    assert!(
        ready,
        "first line is the readiness line: {:?}",
        lines.first()
    );
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "real port printed: {url}"
    );
    for u in TEST_USERS {
        assert!(
            lines.contains(&format!("QSTASH_TOKEN={}", u.token)),
            "token of {} printed",
            u.user_id
        );
        assert!(lines.contains(&format!(
            "QSTASH_CURRENT_SIGNING_KEY={}",
            u.current_signing_key
        )));
        assert!(lines.contains(&format!("QSTASH_NEXT_SIGNING_KEY={}", u.next_signing_key)));
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == format!("QSTASH_URL={url}"))
            .count(),
        4
    );
    assert!(
        !lines.iter().any(|l| l.contains('\u{1b}')),
        "no colour when NO_COLOR is set"
    );

    let http = reqwest::Client::new();
    let keys: serde_json::Value = http
        .get(format!("{url}/v2/keys"))
        .bearer_auth(TEST_USERS[0].token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["current"], TEST_USERS[0].current_signing_key);
    let rx = crate::support::Receiver::start().await;
    let r = http
        .post(format!("{url}/v2/publish/{}", rx.url("/cli")))
        .bearer_auth(TEST_USERS[0].token)
        .body("from the cli test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = rx.wait_for(1).await;
    assert_eq!(&got[0].body[..], b"from the cli test");

    sigterm(&child);
    let status =
        wait_exit(&mut child, Duration::from_secs(2)).expect("stops within two seconds of SIGTERM");
    assert!(status.success(), "clean exit: {status:?}");
}

/// `/runn+ing( at|\.)/i`, the pattern the JS SDK waits for.
fn regex_like_readiness(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    let Some(i) = l.find("runn") else {
        return false;
    };
    let rest = l[i + 4..].trim_start_matches('n');
    rest.starts_with("ing at") || rest.starts_with("ing.")
}

#[test]
fn a_busy_port_is_one_clear_line_and_exit_code_1() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .args(["dev", "--port", &port])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("address already in use"))
        .expect("the error line");
    assert!(line.contains(&port), "{line}");
}

#[test]
fn env_vars_configure_the_server_and_help_lists_the_quotas() {
    let out = Command::new(BIN).args(["dev", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--log-port",
        "--quota",
        "--host",
        "QSTASH_DEV_PORT",
        "QSTASH_DEV_QUOTA",
        "payg",
        "pro",
        "max retries",
    ] {
        assert!(help.contains(flag), "help mentions {flag}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .arg("dev")
        .env("QSTASH_DEV_PORT", &port)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&port),
        "QSTASH_DEV_PORT is used"
    );
}

#[test]
fn quota_env_var_selects_the_pro_preset() {
    let (mut child, lines, _) = start(&["dev", "-port", "0"], &[("QSTASH_DEV_QUOTA", "pro")]);
    assert!(
        lines.iter().any(|l| l.contains("Quota preset pro")),
        "{lines:?}"
    );
    sigterm(&child);
    wait_exit(&mut child, Duration::from_secs(2)).expect("stops");
}

#[tokio::test]
async fn start_time_is_in_the_banner_and_each_move_of_the_clock_prints_a_line() {
    let env = [("QSTASH_DEV_START_TIME", "2026-12-04T12:00:00Z")];
    let (mut child, lines, url, rx) = start_reading(&["dev", "-port=0"], &env);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Clock: started at 2026-12-04T12:00:00Z")),
        "{lines:?}"
    );
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", TEST_USERS[0].token);
    let frozen = http
        .post(format!("{url}/dev/clock/freeze"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let at: serde_json::Value = frozen.json().await.unwrap();
    let at = at["now"].as_u64().unwrap();
    assert!((1_796_385_600_000..1_796_385_660_000).contains(&at), "{at}");
    let moved = http
        .post(format!("{url}/dev/clock/advance?by=7d"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let mut printed = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        let done = l.contains("clock advanced by");
        printed.push(l);
        if done {
            break;
        }
    }
    let line = printed.last().cloned().unwrap_or_default();
    assert!(
        line.contains("clock advanced by 7d → 2026-12-11T12:00:")
            && line.contains("; 0 deliveries due"),
        "{printed:?}"
    );
    assert!(printed
        .iter()
        .any(|l| l.contains("clock frozen at 2026-12-04T12:00:")));
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());

    let bad = Command::new(BIN)
        .args(["dev", "-port=0", "-start-time=tomorrow"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

#[tokio::test]
async fn seed_creates_the_definitions_at_start_and_a_bad_one_stops_the_server() {
    let dir = std::env::temp_dir().join(format!("qstash-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("seed.json");
    let doc = r#"{"version": 1, "users": {"defaultUser": {"queues": [{"name": "orders", "parallelism": 2}]}}}"#;
    std::fs::write(&good, doc).unwrap();
    let (mut child, lines, url) = start(
        &["dev", "-port=0", &format!("-seed={}", good.display())],
        &[],
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Seed: ") && l.contains("1 queues")),
        "{lines:?}"
    );
    let export: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/dev/export"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[0].token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        export["users"]["defaultUser"]["queues"][0]["name"],
        "orders"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());

    let unreadable = Command::new(BIN)
        .args(["dev", "-port=0", "-seed=/nonexistent/seed.json"])
        .output()
        .unwrap();
    assert!(!unreadable.status.success());
    assert!(String::from_utf8_lossy(&unreadable.stderr).contains("/nonexistent/seed.json"));

    let refused = dir.join("refused.json");
    let doc = r#"{"version": 1, "users": {"defaultUser": {"schedules": [{"scheduleId": "s", "cron": "soon", "destination": "http://localhost:1/x"}]}}}"#;
    std::fs::write(&refused, doc).unwrap();
    let out = Command::new(BIN)
        .args(["dev", "-port=0", &format!("-seed={}", refused.display())])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("error: seed file")
            && printed.contains("users.defaultUser.schedules[0] (s)"),
        "{printed}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
