/**
 * Soak test: hayate (the real `main.ts`, pinned to CPU 0, memory store, FFI UDP)
 * under honest load at a fixed rate (udpload, BEP 15, the bench workload) mixed
 * with hostile traffic (random garbage datagrams, announces for random infohashes
 * with a valid connection ID, junk HTTP requests) for `--minutes`. Samples the
 * tracker's RSS every 10 s and prints it over time, with the honest load's error
 * counts and p99 latency, and whether memory stayed flat after the warm-up.
 *
 * ```sh
 * deno run --allow-all scripts/soak.ts --minutes 30 --rate 100000
 * ```
 *
 * Options: `--minutes M` (30), `--rate N` honest requests/s (100000, about half of
 * the measured capacity), `--hostile N` hostile datagrams/s (20000). Needs gcc and
 * taskset. Loopback only; every child is killed at exit.
 *
 * @module
 */
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import { freeTCPPort, freeUDPPort, HOST, procStatus, run, sleep, startServer, waitUDP } from "./lib/proc.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "100000" },
    hostile: { type: "string", default: "20000" },
  },
  strict: true,
}).values;
const SECONDS = Math.round(Number(flags.minutes) * 60);
const RATE = Number(flags.rate);
const HOSTILE = Number(flags.hostile);
const ROOT = new URL("..", import.meta.url).pathname;
const BENCH = new URL("../../shared/bench/", import.meta.url).pathname;

const tmp = await Deno.makeTempDir({ prefix: "hayate-soak-" });
const udpload = `${tmp}/udpload`;
const built = await run(
  "gcc",
  ["-O2", "-Wall", "-pthread", "-o", udpload, `${BENCH}/udpload.c`, "-lm"],
  120_000,
);
if (built.code !== 0) throw new Error(`gcc udpload.c failed (apt-get install -y gcc):\n${built.stderr}`);

const udpPort = freeUDPPort();
const httpPort = freeTCPPort();
const config = `${tmp}/hayate.yaml`;
// A short peer lifetime so that GC keeps removing the hostile swarms during the run.
await Deno.writeTextFile(
  config,
  `hayate:
  announce_interval: 30m
  http:
    addr: ${HOST}:${httpPort}
    enable_keepalive: true
    announce_routes: [/announce]
    scrape_routes: [/scrape]
  udp:
    addr: ${HOST}:${udpPort}
    private_key: soak-test-key
    transport: ffi
  storage:
    name: memory
    config:
      gc_interval: 30s
      peer_lifetime: 2m
`,
);
const server = startServer(
  ["taskset", "-c", "0", Deno.execPath(), "run", "--allow-all", `${ROOT}/main.ts`, "--config", config],
  `${tmp}/hayate.log`,
);
await waitUDP(udpPort, 20_000, server);
console.error(
  `soak: ${SECONDS} s, honest ${RATE}/s, hostile ${HOSTILE}/s; tracker pid ${server.pid}, logs in ${tmp}`,
);

// ---- hostile traffic, from this process (CPU 1 is shared with udpload)
const sock = createSocket("udp4");
await new Promise<void>((resolve) => sock.bind(0, HOST, () => resolve()));
let connectionID = new Uint8Array(8);
sock.on("message", (msg: Uint8Array) => {
  if (msg.length === 16 && msg[3] === 0) connectionID = msg.slice(8, 16);
});
const connect = () => {
  const p = new Uint8Array(16);
  p.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 9, 9, 9, 9]);
  sock.send(p, udpPort, HOST);
};
connect();
const refresh = setInterval(connect, 30_000);
let hostileSent = 0;
const junk = [
  "/announce?%zz",
  "/announce?info_hash=%ff",
  "/scrape?info_hash=short",
  "/nope",
  "/announce?" + "a=".repeat(3000),
];
const hostile = setInterval(() => {
  for (let k = 0; k < HOSTILE / 100; k++) {
    const garbage = k % 2 === 0;
    const p = new Uint8Array(garbage ? 1 + Math.floor(Math.random() * 200) : 98);
    crypto.getRandomValues(p);
    if (!garbage) {
      // A well-formed announce for a random infohash: a flood of new swarms.
      p.set(connectionID, 0);
      p.set([0, 0, 0, 1], 8);
      p.set([0, 0, 0, 2], 80);
      p.set([0xff, 0xff, 0xff, 0xff], 92);
      p[96] = 0x1a;
      p[97] = 0xe1;
    }
    sock.send(p, udpPort, HOST);
    hostileSent++;
  }
  const path = junk[Math.floor(Math.random() * junk.length)];
  fetch(`http://${HOST}:${httpPort}${path}`).then((r) => r.body?.cancel(), () => {});
}, 10);

// ---- RSS samples
const samples: { t: number; rss: number }[] = [];
const started = Date.now();
const sampler = setInterval(() => {
  const rss = procStatus(server.pid, "VmRSS");
  if (rss !== null) samples.push({ t: (Date.now() - started) / 1000, rss });
}, 10_000);

// ---- honest load: one long udpload run at a fixed rate
const honest = await run(
  "taskset",
  [
    "-c",
    "1",
    udpload,
    "-H",
    HOST,
    "-p",
    String(udpPort),
    "-d",
    String(SECONDS),
    "-w",
    "0",
    "-R",
    String(RATE),
    "-t",
    "10000",
    "-P",
    "10000",
    "-r",
    "9:1",
    "-n",
    "50",
    "-W",
    "128",
  ],
  (SECONDS + 60) * 1000,
);
clearInterval(hostile);
clearInterval(refresh);
clearInterval(sampler);
sock.close();
await sleep(200);
const alive = server.alive();
await server.stop();

const mib = (b: number) => (b / 1048576).toFixed(0);
console.log(`| minute | tracker RSS (MiB) |\n|---|---|`);
for (const s of samples.filter((_, i) => i % 6 === 5)) {
  console.log(`| ${(s.t / 60).toFixed(0)} | ${mib(s.rss)} |`);
}
// Warm-up: until the first hostile peers have expired and been collected (lifetime 2m + GC 30s).
const WARMUP = Math.max(SECONDS / 6, 180);
const warm = samples.filter((s) => s.t >= WARMUP);
if (warm.length > 1) {
  const first = warm[0].rss;
  const peak = Math.max(...warm.map((s) => s.rss));
  const last = warm[warm.length - 1].rss;
  console.log(
    `\nafter warm-up (${(WARMUP / 60).toFixed(0)} min): RSS ${mib(first)} MiB, peak ${mib(peak)}, end ${
      mib(last)
    } ` +
      `(${(((last - first) / first) * 100).toFixed(1)} % change)`,
  );
}
console.log(`honest load: ${honest.stdout.match(/udp: .*$/m)?.[0] ?? honest.stdout}`);
console.log(`${honest.stdout.match(/^errors: .*$/m)?.[0] ?? ""}`);
console.log(`${honest.stdout.match(/^latency ms: .*$/m)?.[0] ?? ""}`);
console.log(`hostile datagrams sent: ${hostileSent}; tracker alive at the end: ${alive}`);
await Deno.remove(tmp, { recursive: true });
