// End-to-end check of the installed npm package, run by scripts/test-npm.sh:
//
//   QSTASH_NPM_PROJECT=DIR node --test tests/npm/smoke.mjs
//
// DIR is a project with the qstash-dev and platform tarballs installed. Checks, with the
// node test runner:
// - `npx qstash dev -port=0` prints the readiness line, answers /v2/keys, takes a publish and
//   delivers it (signed) to a local receiver, and the whole chain stops on SIGTERM;
// - the shim itself: exit code 0 after SIGTERM / SIGINT, dies of the binary's signal (SIGHUP),
//   passes the binary's own exit code and every argument through;
// - one clear line, exit 1, for a platform without a binary and for a missing platform package.
import { spawn, spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { once } from "node:events";
import { after, test } from "node:test";

if (!process.env.QSTASH_NPM_PROJECT) {
  throw new Error("set QSTASH_NPM_PROJECT to a project with qstash-dev installed (scripts/test-npm.sh does)");
}
const project = path.resolve(process.env.QSTASH_NPM_PROJECT);
const shim = path.join(project, "node_modules", "qstash-dev", "bin", "qstash.js");
const dotBin = path.join(project, "node_modules", ".bin");
const TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
const CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
const READY = /running at (http:\/\/[^\s]+)/;

const env = { ...process.env, NO_COLOR: "1", npm_config_offline: "true", npm_config_update_notifier: "false" };
for (const k of ["QSTASH_DEV_PORT", "QSTASH_DEV_HOST", "QSTASH_DEV_QUOTA", "QSTASH_DEV_LOG_PORT", "QSTASH_DEV_BINARY"]) {
  delete env[k];
}

const started = [];
after(() => {
  // Each command runs in a process group of its own: whatever is left of it goes, even a
  // server that outlived npx.
  for (const c of started) {
    try {
      process.kill(-c.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

/** Starts a command, collects its output, resolves `ready` with the URL from the readiness line. */
function start(command, args) {
  const child = spawn(command, args, { cwd: project, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  started.push(child);
  let out = "";
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no readiness line within 30 s:\n${out}`)), 30_000);
    const onData = (chunk) => {
      out += chunk;
      const m = READY.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited (code ${code}, signal ${signal}) before the readiness line:\n${out}`));
    });
  });
  ready.catch(() => {});
  return { child, ready, exited, output: () => out };
}

async function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A receiver on 127.0.0.1:0 that records each request. */
async function receiver() {
  const got = [];
  let notify;
  const first = new Promise((resolve) => {
    notify = resolve;
  });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
      got.push(r);
      notify(r);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${server.address().port}`, first, got, close: () => server.close() };
}

test("npx qstash dev -port=0: ready, publishes and delivers, stops on SIGTERM", async () => {
  const rx = await receiver();
  try {
    const run = start("npx", ["qstash", "dev", "-port=0"]);
    const url = await run.ready;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(url, /:0$/, "the real port is printed");
    assert.match(run.output(), new RegExp(`QSTASH_TOKEN=${TOKEN.replace(/[+=]/g, "\\$&")}`));

    const keys = await fetch(`${url}/v2/keys`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(keys.status, 200);
    assert.equal((await keys.json()).current, CURRENT_SIGNING_KEY);

    const res = await fetch(`${url}/v2/publish/${rx.url}/hook`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" },
      body: "hello from npx",
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { messageId } = await res.json();
    assert.ok(typeof messageId === "string" && messageId.length > 0, "a messageId");

    const delivered = await within(10_000, rx.first, "delivery");
    assert.equal(delivered.method, "POST");
    assert.equal(delivered.url, "/hook");
    assert.equal(delivered.body, "hello from npx");
    assert.equal(delivered.headers["upstash-message-id"], messageId);
    assert.ok(delivered.headers["upstash-signature"], "the delivery is signed");

    // SIGTERM to npx alone, as a process manager would send it: npm passes it to its `sh -c`,
    // and the shim notices it lost its parent and stops the server.
    run.child.kill("SIGTERM");
    const exit = await within(10_000, run.exited, "npx exits after SIGTERM");
    assert.ok(exit.code === 0 || exit.signal === "SIGTERM" || exit.code === 143, `npx exit ${JSON.stringify(exit)}`);
    // Not only npx: the server behind it is gone too.
    await within(
      5_000,
      (async () => {
        for (;;) {
          try {
            await fetch(`${url}/v2/keys`, { headers: { authorization: `Bearer ${TOKEN}` } });
          } catch {
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
      "the server stops",
    );
  } finally {
    rx.close();
  }
});

for (const [signal, expected] of [
  ["SIGTERM", { code: 0, signal: null }],
  ["SIGINT", { code: 0, signal: null }],
  // The binary does not handle SIGHUP and dies of it; the shim dies of the same signal.
  ["SIGHUP", { code: null, signal: "SIGHUP" }],
]) {
  test(`the shim forwards ${signal} and exits as the binary did`, async () => {
    const run = start(path.join(dotBin, "qstash"), ["dev", "-port=0"]);
    const url = await run.ready;
    const keys = await fetch(`${url}/v2/keys`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(keys.status, 200);
    run.child.kill(signal);
    const exit = await within(5_000, run.exited, `exit after ${signal}`);
    assert.deepEqual(exit, expected, run.output());
  });
}

test("the shim passes every argument and the exit code through", () => {
  const version = spawnSync(path.join(dotBin, "qstash-dev"), ["--version"], { env, encoding: "utf8" });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^qstash \d+\.\d+\.\d+/);

  const help = spawnSync(path.join(dotBin, "qstash"), ["dev", "--help"], { env, encoding: "utf8" });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /-port|--port/);
  assert.match(help.stdout, /Quota presets/);

  // clap's usage error is exit code 2; a busy or bad port is the binary's own exit code 1.
  const bad = spawnSync(path.join(dotBin, "qstash"), ["dev", "-port=notaport"], { env, encoding: "utf8" });
  assert.equal(bad.status, 2, `${bad.stdout}${bad.stderr}`);
  assert.match(bad.stderr, /notaport/);
});

test("the shim runs QSTASH_DEV_BINARY when set", () => {
  // `node --version` stands in for a binary: proves the override is what runs.
  const r = spawnSync(process.execPath, [shim, "--version"], {
    env: { ...env, QSTASH_DEV_BINARY: process.execPath },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), process.version);
});

/** Runs the shim as if on another platform. */
function runAs(platform, arch) {
  const code = `Object.defineProperty(process, "platform", { value: ${JSON.stringify(platform)} });
Object.defineProperty(process, "arch", { value: ${JSON.stringify(arch)} });
require(${JSON.stringify(shim)});`;
  return spawnSync(process.execPath, ["-e", code, "--", "dev"], { env, encoding: "utf8" });
}

test("one clear line on a platform without a binary", () => {
  const r = runAs("freebsd", "riscv64");
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^qstash-dev: no prebuilt binary for this platform \(freebsd-riscv64\)/);
});

test("one clear line when the platform package was not installed", () => {
  const other = process.platform === "win32" ? ["linux", "x64"] : ["win32", "x64"];
  const r = runAs(...other);
  assert.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], new RegExp(`\\(${other.join("-")}\\).*qstash-dev-${other.join("-")}, which is not installed`));
});
