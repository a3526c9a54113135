// Conformance of `qstash dev` with the official TypeScript SDK (@upstash/qstash, pinned in package.json).
// Covers publishing and signed delivery, message get/cancel, retries + DLQ, logs, auth errors and the Receiver.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client, QstashError, Receiver, SignatureError } from "@upstash/qstash";
import { DEFAULT_USER, TEST_USER_1, RecordingReceiver, decodeJwt, sleep, startDevServer, waitFor, type DevServer, expectQstashError } from "./harness.ts";

const T = { timeout: 10_000 };

let server: DevServer;
let receiver: RecordingReceiver;
let client: Client;

function states(logs: { state: string }[]): string[] {
  return logs.map((l) => l.state);
}

describe("qstash dev with @upstash/qstash", () => {
  before(async () => {
    server = await startDevServer("ts-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  test("the banner prints the URL and the default user's credentials first", T, async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const lines = await waitFor("the first credentials block", () => {
      const l = server.stdout;
      return l.some((x) => x.startsWith("QSTASH_NEXT_SIGNING_KEY=")) ? l : undefined;
    }, 3_000);
    const first = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1).trim();
    assert.equal(first("QSTASH_URL"), server.url);
    assert.equal(first("QSTASH_TOKEN"), DEFAULT_USER.token);
    assert.equal(first("QSTASH_CURRENT_SIGNING_KEY"), DEFAULT_USER.currentSigningKey);
    assert.equal(first("QSTASH_NEXT_SIGNING_KEY"), DEFAULT_USER.nextSigningKey);
  });

  test("publishJSON delivers the exact body, signed, with message id and forwarded headers", T, async () => {
    const url = receiver.endpoint("publish-json");
    const payload = { hello: "world", n: 42, nested: { list: [1, 2, 3], unicode: "é✓" } };
    const res = await client.publishJSON({ url, body: payload, headers: { "Test-Header": "test-value", "X-Another": "two" } });
    assert.equal(typeof res.messageId, "string");
    assert.match(res.messageId, /^msg_/);

    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    assert.ok(d.verified, `signature did not verify: ${d.verifyError}`);
    assert.equal(d.method, "POST");
    assert.equal(d.body, JSON.stringify(payload));
    assert.deepEqual(JSON.parse(d.body), payload);
    assert.equal(d.headers["upstash-message-id"], res.messageId);
    assert.equal(d.headers["upstash-retried"], "0");
    assert.equal(d.headers["test-header"], "test-value");
    assert.equal(d.headers["x-another"], "two");
    assert.equal(d.headers["upstash-forward-test-header"], undefined, "the Upstash-Forward- prefix must be stripped");
    assert.equal(d.headers["authorization"], undefined, "the publisher's Authorization must not be forwarded");
    assert.match(String(d.headers["content-type"]), /^application\/json/);
    assert.equal(d.headers["user-agent"], "Upstash-QStash");

    await sleep(150);
    assert.equal(receiver.to(url).length, 1, "a 200 answer must end delivery: exactly one request expected");
  });

  test("publish sends a raw text body with the requested method", T, async () => {
    const url = receiver.endpoint("publish-raw");
    const res = await client.publish({ url, body: "plain text body", method: "PUT", headers: { "Content-Type": "text/plain" } });
    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    assert.ok(d.verified, `signature did not verify: ${d.verifyError}`);
    assert.equal(d.method, "PUT");
    assert.equal(d.body, "plain text body");
    assert.equal(d.headers["upstash-message-id"], res.messageId);
    assert.match(String(d.headers["content-type"]), /^text\/plain/);
  });

  test("a failing destination is retried and then delivered with Upstash-Retried counting up", T, async () => {
    const url = receiver.endpoint("retry-once", { times: 1, status: 500 });
    const res = await client.publishJSON({ url, body: { attempt: "x" }, retries: 2, retryDelay: "10" });
    const ds = await waitFor("two attempts", () => (receiver.to(url).length >= 2 ? receiver.to(url) : undefined));
    assert.equal(ds[0].status, 500);
    assert.equal(ds[1].status, 200);
    for (const d of ds) {
      assert.ok(d.verified, `signature did not verify: ${d.verifyError}`);
      assert.equal(d.headers["upstash-message-id"], res.messageId, "the message id is stable across retries");
      assert.equal(d.body, JSON.stringify({ attempt: "x" }));
    }
    assert.equal(ds[0].headers["upstash-retried"], "0");
    assert.equal(ds[1].headers["upstash-retried"], "1");
    await sleep(150);
    assert.equal(receiver.to(url).length, 2, "no attempt after a 200");
  });

  test("messages.get returns a delayed message with notBefore in milliseconds", T, async () => {
    const url = receiver.endpoint("delayed");
    const beforePublish = Date.now();
    const res = await client.publishJSON({
      url,
      body: { later: true },
      delay: 60,
      retries: 2,
      retryDelay: "10",
      headers: { "Test-Header": "test-value" },
    });
    const afterPublish = Date.now();

    const msg = await client.messages.get(res.messageId);
    assert.equal(msg.messageId, res.messageId);
    assert.equal(msg.url, url);
    assert.equal(msg.method, "POST");
    assert.equal(msg.body, JSON.stringify({ later: true }));
    assert.equal(msg.maxRetries, 2);
    assert.equal(msg.retryDelayExpression, "10");
    assert.deepEqual(msg.header?.["Test-Header"], ["test-value"]);
    assert.equal(typeof msg.notBefore, "number");
    assert.ok(msg.notBefore! >= Date.now(), `notBefore ${msg.notBefore} must be in the future (ms)`);
    assert.ok(msg.notBefore! >= beforePublish + 59_000, `notBefore ${msg.notBefore} must be about publish + 60 s`);
    assert.ok(msg.notBefore! <= afterPublish + 61_000, `notBefore ${msg.notBefore} must be about publish + 60 s`);
    assert.equal(typeof msg.createdAt, "number");
    assert.ok(msg.createdAt >= beforePublish - 1_000 && msg.createdAt <= afterPublish + 1_000, `createdAt ${msg.createdAt} must be now in ms`);

    await sleep(100);
    assert.equal(receiver.to(url).length, 0, "a delayed message must not be delivered early");
    await client.messages.cancel(res.messageId);
  });

  test("messages.cancel(id) cancels a pending message, after which get fails with 404", T, async () => {
    const url = receiver.endpoint("cancel-one");
    const res = await client.publishJSON({ url, body: { cancel: "me" }, delay: 60 });
    const out = await client.messages.cancel(res.messageId);
    assert.equal(out.cancelled, 1);
    await expectQstashError(client.messages.get(res.messageId), 404);
    await expectQstashError(client.messages.cancel(res.messageId), 404);
    assert.equal(receiver.to(url).length, 0);
    const seen = await waitFor("a CANCEL_REQUESTED or CANCELED log entry", async () => {
      const s = states((await client.logs({ messageIds: [res.messageId] })).logs);
      return s.includes("CANCEL_REQUESTED") || s.includes("CANCELED") ? s : undefined;
    });
    assert.ok(!seen.includes("CANCELLED"), `the SDKs spell it CANCELED: ${seen.join(",")}`);
    assert.ok(!seen.includes("DELIVERED"), seen.join(","));
  });

  test("messages.cancel([...ids]) cancels exactly the listed messages", T, async () => {
    const url = receiver.endpoint("cancel-many");
    const a = await client.publishJSON({ url, body: { i: 1 }, delay: 60 });
    const b = await client.publishJSON({ url, body: { i: 2 }, delay: 60 });
    const keep = await client.publishJSON({ url, body: { i: 3 }, delay: 60 });
    const out = await client.messages.cancel([a.messageId, b.messageId]);
    assert.equal(out.cancelled, 2);
    await expectQstashError(client.messages.get(a.messageId), 404);
    await expectQstashError(client.messages.get(b.messageId), 404);
    const kept = await client.messages.get(keep.messageId);
    assert.equal(kept.messageId, keep.messageId);
    await client.messages.cancel(keep.messageId);
  });

  test("messages.cancel({ all: true }) cancels every pending message", T, async () => {
    const url = receiver.endpoint("cancel-all");
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await client.publishJSON({ url, body: { i }, delay: 60 })).messageId);
    const out = await client.messages.cancel({ all: true });
    assert.ok(out.cancelled >= 3, `expected at least 3 cancelled, got ${out.cancelled}`);
    for (const id of ids) await expectQstashError(client.messages.get(id), 404);
    const again = await client.messages.cancel({ all: true });
    assert.equal(again.cancelled, 0, "nothing is left to cancel");
  });

  test("messages.cancel({ all: true }) cancels more than the 100 the SDK names as count", T, async () => {
    const url = receiver.endpoint("cancel-all-many");
    const messages = Array.from({ length: 150 }, (_, i) => ({ url, body: JSON.stringify({ i }), delay: 60 }));
    await client.batch(messages.slice(0, 75));
    await client.batch(messages.slice(75));
    const out = await client.messages.cancel({ all: true });
    assert.ok(out.cancelled >= 150, `expected every pending message cancelled, got ${out.cancelled}`);
    assert.equal((await client.messages.cancel({ all: true })).cancelled, 0);
  });

  test("a destination that keeps failing ends in the DLQ; dlq.delete removes it once", T, async () => {
    const url = receiver.endpoint("always-fails", { times: 1_000, status: 500, body: "upstream broke" });
    const res = await client.publishJSON({ url, body: { doomed: true }, retries: 1, retryDelay: "10" });

    const attempts = await waitFor("two attempts", () => (receiver.to(url).length >= 2 ? receiver.to(url) : undefined));
    assert.deepEqual(attempts.map((d) => d.headers["upstash-retried"]), ["0", "1"]);
    for (const d of attempts) {
      assert.ok(d.verified, `signature did not verify: ${d.verifyError}`);
      assert.equal(d.headers["upstash-message-id"], res.messageId);
    }

    const entry = await waitFor("the DLQ entry", async () => {
      const list = await client.dlq.listMessages({ filter: { messageId: res.messageId } });
      return list.messages.find((m) => m.messageId === res.messageId);
    });
    assert.equal(receiver.to(url).length, 2, "retries: 1 means exactly two attempts");
    assert.equal(typeof entry.dlqId, "string");
    assert.ok(entry.dlqId.length > 0);
    assert.equal(entry.responseStatus, 500);
    assert.equal(entry.responseBody, "upstream broke");
    assert.equal(entry.url, url);
    assert.equal(entry.method, "POST");
    assert.equal(entry.body, JSON.stringify({ doomed: true }));
    assert.equal(entry.maxRetries, 1);

    const all = await client.dlq.listMessages();
    assert.ok(all.messages.some((m) => m.dlqId === entry.dlqId), "unfiltered listMessages shows the entry");

    const logs = await waitFor("a FAILED log entry", async () => {
      const r = await client.logs({ filter: { messageId: res.messageId } });
      return r.logs.some((l) => l.state === "FAILED") ? r.logs : undefined;
    });
    const seen = states(logs);
    for (const s of ["CREATED", "ACTIVE", "ERROR", "RETRY", "FAILED"]) assert.ok(seen.includes(s), `missing ${s} in ${seen.join(",")}`);
    assert.ok(!seen.includes("DELIVERED"), `a failed message has no DELIVERED entry: ${seen.join(",")}`);
    assert.equal(seen.filter((s) => s === "FAILED").length, 1);

    await client.dlq.delete(entry.dlqId);
    const after = await client.dlq.listMessages({ filter: { messageId: res.messageId } });
    assert.equal(after.messages.length, 0);
    await expectQstashError(client.dlq.delete(entry.dlqId), 404);
  });

  test("logs/events filtered by message id show CREATED, ACTIVE and one DELIVERED, newest first", T, async () => {
    const url = receiver.endpoint("logged");
    const res = await client.publishJSON({ url, body: { log: "me" } });
    await waitFor("the delivery", () => receiver.to(url).length > 0);

    const logs = await waitFor("a DELIVERED log entry", async () => {
      const r = await client.logs({ messageIds: [res.messageId] });
      return r.logs.some((l) => l.state === "DELIVERED") ? r.logs : undefined;
    });
    const seen = states(logs);
    for (const s of ["CREATED", "ACTIVE", "DELIVERED"]) assert.ok(seen.includes(s), `missing ${s} in ${seen.join(",")}`);
    assert.equal(seen.filter((s) => s === "DELIVERED").length, 1, `exactly one DELIVERED: ${seen.join(",")}`);
    assert.equal(logs[0].state, "DELIVERED", `newest first: ${seen.join(",")}`);
    for (const l of logs) {
      assert.equal(l.messageId, res.messageId, "the filter returns only this message's entries");
      assert.equal(l.url, url);
      assert.equal(typeof l.time, "number");
    }
    const times = logs.map((l) => l.time);
    assert.deepEqual(times, [...times].sort((a, b) => b - a), "entries are ordered newest first");

    // The deprecated `events` call with the (deprecated) `filter.messageId` must agree.
    const ev = await client.events({ filter: { messageId: res.messageId } });
    assert.deepEqual(states(ev.events).sort(), [...seen].sort());
    assert.equal(ev.cursor, undefined, "the last page carries no cursor");

    const delivered = await client.logs({ filter: { messageId: res.messageId, state: "DELIVERED" } });
    assert.equal(delivered.logs.length, 1);
    assert.equal(delivered.logs[0].state, "DELIVERED");
  });

  test("the signature JWT carries the documented header and claims", T, async () => {
    const url = receiver.endpoint("jwt-claims");
    await client.publishJSON({ url, body: { jwt: 1 } });
    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    const { header, claims } = decodeJwt(String(d.headers["upstash-signature"]));
    assert.equal(header.alg, "HS256");
    assert.equal(header.typ, "JWT");
    assert.equal(claims.iss, "Upstash");
    assert.equal(claims.sub, url);
    const nowS = Math.floor(Date.now() / 1000);
    for (const k of ["iat", "nbf", "exp"]) assert.equal(typeof claims[k], "number", `${k} must be a number`);
    assert.ok((claims.iat as number) <= nowS + 1, "iat is not in the future");
    assert.ok((claims.nbf as number) <= nowS + 1, "nbf is not in the future");
    assert.equal((claims.exp as number) - (claims.iat as number), 300, "exp = iat + 300");
    assert.equal(typeof claims.jti, "string");
    assert.match(claims.jti as string, /^jwt_/);
    assert.ok(claims.aud === undefined || claims.aud === "", "aud must be absent or empty (PyJWT rejects others)");
    assert.equal(typeof claims.body, "string");
  });

  test("a destination URL with a query string is delivered with it, and signed for it", T, async () => {
    const url = `${receiver.endpoint("with-query")}?foo=bar&n=1`;
    await client.publishJSON({ url, body: { q: true } });
    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    assert.equal(d.url, url);
    assert.ok(d.verified, `signature did not verify against ${url}: ${d.verifyError}`);
  });

  test("notBefore (unix seconds) is stored as milliseconds", T, async () => {
    const url = receiver.endpoint("not-before");
    const nb = Math.floor(Date.now() / 1000) + 120;
    const res = await client.publishJSON({ url, body: { nb }, notBefore: nb });
    const msg = await client.messages.get(res.messageId);
    assert.equal(msg.notBefore, nb * 1000);
    await client.messages.cancel(res.messageId);
  });

  test("labels are stored on the message and filter the logs", T, async () => {
    const url = receiver.endpoint("labelled");
    const label = `lbl-${Math.random().toString(36).slice(2, 8)}`;
    const res = await client.publishJSON({ url, body: { l: 1 }, label, delay: 60 });
    const msg = await client.messages.get(res.messageId);
    assert.equal(msg.label, label);
    assert.deepEqual(msg.labels, [label]);
    const logs = await waitFor("a CREATED log entry by label", async () => {
      const r = await client.logs({ filter: { label } });
      return r.logs.length > 0 ? r.logs : undefined;
    });
    assert.ok(logs.every((l) => l.messageId === res.messageId), "the label filter returns only this message");
    await client.messages.cancel(res.messageId);
  });

  test("deduplicationId returns the first message id with deduplicated: true and delivers once", T, async () => {
    const url = receiver.endpoint("dedup");
    const deduplicationId = `dedup-${Math.random().toString(36).slice(2, 10)}`;
    const first = await client.publishJSON({ url, body: { n: 1 }, deduplicationId });
    const second = await client.publishJSON({ url, body: { n: 2 }, deduplicationId });
    assert.ok(!first.deduplicated);
    assert.equal(second.deduplicated, true);
    assert.equal(second.messageId, first.messageId);
    await waitFor("the delivery", () => receiver.to(url).length > 0);
    await sleep(150);
    assert.equal(receiver.to(url).length, 1);
    assert.equal(receiver.to(url)[0].body, JSON.stringify({ n: 1 }));
  });

  test("contentBasedDeduplication drops an identical second publish", T, async () => {
    const url = receiver.endpoint("content-dedup");
    const body = { same: Math.random() };
    const first = await client.publishJSON({ url, body, contentBasedDeduplication: true });
    const second = await client.publishJSON({ url, body, contentBasedDeduplication: true });
    assert.equal(second.deduplicated, true);
    assert.equal(second.messageId, first.messageId);
    const other = await client.publishJSON({ url, body: { different: true }, contentBasedDeduplication: true });
    assert.notEqual(other.messageId, first.messageId);
    await waitFor("two deliveries", () => receiver.to(url).length >= 2);
    await sleep(150);
    assert.equal(receiver.to(url).length, 2);
  });

  test("489 with Upstash-NonRetryable-Error goes to the DLQ without retrying", T, async () => {
    const url = receiver.endpoint("non-retryable", { times: 1_000, status: 489, body: "give up", headers: { "Upstash-NonRetryable-Error": "true" } });
    const res = await client.publishJSON({ url, body: { x: 1 }, retries: 2, retryDelay: "10" });
    const entry = await waitFor("the DLQ entry", async () => {
      const list = await client.dlq.listMessages({ filter: { messageId: res.messageId } });
      return list.messages[0];
    });
    assert.equal(entry.responseStatus, 489);
    await sleep(150);
    assert.equal(receiver.to(url).length, 1, "no retry after a non-retryable 489");
    await client.dlq.delete(entry.dlqId);
  });

  test("an unreachable destination is an ordinary failure that ends in the DLQ", T, async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const { port } = dead.address() as AddressInfo;
    await new Promise<void>((r) => dead.close(() => r()));
    const url = `http://127.0.0.1:${port}/nobody-home`;
    const res = await client.publishJSON({ url, body: { x: 1 }, retries: 1, retryDelay: "10" });
    const entry = await waitFor("the DLQ entry", async () => {
      const list = await client.dlq.listMessages({ filter: { messageId: res.messageId } });
      return list.messages[0];
    });
    assert.equal(entry.url, url);
    assert.equal(typeof entry.responseStatus, "number");
    await client.dlq.delete(entry.dlqId);
  });

  test("Upstash-Timeout turns a slow answer into a failed attempt", T, async () => {
    const url = receiver.endpoint("slow", undefined, { delayMs: 5_000 });
    const res = await client.publishJSON({ url, body: { slow: true }, timeout: "1s", retries: 0 });
    const entry = await waitFor("the DLQ entry", async () => {
      const list = await client.dlq.listMessages({ filter: { messageId: res.messageId } });
      return list.messages[0];
    }, 6_000);
    assert.ok(Date.now() - receiver.to(url)[0].at < 4_500, "the attempt was cut off before the receiver answered");
    await client.dlq.delete(entry.dlqId);
  });

  test("each user is a tenant of its own, and its deliveries are signed with its own keys", T, async () => {
    const other = new Client({ baseUrl: server.url, token: TEST_USER_1.token, retry: false });
    const mine = await client.publishJSON({ url: receiver.endpoint("tenant-default"), body: { t: 0 }, delay: 60 });
    await expectQstashError(other.messages.get(mine.messageId), 404);
    const cancelled = await other.messages.cancel({ all: true });
    assert.equal(cancelled.cancelled, 0, "another user's cancel-all must not touch this user's messages");
    assert.equal((await client.messages.get(mine.messageId)).messageId, mine.messageId);
    const theirLogs = await other.logs({ messageIds: [mine.messageId] });
    assert.equal(theirLogs.logs.length, 0, "logs are per user");

    const url = receiver.endpoint("tenant-user1", undefined, { keys: TEST_USER_1 });
    const res = await other.publishJSON({ url, body: { t: 1 } });
    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    assert.equal(d.headers["upstash-message-id"], res.messageId);
    assert.ok(d.verified, `testUser1's delivery must verify with testUser1's keys: ${d.verifyError}`);
    const withDefaultKeys = new Receiver({ currentSigningKey: DEFAULT_USER.currentSigningKey, nextSigningKey: DEFAULT_USER.nextSigningKey });
    await assert.rejects(withDefaultKeys.verify({ signature: String(d.headers["upstash-signature"]), body: d.body, url }), SignatureError);
    await client.messages.cancel(mine.messageId);
  });

  test("a bad token yields a QstashError with status 401", T, async () => {
    const bad = new Client({ baseUrl: server.url, token: "not-a-valid-token", retry: false });
    await expectQstashError(bad.publishJSON({ url: receiver.endpoint("unauthorized"), body: { x: 1 } }), 401);
    await expectQstashError(bad.messages.get("msg_doesnotexist"), 401);
    await expectQstashError(bad.dlq.listMessages(), 401);
  });

  test("Receiver.verify accepts a real delivery and rejects a tampered body or a wrong url", T, async () => {
    const url = receiver.endpoint("verify");
    await client.publishJSON({ url, body: { amount: 10 } });
    const [d] = await waitFor("the delivery", () => (receiver.to(url).length > 0 ? receiver.to(url) : undefined));
    const signature = String(d.headers["upstash-signature"]);
    const r = new Receiver({ currentSigningKey: DEFAULT_USER.currentSigningKey, nextSigningKey: DEFAULT_USER.nextSigningKey });
    assert.equal(await r.verify({ signature, body: d.body, url }), true);
    await assert.rejects(r.verify({ signature, body: JSON.stringify({ amount: 1000 }), url }), SignatureError);
    await assert.rejects(r.verify({ signature, body: d.body, url: `${url}/elsewhere` }), SignatureError);
    const wrongKeys = new Receiver({ currentSigningKey: "sig_wrong1", nextSigningKey: "sig_wrong2" });
    await assert.rejects(wrongKeys.verify({ signature, body: d.body, url }), SignatureError);
  });

  test("every delivery the receiver got carried a valid signature", T, () => {
    assert.ok(receiver.deliveries.length > 0);
    const bad = receiver.deliveries.filter((d) => !d.verified);
    assert.deepEqual(bad.map((d) => `${d.path}: ${d.verifyError}`), []);
  });
});
