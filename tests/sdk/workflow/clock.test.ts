// A workflow's `context.sleep("1d")` completes once the server's clock is advanced by a day
// (`POST /dev/clock/advance?by=1d`): the run waits for its sleep, the advance delivers the step
// after it, and every delivery still passes `serve()`'s signature check. A server of its own, so
// the other workflow scenarios keep real time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, serve } from "@upstash/workflow";
import { DEFAULT_USER, startDevServer, waitFor, type DevServer } from "../ts/harness.ts";
import { startWorkflowApp, type WorkflowApp } from "./app.ts";

const T = { timeout: 20_000 };
const DAY = 86_400_000;

let server: DevServer;
let app: WorkflowApp;
let client: Client;

async function dev(path: string): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${DEFAULT_USER.token}` } });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

describe("a workflow's sleep under the server's clock (@upstash/workflow 1.3.3)", () => {
  before(async () => {
    server = await startDevServer("workflow-clock-server");
    app = await startWorkflowApp({
      qstashUrl: server.url,
      token: DEFAULT_USER.token,
      currentSigningKey: DEFAULT_USER.currentSigningKey,
      nextSigningKey: DEFAULT_USER.nextSigningKey,
    });
    app.add(
      "/wf/sleep-day",
      serve(async (ctx) => {
        const started = await ctx.run("started", () => "yes");
        await ctx.sleep("a-day", "1d");
        const woke = await ctx.run("woke", () => "yes");
        app.record("sleep-day", ctx.workflowRunId, { started, woke });
      }),
    );
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await app?.stop();
    await server?.stop();
  });

  test("context.sleep('1d') completes after an advance of one day", T, async () => {
    const { workflowRunId } = await client.trigger({ url: app.url("/wf/sleep-day") });
    const idle = await dev("/dev/wait-idle?timeout=10s");
    assert.equal(idle.waiting, 1, "the step after the sleep waits for the clock");
    assert.equal(app.find("sleep-day", workflowRunId).length, 0);

    const { now, deliveries } = await dev("/dev/clock/advance?by=1d");
    assert.ok(deliveries >= 1);
    const rec = await waitFor("the run to finish", () => app.find("sleep-day", workflowRunId)[0]);
    assert.deepEqual(rec.data, { started: "yes", woke: "yes" });
    assert.ok(app.requests.every((r) => r.status === 200), "serve() accepted every delivery");

    const { runs } = await client.logs({ workflowRunId });
    assert.equal(runs[0]?.workflowState, "RUN_SUCCESS");
    assert.ok(runs[0].workflowRunCompletedAt! >= runs[0].workflowRunCreatedAt + DAY);
    assert.ok(runs[0].workflowRunCompletedAt! <= now + 60_000);
  });
});
