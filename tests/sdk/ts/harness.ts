// Test harness for the SDK conformance suite: spawns the `qstash dev` binary on a free port and runs a
// local recording receiver that verifies every delivery with the official `Receiver`.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { QstashError, Receiver } from "@upstash/qstash";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.resolve(here, "..");
const repoRoot = path.resolve(sdkDir, "..", "..");

/** Default test user of `qstash dev` (qstash-api.md §9.3); the banner must print exactly these first. */
export const DEFAULT_USER = {
  token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
  currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
  nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
};

/** Test user 1 (`testUser1`), a tenant of its own (qstash-api.md §9.3). */
export const TEST_USER_1 = {
  token: "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
  currentSigningKey: "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
  nextSigningKey: "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
};

const READY_RE = /runn+ing( at|\.)/i;

export type DevServer = {
  url: string;
  proc: ChildProcess;
  /** stdout lines seen so far */
  stdout: string[];
  stop: () => Promise<void>;
};

export function binaryPath(): string {
  const fromEnv = process.env.QSTASH_BIN;
  if (fromEnv) return path.isAbsolute(fromEnv) ? fromEnv : path.resolve(process.cwd(), fromEnv);
  return path.join(repoRoot, "target", "debug", "qstash");
}

/**
 * With `SDK_PERSIST_DIR` set (scripts/test-sdk.sh's second pass), every server keeps its state
 * in a database file of its own there, so the suites run against `-persist` too.
 */
function persistArgs(logName: string): string[] {
  const dir = process.env.SDK_PERSIST_DIR;
  if (!dir) return [];
  const file = `${logName}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.db`;
  return [`-persist=${path.join(dir, file)}`];
}

/**
 * Spawns `qstash dev -port=0` (plus `extraArgs`, e.g. `-messages-per-day=2`) and resolves once the
 * readiness line (and its URL) has been printed.
 */
export async function startDevServer(logName: string, extraArgs: string[] = []): Promise<DevServer> {
  const bin = binaryPath();
  if (!existsSync(bin)) throw new Error(`qstash binary not found at ${bin} (set QSTASH_BIN)`);
  const artifacts = path.join(sdkDir, ".artifacts");
  mkdirSync(artifacts, { recursive: true });
  const log = createWriteStream(path.join(artifacts, `${logName}.log`));

  const env = { ...process.env };
  delete env.QSTASH_DEV;
  const proc = spawn(bin, ["dev", "-port=0", ...persistArgs(logName), ...extraArgs], { stdio: ["ignore", "pipe", "pipe"], env });
  const stdout: string[] = [];
  let stderr = "";
  let ready = false;
  let readyLine = "";

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`qstash dev did not print a readiness line within 10s\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr}`)),
      10_000,
    );
    let partial = "";
    proc.stdout!.setEncoding("utf8");
    proc.stdout!.on("data", (chunk: string) => {
      log.write(chunk);
      partial += chunk;
      const lines = partial.split(/\r?\n/);
      partial = lines.pop() ?? "";
      for (const line of lines) {
        stdout.push(line);
        if (!ready && READY_RE.test(line)) {
          ready = true;
          readyLine = line;
        }
        if (ready) {
          // Older builds put the URL on the readiness line, newer ones on a `QSTASH_URL=` line.
          const m = /https?:\/\/\S+/.exec(readyLine) ?? /^QSTASH_URL=(\S+)/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve((m[1] ?? m[0]).replace(/[.,]$/, "").replace(/\/$/, ""));
          }
        }
      }
    });
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (chunk: string) => {
      log.write(chunk);
      stderr += chunk;
    });
    proc.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`qstash dev exited early (code=${code}, signal=${signal})\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr}`));
    });
  });

  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    const killer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(killer);
    log.end();
  };
  return { url, proc, stdout, stop };
}

export type Delivery = {
  path: string;
  url: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  verified: boolean;
  verifyError?: string;
  /** status the receiver answered with */
  status: number;
  at: number;
};

type Keys = { currentSigningKey: string; nextSigningKey: string };

