/**
 * Socket-level load test: starts hayate (the real `main.ts`, pinned to CPU 0) on a
 * generated loopback config, drives it with the C generators in ../shared/bench
 * (udpload for BEP 15, wrk + httpload.lua for HTTP keep-alive) pinned to CPU 1,
 * and prints a markdown table of responses/s, p50/p99 latency, the tracker's peak
 * RSS (VmHWM) and the RSS growth per stored peer. Optionally the same figures for
 * opentracker, and always for the reflector (a trivial server: the generators' own
 * ceiling), measured in the same run. The method is /work/shared/bench/README.md's,
 * with the systems' runs taken in turn (run 1 of each, then run 2 of each, …) so
 * that the machine's drift over a sitting does not land on one system alone.
 *
 * ```sh
 * deno run --allow-all scripts/load.ts                        # 3 × 10 s, ffi and deno transports
 * deno run --allow-all scripts/load.ts --quick                # 1 × 3 s
 * deno run --allow-all scripts/load.ts --opentracker --out /tmp/load.md
 * ```
 *
 * HTTP is measured with two wrk scripts, each in its own columns: the shared
 * `httpload.lua`, which builds every request in Lua as it goes, and
 * `httpload_predrawn.lua`, the same script with its requests drawn before wrk's
 * clock starts (the same requests in the same order). On a slow machine the
 * first tops out below the tracker (compare the reflector's row); the second's
 * ceiling is higher.
 *
 * Options: `--duration S` (10), `--warmup S` (2), `--repeats N` (3), `--quick`,
 * `--transport ffi,deno` (transports of hayate to measure, for UDP and HTTP alike),
 * `--http-generator shared,predrawn` (the wrk scripts to measure HTTP with), `--opentracker`,
 * `--no-reflector`, `--no-http`, `--no-hello` (skip the Deno.serve hello-world
 * HTTP baseline), `--bench-dir DIR` (udpload.c & co), `--out FILE` (also write the
 * table), `--keep` (keep the temp dir). Needs gcc, wrk (HTTP) and taskset; as root
 * it installs missing gcc/wrk with apt-get, otherwise it says how.
 *
 * Everything binds 127.0.0.1, every child has a deadline, and every child is killed
 * when the script exits or is interrupted.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  freeTCPPort,
  freeUDPPort,
  have,
  HOST,
  killAll,
  median,
  procStatus,
  run,
  type Server,
  sleep,
  startServer,
  waitHTTP,
  waitUDP,
} from "./lib/proc.ts";
import { startHayate } from "./lib/tracker.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    repeats: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
    transport: { type: "string", default: "ffi,deno" },
    "http-generator": { type: "string", default: "shared,predrawn" },
    opentracker: { type: "boolean", default: false },
    "no-reflector": { type: "boolean", default: false },
    "no-http": { type: "boolean", default: false },
    "no-hello": { type: "boolean", default: false },
    "bench-dir": { type: "string", default: "" },
    out: { type: "string", default: "" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
}).values;

const DURATION = flags.quick ? 3 : Number(flags.duration);
const WARMUP = flags.quick ? 1 : Number(flags.warmup);
const REPEATS = flags.quick ? 1 : Number(flags.repeats);
const TRANSPORTS = flags.transport.split(",").map((t) => t.trim()).filter((t) => t !== "");
for (const t of TRANSPORTS) {
  if (t !== "ffi" && t !== "deno") throw new Error(`--transport: ${t} is not ffi or deno`);
}
const BENCH = flags["bench-dir"] || new URL("../../shared/bench/", import.meta.url).pathname;

/** What is measured: UDP, and HTTP with each wrk script (`--http-generator`). */
type Kind = "udp" | "http" | "http-predrawn";
const HTTP_SCRIPTS: Record<string, { kind: Kind; script: string; title: string }> = {
  shared: { kind: "http", script: `${BENCH}/httpload.lua`, title: "HTTP" },
  predrawn: {
    kind: "http-predrawn",
    script: new URL("./httpload_predrawn.lua", import.meta.url).pathname,
    title: "HTTP pre-drawn",
  },
};
const HTTP_GENERATORS = flags["http-generator"].split(",").map((g) => g.trim()).filter((g) => g !== "").map(
  (g) => {
    const known = HTTP_SCRIPTS[g];
    if (known === undefined) throw new Error(`--http-generator: ${g} is not shared or predrawn`);
    return known;
  },
);
/** Requests the pre-drawn script draws: a run's worth at 150k/s, so a run seldom starts over. */
const DRAWS = String(Math.max(DURATION, 1) * 150_000);
const WORKLOAD = ["-t", "10000", "-P", "10000", "-r", "9:1", "-n", "50", "-W", "128"];

