// Time under the developer's control, seen through the official TypeScript SDK: a message
// delayed by ten days is delivered by `POST /dev/clock/advance?by=10d`, its signature still
// verifies with `Receiver.verify` (the JWT carries real time), and the API reports the
// server's time.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, Receiver } from "@upstash/qstash";
import { DEFAULT_USER, RecordingReceiver, decodeJwt, startDevServer, type DevServer } from "./harness.ts";

const T = { timeout: 10_000 };
const DAY = 86_400_000;

let server: DevServer;
let receiver: RecordingReceiver;
let client: Client;

/** What a test does to move the server's clock: one authenticated POST. */
async function advance(by: string): Promise<{ now: number; deliveries: number }> {
  const res = await fetch(`${server.url}/dev/clock/advance?by=${by}`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEFAULT_USER.token}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { now: number; deliveries: number };
}

describe("the server's clock with @upstash/qstash", () => {
  before(async () => {
    server = await startDevServer("ts-clock-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  test("a delivery made after a 10-day advance verifies, and the log shows server time", T, async () => {
    const url = receiver.endpoint("ten-days");
    const { messageId } = await client.publishJSON({ url, body: { hello: "later" }, delay: "10d" });
    assert.equal((await advance("9d")).deliveries, 0);
    assert.equal(receiver.to(url).length, 0, "not before its time");

    const moved = await advance("1d");
    assert.equal(moved.deliveries, 1);
    const [d] = receiver.to(url);
    assert.ok(d, "delivered before the advance answered");
    const signature = String(d.headers["upstash-signature"]);
    const verifier = new Receiver({ currentSigningKey: DEFAULT_USER.currentSigningKey, nextSigningKey: DEFAULT_USER.nextSigningKey });
    assert.equal(await verifier.verify({ signature, body: d.body, url: d.url }), true);
    const iat = Number(decodeJwt(signature).claims.iat) * 1000;
    assert.ok(Math.abs(iat - Date.now()) < 60_000, "the JWT is signed at real time");

    const { logs } = await client.logs({ filter: { messageId } });
    const delivered = logs.find((l) => l.state === "DELIVERED");
    assert.ok(delivered && delivered.time >= Date.now() + 10 * DAY - 60_000, "log times are server time");
  });
});
