// Types of the qstash-dev test kit (lib/index.js).
import type { ChildProcess } from "node:child_process";

export interface DevServerOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Quota preset whose limits are simulated: "payg" (the server's default) or "pro". */
  quota?: "payg" | "pro";
  /** Keep state in this SQLite file across restarts (`-persist`). */
  persist?: string;
  /** Create the definitions of this JSON file at start (`-seed`). */
  seed?: string;
  /** More flags of `qstash dev`, e.g. `["-start-time=2026-01-01T00:00:00Z"]`. */
  args?: string[];
  /** The binary to run instead of this platform's package (or `QSTASH_DEV_BINARY`). */
  binary?: string;
}

/** A QStash duration (`"90s"`, `"15m"`, `"2h"`, `"7d"`) or milliseconds. */
export type Duration = string | number;

export interface ClockState {
  now: number;
  offsetMs: number;
  frozen: boolean;
}

export interface DevServer {
  /** `http://127.0.0.1:<port>`: QSTASH_URL. */
  url: string;
  /** The default user's token: QSTASH_TOKEN. */
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  /** QSTASH_URL, QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY. */
  env: {
    QSTASH_URL: string;
    QSTASH_TOKEN: string;
    QSTASH_CURRENT_SIGNING_KEY: string;
    QSTASH_NEXT_SIGNING_KEY: string;
  };
  /** The `qstash dev` process. */
  process: ChildProcess;
  /** Forgets the default user's state (`POST /dev/reset`). */
  reset(): Promise<void>;
  /** Resolves once nothing is due or in flight (`POST /dev/wait-idle`); the timeout defaults to 30 s. */
  waitIdle(opts?: { timeout?: Duration }): Promise<Record<string, unknown>>;
  /** The server's clock (`/dev/clock`). */
  clock: {
    now(): Promise<ClockState>;
    /** Moves the clock forward; what falls due in between happens, in order, before it resolves. */
    advance(by: Duration): Promise<Record<string, unknown>>;
    /** Moves the clock forward to an instant: Unix ms, RFC 3339, or a Date. */
    set(to: number | string | Date): Promise<Record<string, unknown>>;
    freeze(): Promise<ClockState>;
    resume(): Promise<ClockState>;
  };
  /** Stops the server (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts `qstash dev` and resolves once it is ready. */
export function startDevServer(options?: DevServerOptions): Promise<DevServer>;