const hexToBytes = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const esc = (b: Uint8Array) => Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");

/** Seeders + leechers over every benchmark torrent, by HTTP scrapes of 50 hashes; null if unsupported. */
async function countPeers(httpPort: number, hashes: string[]): Promise<number | null> {
  let total = 0;
  const latin1 = new TextDecoder("latin1");
  try {
    for (let i = 0; i < hashes.length; i += 50) {
      const q = hashes.slice(i, i + 50).map((h) => `info_hash=${esc(hexToBytes(h))}`).join("&");
      const r = await fetch(`http://${HOST}:${httpPort}/scrape?${q}`, { signal: AbortSignal.timeout(5000) });
      const body = latin1.decode(new Uint8Array(await r.arrayBuffer()));
      let seen = 0;
      for (const m of body.matchAll(/(?:8:complete|10:incomplete)i(\d+)e/g)) {
        total += Number(m[1]);
        seen++;
      }
      if (seen === 0) return null;
    }
  } catch {
    return null;
  }
  return total;
}

// ---------------------------------------------------------------- measurement

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
}

interface Row {
  system: string;
  note: string;
  figures: Partial<Record<Kind, Figures>>;
  peakRSS?: number;
  peers?: number | null;
  bytesPerPeer?: number | null;
}

const LINE = /(udp|http): (\d+) responses\/s, (\d+) errors, (\d+) timeouts, p50 ([\d.]+) ms, p99 ([\d.]+) ms/;

function parseFigures(out: string): Figures | null {
  const m = out.match(LINE);
  if (!m) return null;
  return {
    rps: Number(m[2]),
    errors: Number(m[3]),
    timeouts: Number(m[4]),
    p50: Number(m[5]),
    p99: Number(m[6]),
  };
}

function medianFigures(runs: Figures[]): Figures | undefined {
  if (runs.length === 0) return undefined;
  return {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: median(runs.map((r) => r.errors)),
    timeouts: median(runs.map((r) => r.timeouts)),
  };
}

/** One generator run on CPU 1: its figures, or undefined (reported) when it failed. */
async function oneRun(
  label: string,
  command: string[],
  timeoutMs: number,
  env?: Record<string, string>,
): Promise<Figures | undefined> {
  const r = await run("taskset", ["-c", "1", ...command], timeoutMs, env);
  const f = parseFigures(r.stdout);
  if (f === null || r.timedOut) {
    console.error(
      `  ${command[0]} failed (code ${r.code}${r.timedOut ? ", timed out" : ""}):\n${r.stdout}${r.stderr}`,
    );
    return undefined;
  }
  console.error(`  ${label}: ${r.stdout.match(LINE)![0]}`);
  return f;
}

function udpRun(label: string, udpload: string, port: number): Promise<Figures | undefined> {
  const args = ["-H", HOST, "-p", String(port), "-d", String(DURATION), "-w", String(WARMUP), ...WORKLOAD];
  return oneRun(label, [udpload, ...args], (DURATION + WARMUP + 30) * 1000);
}

function httpRun(label: string, script: string, port: number, hashes: string): Promise<Figures | undefined> {
  const args = ["-t1", "-c64", `-d${DURATION}s`, "--latency", "-s", script, `http://${HOST}:${port}`];
  // The pre-drawn script spends up to about 10 s drawing before the clock starts.
  return oneRun(label, ["wrk", ...args], (DURATION + 60) * 1000, {
    HASHES: hashes,
    HTTPLOAD: `${BENCH}/httpload.lua`,
    DRAWS,
  });
}

interface Tools {
  udpload: string;
  hashes: string;
  hashList: string[];
}

/** What a system is measured on, and how it starts (on the two ports it is given). */
interface System {
  name: string;
  udp: boolean;
  http: boolean;
  /** Whether its stored peers can be counted by HTTP scrapes. */
  count: boolean;
  start: (udpPort: number, httpPort: number) => Promise<{ server: Server; note: string }>;
}

