#!/usr/bin/env node
// The `qstash` / `qstash-dev` command of the qstash-dev npm package.
//
// The binary itself comes in one package per platform (qstash-dev-linux-x64, ...), pulled in
// through optionalDependencies, so npm installs only the one whose `os`/`cpu` match: no
// postinstall download, which works offline, behind proxies and under pnpm and yarn. This shim
// finds that package, runs its binary with every argument passed through, forwards SIGINT,
// SIGTERM and SIGHUP to it, and exits the way the binary exited (same code, or same signal).
//
// QSTASH_DEV_BINARY=/path/to/qstash runs that binary instead (e.g. one built with cargo on a
// platform without a prebuilt package).
"use strict";

const { spawn } = require("node:child_process");
const os = require("node:os");
const { binaryPath } = require("../lib/binary.js");

function fail(message) {
  process.stderr.write(`qstash-dev: ${message}\n`);
  process.exit(1);
}

let bin;
try {
  bin = binaryPath();
} catch (err) {
  fail(err.message);
}
const child = spawn(bin, process.argv.slice(2), { stdio: "inherit" });

// On a terminal, Ctrl-C reaches the whole process group (or, on Windows, the whole console)
// and so the binary too; forwarding it again is harmless on Unix. On Windows, kill() would
// terminate the binary at once instead of letting it shut down, so there the shim only stays
// alive until the binary has stopped by itself.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];
const handlers = new Map();
for (const signal of SIGNALS) {
  const handler = () => {
    if (process.platform === "win32" || child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  handlers.set(signal, handler);
  process.on(signal, handler);
}

// `npx qstash dev` runs us under `sh -c`, and on SIGTERM npm signals that shell only: a shell
// such as dash dies without passing the signal on, which would leave the server running with
// nobody to stop it. So when npm started us and our parent goes away, stop the binary as if we
// had been sent SIGTERM. (A server started without npm, e.g. under nohup, is left alone.)
if (process.platform !== "win32" && (process.env.npm_command || process.env.npm_lifecycle_event)) {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(watch);
      handlers.get("SIGTERM")();
    }
  }, 250);
  watch.unref();
}

child.on("error", (err) => fail(`cannot run ${bin}: ${err.message}`));

child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, so whoever started us sees what happened to the binary.
    for (const [s, handler] of handlers) {
      process.removeListener(s, handler);
    }
    const number = os.constants.signals[signal] || 0;
    try {
      process.kill(process.pid, signal);
    } catch {
      // Cannot be raised here; fall through to the exit code below.
    }
    // Still alive (the signal is ignored or does not exist here): the shell convention.
    setTimeout(() => process.exit(128 + number), 100);
    return;
  }
  process.exit(code === null ? 1 : code);
});
