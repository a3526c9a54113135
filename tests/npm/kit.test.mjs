// The test kit of the installed npm package (`startDevServer` of qstash-dev), run by
// scripts/test-npm.sh from inside a project where the tarballs are installed offline, so both
// `require("qstash-dev")` and `import "qstash-dev"` resolve as they do for a user.
import assert from "node:assert/strict";
import http from "node:http";
import { createRequire } from "node:module";
import { test } from "node:test";
import { startDevServer } from "qstash-dev";

const require = createRequire(import.meta.url);

/** A local destination that records what it gets. */
async function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push({ path: req.url, body, signature: req.headers["upstash-signature"] });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { got, url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

test("the CommonJS and ESM entries are one kit", () => {
  assert.equal(typeof startDevServer, "function");
  assert.equal(require("qstash-dev").startDevServer, startDevServer);
});

test("a server on a free port: credentials, env, publish, the clock, waitIdle, reset, stop", async () => {
  const rx = await receiver();
  const server = await startDevServer({ quota: "pro", args: ["-start-time=2026-01-01T00:00:00Z"] });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.token, /^eyJ/);
    assert.match(server.currentSigningKey, /^sig_/);
    assert.deepEqual(Object.keys(server.env).sort(), [
      "QSTASH_CURRENT_SIGNING_KEY",
      "QSTASH_NEXT_SIGNING_KEY",
      "QSTASH_TOKEN",
      "QSTASH_URL",
    ]);
    assert.equal(server.env.QSTASH_URL, server.url);
    const publish = await fetch(`${server.url}/v2/publish/${rx.url}/later`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "upstash-delay": "1d" },
      body: "a day later",
    });
    assert.equal(publish.status, 200);
    const { now } = await server.clock.now();
    const start = Date.parse("2026-01-01T00:00:00Z");
    assert.ok(now >= start && now < start + 60_000, `the clock starts at -start-time: ${now}`);
    await server.clock.advance("1d");
    assert.deepEqual(rx.got.map((d) => d.body), ["a day later"], "delivered by the advance");
    assert.ok(rx.got[0].signature, "signed");
    await server.clock.set(new Date("2026-01-03T00:00:00Z"));
    await server.clock.freeze();
    assert.equal((await server.clock.now()).frozen, true);
    await server.clock.resume();
    assert.equal(typeof (await server.waitIdle({ timeout: "5s" })), "object");
    const queue = await fetch(`${server.url}/v2/queues`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      body: JSON.stringify({ queueName: "kit", parallelism: 1 }),
    });
    assert.equal(queue.status, 200);
    await server.reset();
    const queues = await fetch(`${server.url}/v2/queues`, { headers: { authorization: `Bearer ${server.token}` } });
    assert.deepEqual(await queues.json(), [], "reset forgot the queue");
    assert.ok(server.process.spawnargs.includes("-quota=pro"));
  } finally {
    await server.stop();
    rx.close();
  }
  assert.notEqual(server.process.exitCode ?? server.process.signalCode, null, "the process has exited");
  await assert.rejects(fetch(`${server.url}/v2/queues`), "nothing listens any more");
  await server.stop(); // a second stop is fine
});

test("a server that cannot start rejects with what it printed", async () => {
  await assert.rejects(startDevServer({ args: ["-quota=nope"] }), /exited before it was ready[\s\S]*nope/);
});
