// Exec mode and pinned credentials with the official TypeScript SDK: `qstash dev -- <command>` runs a
// command that publishes through @upstash/qstash and exits 3 (the run exits 3, the delivery happened
// and verifies, the server is gone afterwards); a server started with the user's own token and keys
// takes them from the SDK and signs with them for `Receiver.verify`.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Client, Receiver } from "@upstash/qstash";
import { DEFAULT_USER, RecordingReceiver, binaryPath, startDevServer, waitFor } from "./harness.ts";

const T = { timeout: 20_000 };
const sdkDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const PINNED = {
  token: "my-apps-own-qstash-token",
  currentSigningKey: "sig_myAppsOwnCurrentKey",
  nextSigningKey: "sig_myAppsOwnNextKey",
};

describe("exec mode and pinned credentials with @upstash/qstash", () => {
  let receiver: RecordingReceiver;
  let pinnedReceiver: RecordingReceiver;

  before(async () => {
    receiver = new RecordingReceiver(DEFAULT_USER);
    pinnedReceiver = new RecordingReceiver(PINNED);
    await receiver.start();
    await pinnedReceiver.start();
  });

  after(async () => {
    await receiver?.stop();
    await pinnedReceiver?.stop();
  });

  test("a command that publishes and exits 3: the run exits 3 and the message was delivered", T, async () => {
    const destination = receiver.endpoint("exec");
    const proc = spawn(binaryPath(), ["dev", "--", process.execPath, "--import", "tsx", "ts/exec-publish.ts", destination], {
      cwd: sdkDir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (c) => (stdout += c));
    proc.stderr!.on("data", (c) => (stderr += c));
    const code = await new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
    assert.equal(code, 3, `stderr:\n${stderr}`);
    const url = stdout.trim();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, "the command's stdout holds only its own line");
    assert.match(stderr, /is running at/, "the server's lines go to stderr");
    const got = receiver.to(destination);
    assert.equal(got.length, 1);
    assert.ok(got[0].verified, `signature: ${got[0].verifyError}`);
    await assert.rejects(fetch(`${url}/v2/keys`), "the server is gone");
  });

  test("pinned token and keys are the default user's: the SDK publishes with them, Receiver.verify accepts", T, async () => {
    const server = await startDevServer("ts-pinned-server", [
      `-token=${PINNED.token}`,
      `-current-signing-key=${PINNED.currentSigningKey}`,
      `-next-signing-key=${PINNED.nextSigningKey}`,
    ]);
    try {
      // The readiness line comes first; the users' variables follow it.
      await waitFor("the banner's pinned token", () => server.stdout.includes(`QSTASH_TOKEN=${PINNED.token}`) || undefined);
      const client = new Client({ baseUrl: server.url, token: PINNED.token, retry: false });
      const destination = pinnedReceiver.endpoint("pinned");
      await client.publishJSON({ url: destination, body: { pinned: true } });
      const [d] = await waitFor("the delivery", () => {
        const ds = pinnedReceiver.to(destination);
        return ds.length ? ds : undefined;
      });
      assert.ok(d.verified, `signature: ${d.verifyError}`);
      const verifier = new Receiver({ currentSigningKey: PINNED.currentSigningKey, nextSigningKey: PINNED.nextSigningKey });
      const signature = String(d.headers["upstash-signature"]);
      assert.equal(await verifier.verify({ signature, body: d.body, url: d.url }), true);
      const keys = await (await fetch(`${server.url}/v2/keys`, { headers: { authorization: `Bearer ${PINNED.token}` } })).json();
      assert.deepEqual(keys, { current: PINNED.currentSigningKey, next: PINNED.nextSigningKey });
    } finally {
      await server.stop();
    }
  });
});
