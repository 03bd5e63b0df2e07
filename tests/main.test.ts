/**
 * The CLI as a user runs it: a real `deno run main.ts` process (`bun main.ts`
 * under `bun test`), its flags, its logs, and a clean exit on SIGINT/SIGTERM.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../src/bittorrent/bencode.ts";
import { exited, runCLI, startCLI } from "./helpers/cli.ts";
import { isBun } from "../src/runtime.ts";
import { escapeBytes, id20 } from "./helpers/fixtures.ts";

const run = runCLI;
const start = startCLI;

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

/** Waits until the joined logs, from character `from` on, match `re`. */
async function waitLog(logs: string[], re: RegExp, from = 0, ms = 15_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = logs.join("").slice(from).match(re);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no log line ${re} in:\n${logs.join("")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SECRET_KEY = "udp-secret-key-do-not-log-4242";
const SECRET_PASSWORD = "hunter2-password-do-not-log";
const SECRET_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzZWNyZXQiOiJ0b2tlbiJ9.c2lnbmF0dXJlLWRvLW5vdC1sb2c";

function reloadConfig(interval: string): string {
  return `chihaya:
  announce_interval: ${interval}
  min_announce_interval: 1m
  metrics_addr: "127.0.0.1:0"
  http:
    addr: "127.0.0.1:0"
    announce_routes: ["/announce"]
    scrape_routes: ["/scrape"]
  udp:
    addr: "127.0.0.1:0"
    private_key: "${SECRET_KEY}"
    transport: deno
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
      password: "${SECRET_PASSWORD}"
`;
}

async function announce(port: number, id: string, extra = "") {
  const q = `info_hash=${escapeBytes(id20("reload"))}&peer_id=${
    escapeBytes(id20(id))
  }&port=7000&left=1&downloaded=0&uploaded=0${extra}`;
  const res = await fetch(`http://127.0.0.1:${port}/announce?${q}`);
  return decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
}

test("cli: SIGUSR1/SIGHUP reload keeps peers, applies new intervals, refuses a bad config; secrets never logged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hayate-cli-"));
  try {
    const path = join(dir, "config.yaml");
    writeFileSync(path, reloadConfig("30m"));
    const { child, port, logs } = await start(path, ["--json", "--debug"]);
    const done = exited(child);
    const first = await announce(port, "a", `&jwt=${SECRET_JWT}`);
    assert.equal(first.interval, 1800);

    writeFileSync(path, reloadConfig("20m"));
    let mark = logs.join("").length;
    process.kill(child.pid!, "SIGUSR1");
    await waitLog(logs, /"msg":"config reloaded"/, mark);
    // The port (":0" unchanged) is carried over, the peer is still there, the interval is new.
    const second = await announce(port, "b");
    assert.equal(second.interval, 1200);
    assert.equal(second.incomplete, 1, "the peer announced before the reload is kept");
    assert.equal((second.peers as unknown[]).length, 1, "and is handed out");

    // Exactly one reload per signal.
    mark = logs.join("").length;
    process.kill(child.pid!, "SIGHUP");
    await waitLog(logs, /"msg":"config reloaded"/, mark);
    process.kill(child.pid!, "SIGUSR1");
    await waitLog(logs, /"msg":"config reloaded"[\s\S]*"msg":"config reloaded"/, mark);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(logs.join("").slice(mark).match(/"msg":"config reloaded"/g)?.length, 2);

    // A bad config is refused with a clear line, and the old one keeps serving.
    writeFileSync(path, reloadConfig("30m").replace(/^ {2}announce_interval.*\n/m, ""));
    mark = logs.join("").length;
    process.kill(child.pid!, "SIGUSR1");
    const refused = await waitLog(logs, /\{[^\n]*"msg":"reload refused[^\n]*\}/, mark);
    assert.match(refused[0], /announce_interval/);
    assert.equal((await announce(port, "c")).interval, 1200);

    process.kill(child.pid!, "SIGTERM");
    assert.equal(await done, 0);
    const text = logs.join("");
    // Deno 2.9.2+ also opens its inspector on SIGUSR1 and prints a banner that is not ours.
    const lines = text.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.level === "debug" && l.msg === "request" && l.protocol === "http"));
    // Only Deno opens an inspector on SIGUSR1, so only Deno warns about it.
    if (!isBun) assert.ok(lines.some((l) => l.level === "warn" && /SIGUSR1/.test(l.msg)));
    assert.ok(lines.some((l) => l.msg === "metrics server listening"));
    for (const secret of [SECRET_KEY, SECRET_PASSWORD, SECRET_JWT, "c2lnbmF0dXJl"]) {
      assert.ok(!text.includes(secret), `a secret appears in the logs: ${secret}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cli: e2e passes against a running tracker and fails against a wrong port", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hayate-cli-"));
  try {
    const path = join(dir, "config.yaml");
    writeFileSync(path, reloadConfig("30m"));
    const { child, port, logs } = await start(path);
    const done = exited(child);
    const udpPort = Number((await waitLog(logs, /udp frontend listening.*?127\.0\.0\.1:(\d+)/))[1]);
    const ok = runCLI([
      "e2e",
      "--httpaddr",
      `http://127.0.0.1:${port}/announce`,
      "--udpaddr",
      `udp://127.0.0.1:${udpPort}`,
      "--delay",
      "50ms",
    ]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /e2e: passed protocol=http/);
    assert.match(ok.stderr, /e2e: passed protocol=udp/);
    assert.match(ok.stderr, /e2e: all checks passed/);

    process.kill(child.pid!, "SIGTERM");
    assert.equal(await done, 0);
    assert.doesNotMatch(logs.join(""), /DEBUG|msg=request|INFO request/, "no request lines without --debug");

    // The tracker is gone: its port now refuses connections.
    const bad = runCLI([
      "e2e",
      "--httpaddr",
      `http://127.0.0.1:${port}/announce`,
      "--udpaddr",
      "",
      "--delay",
      "0s",
    ]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /e2e: failed protocol=http/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
