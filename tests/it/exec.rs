//! Exec mode (`qstash dev [flags] -- <command>`) and pinned credentials (`-token`,
//! `-current-signing-key`, `-next-signing-key`), through the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use qstash_dev::config::TEST_USERS;
use serde_json::Value;

use crate::signature::verify;
use crate::support::binary::*;
use crate::support::Receiver;

fn qstash(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("NO_COLOR", "1");
    c
}

#[test]
fn the_command_gets_the_default_users_variables_and_its_exit_code_is_the_runs() {
    let script = r#"printf '%s\n' "$QSTASH_URL" "$QSTASH_TOKEN" "$QSTASH_CURRENT_SIGNING_KEY" "$QSTASH_NEXT_SIGNING_KEY"; exit 3"#;
    let out = qstash(&["dev", "--", "sh", "-c", script]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let u = &TEST_USERS[0];
    assert_eq!(
        lines.len(),
        4,
        "only the command's output on stdout: {stdout}"
    );
    assert!(lines[0].starts_with("http://127.0.0.1:"), "{stdout}");
    assert_ne!(
        lines[0], "http://127.0.0.1:8080",
        "a free port, not the default"
    );
    assert_eq!(
        lines[1..],
        [u.token, u.current_signing_key, u.next_signing_key]
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("is running at {}", lines[0])),
        "{stderr}"
    );
    let addr = lines[0].trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the server is gone"
    );
}

#[test]
fn go_style_flags_stop_at_the_double_dash_and_a_missing_command_is_127() {
    let out = qstash(&[
        "dev",
        "-port=0",
        "--",
        "sh",
        "-c",
        "echo \"$0 $1\"",
        "-ab",
        "-cd",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "-ab -cd\n",
        "passed on as they are"
    );
    let out = qstash(&["dev", "--", "qstash-no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: cannot run qstash-no-such-command"),
        "{stderr}"
    );
}

/// Starts exec mode with `script` and waits for the server's readiness line on stderr.
fn started(script: &str) -> std::process::Child {
    let mut child = qstash(&["dev", "--", "sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    assert!(lines.any(|l| l.unwrap().contains("is running at")));
    std::thread::spawn(move || lines.for_each(drop));
    child
}

#[test]
fn sigint_and_sigterm_reach_the_command_and_its_end_is_the_exit_code() {
    // The command is ready once it has set its trap; a moment for the shell to get there.
    let mut child = started("trap 'exit 7' INT; while :; do sleep 0.05; done");
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(7), "the command's own exit code");

    let mut child = started("exec sleep 30");
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let status = wait_exit(&mut child, Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(128 + 15), "killed by SIGTERM: 128 + 15");
}

#[tokio::test]
async fn pinned_credentials_are_the_default_users_and_the_others_keep_theirs() {
    let rx = Receiver::start().await;
    let (token, current, next) = ("my-own-token", "sig_myOwnCurrentKey", "sig_myOwnNextKey");
    let (mut child, lines, url) = start(
        &[
            "dev",
            "-port=0",
            &format!("-token={token}"),
            &format!("-current-signing-key={current}"),
        ],
        &[("QSTASH_DEV_NEXT_SIGNING_KEY", next)],
    );
    for line in [
        format!("QSTASH_TOKEN={token}"),
        format!("QSTASH_CURRENT_SIGNING_KEY={current}"),
        format!("QSTASH_NEXT_SIGNING_KEY={next}"),
    ] {
        assert!(lines.contains(&line), "banner shows {line}: {lines:#?}");
    }
    let publish = |bearer: &str| {
        reqwest::Client::new()
            .post(format!("{url}/v2/publish/{}", rx.url("/pinned")))
            .header("Authorization", format!("Bearer {bearer}"))
            .body("hi")
            .send()
    };
    assert_eq!(publish(token).await.unwrap().status(), 200);
    let got = rx.wait_for(1).await;
    let jwt = got[0].header("upstash-signature").unwrap();
    assert!(
        verify(&jwt, current).is_ok(),
        "signed with the pinned current key"
    );
    assert!(verify(&jwt, TEST_USERS[0].current_signing_key).is_err());
    assert_eq!(
        publish(TEST_USERS[0].token).await.unwrap().status(),
        200,
        "the built-in token still works"
    );
    let keys: Value = reqwest::Client::new()
        .get(format!("{url}/v2/keys"))
        .header("Authorization", format!("Bearer {}", TEST_USERS[1].token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys["current"], TEST_USERS[1].current_signing_key,
        "other users keep theirs"
    );
    sigterm(&child);
    assert!(wait_exit(&mut child, Duration::from_secs(5)).is_some());
}

#[test]
fn a_value_that_cannot_be_a_token_or_key_stops_the_start_with_a_clear_error() {
    for (flag, value, says) in [
        ("-token", "", "printable ASCII"),
        ("-current-signing-key", "has space", "printable ASCII"),
        (
            "-token",
            TEST_USERS[1].token,
            "token of the built-in user testUser1",
        ),
    ] {
        let out = qstash(&["dev", "-port=0", &format!("{flag}={value}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag}={value}: {stderr}");
    }
}
