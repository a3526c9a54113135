// The Jest configuration of the README's example (scripts/test-npm.sh runs it against the
// installed tarballs): one qstash dev for the whole run, started by global-setup.js.
module.exports = {
  testEnvironment: "node",
  globalSetup: "./global-setup.js",
  globalTeardown: "./global-teardown.js",
};
