// What the browser tests stand on: the built `qstash` binary on a free port, a local receiver
// whose answers the tests choose, Debian's Chromium driven by playwright-core, and a small
// client for the HTTP API.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(here, "artifacts");
const BIN = resolve(here, "../..", process.env.QSTASH_BIN || "target/debug/qstash");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const READY = /Upstash QStash development server is running at (http:\/\/127\.0\.0\.1:\d+)/;

/** The four test users' tokens, as the server serves them to the dashboard. */
export let USERS = [];

/**
 * Starts `qstash dev -port=0 …args` and resolves once its readiness line is printed; `printed`
 * keeps collecting the lines of standard output.
 */
export function startServer(args = []) {
  const child = spawn(BIN, ["dev", "-port=0", ...args], {
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const printed = [];
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${BIN} printed no readiness line in 10s`)), 10000);
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`${BIN} exited early with ${code}`)));
    lines.on("line", (line) => {
      printed.push(line);
      const m = READY.exec(line);
      if (m) {
        clearTimeout(timer);
        ok({ url: m[1], printed, stop: () => stopChild(child) });
      }
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    child.once("exit", ok);
    child.kill("SIGTERM");
  });
}

/** Calls the HTTP API as test user `user` (0–3). */
export async function api(base, user, method, path, { headers = {}, body } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${USERS[user].token}`, ...headers },
    body,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export async function loadUsers(base) {
  const res = await fetch(`${base}/dashboard/users.json`);
  USERS = (await res.json()).users;
}

/**
 * A receiver on 127.0.0.1:<free port>. `answers[path]` is the status it gives for a path
 * (default 200), `failFirst[path] = n` makes its first n answers 500; every request is recorded.
 */
export async function startReceiver() {
  const received = [];
  const answers = {};
  const failFirst = {};
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const path = req.url.split("?")[0];
      received.push({ method: req.method, path, headers: req.headers, body: Buffer.concat(chunks).toString() });
      let status = answers[path] || 200;
      if (failFirst[path] > 0) {
        failFirst[path] -= 1;
        status = 500;
      }
      res.writeHead(status, { "Content-Type": "text/plain", "X-Receiver": "e2e" });
      res.end(status === 200 ? "ok" : `receiver says ${status}`);
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    answers,
    failFirst,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/** Launches headless Chromium with a fresh profile directory. */
export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "qstash-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.setDefaultTimeout(15000);
  const errors = [];
  context.on("weberror", (e) => errors.push(String(e.error())));
  return {
    context,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the dashboard in a new page as test user `user`, on `tab`. */
export async function openDashboard(context, base, user = 0, tab = "logs") {
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") console.error(`[browser] ${m.text()}`);
  });
  await page.goto(`${base}/#${tab}`);
  await page.getByTestId("user-select").selectOption(USERS[user].userId);
  await page.getByTestId("status").filter({ hasText: "Live" }).waitFor();
  return page;
}

export function shot(page, name) {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function eventually(fn, ms = 10000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
