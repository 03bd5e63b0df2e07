/**
 * The self-contained executable as a user gets it: `bun build --compile` of
 * main.ts for this host, copied into an empty directory and run with a PATH that
 * has no deno, bun or node on it. HTTP and UDP announce round trips, `--version`,
 * `--help`, a clean exit on SIGTERM, and `scripts/install.sh` downloading and
 * verifying it from a file server on loopback.
 *
 * (`deno compile` binaries are built the same way by `deno task compile`, but its
 * `denort` base binary is downloaded at build time, which the test machine cannot.)
 * Skipped, with the reason, when bun is not installed.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { decode } from "../src/bittorrent/bencode.ts";
import { isBun } from "../src/runtime.ts";
import { escapeBytes, id20 } from "./helpers/fixtures.ts";
import { announcePacket, connectPacket, readReply } from "./frontend/udp/packets.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

function bunVersion(): string | null {
  const r = spawnSync(isBun ? process.execPath : "bun", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}
const bun = bunVersion();

/** This host's release target triple, as scripts/compile.ts and install.sh name binaries. */
function hostTarget(): string | null {
  const arch = process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : null;
  const os = process.platform === "linux"
    ? "unknown-linux-gnu"
    : process.platform === "darwin"
    ? "apple-darwin"
    : null;
  return arch === null || os === null ? null : `${arch}-${os}`;
}
const target = hostTarget();

const skip = bun === null
  ? "bun is not installed (npm install -g bun): the host binary is built with bun build --compile"
  : target === null
  ? `no release target for ${process.platform} ${process.arch}`
  : false;

