// Conformance of `qstash dev` with the official TypeScript SDK (@upstash/qstash) for the resources beyond
// single publishes: URL groups (`client.urlGroups`, publish to a group), queues (`client.queue()`, enqueue),
// batch (`client.batchJSON`) and schedules (`client.schedules`).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, QstashError } from "@upstash/qstash";
import { DEFAULT_USER, RecordingReceiver, sleep, startDevServer, waitFor, type Delivery, type DevServer, expectQstashError } from "./harness.ts";

const T = { timeout: 10_000 };

let server: DevServer;
let receiver: RecordingReceiver;
let client: Client;

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

function assertVerified(ds: Delivery[]) {
  for (const d of ds) assert.ok(d.verified, `signature did not verify for ${d.url}: ${d.verifyError}`);
}

async function deliveriesTo(url: string, n: number): Promise<Delivery[]> {
  return waitFor(`${n} deliveries to ${url}`, () => (receiver.to(url).length >= n ? receiver.to(url) : undefined));
}

function assertMillis(v: unknown, what: string) {
  assert.equal(typeof v, "number", `${what} must be a number`);
  const now = Date.now();
  assert.ok((v as number) > now - 60_000 && (v as number) <= now + 1_000, `${what} must be a recent unix time in ms, got ${v}`);
}

