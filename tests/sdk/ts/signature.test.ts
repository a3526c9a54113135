// Conformance of `qstash dev` with the official TypeScript SDK's Receiver for URLs that go on the wire
// percent-encoded: the JWT `sub` is the URL exactly as the endpoint received it, so
// `Receiver.verify({url})` with the URL rebuilt from the request passes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Client, Receiver } from "@upstash/qstash";
import { DEFAULT_USER, RecordingReceiver, decodeJwt, startDevServer, waitFor, type DevServer } from "./harness.ts";

const T = { timeout: 10_000 };

let server: DevServer;
let receiver: RecordingReceiver;
let client: Client;

describe("the signature's sub with @upstash/qstash", () => {
  before(async () => {
    server = await startDevServer("ts-signature-server");
    receiver = new RecordingReceiver(DEFAULT_USER);
    await receiver.start();
    client = new Client({ baseUrl: server.url, token: DEFAULT_USER.token, retry: false });
  });

  after(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  test("a URL with a quote, a space and non-ASCII verifies as the endpoint received it", T, async () => {
    const base = receiver.endpoint("encoded");
    const prefix = new URL(base).pathname;
    // JSON bodies (batch, URL-group endpoints) and headers (callbacks) carry the raw characters.
    await client.batchJSON([{ url: `${base}/batch/say "hi"/ä?q="a b"&w=ä`, body: { n: 1 } }]);
    const group = `sig-${Math.random().toString(36).slice(2, 10)}`;
    await client.urlGroups.addEndpoints({ name: group, endpoints: [{ url: `${base}/group/ä "x"?k=ä v` }] });
    await client.publishJSON({ urlGroup: group, body: { n: 2 } });
    await client.publishJSON({ url: `${base}/main`, body: { n: 3 }, callback: `${base}/cb/a "b"?c=d e` });
    // The SDK puts a destination in the request path, where fetch encodes it first.
    await client.publishJSON({ url: `${base}/path/ö "y"?z=ö w`, body: { n: 4 } });

    const got = await waitFor("five deliveries", () => {
      const ds = receiver.deliveries.filter((d) => d.path.startsWith(prefix));
      return ds.length >= 5 ? ds : undefined;
    });
    const paths = got.map((d) => decodeURI(d.url.slice(base.length).split("?")[0])).sort();
    assert.deepEqual(paths, ['/batch/say "hi"/ä', "/cb/a \"b\"", '/group/ä "x"', "/main", '/path/ö "y"']);
    const verifier = new Receiver({ currentSigningKey: DEFAULT_USER.currentSigningKey, nextSigningKey: DEFAULT_USER.nextSigningKey });
    for (const d of got) {
      assert.doesNotMatch(d.url, /[ "\u0080-\uffff]/, "the endpoint receives the URL percent-encoded");
      const signature = String(d.headers["upstash-signature"]);
      assert.equal(decodeJwt(signature).claims.sub, d.url, "sub is the URL as received");
      assert.ok(d.verified, `signature did not verify for ${d.url}: ${d.verifyError}`);
      assert.equal(await verifier.verify({ signature, body: d.body, url: d.url }), true);
    }
    const batch = got.find((d) => d.url.includes("/batch/"));
    assert.equal(batch?.url, `${base}/batch/say%20%22hi%22/%C3%A4?q=%22a%20b%22&w=%C3%A4`);
    await client.urlGroups.delete(group);
  });
});
