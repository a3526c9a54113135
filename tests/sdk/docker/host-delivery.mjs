// A publish through qstash-dev running in a container, delivered to a receiver on the host through
// `host.docker.internal`, checked with the official SDK (@upstash/qstash): the `Client` publishes,
// the `Receiver` verifies the delivery's signature. scripts/test-docker.sh runs it against the
// containers it starts, with the env an app would have (docker/github-actions.yml's job env).
//
//   node tests/sdk/docker/host-delivery.mjs LISTEN_ADDRESS
//
// LISTEN_ADDRESS is what `host.docker.internal` resolves to in the container (the Docker
// bridge's address on the host): the receiver listens there only, not on every interface.
// Env: QSTASH_URL, QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY.
import http from "node:http";
import { Client, Receiver } from "@upstash/qstash";

const DELIVERY_TIMEOUT_MS = 30_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** Starts the receiver; resolves with its port and a promise of the first delivery. */
async function startReceiver(address) {
  let delivered;
  const first = new Promise((resolve) => (delivered = resolve));
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      delivered({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, resolve);
  });
  return { server, port: server.address().port, first };
}

async function main() {
  const address = process.argv[2];
  if (!address) throw new Error("usage: host-delivery.mjs LISTEN_ADDRESS");
  const { server, port, first } = await startReceiver(address);
  try {
    const url = `http://host.docker.internal:${port}/hook`;
    const client = new Client({ baseUrl: env("QSTASH_URL"), token: env("QSTASH_TOKEN"), retry: false });
    const body = { hello: "from a container", at: Date.now() };
    const { messageId } = await client.publishJSON({ url, body, retries: 0 });

    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no delivery to ${url} within 30 s`)), DELIVERY_TIMEOUT_MS);
    });
    const got = await Promise.race([first, timeout]);
    clearTimeout(timer);

    if (got.headers["upstash-message-id"] !== messageId) {
      throw new Error(`delivered message ${got.headers["upstash-message-id"]}, published ${messageId}`);
    }
    if (JSON.stringify(JSON.parse(got.body)) !== JSON.stringify(body)) throw new Error(`body ${got.body}`);
    const receiver = new Receiver({
      currentSigningKey: env("QSTASH_CURRENT_SIGNING_KEY"),
      nextSigningKey: env("QSTASH_NEXT_SIGNING_KEY"),
    });
    const signature = got.headers["upstash-signature"];
    if (!(await receiver.verify({ signature, body: got.body, url }))) throw new Error("Receiver.verify: false");
    // The check is real: the same signature fails for another URL.
    const wrong = await receiver.verify({ signature, body: got.body, url: `${url}-other` }).catch(() => false);
    if (wrong) throw new Error("Receiver.verify passed for a URL the message was not sent to");
    console.log(`delivered ${messageId} to ${url} (listening on ${address}:${port}); Receiver.verify: true`);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

main().catch((e) => {
  console.error(`host delivery failed: ${e?.stack ?? e}`);
  process.exit(1);
});
