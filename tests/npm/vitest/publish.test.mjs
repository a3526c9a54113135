// A test file of the Vitest example: it only knows the environment globalSetup gave it.
import http from "node:http";

test("publishes to the server of globalSetup and the delivery arrives, signed", async () => {
  const bodies = [];
  const signatures = [];
  const rx = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      bodies.push(body);
      signatures.push(req.headers["upstash-signature"]);
      res.end("ok");
    });
  });
  await new Promise((r) => rx.listen(0, "127.0.0.1", r));
  const dest = `http://127.0.0.1:${rx.address().port}/hook`;
  const res = await fetch(`${process.env.QSTASH_URL}/v2/publish/${dest}`, {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.QSTASH_TOKEN}` },
    body: "from vitest",
  });
  expect(res.status).toBe(200);
  for (let i = 0; i < 200 && bodies.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  rx.close();
  expect(bodies).toEqual(["from vitest"]);
  expect(signatures[0]).toMatch(/^ey/);
});
