// The ESM entry of the qstash-dev test kit; the kit itself is lib/index.js.
import kit from "./index.js";

export const { startDevServer } = kit;
