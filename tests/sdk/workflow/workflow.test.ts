// Upstash Workflow end to end on `qstash dev`: workflows served by `serve()` from @upstash/workflow 1.3.3
// (workflow/app.ts, plain node:http) run against the spawned binary. Every run is started with the SDK's
// `client.trigger`; the results are the ones the workflows recorded in the app. One scenario per step type
// (issue 6, point 3), then the run API through the SDK's `Client` (point 4).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, type WorkflowRunLog } from "@upstash/workflow";
import { DEFAULT_USER, sleep, startDevServer, type DevServer } from "../ts/harness.ts";
import { headerOf, startWorkflowApp, type AppRecord, type WorkflowApp } from "./app.ts";

const T = { timeout: 20_000 };
const NON_WORKFLOW_ERROR =
  "detected a non-workflow destination for trigger/invoke. make sure you are sending the request to the correct endpoint";

let server: DevServer;
let app: WorkflowApp;
let client: Client;

const rand = () => Math.random().toString(36).slice(2, 10);
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/**
 * Polls `fn` (≥ 25 ms apart) until it returns a truthy value. On timeout the error names `what` and the
 * last value seen (`show` formats it), so a failing scenario says what it got.
 */
async function poll<T>(
  what: string,
  fn: () => T | Promise<T>,
  { timeoutMs = 12_000, intervalMs = 50, show }: { timeoutMs?: number; intervalMs?: number; show?: () => unknown } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      let last = "";
      if (show) {
        try {
          last = `; last seen: ${JSON.stringify(await show())}`;
          if (last.length > 6_000) last = `${last.slice(0, 6_000)}…`;
        } catch (e) {
          last = `; last seen: <${String(e)}>`;
        }
      }
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError ? `; last error: ${String(lastError)}` : ""}${last}`);
    }
    await sleep(intervalMs);
  }
}

function qstashFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${DEFAULT_USER.token}`);
  return fetch(`${server.url}${path}`, { ...init, headers });
}

/** `GET /v2/workflows/runs/{id}` (the SDK's lazy fetch) answers 404 once the run ended. */
async function runIsActive(runId: string): Promise<boolean> {
  const res = await qstashFetch(`/v2/workflows/runs/${encodeURIComponent(runId)}`);
  await res.arrayBuffer();
  if (res.status !== 200 && res.status !== 404) throw new Error(`GET /v2/workflows/runs/${runId}: unexpected ${res.status}`);
  return res.status === 200;
}

async function waitRunEnded(runId: string, timeoutMs = 12_000): Promise<void> {
  await poll(`run ${runId} to end (GET /v2/workflows/runs/{id} → 404)`, async () => !(await runIsActive(runId)), { timeoutMs });
}

async function waitRecords(kind: string, runId: string | undefined, n = 1, timeoutMs = 12_000): Promise<AppRecord[]> {
  return poll(
    `${n} "${kind}" record(s)${runId ? ` of ${runId}` : ""}`,
    () => {
      const r = app.find(kind, runId);
      return r.length >= n ? r : undefined;
    },
    { timeoutMs, intervalMs: 25, show: () => ({ records: app.find(kind, runId), ...trail(runId) }) },
  );
}

/**
 * What a stuck run went through, for timeout messages: the requests the app answered for it (ms since the
 * first one, path, status, the start of the answer) and the server's last lines about the app.
 */
function trail(runId: string | undefined) {
  const got = app.requests.filter((r) => runId === undefined || headerOf(r.headers, "upstash-workflow-runid") === runId);
  const t0 = got[0]?.at ?? 0;
  return {
    requests: got.map((r) => `+${r.at - t0}ms ${r.method} ${r.path} -> ${r.status} ${r.responseBody.slice(0, 80)}`),
    server: server.stdout.filter((l) => l.includes(app.base)).slice(-20),
  };
}

async function runLog(runId: string): Promise<WorkflowRunLog | undefined> {
  const { runs } = await client.logs({ workflowRunId: runId });
  return runs.find((r) => r.workflowRunId === runId);
}

async function waitRunState(runId: string, state: WorkflowRunLog["workflowState"], timeoutMs = 12_000): Promise<WorkflowRunLog> {
  let last: unknown;
  return poll(
    `client.logs({workflowRunId: ${runId}}) to show ${state}`,
    async () => {
      const run = await runLog(runId);
      last = run ? { workflowState: run.workflowState, steps: run.steps } : "no run in the logs";
      return run?.workflowState === state ? run : undefined;
    },
    { timeoutMs, intervalMs: 100, show: () => last },
  );
}

/** A short view of the DLQ for error messages: every entry's run, dlqId and failure-callback state. */
async function dlqSummary(runId?: string) {
  const { messages } = await client.dlq.list(runId ? { filter: { workflowRunId: runId } } : undefined);
  return messages.map((m) => ({ dlqId: m.dlqId, workflowRunId: m.workflowRunId, failureCallbackInfo: m.failureCallbackInfo }));
}

/** Requests the app answered for one run on one path. */
const deliveries = (path: string, runId: string) => app.to(path, runId);

