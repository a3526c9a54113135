// `qstash dev -region=us-east-1`: every delivery carries `Upstash-Region: US-EAST-1`, and the
// official TypeScript Receiver, in multi-region mode (`QSTASH_REGION` set, no keys passed),
// picks the `US_EAST_1_QSTASH_*_SIGNING_KEY` keys from that header. Without `-region` no header
// is sent and the same receiver falls back to the default keys.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, Receiver } from "@upstash/qstash";
import { DEFAULT_USER, RecordingReceiver, startDevServer, waitFor, type DevServer } from "./harness.ts";

const T = { timeout: 10_000 };
const WRONG = "sig_wrong_key_that_verifies_nothing";
const ENV = ["QSTASH_REGION", "US_EAST_1_QSTASH_CURRENT_SIGNING_KEY", "US_EAST_1_QSTASH_NEXT_SIGNING_KEY", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY", "QSTASH_DEV"];

let regional: DevServer;
let plain: DevServer;
let receiver: RecordingReceiver;
const saved = new Map<string, string | undefined>();

async function deliveredVia(server: DevServer, name: string) {
  const client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  const url = receiver.endpoint(name);
  await client.publishJSON({ url, body: { region: name } });
  return waitFor(`a delivery to ${name}`, () => receiver.to(url)[0]);
}

describe("Upstash-Region with @upstash/qstash's multi-region Receiver", () => {
  before(async () => {
    regional = await startDevServer("ts-region-server", ["-region=us-east-1"]);
    plain = await startDevServer("ts-region-plain-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    for (const k of ENV) saved.set(k, process.env[k]);
    process.env.QSTASH_REGION = "US_EAST_1";
    process.env.US_EAST_1_QSTASH_CURRENT_SIGNING_KEY = DEFAULT_USER.currentSigningKey;
    process.env.US_EAST_1_QSTASH_NEXT_SIGNING_KEY = DEFAULT_USER.nextSigningKey;
    // Wrong default keys: a delivery verifies only if the region's keys were picked.
    process.env.QSTASH_CURRENT_SIGNING_KEY = WRONG;
    process.env.QSTASH_NEXT_SIGNING_KEY = WRONG;
    delete process.env.QSTASH_DEV;
  });

  after(async () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await receiver?.stop();
    await regional?.stop();
    await plain?.stop();
  });

  test("the region's keys verify a delivery that carries the header", T, async () => {
    const d = await deliveredVia(regional, "regional");
    assert.equal(d.headers["upstash-region"], "US-EAST-1");
    const verifier = new Receiver({ devMode: false });
    const signature = String(d.headers["upstash-signature"]);
    const ok = await verifier.verify({ signature, body: d.body, url: d.url, upstashRegion: String(d.headers["upstash-region"]) });
    assert.equal(ok, true);
  });

  test("without -region no header is sent and the default (here wrong) keys are used", T, async () => {
    const d = await deliveredVia(plain, "plain");
    assert.equal(d.headers["upstash-region"], undefined);
    const verifier = new Receiver({ devMode: false });
    const signature = String(d.headers["upstash-signature"]);
    await assert.rejects(verifier.verify({ signature, body: d.body, url: d.url, upstashRegion: undefined }));
  });
});