/** How the receiver answers one path: the first `failTimes` requests get `status`/`body`/`headers`. */
export type FailPlan = { times: number; status?: number; body?: string; headers?: Record<string, string> };
type Plan = { failTimes: number; status: number; body: string; headers: Record<string, string>; delayMs: number; verifier?: Receiver };

/** A recording receiver on 127.0.0.1:0. Every request's `Upstash-Signature` is checked with the official Receiver. */
export class RecordingReceiver {
  readonly deliveries: Delivery[] = [];
  private readonly plans = new Map<string, Plan>();
  private server?: http.Server;
  base = "";
  readonly verifier: Receiver;

  constructor(keys: Keys) {
    this.verifier = new Receiver(keys);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.handle(req, Buffer.concat(chunks).toString("utf8"), res);
      });
    });
    this.server.keepAliveTimeout = 1_000;
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
  }

  private async handle(req: http.IncomingMessage, body: string, res: http.ServerResponse) {
    const reqPath = req.url ?? "/";
    const url = `${this.base}${reqPath}`;
    const signature = req.headers["upstash-signature"];
    const pathname = reqPath.split("?")[0];
    const plan = this.plans.get(pathname);
    const verifier = plan?.verifier ?? this.verifier;
    let verified = false;
    let verifyError: string | undefined;
    if (typeof signature !== "string") {
      verifyError = "missing Upstash-Signature header";
    } else {
      try {
        verified = await verifier.verify({ signature, body, url });
      } catch (e) {
        verifyError = String(e);
      }
    }
    let status = 200;
    let answer = "ok";
    let extraHeaders: Record<string, string> = {};
    if (plan && plan.failTimes > 0) {
      plan.failTimes -= 1;
      status = plan.status;
      answer = plan.body;
      extraHeaders = plan.headers;
    }
    this.deliveries.push({ path: pathname, url, method: req.method ?? "", headers: req.headers, body, verified, verifyError, status, at: Date.now() });
    if (plan && plan.delayMs > 0) await sleep(plan.delayMs);
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "text/plain", ...extraHeaders });
    res.end(answer);
  }

  /**
   * A fresh unique path on this receiver. `fail` makes the first N deliveries answer with `status`;
   * `delayMs` holds every answer back; `keys` verifies this path's deliveries with another user's keys.
   */
  endpoint(name: string, fail?: FailPlan, opts: { delayMs?: number; keys?: Keys } = {}): string {
    const p = `/${name}-${Math.random().toString(36).slice(2, 10)}`;
    if (fail || opts.delayMs || opts.keys) {
      this.plans.set(p, {
        failTimes: fail?.times ?? 0,
        status: fail?.status ?? 500,
        body: fail?.body ?? "failing on purpose",
        headers: fail?.headers ?? {},
        delayMs: opts.delayMs ?? 0,
        verifier: opts.keys ? new Receiver(opts.keys) : undefined,
      });
    }
    return `${this.base}${p}`;
  }

  to(url: string): Delivery[] {
    const p = new URL(url).pathname;
    return this.deliveries.filter((d) => d.path === p);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

/** Decodes a compact JWS without verifying it (verification is the Receiver's job). */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = token.split(".");
  const dec = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  return { header: dec(h), claims: dec(c) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (which is returned) or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 8_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `; last error: ${String(lastError)}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** Awaits `p`, expecting a QstashError with `status` and a JSON `{"error": ...}` body. */
export async function expectQstashError(p: Promise<unknown>, status: number): Promise<QstashError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof QstashError, `expected a QstashError, got ${String(e)}`);
    assert.equal(e.status, status, `expected status ${status}, got ${e.status}: ${e.message}`);
    // The SDK puts the raw response body into the message; the server answers errors as {"error": "..."}.
    let parsed: unknown;
    assert.doesNotThrow(() => (parsed = JSON.parse(e.message)), `error body is not JSON: ${e.message}`);
    assert.equal(typeof (parsed as { error?: unknown }).error, "string", `error body lacks "error": ${e.message}`);
    return e;
  }
  assert.fail(`expected the call to fail with status ${status}, but it succeeded`);
}
