// Jest globalSetup: one `qstash dev` for the whole run. Its QSTASH_URL, QSTASH_TOKEN and signing
// keys go into process.env before the workers start, so the code under test finds them there.
const { startDevServer } = require("qstash-dev");

module.exports = async () => {
  globalThis.qstashDev = await startDevServer();
  Object.assign(process.env, globalThis.qstashDev.env);
};