describe("Upstash Workflow on qstash dev (@upstash/workflow 1.3.3, serve() over node:http)", () => {
  before(async () => {
    server = await startDevServer("workflow-server");
    app = await startWorkflowApp({
      qstashUrl: server.url,
      token: DEFAULT_USER.token,
      currentSigningKey: DEFAULT_USER.currentSigningKey,
      nextSigningKey: DEFAULT_USER.nextSigningKey,
    });
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await app?.stop();
    await server?.stop();
  });

  describe("step types", () => {
    test("the app verifies signatures: an unsigned workflow delivery is refused", T, async () => {
      const res = await fetch(app.url("/wf/run"), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "upstash-workflow-sdk-version": "1",
          "upstash-workflow-runid": "wfr_unsigned",
        },
        body: JSON.stringify([{ messageId: "msg_x", body: b64('{"name":"x"}'), callType: "step" }]),
      });
      const text = await res.text();
      assert.notEqual(res.status, 200, `an unsigned delivery was accepted: ${text}`);
      assert.match(text, /signature/i);
      assert.equal(app.find("run-exec", "wfr_unsigned").length, 0);
    });

    test("context.run: sequential steps see the payload, headers and label; each step body runs once", T, async () => {
      const before = Date.now();
      const { workflowRunId } = await client.trigger({
        url: app.url("/wf/run"),
        body: { name: "qstash" },
        headers: { "x-test-header": "hv" },
        label: "run-label",
      });
      assert.match(workflowRunId, /^wfr_/);
      const [{ data }] = await waitRecords("run", workflowRunId);
      assert.equal(data.a, "hello qstash");
      assert.deepEqual(data.b, { upper: "HELLO QSTASH", n: 2 });
      assert.deepEqual(data.c, ["hello qstash", 2]);
      assert.deepEqual(data.payload, { name: "qstash" });
      assert.equal(data.header, "hv", "the trigger's headers reach every step (WF_TriggerOnConfig)");
      assert.equal(data.label, "run-label");
      assert.equal(data.url, app.url("/wf/run"));
      assert.equal(typeof data.createdAt, "number");
      assert.ok(data.createdAt >= before - 1_000 && data.createdAt <= Date.now(), `workflowRunCreatedAt ${data.createdAt} is not the run's creation time in ms`);

      await waitRunEnded(workflowRunId);
      await sleep(300);
      assert.deepEqual(app.find("run-exec", workflowRunId).map((r) => r.data), ["first", "second", "third"]);
      const got = deliveries("/wf/run", workflowRunId);
      assert.equal(got.length, 4, `expected init + 3 step deliveries, got ${got.map((d) => d.status).join(",")}`);
      for (const d of got) {
        assert.equal(d.status, 200, `delivery answered ${d.status}: ${d.responseBody}`);
        assert.equal(headerOf(d.headers, "upstash-workflow-createdat"), String(data.createdAt));
      }
    });

    test("parallel steps: three runs under Promise.all, each branch runs once, results in order", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/parallel") });
      const [{ data }] = await waitRecords("parallel", workflowRunId);
      assert.deepEqual(data, { x: "one", y: { two: 2 }, z: 3, after: "one-2-3" });
      await waitRunEnded(workflowRunId);
      await sleep(300);
      assert.deepEqual(app.find("parallel-exec", workflowRunId).map((r) => r.data).sort(), ["after", "p1", "p2", "p3"]);
      assert.equal(app.find("parallel", workflowRunId).length, 1);
      // init + 3 plan steps + 3 branch results + the step after them, each delivered once.
      const got = deliveries("/wf/parallel", workflowRunId);
      assert.equal(got.length, 8, `statuses: ${got.map((d) => d.status).join(",")}`);
      for (const d of got) assert.equal(d.status, 200, d.responseBody);
    });

    test("sleep and sleepUntil hold the next step back", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/sleep") });
      const [{ data }] = await waitRecords("sleep", workflowRunId, 1, 15_000);
      const { t0, t1, until, t2 } = data;
      assert.ok(t1 - t0 >= 1_000, `sleep(1) lasted only ${t1 - t0} ms`);
      assert.ok(t1 - t0 < 5_000, `sleep(1) lasted ${t1 - t0} ms`);
      assert.ok(t2 >= until * 1_000, `sleepUntil(${until}) woke up at ${t2} (${until * 1_000 - t2} ms early)`);
      assert.ok(t2 - until * 1_000 < 4_000, `sleepUntil(${until}) woke up ${t2 - until * 1_000} ms late`);
    });

    test("context.call: a 200 call gives status/body/headers; a failing call is a non-2xx result, not a failure", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/call") });
      const [{ data }] = await waitRecords("call", workflowRunId);
      assert.equal(data.ok.status, 200);
      assert.equal(data.ok.body, 'third POST t {"q":1}');
      assert.deepEqual(data.ok.header["X-Reply"], ["r"], `response headers: ${JSON.stringify(data.ok.header)}`);
      assert.equal(data.bad.status, 503);
      assert.equal(data.bad.body, "third party is down");
      assert.deepEqual(data.bad.header["X-Failure"], ["yes"], `response headers: ${JSON.stringify(data.bad.header)}`);
      assert.equal(data.after, "200/503");

      // What the third party got: the call's method, body, headers and query, signed like any delivery.
      const echo = app.to("/third/echo");
      assert.equal(echo.length, 1);
      assert.equal(echo[0].method, "POST");
      assert.equal(echo[0].body, '{"q":1}');
      assert.equal(echo[0].url, app.url("/third/echo?x=1"));
      assert.equal(headerOf(echo[0].headers, "x-third"), "t");
      assert.match(String(headerOf(echo[0].headers, "content-type")), /^application\/json/);
      assert.ok(echo[0].verified, "the call delivery is signed");
      assert.equal(headerOf(echo[0].headers, "upstash-workflow-sdk-version"), undefined);
      // retries: 1 → two attempts at the failing URL, both GET.
      await waitRunEnded(workflowRunId);
      await sleep(300);
      const fail = app.to("/third/fail");
      assert.deepEqual(fail.map((d) => d.method), ["GET", "GET"]);
      for (const d of deliveries("/wf/call", workflowRunId)) assert.equal(d.status, 200, d.responseBody);
      assert.equal(app.find("call", workflowRunId).length, 1);
    });

    test("waitForEvent + client.notify({eventId}); getWaiters lists the waiter until it is notified", T, async () => {
      const eventId = `evt-${rand()}`;
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/wait"), body: { eventId, timeout: "20s" } });
      const waiters = await poll(`getWaiters(${eventId}) to list one waiter`, async () => {
        const w = await client.getWaiters({ eventId });
        return w.length === 1 ? w : undefined;
      }, { intervalMs: 100 });
      assert.equal(waiters[0].url, app.url("/wf/wait"));
      assert.equal(waiters[0].timeoutUrl, app.url("/wf/wait"));
      assert.equal(typeof waiters[0].deadline, "number");
      const runIdHeader = Object.entries(waiters[0].headers ?? {}).find(([k]) => k.toLowerCase() === "upstash-workflow-runid");
      assert.deepEqual(runIdHeader?.[1], [workflowRunId]);

      const res = await client.notify({ eventId, eventData: { hello: "event" } });
      assert.ok(Array.isArray(res), `notify answered ${JSON.stringify(res)}`);
      assert.equal(res.length, 1);
      assert.equal((res[0] as { workflowRunId?: string }).workflowRunId, workflowRunId);
      assert.equal(typeof res[0].messageId, "string");
      assert.equal(res[0].error, "");
      assert.equal(res[0].waiter.url, app.url("/wf/wait"));

      const [{ data }] = await waitRecords("wait", workflowRunId);
      assert.deepEqual(data.eventData, { hello: "event" });
      assert.equal(data.timeout, false);
      assert.deepEqual(await client.getWaiters({ eventId }), []);
      assert.deepEqual(await client.notify({ eventId, eventData: "nobody waits" }), [], "a notify with no waiter reaches nobody");
      await waitRunEnded(workflowRunId);
    });

    test("notify with workflowRunId reaches only that run, and is kept until the run waits (lookback)", T, async () => {
      const eventId = `evt-${rand()}`;
      const [{ workflowRunId: runA }, { workflowRunId: runB }] = await client.trigger([
        { url: app.url("/wf/wait"), body: { eventId, timeout: "20s" } },
        { url: app.url("/wf/wait"), body: { eventId, timeout: "20s" } },
      ]);
      await poll(`two waiters on ${eventId}`, async () => (await client.getWaiters({ eventId })).length === 2, { intervalMs: 100 });

      await client.notify({ eventId, eventData: "for A", workflowRunId: runA });
      const [{ data: a }] = await waitRecords("wait", runA);
      assert.equal(a.eventData, "for A");
      assert.equal(a.timeout, false);
      await sleep(200);
      assert.equal(app.find("wait", runB).length, 0, "the other run waiting on the same event was woken up too");
      const left = await client.getWaiters({ eventId });
      assert.equal(left.length, 1);

      await client.notify({ eventId, eventData: "for B" });
      const [{ data: b }] = await waitRecords("wait", runB);
      assert.equal(b.eventData, "for B");

      // Lookback: notified by run id before the run reaches its wait (it sleeps 1 s first).
      const early = `evt-${rand()}`;
      const { workflowRunId: runC } = await client.trigger({ url: app.url("/wf/wait"), body: { eventId: early, timeout: "15s", preSleep: 1 } });
      await client.notify({ eventId: early, eventData: { early: true }, workflowRunId: runC });
      assert.equal(app.find("wait-start", runC).length, 0, "the run was already waiting; the lookback case was not exercised");
      const [{ data: c }] = await waitRecords("wait", runC, 1, 10_000);
      assert.deepEqual(c.eventData, { early: true });
      assert.equal(c.timeout, false);
      assert.ok(c.ended - c.started < 5_000, `the stored notification was not used at once (waited ${c.ended - c.started} ms)`);
    });

    test("waitForEvent times out: { timeout: true, eventData: undefined } after the timeout", T, async () => {
      const eventId = `evt-${rand()}`;
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/wait"), body: { eventId, timeout: 1 } });
      const [{ data }] = await waitRecords("wait", workflowRunId, 1, 10_000);
      assert.equal(data.timeout, true);
      assert.equal(data.eventData, undefined);
      assert.ok(data.ended - data.started >= 1_000, `timed out after only ${data.ended - data.started} ms`);
      assert.ok(data.ended - data.started < 6_000, `timed out after ${data.ended - data.started} ms`);
      assert.deepEqual(await client.getWaiters({ eventId }), []);
    });

    test("createWebhook / waitForWebhook: a PUT with headers and body reaches the workflow", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/webhook") });
      const [{ data: hook }] = await waitRecords("webhook-url", workflowRunId);
      assert.match(hook.eventId, /^evt_/);
      assert.equal(hook.webhookUrl, `${server.url}/v2/workflows/hooks/defaultUser/${workflowRunId}/${hook.eventId}`);

      const target = `${hook.webhookUrl}?z=1`;
      const res = await fetch(target, { method: "PUT", headers: { "x-h": "hv", "content-type": "application/json" }, body: '{"wh":1}' });
      const text = await res.text();
      assert.ok(res.ok, `PUT ${target} answered ${res.status}: ${text}`);

      const [{ data }] = await waitRecords("webhook", workflowRunId);
      assert.deepEqual(data.seen, {
        timeout: false,
        method: "PUT",
        url: target,
        xh: "hv",
        contentType: "application/json",
        body: '{"wh":1}',
      });
      await waitRunEnded(workflowRunId);
    });

    test("invoke: the child's result comes back to the parent; a failing child gives isFailed", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/invoke-parent") });
      const [{ data }] = await waitRecords("invoke", workflowRunId, 1, 15_000);
      assert.deepEqual(data.inv, { body: { echo: 'child got {"n":41}', next: 42 }, isFailed: false, isCanceled: false });
      assert.equal(data.invFailed.isFailed, true);
      assert.equal(data.invFailed.isCanceled, false);
      assert.equal(data.invFailed.body, undefined);

      const [child] = app.find("child-exec");
      assert.ok(child, "the child never ran");
      assert.notEqual(child.runId, workflowRunId);
      assert.deepEqual(child.data, { payload: { n: 41 }, header: "c", label: "child-label" });
      for (const d of deliveries("/wf/child", child.runId)) {
        assert.equal(headerOf(d.headers, "upstash-workflow-invoke-count"), "1");
        assert.equal(d.status, 200, d.responseBody);
      }
      await waitRunEnded(workflowRunId);
      await sleep(200);
      assert.equal(app.find("failing-child-exec").length, 1, "the failing child (retries: 0) ran more than once");
      assert.equal(app.find("invoke", workflowRunId).length, 1);

      // A child cancelled through the API: the parent gets isCanceled.
      const { workflowRunId: parent } = await client.trigger({ url: app.url("/wf/invoke-hold-parent") });
      const [held] = await waitRecords("hold-child-start", undefined);
      assert.deepEqual(await client.cancel([held.runId]), { cancelled: 1 });
      const [{ data: cancelled }] = await waitRecords("invoke-hold", parent);
      assert.equal(cancelled.isCanceled, true);
      assert.equal(cancelled.isFailed, false);
      assert.equal(cancelled.body, undefined);
      await waitRunEnded(parent);
    });

    test("context.cancel ends the run: the next step never runs and no failure function is called", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/cancel") });
      await waitRecords("cancel-exec", workflowRunId);
      await waitRunEnded(workflowRunId);
      await sleep(500);
      assert.deepEqual(app.find("cancel-exec", workflowRunId).map((r) => r.data), ["before-cancel"]);
      assert.equal(app.find("cancel-failure-fn", workflowRunId).length, 0);
      const got = deliveries("/wf/cancel", workflowRunId);
      for (const d of got) assert.equal(d.status, 200, `a delivery answered ${d.status} (the cancel request failed?): ${d.responseBody}`);
      assert.equal(got.length, 2, "init + the step result that cancels");
    });

    test("a non-workflow destination fails the run at once, RUN_FAILED in client.logs()", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/plain"), retries: 2 });
      const run = await waitRunState(workflowRunId, "RUN_FAILED");
      await sleep(300);
      // client.trigger makes the workflow URL the failure URL too, so /plain may also get the failure
      // callback; the run's own delivery must not be retried.
      const attempts = app.to("/plain", workflowRunId).filter((d) => headerOf(d.headers, "upstash-workflow-is-failure") !== "true");
      assert.equal(attempts.length, 1, "the non-workflow destination was retried");
      assert.equal(run.workflowUrl, app.url("/plain"));
      assert.equal(run.steps[0].type, "sequential");
      assert.equal(run.steps[0].steps[0].stepType, "Initial");
      const next = run.steps.at(-1)!;
      assert.equal(next.type, "next", `steps: ${JSON.stringify(run.steps)}`);
      const failed = next.steps[0] as Extract<typeof next, { type: "next" }>["steps"][number];
      assert.equal(failed.state, "STEP_FAILED");
      assert.equal(failed.errors?.length, 1);
      assert.equal(failed.errors![0].error, NON_WORKFLOW_ERROR);
      assert.equal(failed.errors![0].body, "not a workflow");
      assert.equal(failed.errors![0].status, 200);
    });

    test("failure function: called once after the retries are exhausted, with the failure and the run's context", T, async () => {
      const { workflowRunId } = await client.trigger({
        url: app.url("/wf/fail"),
        body: "fb",
        headers: { "x-user": "u2" },
        retries: 1,
        retryDelay: "10",
      });
      const [{ data }] = await waitRecords("failure-fn", workflowRunId);
      assert.equal(data.failStatus, 500);
      assert.equal(data.failResponse, "boom");
      assert.equal(data.payload, "fb");
      assert.equal(data.user, "u2");
      assert.equal(data.url, app.url("/wf/fail"));
      await sleep(500);
      assert.equal(app.find("fail-exec", workflowRunId).length, 2, "retries: 1 means two attempts");
      assert.equal(app.find("failure-fn", workflowRunId).length, 1);
      const calls = deliveries("/wf/fail", workflowRunId).filter((d) => headerOf(d.headers, "upstash-workflow-is-failure") === "true");
      assert.equal(calls.length, 1);
      assert.equal(calls[0].status, 200, calls[0].responseBody);
    });

    test("failureUrl: a separate endpoint receives the signed failure payload", T, async () => {
      const { workflowRunId } = await client.trigger({
        url: app.url("/wf/fail-plain"),
        body: "fp",
        headers: { "x-user": "u3" },
        retries: 0,
        failureUrl: app.url("/failure-sink"),
      });
      const [cb] = await poll("the failure callback at /failure-sink", () => {
        const r = app.to("/failure-sink", workflowRunId);
        return r.length ? r : undefined;
      }, { intervalMs: 25, show: () => app.to("/failure-sink").map((d) => d.headers) });
      assert.ok(cb.verified, "the failure callback is signed for its own URL");
      assert.equal(cb.method, "POST");
      assert.equal(headerOf(cb.headers, "upstash-workflow-is-failure"), "true");
      assert.equal(headerOf(cb.headers, "upstash-workflow-failure-callback"), "true");
      assert.equal(headerOf(cb.headers, "x-user"), "u3");
      const payload = JSON.parse(cb.body);
      assert.equal(payload.status, 500);
      assert.equal(payload.workflowRunId, workflowRunId);
      assert.equal(payload.url, app.url("/wf/fail-plain"));
      assert.equal(payload.sourceBody, b64("fp"));
      assert.equal(typeof payload.workflowCreatedAt, "number");
      assert.equal(JSON.parse(unb64(payload.body)).message, "plain boom");
      await sleep(300);
      assert.equal(app.find("fail-plain-exec", workflowRunId).length, 1, "retries: 0 means one attempt");
      assert.equal(app.to("/failure-sink", workflowRunId).length, 1);
    });

    test("489 WorkflowNonRetryableError: no retries, the failure function is called once", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/non-retryable") });
      const [{ data }] = await waitRecords("non-retryable-failure-fn", workflowRunId);
      assert.equal(data.failStatus, 489);
      assert.equal(data.failResponse, "nope");
      await sleep(800);
      const got = deliveries("/wf/non-retryable", workflowRunId);
      assert.equal(got.filter((d) => d.status === 489).length, 1, `statuses: ${got.map((d) => d.status).join(",")}`);
      assert.equal(app.find("non-retryable-failure-fn", workflowRunId).length, 1);
    });

    test("a step published to a finished or cancelled run is refused with 400", T, async () => {
      const stepHeaders = (runId: string, url: string) => ({
        "upstash-workflow-init": "false",
        "upstash-workflow-runid": runId,
        "upstash-workflow-url": url,
        "upstash-feature-set": "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig",
        "upstash-workflow-sdk-version": "1",
        "upstash-forward-upstash-workflow-sdk-version": "1",
        "upstash-method": "POST",
        "content-type": "application/json",
      });
      const step = JSON.stringify({ stepId: 9, stepName: "late", stepType: "Run", out: '"late"', concurrent: 1 });
      // What context.run / sleep / createWebhook send: one /v2/batch item.
      const viaBatch = async (runId: string, url: string) => {
        const res = await qstashFetch("/v2/batch", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify([{ destination: url, headers: stepHeaders(runId, url), body: step }]),
        });
        return `${res.status} ${await res.text()}`;
      };
      // What the context.call result and invoke send: /v2/publish.
      const viaPublish = async (runId: string, url: string) => {
        const res = await qstashFetch(`/v2/publish/${url}`, { method: "POST", headers: stepHeaders(runId, url), body: step });
        return `${res.status} ${await res.text()}`;
      };

      const { workflowRunId: done } = await client.trigger({ url: app.url("/wf/run"), body: { name: "late" } });
      await waitRecords("run", done);
      await waitRunEnded(done);
      const { workflowRunId: cancelled } = await client.trigger({ url: app.url("/wf/cancel") });
      await waitRecords("cancel-exec", cancelled);
      await waitRunEnded(cancelled);
      const runDeliveries = deliveries("/wf/run", done).length;

      const got = {
        batchToFinished: await viaBatch(done, app.url("/wf/run")),
        publishToFinished: await viaPublish(done, app.url("/wf/run")),
        batchToCancelled: await viaBatch(cancelled, app.url("/wf/cancel")),
      };
      const statusOnly = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, Number(v.split(" ")[0])]));
      assert.deepEqual(statusOnly, { batchToFinished: 400, publishToFinished: 400, batchToCancelled: 400 }, `answers: ${JSON.stringify(got)}`);
      for (const v of Object.values(got)) assert.equal(typeof JSON.parse(v.slice(4)).error, "string", v);

      await sleep(400);
      assert.equal(deliveries("/wf/run", done).length, runDeliveries, "the refused step was delivered anyway");
      assert.equal(deliveries("/wf/cancel", cancelled).length, 2, "the refused step was delivered anyway");
    });
  });

  describe("run API through the SDK Client", () => {
    const hold = async (names: string[]) => {
      const runs = await client.trigger(names.map((n) => ({ url: app.url(`/wf/hold/${n}`) })));
      for (const r of runs) await waitRecords("hold-start", r.workflowRunId);
      return runs.map((r) => r.workflowRunId);
    };

    test("client.cancel({ids}) cancels exactly the listed runs (and drops their waiters)", T, async () => {
      const tag = rand();
      const [a, c] = await hold([`ids-${tag}-a`, `ids-${tag}-c`]);
      const eventId = `evt-${rand()}`;
      const { workflowRunId: w } = await client.trigger({ url: app.url("/wf/wait"), body: { eventId, timeout: "60s" } });
      await poll(`the waiter of ${w}`, async () => (await client.getWaiters({ eventId })).length === 1, { intervalMs: 100 });

      assert.deepEqual(await client.cancel({ ids: [a, w] }), { cancelled: 2 });
      assert.equal(await runIsActive(a), false);
      assert.equal(await runIsActive(w), false);
      assert.equal(await runIsActive(c), true, "a run that was not listed was cancelled");
      assert.deepEqual(await client.getWaiters({ eventId }), [], "a cancelled run's waiter is dropped");
      assert.deepEqual(await client.notify({ eventId, eventData: "late" }), []);
      await waitRunState(a, "RUN_CANCELED");
      await waitRunState(w, "RUN_CANCELED");
      assert.equal((await runLog(c))?.workflowState, "RUN_STARTED");
      assert.deepEqual(await client.cancel({ ids: [a] }), { cancelled: 0 }, "an ended run is not counted again");
      assert.deepEqual(await client.cancel(c), { cancelled: 1 });
      await waitRunState(c, "RUN_CANCELED");
      await sleep(200);
      assert.equal(app.find("wait", w).length, 0);
      assert.equal(app.find("hold-end").filter((r) => [a, c].includes(r.runId)).length, 0);
    });

    test("client.cancel by URL: prefix (urlStartingWith) and exact (filter.workflowUrl)", T, async () => {
      const tag = rand();
      const [a1, a2, other] = await hold([`url-${tag}-a1`, `url-${tag}-a2`, `url-${tag}-b`]);
      assert.deepEqual(await client.cancel({ filter: { workflowUrl: app.url(`/wf/hold/url-${tag}-`) } }), { cancelled: 0 }, "workflowUrl is an exact match");
      assert.deepEqual(await client.cancel({ urlStartingWith: app.url(`/wf/hold/url-${tag}-a`) }), { cancelled: 2 });
      assert.equal(await runIsActive(a1), false);
      assert.equal(await runIsActive(a2), false);
      assert.equal(await runIsActive(other), true);
      assert.deepEqual(await client.cancel({ filter: { workflowUrl: app.url(`/wf/hold/url-${tag}-b`) } }), { cancelled: 1 });
      assert.equal(await runIsActive(other), false);
      await waitRunState(other, "RUN_CANCELED");
    });

    test("client.cancel({all: true}) cancels every active run", T, async () => {
      await client.cancel({ all: true }); // start from no active run
      const tag = rand();
      const [a, b] = await hold([`all-${tag}-a`, `all-${tag}-b`]);
      assert.deepEqual(await client.cancel({ all: true }), { cancelled: 2 });
      assert.equal(await runIsActive(a), false);
      assert.equal(await runIsActive(b), false);
      assert.deepEqual(await client.cancel({ all: true }), { cancelled: 0 });
      await waitRunState(a, "RUN_CANCELED");
    });

    test("client.logs({workflowRunId}): run states and grouped steps", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/logged"), body: { in: 1 }, label: "logs-label" });
      const [heldRun] = await hold([`logs-${rand()}`]);
      assert.equal((await waitRunState(heldRun, "RUN_STARTED")).workflowState, "RUN_STARTED");
      await client.cancel([heldRun]);
      await waitRunState(heldRun, "RUN_CANCELED");

      const run = await waitRunState(workflowRunId, "RUN_SUCCESS", 15_000);
      assert.equal(run.workflowUrl, app.url("/wf/logged"));
      assert.equal(typeof run.workflowRunCreatedAt, "number");
      assert.ok(run.workflowRunCompletedAt! >= run.workflowRunCreatedAt);
      assert.equal(run.workflowRunResponse, '"done"');
      assert.equal(run.label, "logs-label");
      assert.ok(!run.steps.some((g) => g.type === "next"), `a finished run has no "next" group: ${JSON.stringify(run.steps)}`);
      const shape = run.steps.map((g) => ({ type: g.type, names: g.steps.map((s) => (s as { stepName?: string }).stepName).sort() }));
      assert.deepEqual(shape, [
        { type: "sequential", names: ["init"] },
        { type: "sequential", names: ["one"] },
        { type: "parallel", names: ["pa", "pb"] },
        { type: "sequential", names: ["nap"] },
      ]);
      const [init] = run.steps[0].steps as any[];
      assert.equal(init.stepType, "Initial");
      assert.equal(init.state, "STEP_SUCCESS");
      assert.equal(init.out, '{"in":1}');
      const [one] = run.steps[1].steps as any[];
      assert.equal(one.stepType, "Run");
      assert.equal(one.out, "1");
      assert.equal(one.concurrent, 1);
      assert.equal(one.state, "STEP_SUCCESS");
      for (const s of run.steps[2].steps as any[]) {
        assert.equal(s.stepType, "Run");
        assert.equal(s.concurrent, 2);
        assert.equal(s.state, "STEP_SUCCESS");
        assert.equal(s.out, s.stepName === "pa" ? '"a"' : '"b"');
      }
      const [nap] = run.steps[3].steps as any[];
      assert.equal(nap.stepType, "SleepFor");
      assert.equal(nap.sleepFor, 1);

      // A context.call step is one "Call" entry with the call's request and response.
      const { workflowRunId: callRun } = await client.trigger({ url: app.url("/wf/call") });
      const calls = (await waitRunState(callRun, "RUN_SUCCESS")).steps.flatMap((g) => g.steps as any[]).filter((st) => st.stepType === "Call");
      assert.deepEqual(calls.map((c) => c.stepName), ["call-ok", "call-fail"], `steps: ${JSON.stringify(calls)}`);
      assert.equal(calls[0].callUrl, app.url("/third/echo?x=1"));
      assert.equal(calls[0].callMethod, "POST");
      assert.equal(calls[0].callResponseStatus, 200);
      assert.equal(calls[1].callMethod, "GET");
      assert.equal(calls[1].callResponseStatus, 503);

      // The filter form and other filters find the same run.
      const byFilter = await client.logs({ filter: { workflowRunId } });
      assert.deepEqual(byFilter.runs.map((r) => r.workflowRunId), [workflowRunId]);
      const byUrl = await client.logs({ filter: { workflowUrl: app.url("/wf/logged"), state: "RUN_SUCCESS" } });
      assert.ok(byUrl.runs.some((r) => r.workflowRunId === workflowRunId));

      // A failed run: RUN_FAILED with a "next" group holding the failing step's error.
      const { workflowRunId: failedRun } = await client.trigger({ url: app.url("/wf/fail-plain"), body: "logs", retries: 0 });
      const failed = await waitRunState(failedRun, "RUN_FAILED");
      assert.equal(typeof failed.dlqId, "string");
      const next = failed.steps.at(-1)!;
      assert.equal(next.type, "next", `steps: ${JSON.stringify(failed.steps)}`);
      const step = next.steps[0] as any;
      assert.equal(step.state, "STEP_FAILED");
      assert.equal(step.errors?.[0]?.status, 500);
      assert.match(String(step.errors?.[0]?.body), /plain boom/);

      // context.cancel gives RUN_CANCELED; a failure function that ran shows as CALLBACK_SUCCESS.
      const { workflowRunId: selfCancelled } = await client.trigger({ url: app.url("/wf/cancel") });
      await waitRunState(selfCancelled, "RUN_CANCELED");
      const { workflowRunId: withFn } = await client.trigger({ url: app.url("/wf/fail"), body: "logs", retries: 0 });
      await waitRecords("failure-fn", withFn);
      let lastFn: unknown;
      const fnRun = await poll(`RUN_FAILED with failureFunction.state CALLBACK_SUCCESS for ${withFn}`, async () => {
        const r = await runLog(withFn);
        lastFn = { workflowState: r?.workflowState, failureFunction: r?.failureFunction };
        return r?.workflowState === "RUN_FAILED" && r.failureFunction?.state === "CALLBACK_SUCCESS" ? r : undefined;
      }, { intervalMs: 100, show: () => lastFn });
      assert.equal(fnRun.failureFunction!.url, app.url("/wf/fail"));
      assert.equal(fnRun.failureFunction!.failStatus, 500);
    });

    const failedFlaky = async (tag: string) => {
      app.flags.flakyFails = true;
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/flaky"), body: { tag }, retries: 0 });
      await waitRecords("flaky-exec", workflowRunId);
      await waitRunEnded(workflowRunId);
      const entry = await poll(`a DLQ entry for ${workflowRunId}`, async () => {
        const { messages } = await client.dlq.list({ filter: { workflowRunId } });
        return messages.find((m) => m.workflowRunId === workflowRunId);
      }, { intervalMs: 100, show: () => dlqSummary() });
      return { workflowRunId, entry };
    };

    test("client.dlq.list() shows the failed run; delete removes it", T, async () => {
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/fail-plain"), body: "dl", label: "dlq-label", retries: 0 });
      await waitRunEnded(workflowRunId);
      const entry = await poll(`a DLQ entry for ${workflowRunId}`, async () => {
        const { messages } = await client.dlq.list();
        return messages.find((m) => m.workflowRunId === workflowRunId);
      }, { intervalMs: 100, show: () => dlqSummary() });
      assert.equal(typeof entry.dlqId, "string");
      assert.equal(entry.workflowUrl, app.url("/wf/fail-plain"));
      assert.equal((entry as { url?: string }).url, app.url("/wf/fail-plain"));
      assert.equal(entry.responseStatus, 500);
      assert.match(entry.responseBody, /plain boom/);
      assert.equal(entry.maxRetries, 0);
      assert.equal(typeof entry.workflowCreatedAt, "number");
      assert.equal(entry.failureCallback, app.url("/wf/fail-plain"));
      assert.equal(entry.label, "dlq-label");
      const filtered = await client.dlq.list({ filter: { workflowRunId } });
      assert.deepEqual(filtered.messages.map((m) => m.dlqId), [entry.dlqId]);

      assert.equal((await client.dlq.delete(entry.dlqId)).deleted, 1);
      assert.deepEqual((await client.dlq.list({ filter: { workflowRunId } })).messages, []);
      assert.equal((await client.dlq.delete(entry.dlqId)).deleted, 0);
    });

    test("client.dlq.resume: a new run continues from the failed step (earlier steps are not re-run)", T, async () => {
      const { workflowRunId, entry } = await failedFlaky("resume");
      app.flags.flakyFails = false;
      const res = await client.dlq.resume(entry.dlqId);
      assert.equal(res.workflowRuns.length, 1);
      const newRun = res.workflowRuns[0].workflowRunId;
      assert.notEqual(newRun, workflowRunId, "resume makes a new run id");
      const [{ data }] = await waitRecords("flaky-done", newRun);
      assert.deepEqual(data, { prep: "prep for resume", flaky: "flaky ok", payload: { tag: "resume" } });
      assert.equal(app.find("flaky-prep", newRun).length, 0, "resume re-ran a step that had succeeded");
      assert.equal(app.find("flaky-exec", newRun).length, 1);
      assert.deepEqual((await client.dlq.list({ filter: { workflowRunId } })).messages, [], "the DLQ entry is removed");
      await waitRunState(newRun, "RUN_SUCCESS");
    });

    test("client.dlq.restart: a new run starts over with the same payload", T, async () => {
      const { workflowRunId, entry } = await failedFlaky("restart");
      app.flags.flakyFails = false;
      const res = await client.dlq.restart(entry.dlqId);
      assert.equal(res.workflowRuns.length, 1);
      const newRun = res.workflowRuns[0].workflowRunId;
      assert.notEqual(newRun, workflowRunId);
      const [{ data }] = await waitRecords("flaky-done", newRun);
      assert.deepEqual(data, { prep: "prep for restart", flaky: "flaky ok", payload: { tag: "restart" } });
      assert.equal(app.find("flaky-prep", newRun).length, 1, "restart runs every step again");
      assert.deepEqual((await client.dlq.list({ filter: { workflowRunId } })).messages, []);
    });

    test("client.dlq.retryFailureFunction re-delivers a failed failure callback", T, async () => {
      app.flags.failureFunctionFails = true;
      const { workflowRunId } = await client.trigger({ url: app.url("/wf/failure-fn-flaky"), body: "ff", retries: 0 });
      await waitRecords("flaky-failure-fn", workflowRunId);
      const entry = await poll(`a DLQ entry for ${workflowRunId} with failureCallbackInfo.state CALLBACK_FAIL`, async () => {
        const { messages } = await client.dlq.list({ filter: { workflowRunId } });
        const m = messages.find((x) => x.workflowRunId === workflowRunId);
        return m?.failureCallbackInfo?.state === "CALLBACK_FAIL" ? m : undefined;
      }, { intervalMs: 100, show: () => dlqSummary(workflowRunId) });
      assert.equal(app.find("flaky-failure-fn", workflowRunId).length, 1, "failure callback retries: 0");

      app.flags.failureFunctionFails = false;
      const res = await client.dlq.retryFailureFunction({ dlqId: entry.dlqId });
      assert.equal(res.workflowRunId, workflowRunId);
      const calls = await waitRecords("flaky-failure-fn", workflowRunId, 2);
      assert.equal(calls[1].data.failing, false);
      assert.equal(calls[1].data.failResponse, "run boom");
      await poll("failureCallbackInfo.state CALLBACK_SUCCESS", async () => {
        const { messages } = await client.dlq.list({ filter: { workflowRunId } });
        const m = messages.find((x) => x.workflowRunId === workflowRunId);
        return !m || m.failureCallbackInfo?.state === "CALLBACK_SUCCESS";
      }, { intervalMs: 100, show: () => dlqSummary(workflowRunId) });
    });
  });
});
