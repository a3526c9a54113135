// Where this platform's `qstash` binary is: the package of the platform (qstash-dev-linux-x64,
// ...) that npm installed through optionalDependencies, or QSTASH_DEV_BINARY. Shared by the
// `qstash` command (bin/qstash.js) and the test kit (lib/index.js).
"use strict";

const fs = require("node:fs");
const path = require("node:path");

/** `${process.platform}-${process.arch}` -> the package that carries its binary. */
const PACKAGES = {
  "darwin-arm64": "qstash-dev-darwin-arm64",
  "darwin-x64": "qstash-dev-darwin-x64",
  "linux-arm64": "qstash-dev-linux-arm64",
  "linux-x64": "qstash-dev-linux-x64",
  "win32-x64": "qstash-dev-win32-x64",
};

/** The binary's path; throws an Error that says what to do when there is none. */
function binaryPath() {
  const override = process.env.QSTASH_DEV_BINARY;
  if (override) {
    return override;
  }
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PACKAGES[platform];
  if (!pkg) {
    throw new Error(
      `no prebuilt binary for this platform (${platform}); there are binaries for ` +
        `${Object.keys(PACKAGES).join(", ")}. Build one with cargo from the qstash-dev ` +
        `sources and set QSTASH_DEV_BINARY to its path.`,
    );
  }
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `the binary for this platform (${platform}) comes in the package ${pkg}, which is not ` +
        `installed: reinstall qstash-dev without --omit=optional / --no-optional.`,
    );
  }
  const bin = path.join(dir, "bin", process.platform === "win32" ? "qstash.exe" : "qstash");
  if (!fs.existsSync(bin)) {
    throw new Error(`the package ${pkg} for this platform (${platform}) has no binary at ${bin}.`);
  }
  return bin;
}

module.exports = { binaryPath, PACKAGES };
