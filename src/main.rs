//! The `qstash` binary: parse the command line, set up logging, run the server until Ctrl-C
//! or SIGTERM. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use qstash_dev::cli::{banner, go_style_args, Cli, Command};
use qstash_dev::server::Server;
use tokio_util::sync::CancellationToken;

fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("qstash=info,qstash_dev=info,warn"));
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_writer(std::io::stdout)
        .init();
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
    init_tracing();
    let config = args.config();
    let server = match Server::bind(config.clone()).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            println!("error: {e}");
            return ExitCode::from(1);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            println!(
                "error: listen tcp {}:{}: bind: address already in use (port {})",
                config.host, config.port, config.port
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            println!(
                "error: cannot listen on {}:{}: {e}",
                config.host, config.port
            );
            return ExitCode::from(1);
        }
    };
    let addr = match server.local_addr() {
        Ok(a) => a,
        Err(e) => {
            println!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let shown_host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    print!(
        "{}",
        banner(&config, &format!("http://{shown_host}:{}", addr.port()))
    );
    let token = CancellationToken::new();
    tokio::spawn(wait_for_signal(token.clone()));
    match server.run(token).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
