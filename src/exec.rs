//! Exec mode: `qstash dev [flags] -- <command> [args…]` runs the command against the server
//! with the default user's `QSTASH_URL`, `QSTASH_TOKEN` and signing keys in its environment,
//! forwards SIGINT and SIGTERM to it, and gives back its exit code (128 + n when a signal n
//! ended it) once it exits; the caller then stops the server. The command inherits stdin,
//! stdout and stderr; the server writes its own lines to stderr.

use std::process::ExitCode;

use crate::config::TestUser;

/// The variables a command of exec mode gets: the default user's, at `url`.
pub fn environment(user: &TestUser, url: &str) -> [(&'static str, String); 4] {
    [
        ("QSTASH_URL", url.to_string()),
        ("QSTASH_TOKEN", user.token.to_string()),
        (
            "QSTASH_CURRENT_SIGNING_KEY",
            user.current_signing_key.to_string(),
        ),
        ("QSTASH_NEXT_SIGNING_KEY", user.next_signing_key.to_string()),
    ]
}

/// Runs `command` (program and arguments) with `env` added to ours, until it exits.
pub async fn run(command: &[String], env: &[(&'static str, String)]) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        return ExitCode::SUCCESS;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).envs(env.iter().map(|(k, v)| (*k, v)));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot run {program}: {e}");
            // What a shell answers for a command it cannot find or run.
            return ExitCode::from(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let status = wait_forwarding_signals(&mut child).await;
    match status {
        Ok(s) => ExitCode::from(exit_code(s)),
        Err(e) => {
            eprintln!("error: waiting for {program}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The exit code a shell would report for `status`: the code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return code as u8;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return (128 + sig) as u8;
        }
    }
    1
}

#[cfg(unix)]
async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    loop {
        let forward = tokio::select! {
            status = child.wait() => return status,
            _ = int.recv() => Signal::SIGINT,
            _ = term.recv() => Signal::SIGTERM,
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            // Alive until `wait` reaps it; an error means it is already gone.
            let _ = kill(Pid::from_raw(pid), forward);
        }
    }
}

#[cfg(not(unix))]
async fn wait_forwarding_signals(
    child: &mut tokio::process::Child,
) -> std::io::Result<std::process::ExitStatus> {
    tokio::select! {
        status = child.wait() => status,
        _ = tokio::signal::ctrl_c() => {
            child.start_kill()?;
            child.wait().await
        }
    }
}
