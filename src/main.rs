//! The `qstash` binary: parse the command line, set up logging, run the server until Ctrl-C
//! or SIGTERM, or, in exec mode (`qstash dev -- <command>`), until the command exits.
//! Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use qstash_dev::cli::{banner, go_style_args, Cli, Command};
use qstash_dev::exec;
use qstash_dev::server::Server;
use tokio_util::sync::CancellationToken;

/// Terminal lines go to stdout, or to stderr in exec mode (stdout is the command's).
fn init_tracing(to_stderr: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("qstash=info,qstash_dev=info,warn"));
    let terminal = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let color = terminal && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color);
    if to_stderr {
        builder.with_writer(std::io::stderr).init();
    } else {
        builder.with_writer(std::io::stdout).init();
    }
}

/// Prints a line of the server's own: to stdout, or to stderr in exec mode.
fn say(exec: bool, text: &str) {
    if exec {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
}

async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    token.cancel();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_from(go_style_args(std::env::args()));
    let Command::Dev(args) = cli.command;
    let exec = !args.command.is_empty();
    init_tracing(exec);
    let config = args.config();
    let server = match Server::bind(config.clone()).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            say(exec, &format!("error: {e}\n"));
            return ExitCode::from(1);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let (host, port) = (config.host, config.port);
            say(
                exec,
                &format!(
                    "error: listen tcp {host}:{port}: bind: address already in use (port {port})\n"
                ),
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            let (host, port) = (config.host, config.port);
            say(
                exec,
                &format!("error: cannot listen on {host}:{port}: {e}\n"),
            );
            return ExitCode::from(1);
        }
    };
    let addr = match server.local_addr() {
        Ok(a) => a,
        Err(e) => {
            say(exec, &format!("error: {e}\n"));
            return ExitCode::from(1);
        }
    };
    let shown_host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = format!("http://{shown_host}:{}", addr.port());
    say(exec, &banner(&config, &url));
    let token = CancellationToken::new();
    if exec {
        let env = exec::environment(&config.users()[0], &url);
        let serving = tokio::spawn(server.run(token.clone()));
        let code = exec::run(&args.command, &env).await;
        token.cancel();
        let _ = serving.await;
        return code;
    }
    tokio::spawn(wait_for_signal(token.clone()));
    match server.run(token).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(exec, &format!("error: {e:#}\n"));
            ExitCode::from(1)
        }
    }
}
