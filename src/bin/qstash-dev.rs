//! `qstash-dev`: the `qstash` command under the distribution's name, so `uvx qstash-dev dev`
//! works as `npx qstash-dev dev` does. Runs the `qstash` binary installed beside it with every
//! argument; on Unix it becomes that binary, so signals and the exit code are its own.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let name = if cfg!(windows) {
        "qstash.exe"
    } else {
        "qstash"
    };
    let bin = match std::env::current_exe() {
        Ok(me) => me.with_file_name(name),
        Err(e) => {
            eprintln!("qstash-dev: cannot find where it is installed: {e}");
            return ExitCode::from(127);
        }
    };
    let mut cmd = Command::new(&bin);
    cmd.args(std::env::args_os().skip(1));
    run(cmd, &bin)
}

#[cfg(unix)]
fn run(mut cmd: Command, bin: &std::path::Path) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    eprintln!("qstash-dev: cannot run {}: {e}", bin.display());
    ExitCode::from(127)
}

#[cfg(not(unix))]
fn run(mut cmd: Command, bin: &std::path::Path) -> ExitCode {
    match cmd.status() {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
        Err(e) => {
            eprintln!("qstash-dev: cannot run {}: {e}", bin.display());
            ExitCode::from(127)
        }
    }
}
