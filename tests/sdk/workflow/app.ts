// A Node test app that serves Upstash Workflow endpoints with `serve()` from @upstash/workflow (pinned in
// package.json) over plain `node:http` on 127.0.0.1:0, pointed at a spawned `qstash dev`. The workflows
// record what they saw in the app itself (`records`), and every request the app receives is logged
// (`requests`), so the tests check results from the workflow's side.
//
// The SDK reads QSTASH_URL / QSTASH_TOKEN / QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY from
// process.env when `serve()` is called, so `startWorkflowApp` sets them first and builds the handlers
// after. With both signing keys set, `serve()` verifies the `Upstash-Signature` of every delivery.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Receiver } from "@upstash/qstash";
import { Client, serve, WorkflowNonRetryableError, type WorkflowContext } from "@upstash/workflow";

export type AppConfig = {
  qstashUrl: string;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
};

/** One request the app received, with what it answered. */
export type AppRequest = {
  path: string;
  url: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
  /** response headers (lowercase names) */
  responseHeaders: Record<string, string>;
  responseBody: string;
  /** signature check with the official Receiver (only for the plain, non-SDK endpoints) */
  verified?: boolean;
  at: number;
};

/** Something a workflow (or a plain endpoint) recorded. */
export type AppRecord = { kind: string; runId: string; data: any; at: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WorkflowApp {
  base = "";
  readonly records: AppRecord[] = [];
  readonly requests: AppRequest[] = [];
  /** switches the tests flip to make a workflow or a failure function fail or recover */
  readonly flags = { flakyFails: true, failureFunctionFails: true };
  private server?: http.Server;
  private routes = new Map<string, { handler: (req: Request) => Promise<Response> }>();
  private receiver: Receiver;

  constructor(private readonly config: AppConfig) {
    this.receiver = new Receiver({ currentSigningKey: config.currentSigningKey, nextSigningKey: config.nextSigningKey });
  }

  record(kind: string, runId: string, data: unknown = null): void {
    this.records.push({ kind, runId, data, at: Date.now() });
  }

  find(kind: string, runId?: string): AppRecord[] {
    return this.records.filter((r) => r.kind === kind && (runId === undefined || r.runId === runId));
  }

  /** Requests received on a path (exact pathname), optionally only those of one workflow run. */
  to(path: string, runId?: string): AppRequest[] {
    return this.requests.filter(
      (r) => r.path === path && (runId === undefined || headerOf(r.headers, "upstash-workflow-runid") === runId),
    );
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  async start(): Promise<void> {
    // serve() reads these when it is called: set them before the handlers are built.
    process.env.QSTASH_URL = this.config.qstashUrl;
    process.env.QSTASH_TOKEN = this.config.token;
    process.env.QSTASH_CURRENT_SIGNING_KEY = this.config.currentSigningKey;
    process.env.QSTASH_NEXT_SIGNING_KEY = this.config.nextSigningKey;
    delete process.env.QSTASH_DEV;
    delete process.env.QSTASH_REGION;
    delete process.env.UPSTASH_WORKFLOW_URL;

    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.handle(req, Buffer.concat(chunks), res).catch((e) => {
          if (!res.headersSent) res.writeHead(599, { "content-type": "text/plain" });
          res.end(`app error: ${String(e)}`);
        });
      });
    });
    this.server.keepAliveTimeout = 1_000;
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.buildWorkflows();
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const reqUrl = `${this.base}${req.url ?? "/"}`;
    const { pathname } = new URL(reqUrl);
    const entry: AppRequest = {
      path: pathname,
      url: reqUrl,
      method: req.method ?? "",
      headers: req.headers,
      body: body.toString("utf8"),
      status: 0,
      responseHeaders: {},
      responseBody: "",
      at: Date.now(),
    };
    this.requests.push(entry);
    const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      entry.responseHeaders = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      entry.responseBody = text;
      res.writeHead(status, headers);
      res.end(text);
    };
    const verify = async () => {
      const signature = req.headers["upstash-signature"];
      if (typeof signature !== "string") return false;
      try {
        return await this.receiver.verify({ signature, body: entry.body, url: reqUrl });
      } catch {
        return false;
      }
    };

    // A third party for context.call: echoes what it got; `/third/fail` always answers 503.
    if (pathname.startsWith("/third/")) {
      entry.verified = await verify();
      if (pathname === "/third/fail") {
        return answer(503, "third party is down", { "content-type": "text/plain", "x-failure": "yes" });
      }
      return answer(200, `third ${req.method} ${req.headers["x-third"]} ${entry.body}`, {
        "content-type": "text/plain",
        "x-reply": "r",
      });
    }
    // Not a workflow endpoint: answers 200 without any workflow header.
    if (pathname === "/plain") return answer(200, "not a workflow", { "content-type": "text/plain" });
    // A separate failure URL (`failureUrl`) that receives the failure payload.
    if (pathname === "/failure-sink") {
      entry.verified = await verify();
      return answer(200, "got it", { "content-type": "text/plain" });
    }

    const route = this.routes.get(pathname) ?? (pathname.startsWith("/wf/hold/") ? this.routes.get("/wf/hold/*") : undefined);
    if (!route) return answer(404, "no such route");
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const method = req.method ?? "GET";
    const response = await route.handler(
      new Request(reqUrl, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : new Uint8Array(body) }),
    );
    const out: Record<string, string> = {};
    response.headers.forEach((v, k) => (out[k] = v));
    answer(response.status, await response.text(), out);
  }

  /** Starts a run of the workflow at `path` with the official `Client.trigger`; returns its id. */
  async trigger(path: string, options: { body?: unknown; retries?: number; label?: string } = {}): Promise<string> {
    const client = new Client({ baseUrl: this.config.qstashUrl, token: this.config.token, retry: false });
    const { workflowRunId } = await client.trigger({ url: this.url(path), ...options });
    return workflowRunId;
  }

  /** Serves `handler` (a `serve()` result) at `path`; tests may add workflows of their own. */
  add(path: string, handler: { handler: (req: Request) => Promise<Response> }) {
    this.routes.set(path, handler);
  }

  private buildWorkflows(): void {
    const rec = (kind: string, ctx: { workflowRunId: string }, data?: unknown) => this.record(kind, ctx.workflowRunId, data);

    // context.run: three sequential steps; each step body records its own execution.
    this.add(
      "/wf/run",
      serve<{ name: string }>(async (ctx) => {
        const a = await ctx.run("first", () => {
          rec("run-exec", ctx, "first");
          return `hello ${ctx.requestPayload.name}`;
        });
        const b = await ctx.run("second", async () => {
          rec("run-exec", ctx, "second");
          await sleep(10);
          return { upper: a.toUpperCase(), n: 2 };
        });
        const c = await ctx.run("third", () => {
          rec("run-exec", ctx, "third");
          return [a, b.n];
        });
        rec("run", ctx, {
          a,
          b,
          c,
          payload: ctx.requestPayload,
          header: ctx.headers.get("x-test-header"),
          label: ctx.label,
          createdAt: ctx.workflowRunCreatedAt,
          url: ctx.url,
        });
        return { a, b, c };
      }),
    );

    // Parallel steps: three runs under Promise.all, then one more step with their results.
    this.add(
      "/wf/parallel",
      serve(async (ctx) => {
        const [x, y, z] = await Promise.all([
          ctx.run("p1", () => {
            rec("parallel-exec", ctx, "p1");
            return "one";
          }),
          ctx.run("p2", async () => {
            rec("parallel-exec", ctx, "p2");
            await sleep(50);
            return { two: 2 };
          }),
          ctx.run("p3", () => {
            rec("parallel-exec", ctx, "p3");
            return 3;
          }),
        ]);
        const after = await ctx.run("after", () => {
          rec("parallel-exec", ctx, "after");
          return `${x}-${y.two}-${z}`;
        });
        rec("parallel", ctx, { x, y, z, after });
        return after;
      }),
    );

    // sleep / sleepUntil: step timestamps around each sleep.
    this.add(
      "/wf/sleep",
      serve(async (ctx) => {
        const t0 = await ctx.run("t0", () => Date.now());
        await ctx.sleep("sleep-1s", 1);
        const t1 = await ctx.run("t1", () => Date.now());
        const until = await ctx.run("until", () => Math.floor(Date.now() / 1000) + 2);
        await ctx.sleepUntil("sleep-until", until);
        const t2 = await ctx.run("t2", () => Date.now());
        rec("sleep", ctx, { t0, t1, until, t2 });
      }),
    );

    // context.call: one successful call with method/body/headers, one failing call (503, retried once).
    this.add(
      "/wf/call",
      serve(async (ctx) => {
        const ok = await ctx.call<string>("call-ok", {
          url: this.url("/third/echo?x=1"),
          method: "POST",
          body: JSON.stringify({ q: 1 }),
          headers: { "x-third": "t", "content-type": "application/json" },
        });
        const bad = await ctx.call<string>("call-fail", {
          url: this.url("/third/fail"),
          method: "GET",
          retries: 1,
          retryDelay: "10",
        });
        const after = await ctx.run("after-calls", () => `${ok.status}/${bad.status}`);
        rec("call", ctx, { ok, bad, after });
      }),
    );

    // waitForEvent: event id and timeout come from the payload; `preSleep` delays the wait.
    this.add(
      "/wf/wait",
      serve<{ eventId: string; timeout: number | string; preSleep?: number }>(async (ctx) => {
        const { eventId, timeout, preSleep } = ctx.requestPayload;
        if (preSleep) await ctx.sleep("pre-sleep", preSleep);
        const started = await ctx.run("before-wait", () => {
          rec("wait-start", ctx, eventId);
          return Date.now();
        });
        const res = await ctx.waitForEvent("wait", eventId, { timeout: timeout as number });
        const ended = await ctx.run("after-wait", () => Date.now());
        rec("wait", ctx, { ...res, started, ended });
        return res;
      }),
    );

    // createWebhook / waitForWebhook: the hook URL is recorded for the test, which calls it.
    this.add(
      "/wf/webhook",
      serve(async (ctx) => {
        const hook = await ctx.createWebhook("create-hook");
        await ctx.run("publish-hook", () => {
          rec("webhook-url", ctx, hook);
          return hook.webhookUrl;
        });
        const got = await ctx.waitForWebhook("wait-hook", hook, "15s");
        const seen = await ctx.run("read-hook", async () =>
          got.timeout
            ? { timeout: true }
            : {
                timeout: false,
                method: got.request.method,
                url: got.request.url,
                xh: got.request.headers.get("x-h"),
                contentType: got.request.headers.get("content-type"),
                body: await got.request.text(),
              },
        );
        rec("webhook", ctx, { seen, hook });
      }),
    );

    // invoke: a parent invokes a child (result returned) and a failing child (isFailed).
    const childFn = async (ctx: WorkflowContext<{ n: number }>) => {
      const echo = await ctx.run("child-step", () => {
        rec("child-exec", ctx, { payload: ctx.requestPayload, header: ctx.headers.get("x-child"), label: ctx.label });
        return `child got ${JSON.stringify(ctx.requestPayload)}`;
      });
      return { echo, next: ctx.requestPayload.n + 1 };
    };
    const childOptions = {};
    const failingChildFn = async (ctx: WorkflowContext<string>) => {
      await ctx.run("child-fails", () => {
        rec("failing-child-exec", ctx, ctx.requestPayload);
        throw new Error("child boom");
      });
    };
    this.add("/wf/child", serve(childFn, childOptions));
    this.add("/wf/failing-child", serve(failingChildFn));
    this.add(
      "/wf/invoke-parent",
      serve(async (ctx) => {
        const inv = await ctx.invoke("invoke-child", {
          workflow: { routeFunction: childFn, options: childOptions, workflowId: "child" },
          body: { n: 41 },
          headers: { "x-child": "c" },
          label: "child-label",
          retries: 0,
        });
        const invFailed = await ctx.invoke("invoke-failing-child", {
          workflow: { routeFunction: failingChildFn, options: {}, workflowId: "failing-child" },
          body: "pay",
          retries: 0,
        });
        rec("invoke", ctx, { inv, invFailed });
      }),
    );

    // invoke of a child that is cancelled while it sleeps: the parent gets isCanceled.
    const holdChildFn = async (ctx: WorkflowContext) => {
      await ctx.run("hold-child-start", () => rec("hold-child-start", ctx));
      await ctx.sleep("hold-child", 60);
      return "never";
    };
    this.add("/wf/hold-child", serve(holdChildFn));
    this.add(
      "/wf/invoke-hold-parent",
      serve(async (ctx) => {
        const inv = await ctx.invoke("invoke-hold-child", {
          workflow: { routeFunction: holdChildFn, options: {}, workflowId: "hold-child" },
          body: "hold",
        });
        rec("invoke-hold", ctx, inv);
      }),
    );

    // context.cancel: the step after it must never run, and no failure function is called.
    this.add(
      "/wf/cancel",
      serve(
        async (ctx) => {
          await ctx.run("before-cancel", () => rec("cancel-exec", ctx, "before-cancel"));
          await ctx.cancel();
          await ctx.run("after-cancel", () => rec("cancel-exec", ctx, "after-cancel"));
        },
        { failureFunction: async ({ context }) => void rec("cancel-failure-fn", context) },
      ),
    );

    // Failure function: the step always throws; the failure function records what it got.
    this.add(
      "/wf/fail",
      serve<string>(
        async (ctx) => {
          await ctx.run("fails", () => {
            rec("fail-exec", ctx);
            throw new Error("boom");
          });
        },
        {
          failureFunction: async ({ context, failStatus, failResponse, failHeaders }) => {
            rec("failure-fn", context, {
              failStatus,
              failResponse,
              failHeaders,
              payload: context.requestPayload,
              user: context.headers.get("x-user"),
              url: context.url,
            });
            return "handled";
          },
        },
      ),
    );

    // Fails without a failure function: used with `failureUrl` (the failure goes to /failure-sink).
    this.add(
      "/wf/fail-plain",
      serve<string>(async (ctx) => {
        await ctx.run("fails", () => {
          rec("fail-plain-exec", ctx);
          throw new Error("plain boom");
        });
      }),
    );

    // 489: WorkflowNonRetryableError after one step.
    this.add(
      "/wf/non-retryable",
      serve(
        async (ctx) => {
          await ctx.run("ok-step", () => 1);
          throw new WorkflowNonRetryableError("nope");
        },
        {
          failureFunction: async ({ context, failStatus, failResponse }) =>
            void rec("non-retryable-failure-fn", context, { failStatus, failResponse }),
        },
      ),
    );

    // Holds the run open with a long sleep (for the run-cancel API). Any path under /wf/hold/.
    this.add(
      "/wf/hold/*",
      serve(async (ctx) => {
        await ctx.run("hold-start", () => rec("hold-start", ctx, ctx.url));
        await ctx.sleep("hold", 60);
        await ctx.run("hold-end", () => rec("hold-end", ctx, ctx.url));
      }),
    );

    // Logs: one sequential step, a parallel pair, then a return value.
    this.add(
      "/wf/logged",
      serve(async (ctx) => {
        await ctx.run("one", () => 1);
        await Promise.all([ctx.run("pa", () => "a"), ctx.run("pb", () => "b")]);
        await ctx.sleep("nap", 1);
        return "done";
      }),
    );

    // DLQ resume/restart: "prep" always works; "flaky" throws while flags.flakyFails is set.
    this.add(
      "/wf/flaky",
      serve<{ tag: string }>(async (ctx) => {
        const prep = await ctx.run("prep", () => {
          rec("flaky-prep", ctx, ctx.requestPayload);
          return `prep for ${ctx.requestPayload.tag}`;
        });
        const flaky = await ctx.run("flaky", () => {
          rec("flaky-exec", ctx, this.flags.flakyFails);
          if (this.flags.flakyFails) throw new Error("flaky is failing");
          return "flaky ok";
        });
        rec("flaky-done", ctx, { prep, flaky, payload: ctx.requestPayload });
        return { prep, flaky };
      }),
    );

    // DLQ retryFailureFunction: the run fails; the failure function fails while flags.failureFunctionFails.
    this.add(
      "/wf/failure-fn-flaky",
      serve<string>(
        async (ctx) => {
          await ctx.run("fails", () => {
            throw new Error("run boom");
          });
        },
        {
          failureFunction: async ({ context, failResponse }) => {
            rec("flaky-failure-fn", context, { failing: this.flags.failureFunctionFails, failResponse });
            if (this.flags.failureFunctionFails) throw new Error("failure function is failing");
            return "recovered";
          },
        },
      ),
    );
  }
}

export function headerOf(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(", ") : v;
}

export async function startWorkflowApp(config: AppConfig): Promise<WorkflowApp> {
  const app = new WorkflowApp(config);
  await app.start();
  return app;
}
