// Conformance of `qstash dev` with the official TypeScript SDK (@upstash/qstash) for flow control
// (`client.flowControl`, `flowControl` on publish) and for the throughput limits as the SDK classifies
// its 429s: the daily message quota (`QstashDailyRatelimitError`, `RateLimit-*`) and the burst limit on
// management endpoints (`QstashRatelimitError`, `Burst-RateLimit-*`). The 2.12.0 SDK has no
// `flowControl.list`. The limits run on a second server started with `-messages-per-day=2`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, QstashDailyRatelimitError, QstashError, QstashRatelimitError } from "@upstash/qstash";
import { DEFAULT_USER, TEST_USER_1, RecordingReceiver, sleep, startDevServer, waitFor, type Delivery, type DevServer, expectQstashError } from "./harness.ts";

const T = { timeout: 10_000 };

const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

function assertVerified(ds: Delivery[]) {
  for (const d of ds) assert.ok(d.verified, `signature did not verify for ${d.url}: ${d.verifyError}`);
}

/** Runs `fn` with the SDK's `console.error` line per failed request silenced. */
async function quietly<R>(fn: () => Promise<R>): Promise<R> {
  const original = console.error;
  console.error = () => {};
  try {
    return await fn();
  } finally {
    console.error = original;
  }
}