/** A started system and its runs so far. */
interface Running {
  system: System;
  row: Row;
  server?: Server;
  udpPort: number;
  httpPort: number;
  baseRSS: number;
  runs: Record<Kind, Figures[]>;
}

async function startSystem(system: System): Promise<Running> {
  const udpPort = freeUDPPort();
  const httpPort = freeTCPPort();
  console.error(`\n## ${system.name} (udp ${udpPort}, http ${httpPort})`);
  const running: Running = {
    system,
    row: { system: system.name, note: "", figures: {} },
    udpPort,
    httpPort,
    baseRSS: 0,
    runs: { udp: [], http: [], "http-predrawn": [] },
  };
  try {
    const { server, note } = await system.start(udpPort, httpPort);
    running.server = server;
    running.row.note = note;
    await sleep(300);
    running.baseRSS = procStatus(server.pid, "VmRSS") ?? 0;
  } catch (err) {
    console.error(`  ${system.name}: ${(err as Error).message}`);
    running.row.note = `failed to start: ${(err as Error).message.split("\n")[0]}`;
  }
  return running;
}

/** Medians of its runs, peak RSS and stored peers; then stops it. */
async function finishSystem(r: Running, tools: Tools): Promise<Row> {
  const { row, server } = r;
  if (server === undefined) return row;
  try {
    for (const kind of Object.keys(r.runs) as Kind[]) row.figures[kind] = medianFigures(r.runs[kind]);
    row.peakRSS = procStatus(server.pid, "VmHWM") ?? undefined;
    if (r.system.count) {
      const rss = procStatus(server.pid, "VmRSS");
      row.peers = await countPeers(r.httpPort, tools.hashList);
      row.bytesPerPeer = row.peers && rss ? (rss - r.baseRSS) / row.peers : null;
    }
  } catch (err) {
    console.error(`  ${row.system}: ${(err as Error).message}`);
    row.note += ` — failed: ${(err as Error).message}`;
  } finally {
    await server.stop();
  }
  return row;
}

/**
 * Starts every system, then takes the runs round-robin: UDP run 1 of each system
 * in turn, then run 2 of each (in reverse order), and so on; then HTTP the same way. The machine's
 * speed drifts by several percent over the minutes a sitting takes, so trackers
 * measured one after the other differed by that drift too; taken in turn, each
 * ratio compares runs a few seconds apart. The systems not being measured are
 * stopped (SIGSTOP) meanwhile: idle, a tracker still wakes for its timers, up to
 * 1 % of the core.
 */
async function measureAll(systems: System[], tools: Tools): Promise<Row[]> {
  const running: Running[] = [];
  for (const system of systems) running.push(await startSystem(system));
  const live = running.filter((r) => r.server !== undefined);
  const signal = (r: Running, sig: "SIGSTOP" | "SIGCONT") => {
    try {
      Deno.kill(r.server!.pid, sig);
    } catch {
      // Gone: its runs fail and say so.
    }
  };
  try {
    for (const r of live) signal(r, "SIGSTOP");
    const kinds = [{ kind: "udp" as Kind, script: "" }, ...HTTP_GENERATORS];
    for (const { kind, script } of kinds) {
      for (let i = 1; i <= REPEATS; i++) {
        // Every other round in reverse order, so no system always follows the same one.
        const order = live.filter((r) => kind === "udp" ? r.system.udp : r.system.http);
        if (i % 2 === 0) order.reverse();
        for (const r of order) {
          const label = `${r.system.name}${r.row.note ? ` (${r.row.note})` : ""} ${kind} run ${i}`;
          signal(r, "SIGCONT");
          try {
            const f = kind === "udp"
              ? await udpRun(label, tools.udpload, r.udpPort)
              : await httpRun(label, script, r.httpPort, tools.hashes);
            if (f !== undefined) r.runs[kind].push(f);
          } finally {
            signal(r, "SIGSTOP");
          }
        }
      }
    }
  } finally {
    for (const r of live) signal(r, "SIGCONT");
  }
  const rows: Row[] = [];
  for (const r of running) rows.push(await finishSystem(r, tools));
  return rows;
}

// ---------------------------------------------------------------- main