interface Result {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end without blocking the event loop. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout!.on("data", (c: Uint8Array) => stdout += new TextDecoder().decode(c));
    child.stderr!.on("data", (c: Uint8Array) => stderr += new TextDecoder().decode(c));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("one binary (bun build --compile, no runtime on PATH)", { skip, timeout: 120_000 }, () => {
  let work: string;
  let binary: string;
  /** A PATH with nothing on it: no deno, no bun, no node. */
  let bare: Record<string, string>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "hayate-binary-"));
    // Bun resolves the npm imports through node_modules/, laid out by deno from
    // deno.json and deno.lock (what `deno task compile:bun` does too).
    if (!existsSync(join(root, "node_modules", "yaml", "package.json"))) {
      const deno = isBun ? "deno" : process.execPath;
      const r = await run(deno, ["install", "--node-modules-dir=auto", "--quiet"], { cwd: root });
      assert.equal(r.code, 0, r.stderr);
    }
    const built = join(work, "build", "hayate");
    const r = await run(isBun ? process.execPath : "bun", [
      "build",
      "--compile",
      "--minify",
      join(root, "main.ts"),
      "--outfile",
      built,
    ], { cwd: root });
    assert.equal(r.code, 0, `bun build --compile failed:\n${r.stdout}${r.stderr}`);
    // An empty directory: no deno.json, no node_modules, no sources next to it.
    mkdirSync(join(work, "run"));
    mkdirSync(join(work, "empty-bin"));
    binary = join(work, "run", "hayate");
    copyFileSync(built, binary);
    rmSync(join(work, "build"), { recursive: true, force: true });
    bare = { PATH: join(work, "empty-bin"), HOME: work };
  }, { timeout: 90_000 });

  after(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("prints --version and --help with nothing but itself", async () => {
    for (const exe of ["deno", "bun", "node"]) {
      assert.notEqual(
        spawnSync("/bin/sh", ["-c", `command -v ${exe}`], { env: bare }).status,
        0,
        `${exe} on PATH`,
      );
    }
    const version = await run(binary, ["--version"], { cwd: join(work, "run"), env: bare });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `hayate ${denoJson.version}`);
    const help = await run(binary, ["--help"], { cwd: join(work, "run"), env: bare });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: hayate \[--config PATH\]/);
    const bad = await run(binary, ["--bogus"], { cwd: join(work, "run"), env: bare });
    assert.equal(bad.code, 2);
  });

  it("serves an HTTP and a UDP announce round trip, then exits 0 on SIGTERM", async () => {
    const dir = join(work, "run");
    writeFileSync(
      join(dir, "config.yaml"),
      `chihaya:
  announce_interval: 30m
  min_announce_interval: 15m
  http:
    addr: "127.0.0.1:0"
    announce_routes: ["/announce"]
    scrape_routes: ["/scrape"]
  udp:
    addr: "127.0.0.1:0"
    private_key: "binary test key"
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
`,
    );
    const t0 = performance.now();
    const child = spawn(binary, ["--config", "config.yaml", "--nocolors"], { cwd: dir, env: bare });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let logs = "";
    child.stderr!.on("data", (c: Uint8Array) => logs += new TextDecoder().decode(c));
    try {
      const deadline = Date.now() + 15_000;
      let ports: { http: number; udp: number } | undefined;
      while (ports === undefined) {
        const http = logs.match(/http frontend listening.*?127\.0\.0\.1:(\d+)/);
        const udp = logs.match(/udp frontend listening.*?127\.0\.0\.1:(\d+)/);
        if (http && udp) ports = { http: Number(http[1]), udp: Number(udp[1]) };
        else if (Date.now() > deadline) throw new Error(`no listening lines:\n${logs}`);
        else await new Promise((r) => setTimeout(r, 5));
      }
      assert.match(logs, /transport=dgram/, "UDP on node:dgram in a Bun binary");

      const q = `info_hash=${escapeBytes(id20("binary"))}&peer_id=${
        escapeBytes(id20("http peer"))
      }&port=6881&left=0&downloaded=0&uploaded=0`;
      const res = await fetch(`http://127.0.0.1:${ports.http}/announce?${q}`);
      const body = decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
      const firstAnswer = performance.now() - t0;
      assert.equal(res.status, 200);
      assert.equal(body.interval, 1800);
      assert.equal(body.complete, 1);

      const sock = createSocket("udp4");
      try {
        const ask = (packet: Uint8Array) =>
          new Promise<Uint8Array>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no UDP reply within 3 s")), 3000);
            sock.once("message", (m) => {
              clearTimeout(timer);
              resolve(new Uint8Array(m));
            });
            sock.send(packet, ports!.udp, "127.0.0.1");
          });
        const connected = readReply(await ask(connectPacket(7)));
        assert.equal(connected.action, 0);
        assert.equal(connected.tx, 7);
        const announced = readReply(
          await ask(announcePacket({
            connectionID: connected.connectionID,
            tx: 8,
            infoHash: id20("binary"),
            peerID: id20("udp peer"),
            left: 1,
            port: 6882,
          })),
        );
        assert.equal(announced.action, 1, announced.message);
        assert.equal(announced.tx, 8);
        assert.equal(announced.interval, 1800);
        // The HTTP seeder is handed to the UDP leecher: one store behind both frontends.
        assert.equal(announced.seeders, 1);
        assert.deepEqual(announced.peers, ["127.0.0.1:6881"]);
      } finally {
        sock.close();
      }

      const size = statSync(binary).size;
      console.log(
        `binary: bun ${bun}, ${(size / 1048576).toFixed(1)} MiB, first announce answered ${
          firstAnswer.toFixed(0)
        } ms after exec`,
      );
      // process.kill, not child.kill: Deno's node:child_process reports any child it
      // signalled as killed by the signal, whatever its real exit code.
      process.kill(child.pid!, "SIGTERM");
      assert.equal(await exited, 0, logs);
      assert.match(logs, /shutting down signal=SIGTERM/);
      assert.match(logs, /INFO stopped/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });

  it("scripts/install.sh downloads the host binary from a loopback server and verifies its SHA-256", async () => {
    const name = `hayate-${target}`;
    const bytes = readFileSync(binary);
    const files = new Map<string, Uint8Array>([
      [`/good/${name}`, bytes],
      [
        `/good/SHA256SUMS`,
        new TextEncoder().encode(`${"0".repeat(64)}  hayate-other\n${sha256(bytes)}  ${name}\n`),
      ],
      [`/bad/${name}`, bytes],
      [`/bad/SHA256SUMS`, new TextEncoder().encode(`${sha256(new Uint8Array([1]))}  ${name}\n`)],
    ]);
    const server: Server = createServer((req, res) => {
      const body = files.get(req.url ?? "");
      if (body === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const install = (from: string, dir: string) =>
        run("sh", [join(root, "scripts", "install.sh")], {
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: work,
            HAYATE_BASE_URL: `${base}/${from}`,
            HAYATE_INSTALL_DIR: dir,
          },
        });
      const good = await install("good", join(work, "installed"));
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stderr, /verified SHA-256/);
      const installed = join(work, "installed", "hayate");
      assert.equal(sha256(readFileSync(installed)), sha256(bytes));
      const v = await run(installed, ["--version"], { env: bare });
      assert.equal(v.stdout.trim(), `hayate ${denoJson.version}`);

      const bad = await install("bad", join(work, "refused"));
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /SHA-256 mismatch.*nothing installed/);
      assert.ok(
        !existsSync(join(work, "refused", "hayate")),
        "a binary that fails verification is not installed",
      );

      const missing = await install("nowhere", join(work, "refused"));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /could not download/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