describe("qstash dev resources with @upstash/qstash", () => {
  before(async () => {
    server = await startDevServer("ts-resources-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  describe("url groups", () => {
    test("addEndpoints creates the group; get and list return it with its endpoints", T, async () => {
      const name = unique("ug-crud");
      const a = receiver.endpoint("ug-a");
      const b = receiver.endpoint("ug-b");
      const beforeCreate = Date.now();
      await client.urlGroups.addEndpoints({ name, endpoints: [{ name: "a", url: a }, { url: b }] });

      const g = await client.urlGroups.get(name);
      assert.equal(g.name, name);
      assertMillis(g.createdAt, "createdAt");
      assertMillis(g.updatedAt, "updatedAt");
      assert.ok(g.createdAt >= beforeCreate - 1_000);
      assert.deepEqual(g.endpoints, [{ name: "a", url: a }, { url: b }], "endpoints carry exactly name (when set) and url");

      const list = await client.urlGroups.list();
      assert.ok(Array.isArray(list));
      const listed = list.find((x) => x.name === name);
      assert.ok(listed, "the group is listed");
      assert.deepEqual(listed.endpoints, g.endpoints);

      // Adding more endpoints to an existing group keeps the old ones.
      const c = receiver.endpoint("ug-c");
      await client.urlGroups.addEndpoints({ name, endpoints: [{ name: "c", url: c }] });
      const g2 = await client.urlGroups.get(name);
      assert.deepEqual(g2.endpoints.map((e) => e.url).sort(), [a, b, c].sort());
      assert.equal(g2.createdAt, g.createdAt, "createdAt does not change on upsert");
      assert.ok(g2.updatedAt >= g.updatedAt);
      await client.urlGroups.delete(name);
    });

    test("removeEndpoints by name and by url; removing the last endpoint deletes the group", T, async () => {
      const name = unique("ug-remove");
      const a = receiver.endpoint("ug-rm-a");
      const b = receiver.endpoint("ug-rm-b");
      const c = receiver.endpoint("ug-rm-c");
      await client.urlGroups.addEndpoints({ name, endpoints: [{ name: "a", url: a }, { name: "b", url: b }, { url: c }] });

      await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: "a" }] });
      assert.deepEqual((await client.urlGroups.get(name)).endpoints, [{ name: "b", url: b }, { url: c }]);

      await client.urlGroups.removeEndpoints({ name, endpoints: [{ url: c }] });
      assert.deepEqual((await client.urlGroups.get(name)).endpoints, [{ name: "b", url: b }]);

      await client.urlGroups.removeEndpoints({ name, endpoints: [{ name: "b", url: b }] });
      await expectQstashError(client.urlGroups.get(name), 404);
      assert.ok(!(await client.urlGroups.list()).some((x) => x.name === name));
    });

    test("delete removes the group; get then fails with 404", T, async () => {
      const name = unique("ug-delete");
      await client.urlGroups.addEndpoints({ name, endpoints: [{ url: receiver.endpoint("ug-del") }] });
      assert.ok((await client.urlGroups.list()).some((x) => x.name === name));
      await client.urlGroups.delete(name);
      await expectQstashError(client.urlGroups.get(name), 404);
      assert.ok(!(await client.urlGroups.list()).some((x) => x.name === name));
      await expectQstashError(client.urlGroups.get(unique("ug-never")), 404);
    });

    test("publishJSON to a url group returns one result per endpoint and delivers to each, signed", T, async () => {
      const name = unique("ug-publish");
      const a = receiver.endpoint("ug-pub-a");
      const b = receiver.endpoint("ug-pub-b");
      await client.urlGroups.addEndpoints({ name, endpoints: [{ name: "first", url: a }, { name: "second", url: b }] });

      const payload = { to: "group", n: 7 };
      const res = await client.publishJSON({ urlGroup: name, body: payload, headers: { "Test-Header": "grp" } });
      assert.ok(Array.isArray(res), `a url-group publish answers with an array, got ${JSON.stringify(res)}`);
      assert.equal(res.length, 2);
      const byUrl = new Map(res.map((r) => [r.url, r]));
      assert.deepEqual([...byUrl.keys()].sort(), [a, b].sort());
      for (const r of res) assert.match(r.messageId, /^msg_/);
      assert.notEqual(res[0].messageId, res[1].messageId, "each endpoint gets its own message");

      for (const url of [a, b]) {
        const [d] = await deliveriesTo(url, 1);
        assertVerified([d]);
        assert.equal(d.method, "POST");
        assert.equal(d.body, JSON.stringify(payload));
        assert.equal(d.headers["upstash-message-id"], byUrl.get(url)!.messageId);
        assert.equal(d.headers["test-header"], "grp");
        assert.match(String(d.headers["content-type"]), /^application\/json/);
      }
      await sleep(100);
      assert.equal(receiver.to(a).length, 1);
      assert.equal(receiver.to(b).length, 1);

      // A pending (delayed) group message names its group and endpoint.
      const delayed = await client.publishJSON({ urlGroup: name, body: { later: true }, delay: 60 });
      assert.ok(Array.isArray(delayed));
      assert.equal(delayed.length, 2);
      for (const r of delayed) {
        const msg = await client.messages.get(r.messageId);
        assert.equal(msg.urlGroup, name, "the message names its url group (topicName)");
        assert.equal(msg.url, r.url);
        assert.ok(msg.notBefore! > Date.now() + 50_000);
        await client.messages.cancel(r.messageId);
      }
      await client.urlGroups.delete(name);
    });

    test("publishJSON to an unknown url group fails with 404", T, async () => {
      const e = await expectQstashError(client.publishJSON({ urlGroup: unique("ug-missing"), body: { x: 1 } }), 404);
      assert.match(e.message, /topic .* not found/);
    });
  });

  describe("queues", () => {
    test("upsert, get and list return the queue; upsert again changes parallelism and paused", T, async () => {
      const name = unique("q-crud");
      const q = client.queue({ queueName: name });
      await q.upsert({ parallelism: 1 });
      const got = await q.get();
      assert.equal(got.name, name);
      assert.equal(got.parallelism, 1);
      assert.equal(got.paused, false);
      assert.equal(got.lag, 0);
      assertMillis(got.createdAt, "createdAt");
      assertMillis(got.updatedAt, "updatedAt");

      const all = await client.queue().list();
      assert.ok(Array.isArray(all));
      const listed = all.find((x) => x.name === name);
      assert.ok(listed, "the queue is listed");
      assert.deepEqual(listed, got);

      await q.upsert({ parallelism: 3, paused: true });
      const again = await q.get();
      assert.equal(again.parallelism, 3);
      assert.equal(again.paused, true);
      assert.equal(again.createdAt, got.createdAt, "createdAt does not change on upsert");
      assert.ok(again.updatedAt >= got.updatedAt);

      await q.upsert({ parallelism: 3, paused: false });
      assert.equal((await q.get()).paused, false);
      await q.delete();
    });

    test("pause and resume flip paused; delete removes the queue", T, async () => {
      const name = unique("q-pause");
      const q = client.queue({ queueName: name });
      await q.upsert({});
      await q.pause();
      assert.equal((await q.get()).paused, true);
      await q.pause(); // idempotent
      assert.equal((await q.get()).paused, true);
      await q.resume();
      assert.equal((await q.get()).paused, false);

      await q.delete();
      await expectQstashError(q.get(), 404);
      assert.ok(!(await client.queue().list()).some((x) => x.name === name));
    });

    test("enqueueJSON with parallelism 1 delivers in FIFO order, one at a time", T, async () => {
      const name = unique("q-fifo");
      const q = client.queue({ queueName: name });
      await q.upsert({ parallelism: 1 });
      const delayMs = 60;
      const url = receiver.endpoint("q-fifo", undefined, { delayMs });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await q.enqueueJSON({ url, body: { i } });
        assert.match(res.messageId, /^msg_/);
        ids.push(res.messageId);
      }
      const ds = await deliveriesTo(url, 5);
      assertVerified(ds);
      assert.deepEqual(ds.map((d) => JSON.parse(d.body).i), [0, 1, 2, 3, 4], "FIFO order");
      assert.deepEqual(ds.map((d) => d.headers["upstash-message-id"]), ids);
      for (let i = 1; i < ds.length; i++) {
        assert.ok(
          ds[i].at - ds[i - 1].at >= delayMs - 5,
          `with parallelism 1 a delivery starts only after the previous one was answered (gap ${ds[i].at - ds[i - 1].at} ms)`,
        );
      }
      const msg = await waitFor("the queue to drain", async () => ((await q.get()).lag === 0 ? true : undefined));
      assert.ok(msg);
      await q.delete();
    });

    test("a paused queue accepts messages, counts them as lag and delivers them on resume", T, async () => {
      const name = unique("q-paused");
      const q = client.queue({ queueName: name });
      await q.upsert({ parallelism: 1, paused: true });
      const url = receiver.endpoint("q-paused");
      for (let i = 0; i < 3; i++) await q.enqueueJSON({ url, body: { i } });
      await sleep(200);
      assert.equal(receiver.to(url).length, 0, "a paused queue delivers nothing");
      assert.equal((await q.get()).lag, 3);

      await q.resume();
      const ds = await deliveriesTo(url, 3);
      assertVerified(ds);
      assert.deepEqual(ds.map((d) => JSON.parse(d.body).i), [0, 1, 2]);
      await waitFor("lag 0", async () => ((await q.get()).lag === 0 ? true : undefined));
      await q.delete();
    });

    test("enqueue to a queue that does not exist creates it with parallelism 1", T, async () => {
      const name = unique("q-auto");
      const url = receiver.endpoint("q-auto");
      const res = await client.queue({ queueName: name }).enqueue({ url, body: "raw text", headers: { "Content-Type": "text/plain" } });
      assert.match(res.messageId, /^msg_/);
      const [d] = await deliveriesTo(url, 1);
      assertVerified([d]);
      assert.equal(d.body, "raw text");
      const got = await client.queue({ queueName: name }).get();
      assert.equal(got.name, name);
      assert.equal(got.parallelism, 1);
      assert.equal(got.paused, false);
      const msg = await client.queue({ queueName: name }).delete();
      assert.equal(msg, undefined);
    });
  });

  describe("batch", () => {
    test("batchJSON with url, url-group and queue items answers in request order and delivers each", T, async () => {
      const group = unique("batch-ug");
      const g1 = receiver.endpoint("batch-g1");
      const g2 = receiver.endpoint("batch-g2");
      await client.urlGroups.addEndpoints({ name: group, endpoints: [{ url: g1 }, { url: g2 }] });
      const queueName = unique("batch-q");
      const direct = receiver.endpoint("batch-url");
      const queued = receiver.endpoint("batch-queued");

      const res = await client.batchJSON([
        { url: direct, body: { item: 0 }, headers: { "Test-Header": "zero" } },
        { urlGroup: group, body: { item: 1 } },
        { queueName, url: queued, body: { item: 2 } },
      ]);
      assert.ok(Array.isArray(res));
      assert.equal(res.length, 3, `one response per item: ${JSON.stringify(res)}`);

      const first = res[0] as { messageId: string };
      assert.ok(!Array.isArray(first));
      assert.match(first.messageId, /^msg_/);

      const second = res[1] as unknown as { messageId: string; url: string }[];
      assert.ok(Array.isArray(second), `the url-group item answers with a nested array: ${JSON.stringify(res[1])}`);
      assert.equal(second.length, 2);
      assert.deepEqual(second.map((r) => r.url).sort(), [g1, g2].sort());
      for (const r of second) assert.match(r.messageId, /^msg_/);

      const third = res[2] as { messageId: string };
      assert.ok(!Array.isArray(third));
      assert.match(third.messageId, /^msg_/);

      const [d0] = await deliveriesTo(direct, 1);
      assertVerified([d0]);
      assert.equal(d0.body, JSON.stringify({ item: 0 }));
      assert.equal(d0.headers["upstash-message-id"], first.messageId);
      assert.equal(d0.headers["test-header"], "zero");
      assert.match(String(d0.headers["content-type"]), /^application\/json/);

      for (const r of second) {
        const [d] = await deliveriesTo(r.url, 1);
        assertVerified([d]);
        assert.equal(d.body, JSON.stringify({ item: 1 }));
        assert.equal(d.headers["upstash-message-id"], r.messageId);
      }

      const [d2] = await deliveriesTo(queued, 1);
      assertVerified([d2]);
      assert.equal(d2.body, JSON.stringify({ item: 2 }));
      assert.equal(d2.headers["upstash-message-id"], third.messageId);
      const q = await client.queue({ queueName }).get();
      assert.equal(q.name, queueName, "the queue item created its queue");

      await client.urlGroups.delete(group);
      await client.queue({ queueName }).delete();
    });

    test("a single-item batch still answers with an array", T, async () => {
      const url = receiver.endpoint("batch-single");
      const res = await client.batchJSON([{ url, body: { only: true } }]);
      assert.ok(Array.isArray(res));
      assert.equal(res.length, 1);
      assert.match(res[0].messageId, /^msg_/);
      const [d] = await deliveriesTo(url, 1);
      assertVerified([d]);
      assert.equal(d.body, JSON.stringify({ only: true }));
    });
  });

  describe("schedules", () => {
    test("create returns an id; get and list return the schedule as created", T, async () => {
      const destination = receiver.endpoint("sched-get");
      const beforeCreate = Date.now();
      const { scheduleId } = await client.schedules.create({
        destination,
        cron: "  */5 * * * *  ", // fetch may trim header values itself; the server trims too
        body: JSON.stringify({ scheduled: true }),
        headers: { "Test-Header": "test-value" },
        delay: 10,
        retries: 2,
      });
      assert.equal(typeof scheduleId, "string");
      assert.match(scheduleId, /^scd_/);

      const s = await client.schedules.get(scheduleId);
      assert.equal(s.scheduleId, scheduleId);
      assert.equal(s.cron, "*/5 * * * *", "cron is returned trimmed");
      assert.equal(s.destination, destination);
      assert.equal(s.method, "POST");
      assert.equal(s.body, JSON.stringify({ scheduled: true }));
      assert.equal(s.retries, 2);
      assert.equal(s.delay, 10, "delay is returned in seconds");
      assert.equal(s.isPaused, false);
      assert.ok(s.createdAt >= beforeCreate - 1_000 && s.createdAt <= Date.now() + 1_000, `createdAt in ms, got ${s.createdAt}`);
      assert.deepEqual(s.header, { "Content-Type": ["application/json"], "Test-Header": ["test-value"] });
      if (s.nextScheduleTime !== undefined) {
        assert.ok(s.nextScheduleTime > beforeCreate && s.nextScheduleTime <= Date.now() + 5 * 60_000 + 1_000);
      }

      const list = await client.schedules.list();
      assert.ok(Array.isArray(list));
      const listed = list.filter((x) => x.scheduleId === scheduleId);
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0], s);
      await client.schedules.delete(scheduleId);
    });

    test("create keeps method, timeout, retryDelay, callbacks and label", T, async () => {
      const destination = receiver.endpoint("sched-options");
      const callback = receiver.endpoint("sched-cb");
      const failureCallback = receiver.endpoint("sched-fcb");
      const { scheduleId } = await client.schedules.create({
        destination,
        cron: "30 2 * * 1",
        method: "PUT",
        body: "x",
        timeout: 30,
        retries: 0,
        retryDelay: "1000 * (1 + retried)",
        callback,
        failureCallback,
        label: "nightly",
      });
      const s = await client.schedules.get(scheduleId);
      assert.equal(s.method, "PUT");
      assert.equal(s.retries, 0);
      assert.equal(s.retryDelayExpression, "1000 * (1 + retried)");
      assert.equal(s.callback, callback);
      assert.equal(s.failureCallback, failureCallback);
      assert.equal(s.label, "nightly");
      assert.deepEqual(s.labels, ["nightly"]);
      assert.equal((s as unknown as { timeout?: number }).timeout, 30, "timeout is returned in seconds");
      assert.equal(s.delay, undefined, "delay is omitted when not set");
      await client.schedules.delete(scheduleId);
    });

    test("pause and resume flip isPaused", T, async () => {
      const { scheduleId } = await client.schedules.create({ destination: receiver.endpoint("sched-pause"), cron: "0 0 * * *" });
      assert.equal((await client.schedules.get(scheduleId)).isPaused, false);
      await client.schedules.pause({ schedule: scheduleId });
      assert.equal((await client.schedules.get(scheduleId)).isPaused, true);
      assert.equal((await client.schedules.list()).find((x) => x.scheduleId === scheduleId)?.isPaused, true);
      await client.schedules.pause({ schedule: scheduleId }); // idempotent
      assert.equal((await client.schedules.get(scheduleId)).isPaused, true);
      await client.schedules.resume({ schedule: scheduleId });
      assert.equal((await client.schedules.get(scheduleId)).isPaused, false);
      await client.schedules.delete(scheduleId);
    });

    test("create with an existing scheduleId overwrites the schedule; the body is dropped", T, async () => {
      const scheduleId = unique("my-schedule");
      const first = receiver.endpoint("sched-first");
      const second = receiver.endpoint("sched-second");
      const created = await client.schedules.create({
        destination: first,
        cron: "* * * * *",
        body: "first body",
        scheduleId,
        headers: { "Content-Type": "text/plain" },
      });
      assert.equal(created.scheduleId, scheduleId);
      const s1 = await client.schedules.get(scheduleId);
      assert.equal(s1.destination, first);
      assert.equal(s1.body, "first body");
      assert.deepEqual(s1.header, { "Content-Type": ["text/plain"] });

      const again = await client.schedules.create({ destination: second, cron: "*/10 * * * *", scheduleId });
      assert.equal(again.scheduleId, scheduleId);
      const s2 = await client.schedules.get(scheduleId);
      assert.equal(s2.destination, second, "the destination is replaced");
      assert.equal(s2.cron, "*/10 * * * *");
      assert.equal(s2.body, undefined, "the body is dropped when the overwrite sends none");
      assert.deepEqual(s2.header, { "Content-Type": ["application/json"] });
      assert.equal((await client.schedules.list()).filter((x) => x.scheduleId === scheduleId).length, 1);
      await client.schedules.delete(scheduleId);
    });

    test("a schedule can target a queue and a url group", T, async () => {
      const queueName = unique("sched-q");
      await client.queue({ queueName }).upsert({ parallelism: 2 });
      const toQueue = await client.schedules.create({ destination: receiver.endpoint("sched-q"), cron: "0 * * * *", queueName });
      const sq = await client.schedules.get(toQueue.scheduleId);
      assert.equal(sq.queueName, queueName);
      assert.equal((await client.queue({ queueName }).get()).parallelism, 2, "creating the schedule keeps the queue's parallelism");

      const group = unique("sched-ug");
      await client.urlGroups.addEndpoints({ name: group, endpoints: [{ url: receiver.endpoint("sched-ug") }] });
      const toGroup = await client.schedules.create({ destination: group, cron: "0 * * * *", body: "{}" });
      const sg = await client.schedules.get(toGroup.scheduleId);
      assert.equal(sg.destination, group);

      await client.schedules.delete(toQueue.scheduleId);
      await client.schedules.delete(toGroup.scheduleId);
      await client.queue({ queueName }).delete();
      await client.urlGroups.delete(group);
    });

    test("delete removes the schedule; get then fails with 404", T, async () => {
      const { scheduleId } = await client.schedules.create({ destination: receiver.endpoint("sched-del"), cron: "0 0 1 * *" });
      await client.schedules.delete(scheduleId);
      await expectQstashError(client.schedules.get(scheduleId), 404);
      assert.ok(!(await client.schedules.list()).some((x) => x.scheduleId === scheduleId));
      await expectQstashError(client.schedules.get("scd_doesnotexist"), 404);
    });

    test("an invalid cron is rejected with 400", T, async () => {
      await expectQstashError(client.schedules.create({ destination: receiver.endpoint("sched-bad"), cron: "not a cron" }), 400);
    });
  });
});
