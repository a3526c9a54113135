// The Vitest configuration of the README's example (scripts/test-npm.sh runs it against the
// installed tarballs): one qstash dev for the whole run, started by global-setup.mjs.
export default {
  test: {
    globals: true,
    globalSetup: ["./global-setup.mjs"],
  },
};
