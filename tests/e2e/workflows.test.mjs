// Workflow runs in the dashboard, driven by the workflow app of tests/sdk/workflow (served with
// `serve()` from @upstash/workflow, runs started with its `Client.trigger`): a run's steps in
// order with their outputs and a step's request and answer; a failing step shown with why, then
// resumed or restarted from the DLQ; a sleeping run cancelled; a run whose endpoint rejects the
// signature.
// Loaded through tsx (scripts/test-e2e.sh), since the app is TypeScript.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { startWorkflowApp } from "../sdk/workflow/app.ts";
import { USERS, api, eventually, launchBrowser, loadUsers, openDashboard, shot, startServer } from "./harness.mjs";

const KEYS = { currentSigningKey: "sig_e2eCurrentKey", nextSigningKey: "sig_e2eNextKey" };

let server;
let browser;
let app;

before(async () => {
  server = await startServer([
    "-backoff-scale=0.001",
    `-current-signing-key=${KEYS.currentSigningKey}`,
    `-next-signing-key=${KEYS.nextSigningKey}`,
  ]);
  await loadUsers(server.url);
  app = await startWorkflowApp({ qstashUrl: server.url, token: USERS[0].token, ...KEYS });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
  assert.deepEqual(browser?.errors ?? [], [], "no uncaught errors in the page");
});

/** The run view's JSON once its status is `code`. */
function statusIs(runId, code) {
  return eventually(async () => {
    const r = await api(server.url, 0, "GET", `/dev/workflows/runs/${runId}`);
    return r.json?.status?.code === code && r.json;
  }, 15000, `run ${runId} to be ${code}`);
}

/** Opens the Workflows tab with run `runId` selected. */
async function openRun(runId) {
  const page = await openDashboard(browser.context, server.url, 0, "workflows");
  await page.getByTestId("run-filter-id").fill(runId);
  await page.getByTestId("run-row").filter({ hasText: runId }).click();
  await page.getByTestId("run-detail").getByText(`Run ${runId}`).waitFor();
  return page;
}

const stepNames = (page) => page.getByTestId("run-step-name").allTextContents();

