// Jest globalTeardown: stops the server of global-setup.js.
module.exports = async () => {
  await globalThis.qstashDev?.stop();
};
