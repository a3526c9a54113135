// The dashboard in a real browser: publish from the request builder and watch the delivery in
// the logs, retry a dead-lettered message, pause a schedule, move the server's clock and deliver
// a pending message now, and stay fast with 10,000 log entries. Each test works as its own test
// user, so they do not see each other's data (the clock is the server's: its test comes late).

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  api,
  eventually,
  launchBrowser,
  loadUsers,
  openDashboard,
  shot,
  startReceiver,
  startServer,
} from "./harness.mjs";

let server;
let receiver;
let browser;

before(async () => {
  // Retries a thousand times faster than the real backoff (12 s becomes 12 ms).
  server = await startServer(["-backoff-scale=0.001"]);
  await loadUsers(server.url);
  receiver = await startReceiver();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
  assert.deepEqual(browser?.errors ?? [], [], "no uncaught errors in the page");
});

test("the banner prints the dashboard's URL; the page and its assets load without errors", async () => {
  await eventually(() => server.printed.includes(`Dashboard: ${server.url}/ (-dashboard=false turns it off)`), 5000, "the banner");
  const page = await browser.context.newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(r.url()));
  page.on("response", (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
  await page.goto(server.url);
  await page.getByTestId("status").filter({ hasText: "Live" }).waitFor();
  const options = await page.getByTestId("user-select").locator("option").allTextContents();
  assert.equal(options.length, 4);
  assert.deepEqual(failed, []);
  await page.close();
});

test("a message published from the request builder shows up in the logs as DELIVERED", async () => {
  const page = await openDashboard(browser.context, server.url, 0, "publish");
  await page.getByTestId("publish-destination").fill(receiver.url("/hook"));
  await page.getByTestId("publish-headers").fill("Content-Type: application/json\nX-Test: from-the-dashboard");
  await page.getByTestId("publish-body").fill('{"hello":"dashboard"}');
  await page.getByTestId("publish-retries").fill("2");
  await page.getByTestId("publish-submit").click();
  const id = (await page.getByTestId("publish-message-id").textContent()).trim();
  assert.match(id, /^msg_/);
  await shot(page, "publish");

  const got = await eventually(() => receiver.received.find((r) => r.path === "/hook"), 10000, "the delivery");
  assert.equal(got.headers["x-test"], "from-the-dashboard", "a header line is forwarded");
  assert.equal(got.body, '{"hello":"dashboard"}');

  // The logs view updates without a reload.
  await page.getByTestId("tab-logs").click();
  await page.getByTestId("filter-message-id").fill(id);
  const delivered = page.getByTestId("log-row").filter({ hasText: "DELIVERED" }).filter({ hasText: id });
  await delivered.waitFor();
  await page.getByTestId("filter-message-id").fill("");
  await delivered.click();
  await page.getByTestId("log-body").filter({ hasText: '"hello": "dashboard"' }).waitFor();
  await shot(page, "logs-delivered");
  await page.close();
});

test("a dead-lettered message is retried from the DLQ view and delivered", async () => {
  receiver.answers["/flaky"] = 500;
  const page = await openDashboard(browser.context, server.url, 1, "publish");
  await page.getByTestId("publish-destination").fill(receiver.url("/flaky"));
  await page.getByTestId("publish-retries").fill("1");
  await page.getByTestId("publish-submit").click();
  const id = (await page.getByTestId("publish-message-id").textContent()).trim();

  await page.getByTestId("tab-dlq").click();
  const row = page.getByTestId("dlq-row").filter({ hasText: receiver.url("/flaky") });
  await row.waitFor();
  await row.click();
  await page.getByTestId("dlq-response-status").filter({ hasText: "500" }).waitFor();
  await page.getByTestId("dlq-response-body").filter({ hasText: "receiver says 500" }).waitFor();
  await shot(page, "dlq");
  assert.equal(receiver.received.filter((r) => r.path === "/flaky").length, 2, "one try and one retry");

  receiver.answers["/flaky"] = 200;
  await page.getByTestId("dlq-detail-retry").click();
  const retried = (await page.getByTestId("dlq-retried-id").textContent()).trim();
  assert.notEqual(retried, id);
  await page.getByTestId("dlq-row").first().waitFor({ state: "detached" });

  await page.getByRole("button", { name: "Follow it in the logs" }).click();
  await page.getByTestId("log-row").filter({ hasText: "DELIVERED" }).filter({ hasText: retried }).waitFor();
  const dlq = await api(server.url, 1, "GET", "/v2/dlq");
  assert.deepEqual(dlq.json.messages, [], "the DLQ is empty after the retry");
  await shot(page, "dlq-retried");
  await page.close();
});

test("a schedule created through the API is paused from the schedules view", async () => {
  const dest = receiver.url("/cron");
  const created = await api(server.url, 2, "POST", `/v2/schedules/${dest}`, {
    headers: { "Upstash-Cron": "0 0 1 1 *", "Content-Type": "text/plain" },
    body: "tick",
  });
  assert.equal(created.status, 200, created.text);
  const id = created.json.scheduleId;

  const page = await openDashboard(browser.context, server.url, 2, "schedules");
  const row = page.locator(`[data-testid=schedule-row][data-key="${id}"]`);
  await row.getByTestId("schedule-state").filter({ hasText: "ACTIVE" }).waitFor();
  await row.getByTestId("schedule-pause").click();
  await row.getByTestId("schedule-state").filter({ hasText: "PAUSED" }).waitFor();
  const got = await api(server.url, 2, "GET", `/v2/schedules/${id}`);
  assert.equal(got.json.isPaused, true);

  await row.getByTestId("schedule-trigger").click();
  await eventually(() => receiver.received.find((r) => r.path === "/cron"), 10000, "the triggered run");
  await row.click();
  await shot(page, "schedules");
  await row.getByTestId("schedule-resume").click();
  await row.getByTestId("schedule-state").filter({ hasText: "ACTIVE" }).waitFor();
  assert.equal((await api(server.url, 2, "GET", `/v2/schedules/${id}`)).json.isPaused, false);
  await page.close();
});

test("queues, URL groups and flow-control keys are listed; a queue is paused from its view", async () => {
  const json = { "Content-Type": "application/json" };
  assert.equal((await api(server.url, 0, "POST", "/v2/queues", { headers: json, body: '{"queueName":"orders","parallelism":2}' })).status, 200);
  const later = { "Upstash-Delay": "1h" };
  assert.equal((await api(server.url, 0, "POST", `/v2/enqueue/orders/${receiver.url("/q")}`, { headers: later })).status, 200);
  const endpoints = JSON.stringify({ endpoints: [{ name: "billing", url: receiver.url("/billing") }] });
  assert.equal((await api(server.url, 0, "POST", "/v2/topics/team/endpoints", { headers: json, body: endpoints })).status, 200);
  const flow = { ...later, "Upstash-Flow-Control-Key": "tenant-7", "Upstash-Flow-Control-Value": "parallelism=1" };
  assert.equal((await api(server.url, 0, "POST", `/v2/publish/${receiver.url("/f")}`, { headers: flow })).status, 200);

  const page = await openDashboard(browser.context, server.url, 0, "queues");
  const queue = page.locator("[data-testid=queue-row][data-key=orders]");
  await queue.getByTestId("queue-lag").filter({ hasText: "1" }).waitFor();
  await queue.getByTestId("queue-pause").click();
  await queue.getByTestId("queue-state").filter({ hasText: "PAUSED" }).waitFor();
  assert.equal((await api(server.url, 0, "GET", "/v2/queues/orders")).json.paused, true);
  await shot(page, "queues");

  await page.getByTestId("tab-groups").click();
  await page.getByTestId("group-row").filter({ hasText: "team" }).filter({ hasText: receiver.url("/billing") }).waitFor();
  await page.getByTestId("tab-flow").click();
  await page.getByTestId("flow-row").filter({ hasText: "tenant-7" }).waitFor();
  await page.close();
});

test("a reset from elsewhere empties the views; the reset button resets the user", async () => {
  const page = await openDashboard(browser.context, server.url, 0, "logs");
  const count = page.getByTestId("log-count");
  await count.filter({ hasText: /^[1-9][0-9,]* entr/ }).waitFor();
  assert.equal((await api(server.url, 0, "POST", "/dev/reset")).status, 200);
  await count.filter({ hasText: /^0 entries$/ }).waitFor({ timeout: 10000 });

  await api(server.url, 0, "POST", `/v2/publish/${receiver.url("/after-reset")}`, { headers: { "Upstash-Delay": "1h" } });
  await count.filter({ hasText: /^1 entry$/ }).waitFor();
  const reset = page.getByTestId("reset");
  await reset.click();
  await reset.filter({ hasText: "Sure?" }).click();
  await count.filter({ hasText: /^0 entries$/ }).waitFor();
  assert.deepEqual((await api(server.url, 0, "GET", "/v2/events")).json.events, []);
  await page.close();
});

test("the server's clock is shown and advanced from the top bar; a pending message is delivered now", async () => {
  const dest = receiver.url("/clock-later");
  const published = await api(server.url, 1, "POST", `/v2/publish/${dest}`, { headers: { "Upstash-Delay": "2d" } });
  assert.equal(published.status, 200, published.text);
  const id = published.json.messageId;

  const page = await openDashboard(browser.context, server.url, 1, "pending");
  const time = page.getByTestId("server-time");
  await time.filter({ hasText: "Server time" }).waitFor();
  assert.doesNotMatch(await time.getAttribute("class"), /shifted/, "real time is not marked");
  await page.getByTestId("clock-advance-1d").click();
  await time.filter({ hasText: "not real time" }).waitFor();
  assert.match(await time.getAttribute("class"), /shifted/);
  const clock = (await api(server.url, 1, "GET", "/dev/clock")).json;
  assert.ok(clock.offsetMs >= 86_400_000 - 5_000, `moved a day: ${JSON.stringify(clock)}`);
  assert.equal(receiver.received.filter((r) => r.path === "/clock-later").length, 0, "due in another day");

  const row = page.locator(`[data-testid=pending-row][data-key="${id}"]`);
  await row.getByTestId("pending-deliver").click();
  await eventually(() => receiver.received.find((r) => r.path === "/clock-later"), 10000, "the delivery made now");

  assert.equal((await api(server.url, 1, "POST", "/dev/clock/freeze")).status, 200);
  await time.filter({ hasText: "frozen" }).waitFor();
  await shot(page, "clock");
  await page.getByTestId("clock-resume").click();
  await time.filter({ hasText: "not real time" }).waitFor();
  assert.equal((await api(server.url, 1, "GET", "/dev/clock")).json.frozen, false);
  await page.close();
});

test("10,000 log entries load, render a window of rows, filter fast and stay live", async () => {
  // 10,000 delayed messages: one CREATED entry each, nothing delivered.
  const dest = receiver.url("/later");
  for (let b = 0; b < 100; b++) {
    const items = Array.from({ length: 100 }, (_, i) => ({
      destination: `${dest}?n=${b * 100 + i}`,
      headers: { "Upstash-Delay": "1h" },
      body: "x",
    }));
    const r = await api(server.url, 3, "POST", "/v2/batch", { body: JSON.stringify(items) });
    assert.equal(r.status, 200, r.text);
  }

  const t0 = Date.now();
  const page = await openDashboard(browser.context, server.url, 3, "logs");
  await page.getByTestId("log-count").filter({ hasText: "10,000 entries" }).waitFor();
  const loadMs = Date.now() - t0;
  const rows = await page.getByTestId("log-row").count();
  assert.ok(rows > 10 && rows < 100, `a window of rows is rendered, not 10,000 (${rows})`);

  // Scrolling to the end renders the oldest entries.
  await page.getByTestId("log-list").evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await page.getByTestId("log-row").filter({ hasText: "n=0" }).first().waitFor();

  // A filter over all 10,000 entries answers at once.
  const t1 = Date.now();
  await page.getByTestId("filter-url").fill("n=4242");
  await page.getByTestId("log-count").filter({ hasText: "1 of 10,000 entries" }).waitFor();
  const filterMs = Date.now() - t1;
  assert.ok(filterMs < 1000, `filtering took ${filterMs} ms`);
  await page.getByTestId("filter-url").fill("");

  // New entries still arrive without a reload.
  await api(server.url, 3, "POST", `/v2/publish/${dest}?n=newest`, { headers: { "Upstash-Delay": "1h" } });
  await page.getByTestId("log-row").first().filter({ hasText: "n=newest" }).waitFor();
  await page.getByTestId("tab-pending").click();
  await page.getByTestId("tab-pending").filter({ hasText: "10,000" }).waitFor();
  await shot(page, "logs-10k");
  console.log(`10,000 entries: first load ${loadMs} ms, filter ${filterMs} ms, ${rows} rows in the DOM`);
  await page.close();
});

test("a logged message is replayed with an edited body, and the new body is delivered", async () => {
  const published = await api(server.url, 2, "POST", `/v2/publish/${receiver.url("/replayed")}`, { body: "before" });
  assert.equal(published.status, 200, published.text);
  const id = published.json.messageId;
  await eventually(() => receiver.received.find((r) => r.path === "/replayed"), 10000, "the first delivery");

  const page = await openDashboard(browser.context, server.url, 2, "logs");
  await page.getByTestId("filter-message-id").fill(id);
  await page.getByTestId("log-row").filter({ hasText: "DELIVERED" }).click();
  await page.getByTestId("log-replay-edit").click();
  await page.getByTestId("replay-body").fill("after");
  await shot(page, "replay-edit");
  await page.getByTestId("replay-send").click();
  const again = await eventually(() => receiver.received.find((r) => r.path === "/replayed" && r.body === "after"), 10000, "the replay");
  assert.equal(again.method, "POST");
  // The logs now follow the new message (once the page has the replay's answer).
  await page.waitForFunction((old) => document.querySelector("[data-testid=filter-message-id]").value !== old, id);
  const followed = await page.getByTestId("filter-message-id").inputValue();
  assert.match(followed, /^msg_/);
  assert.notEqual(followed, id);
  await page.getByTestId("log-row").filter({ hasText: "DELIVERED" }).filter({ hasText: followed }).waitFor();
  await shot(page, "replay-delivered");
  await page.close();
});

test("the verify form explains a tampered body, and accepts the body as delivered", async () => {
  const published = await api(server.url, 2, "POST", `/v2/publish/${receiver.url("/signed")}`, { body: "signed body" });
  assert.equal(published.status, 200, published.text);
  const got = await eventually(() => receiver.received.find((r) => r.path === "/signed"), 10000, "the delivery");

  const page = await openDashboard(browser.context, server.url, 2, "verify");
  await page.getByTestId("verify-signature").fill(got.headers["upstash-signature"]);
  await page.getByTestId("verify-url").fill(receiver.url("/signed"));
  await page.getByTestId("verify-body").fill("signed body, tampered");
  await page.getByTestId("verify-submit").click();
  await page.getByTestId("verify-verdict").filter({ hasText: "Not valid (body)" }).waitFor();
  const failed = page.getByTestId("verify-checks").locator("tr.failed");
  assert.equal(await failed.count(), 1);
  assert.match(await failed.textContent(), /^body✗/);
  await shot(page, "verify-tampered");

  await page.getByTestId("verify-body").fill("signed body");
  await page.getByTestId("verify-submit").click();
  await page.getByTestId("verify-verdict").filter({ hasText: "Valid: verified with the current signing key" }).waitFor();
  await shot(page, "verify-valid");
  await page.close();
});

test("a message that failed twice and then succeeded shows three attempts with their requests and responses", async () => {
  receiver.failFirst["/twice"] = 2;
  const published = await api(server.url, 2, "POST", `/v2/publish/${receiver.url("/twice")}`, {
    headers: { "Upstash-Retries": "3" },
    body: "third time lucky",
  });
  assert.equal(published.status, 200, published.text);
  const id = published.json.messageId;
  await eventually(() => receiver.received.filter((r) => r.path === "/twice").length === 3, 10000, "three attempts");

  const page = await openDashboard(browser.context, server.url, 2, "logs");
  await page.getByTestId("filter-message-id").fill(id);
  await page.getByTestId("log-row").filter({ hasText: "DELIVERED" }).click();
  await page.getByTestId("log-timeline").click();
  const attempts = page.getByTestId("timeline-attempt");
  await attempts.nth(2).waitFor();
  assert.equal(await attempts.count(), 3);
  const outcomes = await attempts.locator(".attempt-head .badge").allTextContents();
  assert.deepEqual(outcomes, ["ERROR", "ERROR", "DELIVERED"]);
  const responses = await page.getByTestId("timeline-response").allTextContents();
  assert.deepEqual(responses.map((r) => r.split("\n")[0]), ["HTTP 500", "HTTP 500", "HTTP 200"]);
  const requests = await page.getByTestId("timeline-request").allTextContents();
  for (const [n, r] of requests.entries()) {
    assert.match(r, new RegExp(`Upstash-Retried: ${n}`), r);
    assert.match(r, /Upstash-Signature: ey/, r);
  }
  await shot(page, "timeline");
  await page.close();
});