async function ensureTools(): Promise<{ udp: boolean; http: boolean }> {
  const missing: string[] = [];
  for (const [cmd, pkg] of [["gcc", "gcc"], ["wrk", "wrk"], ["taskset", "util-linux"]]) {
    if (!(await have(cmd))) missing.push(pkg);
  }
  if (missing.length > 0 && Deno.uid?.() === 0) {
    console.error(`installing ${missing.join(" ")} with apt-get`);
    await run("apt-get", ["update"], 300_000);
    await run("apt-get", ["install", "-y", ...missing], 600_000, { DEBIAN_FRONTEND: "noninteractive" });
  }
  const gcc = await have("gcc");
  const taskset = await have("taskset");
  const wrk = await have("wrk");
  if (!gcc || !taskset) {
    throw new Error(
      "needs gcc and taskset: apt-get install -y gcc util-linux (wrk for HTTP: apt-get install -y wrk)",
    );
  }
  if (!wrk) console.error("wrk is missing (apt-get install -y wrk): skipping HTTP");
  return { udp: true, http: wrk && !flags["no-http"] };
}

function fmtFigures(f: Figures | undefined): string[] {
  if (f === undefined) return ["—", "—", "—"];
  const bad = f.errors + f.timeouts > 0 ? ` (${f.errors} err, ${f.timeouts} t/o)` : "";
  return [`${Math.round(f.rps).toLocaleString("en-US")}${bad}`, f.p50.toFixed(3), f.p99.toFixed(3)];
}

