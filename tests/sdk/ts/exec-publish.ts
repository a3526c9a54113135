// The command of the exec-mode test (exec.test.ts): publishes through @upstash/qstash with the
// variables `qstash dev -- <command>` gives it, waits until the message is delivered, prints the
// server's URL and exits 3.
import { Client } from "@upstash/qstash";

const destination = process.argv[2];
const client = new Client({ baseUrl: process.env.QSTASH_URL, token: process.env.QSTASH_TOKEN!, retry: false });
const { messageId } = await client.publishJSON({ url: destination, body: { from: "exec" } });
for (let i = 0; i < 400; i++) {
  try {
    await client.messages.get(messageId);
  } catch {
    break; // 404: no longer pending, so delivered
  }
  await new Promise((r) => setTimeout(r, 25));
}
console.log(process.env.QSTASH_URL);
process.exit(3);
