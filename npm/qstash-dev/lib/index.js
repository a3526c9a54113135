// The test kit of qstash-dev: `startDevServer()` starts this platform's `qstash dev` binary on a
// free port, waits for its banner, and hands back the default user's credentials and the `/dev`
// controls (reset, wait until idle, the clock). The server is stopped by `stop()` or, at the
// latest, when this process exits. CommonJS; lib/index.mjs is the ESM entry, lib/index.d.ts the
// types.
"use strict";

const { spawn } = require("node:child_process");
const readline = require("node:readline");
const { binaryPath } = require("./binary.js");

const READY = /is running at (\S+)/;
const START_TIMEOUT_MS = 10_000;

/** Servers not stopped yet: killed when this process exits. */
const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** The command line of `qstash dev` for `options`. */
function commandLine(options) {
  const argv = ["dev", `-port=${options.port ?? 0}`];
  if (options.quota) argv.push(`-quota=${options.quota}`);
  if (options.persist) argv.push(`-persist=${options.persist}`);
  if (options.seed) argv.push(`-seed=${options.seed}`);
  return argv.concat(options.args ?? []);
}

/**
 * Reads the banner: the URL of the readiness line, then the default user's variables (its block
 * comes first). Resolves once the four are known; rejects if the server exits or stays silent.
 */
function readBanner(child) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const vars = {};
    const lines = readline.createInterface({ input: child.stdout });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => fail(`printed no banner within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    function fail(why) {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`qstash dev ${why}\nstdout:\n${seen.join("\n")}\nstderr:\n${stderr}`));
    }
    child.once("exit", (code, signal) => fail(`exited before it was ready (code ${code}, signal ${signal})`));
    child.once("error", (err) => fail(`could not start: ${err.message}`));
    lines.on("line", (line) => {
      seen.push(line);
      const ready = READY.exec(line);
      if (ready && !vars.QSTASH_URL) vars.QSTASH_URL = ready[1];
      const kv = /^(QSTASH_[A-Z_]+)=(.*)$/.exec(line);
      if (kv && vars.QSTASH_URL && !(kv[1] in vars)) vars[kv[1]] = kv[2];
      if (vars.QSTASH_URL && vars.QSTASH_TOKEN && vars.QSTASH_CURRENT_SIGNING_KEY && vars.QSTASH_NEXT_SIGNING_KEY) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.removeAllListeners("error");
        resolve(vars);
      }
    });
  });
}

/** `by` as a QStash duration: a string as it is (`90s`, `1d`), a number as milliseconds. */
function duration(by) {
  return typeof by === "number" ? `${by}ms` : String(by);
}

/** `to` as `/dev/clock/set` takes it: Unix ms, or RFC 3339 for a Date or a string. */
function instant(to) {
  return to instanceof Date ? to.toISOString() : String(to);
}

/**
 * Starts `qstash dev` and resolves once it is ready.
 * @param {import("./index").DevServerOptions} [options]
 * @returns {Promise<import("./index").DevServer>}
 */
async function startDevServer(options = {}) {
  const bin = options.binary ?? binaryPath();
  const child = spawn(bin, commandLine(options), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  running.add(child);
  child.once("exit", () => running.delete(child));
  const vars = await readBanner(child);
  // Keep reading, so the server never blocks on a full pipe.
  child.stdout.resume();
  child.stderr.resume();
  const url = vars.QSTASH_URL;
  const token = vars.QSTASH_TOKEN;

  async function call(method, path) {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    const body = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      throw new Error(`qstash dev: ${method} ${path} answered ${res.status}: ${body?.error ?? text}`);
    }
    return body;
  }

  let stopped;
  return {
    url,
    token,
    currentSigningKey: vars.QSTASH_CURRENT_SIGNING_KEY,
    nextSigningKey: vars.QSTASH_NEXT_SIGNING_KEY,
    env: { ...vars },
    process: child,
    reset: () => call("POST", "/dev/reset").then(() => undefined),
    waitIdle: (opts = {}) =>
      call("POST", `/dev/wait-idle${opts.timeout === undefined ? "" : `?timeout=${duration(opts.timeout)}`}`),
    clock: {
      now: () => call("GET", "/dev/clock"),
      advance: (by) => call("POST", `/dev/clock/advance?by=${encodeURIComponent(duration(by))}`),
      set: (to) => call("POST", `/dev/clock/set?to=${encodeURIComponent(instant(to))}`),
      freeze: () => call("POST", "/dev/clock/freeze"),
      resume: () => call("POST", "/dev/clock/resume"),
    },
    stop() {
      stopped ??= new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const killer = setTimeout(() => child.kill("SIGKILL"), 3_000);
        child.once("exit", () => {
          clearTimeout(killer);
          resolve();
        });
        child.kill("SIGTERM");
      });
      return stopped;
    },
  };
}

module.exports = { startDevServer };