function table(rows: Row[]): string {
  const columns = [{ kind: "udp" as Kind, title: "UDP" }, ...HTTP_GENERATORS];
  const head = [
    "system",
    ...columns.flatMap(({ title }) => [`${title} resp/s`, `${title} p50 ms`, `${title} p99 ms`]),
    "peak RSS",
    "peers stored",
    "RSS growth / peer",
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) {
    lines.push(
      `| ${
        [
          r.note ? `${r.system} (${r.note})` : r.system,
          ...columns.flatMap(({ kind }) => fmtFigures(r.figures[kind])),
          r.peakRSS ? `${(r.peakRSS / 2 ** 20).toFixed(0)} MiB` : "—",
          r.peers != null ? r.peers.toLocaleString("en-US") : "—",
          r.bytesPerPeer != null ? `${r.bytesPerPeer.toFixed(0)} B` : "—",
        ].join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  if (Deno.build.os !== "linux") throw new Error("the load test needs Linux (taskset, /proc)");
  const { http } = await ensureTools();
  const tmp = await Deno.makeTempDir({ prefix: "hayate-load-" });
  const rows: Row[] = [];
  try {
    const udpload = `${tmp}/udpload`;
    const reflector = `${tmp}/reflector`;
    for (
      const [out, src, extra] of [[udpload, "udpload.c", ["-pthread", "-lm"]], [
        reflector,
        "reflector.c",
        [],
      ]] as const
    ) {
      const r = await run("gcc", ["-O2", "-Wall", "-o", out, `${BENCH}/${src}`, ...extra], 120_000);
      if (r.code !== 0) throw new Error(`gcc ${src} failed:\n${r.stderr}`);
    }
    const hashes = `${tmp}/hashes.txt`;
    const dump = await run(udpload, ["--torrents", "10000", "--dump-hashes", hashes], 30_000);
    if (dump.code !== 0) throw new Error(`udpload --dump-hashes failed: ${dump.stderr}`);
    const hashList = (await Deno.readTextFile(hashes)).split("\n").filter((l) => l.length === 40);
    console.error(
      `workload: ${hashList.length} torrents (Pareto 2), 10000 peers, announce:scrape 9:1, numwant 50; ` +
        `${REPEATS} × (${WARMUP} s warm-up + ${DURATION} s), tracker on CPU 0, generator on CPU 1; hashes in ${hashes}`,
    );
    const tools = { udpload, hashes, hashList };
    const systems: System[] = [];

    if (!flags["no-reflector"]) {
      systems.push({
        name: "reflector",
        udp: true,
        http,
        count: false,
        start: async (u, h) => {
          const server = startServer(
            ["taskset", "-c", "0", reflector, "-i", HOST, "-u", String(u), "-t", String(h), "-d", "3600"],
            `${tmp}/reflector.log`,
          );
          await waitUDP(u, 5000, server);
          await waitHTTP(h, 5000, server);
          return { server, note: "generator ceiling" };
        },
      });
    }

    for (const transport of TRANSPORTS) {
      systems.push({
        name: "hayate",
        udp: true,
        http,
        count: true,
        start: async (u, h) => {
          const dir = `${tmp}/hayate-${transport}`;
          await Deno.mkdir(dir, { recursive: true });
          const server = await startHayate({
            dir,
            udpPort: u,
            httpPort: h,
            transport,
            // No collection during the sitting: it would run while other systems are measured.
            storageConfig: "      gc_interval: 1h\n      peer_lifetime: 2h\n",
          });
          const log = `${dir}/hayate.log`;
          const lines = (await Deno.readTextFile(log)).split("\n");
          const served = (frontend: string) => {
            const listening = lines.find((l) => l.includes(`${frontend} frontend listening`));
            console.error(`  ${listening?.trim()}`);
            return listening?.match(/transport[=:"\s]+(\w+)/)?.[1] ?? transport;
          };
          return { server, note: `udp ${served("udp")}, http ${served("http")}` };
        },
      });
    }

    if (http && !flags["no-hello"]) {
      const hello = `${tmp}/hello.ts`;
      await Deno.writeTextFile(
        hello,
        `const port = Number(Deno.args[0]);
Deno.serve({ hostname: "${HOST}", port, onListen() {} }, () => new Response("hello"));
`,
      );
      systems.push({
        name: "Deno.serve hello-world",
        udp: false,
        http: true,
        count: false,
        start: async (_u, h) => {
          const server = startServer(
            ["taskset", "-c", "0", Deno.execPath(), "run", "--allow-net", hello, String(h)],
            `${tmp}/hello.log`,
          );
          await waitHTTP(h, 20_000, server);
          return { server, note: "HTTP baseline" };
        },
      });
    }

    if (flags.opentracker) {
      if (!(await have("opentracker"))) {
        console.error("opentracker is not installed (apt-get install -y opentracker): skipping it");
      } else {
        const dir = `${tmp}/opentracker`;
        await Deno.mkdir(dir);
        await Deno.writeTextFile(`${dir}/whitelist.txt`, hashList.join("\n") + "\n");
        systems.push({
          name: "opentracker",
          udp: true,
          http,
          count: true,
          start: async (u, h) => {
            // -i must come before -p/-P; Debian's build is whitelist-only and IPv4-only.
            const server = startServer(
              [
                "taskset",
                "-c",
                "0",
                "opentracker",
                "-i",
                HOST,
                "-p",
                String(h),
                "-P",
                String(u),
                "-A",
                HOST,
                "-d",
                dir,
                "-w",
                "whitelist.txt",
              ],
              `${tmp}/opentracker.log`,
            );
            await waitUDP(u, 10_000, server);
            await waitHTTP(h, 10_000, server);
            return { server, note: "Debian build, closes HTTP connections" };
          },
        });
      }
    }
    rows.push(...await measureAll(systems, tools));
  } finally {
    killAll();
    if (!flags.keep) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    else console.error(`kept ${tmp}`);
  }

  const cpu =
    (await Deno.readTextFile("/proc/cpuinfo").catch(() => "")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
  const text = `${table(rows)}

${REPEATS} × ${DURATION} s after ${WARMUP} s warm-up (median), tracker pinned to CPU 0, generator to CPU 1; ` +
    `${Deno.build.arch} ${cpu}, ${new Date().toISOString().slice(0, 10)}, deno ${Deno.version.deno}.\n` +
    `UDP: udpload -W 128, 10k torrents (Pareto 2), 10k peers, announce:scrape 9:1, numwant 50. ` +
    `HTTP: wrk -t1 -c64 httpload.lua (same workload; "pre-drawn": httpload_predrawn.lua, the same requests drawn before wrk's clock starts). "peers stored" = seeders + leechers scraped after the runs; ` +
    `RSS growth / peer = (VmRSS after − VmRSS at start) / peers stored.\n`;
  console.log(text);
  if (flags.out) await Deno.writeTextFile(flags.out, text);
}

try {
  await main();
} catch (err) {
  console.error(`load test failed: ${(err as Error).message}`);
  killAll();
  Deno.exit(1);
}
Deno.exit(0);