describe("qstash dev flow control with @upstash/qstash", () => {
  let server: DevServer;
  let receiver: RecordingReceiver;
  let client: Client;

  const deliveriesTo = (url: string, n: number) =>
    waitFor(`${n} deliveries to ${url}`, () => (receiver.to(url).length >= n ? receiver.to(url) : undefined));

  before(async () => {
    server = await startDevServer("ts-flow-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  test("publishJSON with flowControl stores flowControlKey, parallelism, rate and period on the message", T, async () => {
    const key = unique("fc-msg");
    const url = receiver.endpoint("fc-msg");
    const full = await client.publishJSON({ url, body: { n: 1 }, delay: 60, flowControl: { key, parallelism: 3, rate: 10, period: 5 } });
    const m = await client.messages.get(full.messageId);
    assert.equal(m.flowControlKey, key);
    assert.equal(m.parallelism, 3);
    assert.equal(m.rate, 10);
    assert.equal(m.period, 5, "a numeric period is sent as `5s` and echoed in seconds");

    // A duration string for the period; the deprecated ratePerSecond alias goes on the wire as rate.
    const key2 = unique("fc-msg2");
    const str = await client.publishJSON({ url, body: { n: 2 }, delay: 60, flowControl: { key: key2, parallelism: 1, ratePerSecond: 4, period: "2m" } });
    const m2 = await client.messages.get(str.messageId);
    assert.equal(m2.flowControlKey, key2);
    assert.equal(m2.parallelism, 1);
    assert.equal(m2.rate, 4);
    assert.equal(m2.period, 120);

    // Only parallelism: no rate, and the period defaults to one second.
    const key3 = unique("fc-msg3");
    const par = await client.publishJSON({ url, body: { n: 3 }, delay: 60, flowControl: { key: key3, parallelism: 2 } });
    const m3 = await client.messages.get(par.messageId);
    assert.equal(m3.flowControlKey, key3);
    assert.equal(m3.parallelism, 2);
    assert.equal(m3.rate, undefined);
    assert.equal(m3.period, 1);

    // The key's config comes from its messages.
    const info = await client.flowControl.get(key);
    assert.equal(info.flowControlKey, key);
    assert.equal(info.parallelismMax, 3);
    assert.equal(info.rateMax, 10);
    assert.equal(info.ratePeriod, 5);
    assert.equal(info.waitListSize, 0, "a delayed message is not waiting on the limits yet");

    // A message without flow control has none of the fields.
    const plain = await client.publishJSON({ url, body: { n: 4 }, delay: 60 });
    const mp = await client.messages.get(plain.messageId);
    assert.equal(mp.flowControlKey, undefined);
    assert.equal(mp.parallelism, undefined);

    assert.equal((await client.messages.cancel([full.messageId, str.messageId, par.messageId, plain.messageId])).cancelled, 4);
    await sleep(100);
    assert.equal(receiver.to(url).length, 0);
  });

  test("get returns every FlowControlInfo field; resetRate zeroes rateCount and starts a new period", T, async () => {
    const key = unique("fc-info");
    const url = receiver.endpoint("fc-info");
    const before = nowSeconds();
    await client.publishJSON({ url, body: { n: 1 }, flowControl: { key, parallelism: 2, rate: 5, period: 30 } });
    assertVerified(await deliveriesTo(url, 1));

    // The delivery's slot is released once the answer is in.
    const info = await waitFor("parallelismCount back to 0", async () => {
      const i = await client.flowControl.get(key);
      return i.parallelismCount === 0 ? i : undefined;
    });
    for (const field of [
      "flowControlKey",
      "waitListSize",
      "parallelismMax",
      "parallelismCount",
      "rateMax",
      "rateCount",
      "ratePeriod",
      "ratePeriodStart",
      "isPaused",
      "isPinnedParallelism",
      "isPinnedRate",
    ]) {
      assert.ok(field in info, `FlowControlInfo lacks ${field}: ${JSON.stringify(info)}`);
    }
    assert.equal(info.flowControlKey, key);
    assert.equal(info.waitListSize, 0);
    assert.equal(info.parallelismMax, 2);
    assert.equal(info.parallelismCount, 0);
    assert.equal(info.rateMax, 5);
    assert.equal(info.rateCount, 1, "one delivery in the current 30 s period");
    assert.equal(info.ratePeriod, 30);
    assert.equal(typeof info.ratePeriodStart, "number");
    assert.ok(info.ratePeriodStart >= before - 1 && info.ratePeriodStart <= nowSeconds() + 1, `ratePeriodStart in unix seconds, got ${info.ratePeriodStart}`);
    assert.equal(info.isPaused, false);
    assert.equal(info.isPinnedParallelism, false);
    assert.equal(info.isPinnedRate, false);

    await sleep(1_100);
    await client.flowControl.resetRate(key);
    const reset = await client.flowControl.get(key);
    assert.equal(reset.rateCount, 0, "rateCount is 0 (present, not omitted) after resetRate");
    assert.ok(reset.ratePeriodStart > info.ratePeriodStart, `a new period starts now: ${info.ratePeriodStart} -> ${reset.ratePeriodStart}`);
    assert.equal(reset.rateMax, 5);
    assert.equal(reset.ratePeriod, 30);
  });

  test("get of an unknown key is a 404", T, async () => {
    await quietly(() => expectQstashError(client.flowControl.get(unique("fc-none")), 404));
  });

  test("getGlobalParallelism returns the preset's maximum and the current count", T, async () => {
    const g = await client.flowControl.getGlobalParallelism();
    assert.equal(g.parallelismMax, 100, "the payg preset's global parallelism");
    assert.equal(typeof g.parallelismCount, "number");
    assert.ok(g.parallelismCount >= 0 && g.parallelismCount <= 100);
  });

  test("pin overrides the config and marks it pinned; unpinning parallelism only leaves isPinnedRate true", T, async () => {
    const key = unique("fc-pin");
    const url = receiver.endpoint("fc-pin");
    await client.publishJSON({ url, body: { n: 1 }, flowControl: { key, parallelism: 1, rate: 100, period: 1 } });
    await deliveriesTo(url, 1);

    await client.flowControl.pin(key, { parallelism: 4, rate: 7, period: 30 });
    const pinned = await client.flowControl.get(key);
    assert.equal(pinned.isPinnedParallelism, true);
    assert.equal(pinned.isPinnedRate, true);
    assert.equal(pinned.parallelismMax, 4);
    assert.equal(pinned.rateMax, 7);
    assert.equal(pinned.ratePeriod, 30);
    assert.equal(pinned.rateCount, 0, "pinning resets the rate count");

    // While pinned, a message's own config is ignored.
    const m = await client.publishJSON({ url, body: { n: 2 }, flowControl: { key, parallelism: 9, rate: 9 } });
    await deliveriesTo(url, 2);
    const still = await client.flowControl.get(key);
    assert.equal(still.parallelismMax, 4);
    assert.equal(still.rateMax, 7);
    assert.ok(m.messageId);

    await client.flowControl.unpin(key, { parallelism: true });
    const half = await client.flowControl.get(key);
    assert.equal(half.isPinnedParallelism, false);
    assert.equal(half.isPinnedRate, true, "unpinning parallelism leaves the rate pinned");
    assert.equal(half.rateMax, 7);
    assert.equal(half.ratePeriod, 30);

    await client.flowControl.unpin(key, { rate: true });
    const none = await client.flowControl.get(key);
    assert.equal(none.isPinnedParallelism, false);
    assert.equal(none.isPinnedRate, false);
  });

  test("pause holds deliveries in the waitlist; resume delivers them", T, async () => {
    const key = unique("fc-pause");
    const url = receiver.endpoint("fc-pause");
    await client.publishJSON({ url, body: { n: 0 }, flowControl: { key, parallelism: 5 } });
    await deliveriesTo(url, 1);

    await client.flowControl.pause(key);
    assert.equal((await client.flowControl.get(key)).isPaused, true);
    for (let n = 1; n <= 3; n++) {
      await client.publishJSON({ url, body: { n }, flowControl: { key, parallelism: 5 } });
    }
    const waiting = await waitFor("3 messages in the waitlist", async () => {
      const i = await client.flowControl.get(key);
      return i.waitListSize === 3 ? i : undefined;
    });
    assert.equal(waiting.isPaused, true);
    await sleep(300);
    assert.equal(receiver.to(url).length, 1, "nothing is delivered while the key is paused");

    await client.flowControl.resume(key);
    const ds = await deliveriesTo(url, 4);
    assertVerified(ds);
    assert.deepEqual(ds.map((d) => JSON.parse(d.body).n).sort(), [0, 1, 2, 3]);
    const after = await waitFor("an empty waitlist", async () => {
      const i = await client.flowControl.get(key);
      return i.waitListSize === 0 ? i : undefined;
    });
    assert.equal(after.isPaused, false);
  });
});

describe("qstash dev throughput limits (-messages-per-day=2) with @upstash/qstash", () => {
  let server: DevServer;
  let receiver: RecordingReceiver;
  let client: Client;
  let user1: Client;

  before(async () => {
    server = await startDevServer("ts-limits-server", ["-messages-per-day=2", "-throughput-limits=true"]);
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
    user1 = new Client({ baseUrl: server.url, token: TEST_USER_1.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  test("the third publish of the day throws QstashDailyRatelimitError with RateLimit-* fields", T, async () => {
    const url = receiver.endpoint("daily");
    await client.publishJSON({ url, body: { n: 1 } });
    await client.publishJSON({ url, body: { n: 2 } });
    let err: unknown;
    await quietly(async () => {
      try {
        await client.publishJSON({ url, body: { n: 3 } });
      } catch (e) {
        err = e;
      }
    });
    assert.ok(err instanceof QstashDailyRatelimitError, `expected QstashDailyRatelimitError, got ${String(err)}`);
    assert.ok(err instanceof QstashError);
    assert.equal(err.status, 429);
    assert.equal(err.limit, "2");
    assert.equal(err.remaining, "0");
    const reset = Number(err.reset);
    assert.ok(Number.isInteger(reset) && reset > nowSeconds() && reset <= nowSeconds() + 86_400, `reset is the next day's start in unix seconds, got ${err.reset}`);

    // Batch items count as messages too.
    await quietly(async () => {
      await assert.rejects(client.batchJSON([{ url, body: { n: 4 } }]), QstashDailyRatelimitError);
    });

    // Management calls do not use the message quota.
    assert.ok(Array.isArray(await client.queue().list()));

    const ds = await waitFor("2 deliveries", () => (receiver.to(url).length >= 2 ? receiver.to(url) : undefined));
    await sleep(150);
    assert.equal(receiver.to(url).length, 2, "over-quota messages are not delivered");
    assertVerified(ds);
  });

  test("over 100 management calls in a second throw QstashRatelimitError with Burst-RateLimit-* fields", T, async () => {
    // testUser1 has limits of its own, untouched by the daily test above.
    const burst = async () =>
      quietly(() => Promise.allSettled(Array.from({ length: 250 }, () => user1.queue().list())));

    let exempt = false;
    // At most two tries: testUser1's daily quota is two messages too.
    for (let attempt = 0; attempt < 2 && !exempt; attempt++) {
      // Start at the beginning of a one-second window: the burst, the publish and the call after
      // it then have the whole window, even on a busy machine.
      await sleep(1_000 - (Date.now() % 1_000) + 5);
      const results = await burst();
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as unknown);
      const fulfilled = results.filter((r) => r.status === "fulfilled").length;
      assert.ok(rejected.length > 0, "250 calls within a second exceed the 100/s burst limit");
      assert.ok(fulfilled >= 100, `a fresh window allows 100 calls, got ${fulfilled}`);
      for (const e of rejected) {
        assert.ok(e instanceof QstashRatelimitError, `expected QstashRatelimitError, got ${String(e)}`);
        assert.ok(!(e instanceof QstashDailyRatelimitError));
        assert.equal(e.status, 429);
        assert.equal(e.limit, "100");
        assert.equal(e.remaining, "0");
        const reset = Number(e.reset);
        assert.ok(Number.isInteger(reset) && reset >= nowSeconds() - 1 && reset <= nowSeconds() + 2, `reset is the end of the one-second window in unix seconds, got ${e.reset}`);
      }

      // Publishing is exempt from the burst limit (it has the daily quota instead): it goes through
      // while management calls in the same window are still refused.
      const url = receiver.endpoint("burst-exempt", undefined, { keys: TEST_USER_1 });
      const published = await user1.publishJSON({ url, body: { attempt } });
      assert.ok(published.messageId);
      const next = await quietly(() => user1.queue().list().then(() => undefined, (e: unknown) => e));
      if (next instanceof QstashRatelimitError) exempt = true;
      else assert.equal(next, undefined, `unexpected error ${String(next)}`);
      // else: the window rolled over between the burst and the publish; try again.
      await sleep(1_050);
    }
    assert.ok(exempt, "a publish went through inside an exhausted burst window");

    // The limits are per tenant, and a new window allows calls again.
    assert.ok(Array.isArray(await client.queue().list()));
    assert.ok(Array.isArray(await user1.queue().list()));
  });
});
