#!/usr/bin/env node
// Prepares the npm packages in this folder for `npm pack` / `npm publish`:
//
//   node npm/stage.mjs [options] [PLATFORM BINARY]...
//
// - sets the version of every package (qstash-dev and each qstash-dev-PLATFORM) and the
//   versions in qstash-dev's optionalDependencies to the version in Cargo.toml;
// - copies each BINARY into npm/qstash-dev-PLATFORM/bin/ as `qstash` (`qstash.exe` for
//   win32), executable. PLATFORM is `linux-x64`, `linux-arm64`, `darwin-x64`, `darwin-arm64`
//   or `win32-x64` (the package name works too);
// - copies LICENSE (beside Cargo.toml) into every package.
//
// Options:
//   --cargo-toml PATH  where to read the version (default: Cargo.toml beside this folder)
//   --version X.Y.Z    use this version instead of Cargo.toml's
//   --check            change nothing; exit 1 when a version, the optionalDependencies or the
//                      shim's platform table disagree with Cargo.toml and the package folders
//
// Node >= 18, no dependencies, works the same on Linux, macOS and Windows.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = "qstash-dev";
const npmDir = path.dirname(fileURLToPath(import.meta.url));

function die(message) {
  console.error(`stage: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { cargoToml: path.join(npmDir, "..", "Cargo.toml"), version: null, check: false, binaries: [] };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--check") opts.check = true;
    else if (a === "--cargo-toml") opts.cargoToml = argv[++i];
    else if (a === "--version") opts.version = argv[++i];
    else if (a === "-h" || a === "--help") {
      console.log("usage: node npm/stage.mjs [--cargo-toml PATH | --version X.Y.Z] [--check] [PLATFORM BINARY]...");
      process.exit(0);
    } else if (a.startsWith("-")) die(`unknown option ${a}`);
    else rest.push(a);
  }
  if (rest.length % 2 !== 0) die("binaries come in pairs: PLATFORM BINARY");
  for (let i = 0; i < rest.length; i += 2) opts.binaries.push({ platform: rest[i], file: rest[i + 1] });
  if (opts.check && opts.binaries.length > 0) die("--check copies no binaries");
  return opts;
}

/** The `version` of the `[package]` table of Cargo.toml. */
function cargoVersion(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    die(`cannot read ${file}: ${err.message}`);
  }
  const table = /^\[package\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text);
  const version = table && /^version\s*=\s*"([^"]+)"/m.exec(table[1]);
  if (!version) die(`no [package] version in ${file}`);
  return version[1];
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

function writeJson(file, value) {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

const opts = parseArgs(process.argv.slice(2));
const version = opts.version ?? cargoVersion(opts.cargoToml);
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) die(`not a semver version: ${version}`);

// The platform packages are the folders qstash-dev-*/ here, each with its os and cpu.
const platforms = fs
  .readdirSync(npmDir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name.startsWith(`${MAIN}-`))
  .map((e) => {
    const dir = path.join(npmDir, e.name);
    const pkg = readJson(path.join(dir, "package.json"));
    if (pkg.name !== e.name) die(`${e.name}/package.json is named ${pkg.name}`);
    if (!pkg.os?.length || !pkg.cpu?.length) die(`${e.name}/package.json needs os and cpu`);
    return { name: e.name, dir, key: `${pkg.os[0]}-${pkg.cpu[0]}`, pkg };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
if (platforms.length === 0) die(`no ${MAIN}-* packages in ${npmDir}`);

const mainFile = path.join(npmDir, MAIN, "package.json");
const main = readJson(mainFile);
const wantedOptional = Object.fromEntries(platforms.map((p) => [p.name, version]));
const problems = [];

if (opts.check) {
  for (const p of [{ name: MAIN, pkg: main }, ...platforms]) {
    if (p.pkg.version !== version) problems.push(`${p.name} has version ${p.pkg.version}, Cargo.toml ${version}`);
    if (p.pkg.scripts && Object.keys(p.pkg.scripts).some((s) => /install/.test(s))) {
      problems.push(`${p.name} has an install script; the binaries come through optionalDependencies`);
    }
  }
  if (JSON.stringify(main.optionalDependencies) !== JSON.stringify(wantedOptional)) {
    problems.push(`${MAIN}'s optionalDependencies are ${JSON.stringify(main.optionalDependencies)}, want ${JSON.stringify(wantedOptional)}`);
  }
  const table = fs.readFileSync(path.join(npmDir, MAIN, "lib", "binary.js"), "utf8");
  for (const p of platforms) {
    if (!table.includes(`"${p.key}": "${p.name}"`)) problems.push(`lib/binary.js's PACKAGES table lacks "${p.key}": "${p.name}"`);
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`stage --check: ${p}`);
    console.error("stage --check: run `node npm/stage.mjs` to bring the packages in line");
    process.exit(1);
  }
  console.log(`npm packages consistent: ${MAIN} and ${platforms.length} platform packages at ${version}`);
  process.exit(0);
}

for (const p of platforms) {
  p.pkg.version = version;
  writeJson(path.join(p.dir, "package.json"), p.pkg);
}
main.version = version;
main.optionalDependencies = wantedOptional;
writeJson(mainFile, main);
console.log(`version ${version}: ${MAIN}, ${platforms.map((p) => p.name).join(", ")}`);

const license = path.join(path.dirname(opts.cargoToml), "LICENSE");
if (fs.existsSync(license)) {
  for (const dir of [path.join(npmDir, MAIN), ...platforms.map((p) => p.dir)]) {
    fs.copyFileSync(license, path.join(dir, "LICENSE"));
  }
}

for (const { platform, file } of opts.binaries) {
  const target = platforms.find((p) => p.key === platform || p.name === platform);
  if (!target) die(`unknown platform ${platform} (there are ${platforms.map((p) => p.key).join(", ")})`);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) die(`no binary at ${file}`);
  const exe = target.pkg.os[0] === "win32" ? "qstash.exe" : "qstash";
  const binDir = path.join(target.dir, "bin");
  fs.mkdirSync(binDir, { recursive: true });
  const dest = path.join(binDir, exe);
  fs.copyFileSync(file, dest);
  fs.chmodSync(dest, 0o755);
  console.log(`${file} -> ${path.relative(process.cwd(), dest) || dest}`);
}
