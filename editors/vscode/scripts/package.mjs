// Packs the extension into assistant-router-<version>.vsix with @vscode/vsce.
// vsce lives in tools/vsce/ with its own package.json and lock file, so it
// never packs itself into the .vsix; it is installed there (npm ci) on first
// use or when its lock file changes. vsce runs `vscode:prepublish` (the
// minified build) first. `--no-dependencies`: the bundle has them inside.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tools = join(root, "tools", "vsce");
const vsce = join(tools, "node_modules", "@vscode", "vsce", "vsce");
const stamp = join(tools, "node_modules", ".lock-installed");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(command, args, cwd) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd, stdio: "inherit", shell: process.platform === "win32" });
  if (result.status !== 0) {
    console.error(`failed (${result.status ?? result.signal}): ${command} ${args.join(" ")}`);
    process.exit(result.status || 1);
  }
  return Date.now() - started;
}

const lock = readFileSync(join(tools, "package-lock.json"), "utf8");
if (!existsSync(vsce) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== lock) {
  // Optional dependencies (keytar, for publishing) are not needed to package.
  const ms = run(npm, ["ci", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"], tools);
  writeFileSync(stamp, lock);
  console.log(`installed @vscode/vsce into tools/vsce in ${(ms / 1000).toFixed(1)} s`);
}

const { name, version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = `${name}-${version}.vsix`;
const ms = run(process.execPath, [vsce, "package", "--no-dependencies", "--allow-missing-repository", "--out", out], root);
console.log(`${out}: ${(statSync(join(root, out)).size / 1024).toFixed(0)} KiB in ${(ms / 1000).toFixed(1)} s`);
