// Type-checked (tsc --strict, never run) by scripts/test-npm.sh against the installed package:
// the kit's declarations describe what lib/index.js gives.
import { startDevServer, type DevServer, type DevServerOptions } from "qstash-dev";

async function use(): Promise<void> {
  const options: DevServerOptions = { port: 0, quota: "pro", persist: "state.db", seed: "seed.json", args: ["-backoff-scale=0.001"] };
  const server: DevServer = await startDevServer(options);
  const url: string = server.url;
  const env: Record<string, string> = server.env;
  const keys: [string, string, string] = [server.token, server.currentSigningKey, server.nextSigningKey];
  await server.reset();
  const idle: Record<string, unknown> = await server.waitIdle({ timeout: "5s" });
  await server.clock.advance("1d");
  await server.clock.advance(60_000);
  await server.clock.set(new Date());
  const frozen: boolean = (await server.clock.freeze()).frozen;
  const now: number = (await server.clock.resume()).now;
  const pid: number | undefined = server.process.pid;
  await server.stop();
  void [url, env, keys, idle, frozen, now, pid];
}
void use;
