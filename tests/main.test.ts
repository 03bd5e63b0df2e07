/**
 * The CLI as a user runs it: a real `deno run main.ts` process, its flags, its
 * logs, and a clean exit on SIGINT/SIGTERM.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decode } from "../src/bittorrent/bencode.ts";
import { escapeBytes, id20 } from "./helpers/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = process.execPath;
const args = ["run", "--allow-net", "--allow-read", "--allow-env", join(root, "main.ts")];

function run(extra: string[]) {
  return spawnSync(deno, [...args, ...extra], { cwd: root, encoding: "utf8", timeout: 30_000 });
}

/** Starts the CLI and resolves with the HTTP port once it logs that it listens. */
function start(
  config: string,
  extra: string[] = [],
): Promise<{ child: ChildProcess; port: number; logs: string[] }> {
  const child = spawn(deno, [...args, "--config", config, ...extra], { cwd: root });
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${logs.join("")}`)), 20_000);
    child.stderr!.on("data", (chunk: Uint8Array) => {
      logs.push(new TextDecoder().decode(chunk));
      const m = logs.join("").match(/http frontend listening.*?127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), logs });
      }
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}:\n${logs.join("")}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

const CONFIG = `chihaya:
  announce_interval: 30m
  min_announce_interval: 15m
  http:
    addr: "127.0.0.1:0"
    announce_routes: ["/announce"]
    scrape_routes: ["/scrape"]
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
`;

test("cli: --help and --version", () => {
  const help = run(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: hayate \[--config PATH\] \[--debug\] \[--json\] \[--nocolors\]/);
  const version = run(["--version"]);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^hayate \d+\.\d+\.\d+/);
  const bad = run(["--bogus"]);
  assert.equal(bad.status, 2);
});

test("cli: a bad config fails at start with a message naming the key and line", () => {
  const dir = mkdtempSync(join(tmpdir(), "hayate-cli-"));
  try {
    const path = join(dir, "bad.yaml");
    writeFileSync(path, CONFIG.replace(/^ {2}announce_interval.*\n/m, ""));
    const r = run(["--config", path]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /announce_interval/);
    const missing = run(["--config", join(dir, "nope.yaml")]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`cli: serves announces and exits 0 on ${signal}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "hayate-cli-"));
    try {
      const path = join(dir, "config.yaml");
      writeFileSync(path, CONFIG);
      const { child, port, logs } = await start(path, ["--json"]);
      const done = exited(child);
      const q = `info_hash=${escapeBytes(id20("ih"))}&peer_id=${
        escapeBytes(id20("a"))
      }&port=1&left=0&downloaded=0&uploaded=0`;
      const res = await fetch(`http://127.0.0.1:${port}/announce?${q}`);
      const body = decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
      assert.equal(body.interval, 1800);
      const t0 = Date.now();
      // process.kill, not child.kill: Deno's node:child_process reports any child it
      // signalled as killed by the signal, whatever its real exit code.
      process.kill(child.pid!, signal);
      assert.equal(await done, 0);
      assert.ok(Date.now() - t0 < 5000, "exits within a few seconds");
      const lines = logs.join("").trim().split("\n").map((l) => JSON.parse(l));
      assert.ok(lines.some((l) => l.msg === "shutting down" && l.signal === signal));
      assert.ok(lines.every((l) => typeof l.level === "string" && typeof l.time === "string"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