test("a workflow run from the SDK app shows its steps in order with their outputs", async () => {
  const runId = await app.trigger("/wf/run", { body: { name: "dashboard" }, label: "e2e" });
  await statusIs(runId, "finished");
  const page = await openRun(runId);
  const row = page.getByTestId("run-row").filter({ hasText: runId });
  assert.match(await row.textContent(), /RUN_SUCCESS.*\/wf\/run.*e2e/);
  await page.getByTestId("run-why").filter({ hasText: "Finished" }).waitFor();
  assert.deepEqual(await stepNames(page), ["init", "first", "second", "third"]);
  const outs = await page.getByTestId("run-step-out").allTextContents();
  assert.match(outs[0], /"name": "dashboard"/, "init shows the payload");
  assert.equal(outs[1], '"hello dashboard"');
  assert.match(outs[2], /"upper": "HELLO DASHBOARD"/);
  assert.match(outs[3], /"hello dashboard",\s*2/);
  assert.match(await page.getByTestId("run-why-message").textContent(), /It returned \{"a":"hello dashboard"/);

  // The request the server sent with the first step's result, and the endpoint's answer.
  const first = page.getByTestId("run-step").filter({ has: page.getByTestId("run-step-name").getByText("first", { exact: true }) });
  await first.getByTestId("run-step-exchange").click();
  const request = first.getByTestId("timeline-request");
  await request.waitFor();
  assert.match(await request.textContent(), new RegExp(`Upstash-Workflow-RunId: ${runId}`));
  assert.match(await request.textContent(), /Upstash-Signature: ey/);
  assert.match(await first.getByTestId("timeline-response").textContent(), /^HTTP 200/);
  await shot(page, "workflow-run");
  await page.close();
});

test("a run with a failing step says why and is resumed from the DLQ", async () => {
  app.flags.flakyFails = true;
  const runId = await app.trigger("/wf/flaky", { body: { tag: "e2e" }, retries: 0 });
  await statusIs(runId, "stepFailed");
  const page = await openRun(runId);
  const why = page.getByTestId("run-why");
  await why.filter({ hasText: "A step failed" }).waitFor();
  const message = await page.getByTestId("run-why-message").textContent();
  assert.match(message, /Step 'flaky' failed \(1 attempt\); the last answer was HTTP 500: flaky is failing\./);
  assert.match(message, /Resume or restart it from the DLQ/);
  assert.deepEqual((await stepNames(page)).slice(0, 2), ["init", "prep"]);
  await shot(page, "workflow-failed");

  app.flags.flakyFails = false;
  await page.getByTestId("run-resume").click();
  const resumed = await eventually(async () => {
    const title = await page.getByTestId("run-detail").locator("h2").textContent();
    const id = title.replace("Run ", "");
    return id !== runId && id;
  }, 10000, "the resumed run to open");
  await statusIs(resumed, "finished");
  await why.filter({ hasText: "Finished" }).waitFor();
  assert.deepEqual(await stepNames(page), ["init", "prep", "flaky"]);
  const outs = await page.getByTestId("run-step-out").allTextContents();
  assert.equal(outs[2], '"flaky ok"');
  const done = await eventually(() => app.find("flaky-done", resumed)[0], 5000, "the resumed run to end");
  assert.deepEqual(done.data.flaky, "flaky ok");
  assert.equal(app.find("flaky-prep", resumed).length, 0, "a resumed run does not run prep again");
  await shot(page, "workflow-resumed");
  await page.close();
});

test("a failed run is restarted from the DLQ and runs every step again", async () => {
  app.flags.flakyFails = true;
  const runId = await app.trigger("/wf/flaky", { body: { tag: "again" }, retries: 0 });
  await statusIs(runId, "stepFailed");
  const page = await openRun(runId);
  app.flags.flakyFails = false;
  await page.getByTestId("run-restart").click();
  const restarted = await eventually(async () => {
    const id = (await page.getByTestId("run-detail").locator("h2").textContent()).replace("Run ", "");
    return id !== runId && id;
  }, 10000, "the restarted run to open");
  await page.getByTestId("run-why").filter({ hasText: "Finished" }).waitFor();
  assert.deepEqual(await stepNames(page), ["init", "prep", "flaky"]);
  await eventually(() => app.find("flaky-done", restarted)[0], 5000, "the restarted run to end");
  assert.equal(app.find("flaky-prep", restarted).length, 1, "a restarted run runs prep again");
  await page.close();
});

test("a sleeping run says until when, and is cancelled from its view", async () => {
  const runId = await app.trigger("/wf/hold/e2e");
  await statusIs(runId, "sleeping");
  const page = await openRun(runId);
  await page.getByTestId("run-why").filter({ hasText: "Sleeping" }).waitFor();
  assert.match(await page.getByTestId("run-why-message").textContent(), /^Step 'hold' sleeps until /);
  await page.getByTestId("run-step").filter({ hasText: "delivery of 'hold'" }).filter({ hasText: "due " }).waitFor();
  await page.getByTestId("run-step").filter({ hasText: "sleeps 60 s" }).filter({ hasText: "SLEEPING" }).waitFor();
  await shot(page, "workflow-sleeping");
  const cancel = page.getByTestId("run-cancel");
  await cancel.click();
  await cancel.click();
  await page.getByTestId("run-why").filter({ hasText: "Canceled" }).waitFor();
  await page.getByTestId("run-filter-id").fill("");
  await page.getByTestId("run-filter-state").selectOption("RUN_CANCELED");
  await page.getByTestId("run-row").filter({ hasText: runId }).waitFor();
  await eventually(async () => (await page.getByTestId("run-row").count()) === 1, 5000, "the state filter to keep the cancelled run only");
  assert.match(await page.getByTestId("run-count").textContent(), /^1 run$/);
  await shot(page, "workflow-list");
  await page.close();
});

test("a waiting run shows its event and deadline until it is notified", async () => {
  const runId = await app.trigger("/wf/wait", { body: { eventId: "e2e-order-7", timeout: "1h" } });
  await statusIs(runId, "waitingForEvent");
  const page = await openRun(runId);
  await page.getByTestId("run-why").filter({ hasText: "Waiting for an event" }).waitFor();
  assert.match(await page.getByTestId("run-why-message").textContent(), /^Waits for event 'e2e-order-7' \(step 'wait'\) since .*; it times out at /);
  assert.match(await page.getByTestId("run-wait").textContent(), /waits for event "e2e-order-7" since .*; times out .*\(in (59m|1h)\)/);
  await shot(page, "workflow-waiting");
  const notified = await api(server.url, 0, "POST", "/v2/notify/e2e-order-7", { body: '{"paid":true}' });
  assert.equal(notified.status, 201, notified.text);
  await page.getByTestId("run-why").filter({ hasText: "Finished" }).waitFor();
  const wait = page.getByTestId("run-step").filter({ has: page.getByTestId("run-step-name").getByText("wait", { exact: true }) });
  assert.match(await wait.textContent(), /waited for event "e2e-order-7"/);
  assert.match(await wait.getByTestId("run-step-out").textContent(), /paid/);
  await page.close();
});

test("a run whose endpoint rejects the signature says so", async () => {
  // Handlers built with other keys, as when an app's .env holds another project's keys.
  const wrong = await startWorkflowApp({
    qstashUrl: server.url,
    token: USERS[0].token,
    currentSigningKey: "sig_notThisServer",
    nextSigningKey: "sig_notThisServerEither",
  });
  try {
    const runId = await wrong.trigger("/wf/run", { body: { name: "x" }, retries: 0 });
    await statusIs(runId, "signatureRejected");
    const page = await openRun(runId);
    await page.getByTestId("run-why").filter({ hasText: "The endpoint rejected the signature" }).waitFor();
    assert.match(await page.getByTestId("run-why-message").textContent(), /QSTASH_CURRENT_SIGNING_KEY/);
    await shot(page, "workflow-signature");
    await page.close();
  } finally {
    await wrong.stop();
  }
});
