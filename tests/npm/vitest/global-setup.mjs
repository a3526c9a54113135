// Vitest globalSetup: one `qstash dev` for the whole run. Its QSTASH_URL, QSTASH_TOKEN and signing
// keys go into process.env before the test files run, so the code under test finds them there.
import { startDevServer } from "qstash-dev";

let server;

export async function setup() {
  server = await startDevServer();
  Object.assign(process.env, server.env);
}

export async function teardown() {
  await server?.stop();
}
