/**
 * Soak test: hayate (the real `main.ts`, pinned to CPU 0, memory store, FFI UDP)
 * under honest load at a fixed rate (udpload, BEP 15, the bench workload) mixed
 * with hostile traffic for `--minutes`: random garbage datagrams, announces for
 * random infohashes with a valid connection ID and junk HTTP requests (sent by
 * scripts/hostile.ts in its own process), and slowloris
 * connections that trickle a request head a byte at a time. Honest swarms announce
 * over UDP and HTTP every second and each reply is checked (scripts/lib/honest.ts).
 * Samples the tracker's RSS every 10 s and prints it over time, the honest load's
 * error counts (by message, from /metrics) and p99 latency, how the slowloris
 * connections were cut, and whether memory stayed flat after the warm-up. Exits 1
 * when an honest check failed or the tracker died.
 *
 * ```sh
 * deno run --allow-all scripts/soak.ts --minutes 30 --rate 100000
 * ```
 *
 * Prints a line a minute as it goes, then the summary. Options: `--minutes M` (30), `--rate N` honest requests/s (100000, about half of
 * the measured capacity), `--hostile N` hostile datagrams/s (20000), `--slowloris N`
 * connections kept trickling (64). Needs gcc and taskset. Loopback only; every child
 * is killed at exit.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UDPClient } from "../tests/helpers/udp_client.ts";
import { Honest, honestPeers } from "./lib/honest.ts";
import { freeTCPPort, freeUDPPort, HOST, killAll, procStatus, sleep, startServer } from "./lib/proc.ts";
import { buildUdpload, readMetrics, runUdpload, startHayate } from "./lib/tracker.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "100000" },
    hostile: { type: "string", default: "20000" },
    slowloris: { type: "string", default: "64" },
  },
  strict: true,
}).values;
const SECONDS = Math.round(Number(flags.minutes) * 60);
const RATE = Number(flags.rate);
const HOSTILE = Number(flags.hostile);
const SLOWLORIS = Number(flags.slowloris);

const tmp = await Deno.makeTempDir({ prefix: "hayate-soak-" });
const udpload = await buildUdpload(tmp);
const udpPort = freeUDPPort();
const httpPort = freeTCPPort();
let metricsPort = freeTCPPort();
while (metricsPort === httpPort) metricsPort = freeTCPPort();
// A short peer lifetime so that GC keeps removing the hostile swarms during the run.
const server = await startHayate({
  dir: tmp,
  udpPort,
  httpPort,
  metricsPort,
  storageConfig: "      gc_interval: 30s\n      peer_lifetime: 2m\n",
});
console.error(
  `soak: ${SECONDS} s, honest ${RATE}/s, hostile ${HOSTILE}/s, slowloris ${SLOWLORIS}; tracker pid ${server.pid}, logs in ${tmp}`,
);

// ---- honest swarms, checked every second
const client = await UDPClient.open(HOST, udpPort);
const honestSwarms = new Honest(honestPeers("soak"), client, httpPort);
await honestSwarms.join();
honestSwarms.start(1000);

// ---- slowloris: connections that send a request head one byte every 500 ms
const trickle = new TextEncoder().encode(
  "GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1 HTTP/1.1\r\nHost: x\r\n",
);
let slowCut = 0;
let slowLongest = 0;
let slowCompleted = 0;
let slowRefused = 0;
let slowStop = false;
const slow = Array.from({ length: SLOWLORIS }, async () => {
  while (!slowStop) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: HOST, port: httpPort });
    } catch {
      // Refused at connect (not cut): count it and back off, so a failing connect cannot spin.
      slowRefused++;
      await sleep(100);
      continue;
    }
    const t0 = Date.now();
    try {
      for (let i = 0; !slowStop; i = (i + 1) % trickle.length) {
        await conn.write(trickle.subarray(i, i + 1));
        await sleep(500);
        // The server answers nothing before the head ends; a failed write is the cut.
        if (i === trickle.length - 1) slowCompleted++;
      }
    } catch {
      slowCut++;
      slowLongest = Math.max(slowLongest, Date.now() - t0);
    } finally {
      // Every connection is closed here, cut or not: a leaked fd per cut filled the
      // fd table after ~20 minutes and then the failing connects starved the event loop.
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
});
// ---- hostile traffic, from its own process so that this one's event loop stays free for sampling
const hostileProc = startServer([
  Deno.execPath(),
  "run",
  "--allow-net",
  new URL("./hostile.ts", import.meta.url).pathname,
  "--udp-port",
  String(udpPort),
  "--http-port",
  String(httpPort),
  "--rate",
  String(HOSTILE),
], `${tmp}/hostile.log`);
/** The hostile sender's last report ("hostile: sent N datagrams, M http"). */
const hostileReport = () => {
  const lines = Deno.readTextFileSync(hostileProc.log).trim().split("\n");
  return lines.findLast((l) => l.startsWith("hostile: ")) ?? "hostile: no report yet";
};

// ---- RSS samples
const samples: { t: number; rss: number }[] = [];
const started = Date.now();
let reported = 0;
const sampler = setInterval(() => {
  const rss = procStatus(server.pid, "VmRSS");
  if (rss === null) return;
  const t = (Date.now() - started) / 1000;
  samples.push({ t, rss });
  // A line a minute as it goes, so a run cut short still leaves its figures.
  if (samples.length % 6 === 0) {
    console.log(
      `${(t / 60).toFixed(1)} min: RSS ${
        (rss / 1048576).toFixed(0)
      } MiB; honest checks ${honestSwarms.pass} ok, ` +
        `${honestSwarms.fail} failed; slowloris cut ${slowCut}; ${hostileReport()}; ` +
        `this script's open fds ${[...Deno.readDirSync("/proc/self/fd")].length}`,
    );
  }
  // Failures as they happen, with the time, so that they can be matched with the tracker's log.
  for (; reported < honestSwarms.failures.length; reported++) {
    console.log(`${(t / 60).toFixed(1)} min: honest check failed: ${honestSwarms.failures[reported]}`);
  }
}, 10_000);

// ---- honest load: one long udpload run at a fixed rate
const honest = await runUdpload(udpload, udpPort, SECONDS, [
  "-R",
  String(RATE),
  "-t",
  "10000",
  "-P",
  "10000",
  "-r",
  "9:1",
]);
await hostileProc.stop();
const hostileTotals = hostileReport();
clearInterval(sampler);
slowStop = true;
// The teardown of the checkers is bounded: a stuck one must not hold back the report.
await Promise.race([honestSwarms.stop().then(() => client.close()), sleep(5000)]);
const metrics = await readMetrics(metricsPort);
await sleep(200);
const alive = server.alive();
const peakRSS = procStatus(server.pid, "VmHWM");
await server.stop();
// What the tracker logged at warn or error level over the run (the log goes with the temp dir).
const trackerLog = (await Deno.readTextFile(server.log).catch(() => "")).split("\n");
const complaints = trackerLog.filter((l) => / (WARN|ERROR) /.test(l));
await Promise.race([Promise.all(slow), sleep(2000)]);

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
console.log(`udpload: ${honest.stderr.match(/first error response: .*$/m)?.[0] ?? "no error responses"}`);
// Every client error the tracker answered, by protocol, action and message (the hostile traffic's included).
const errors = [...(metrics ?? new Map<string, number>())]
  .filter(([k, v]) =>
    k.includes("_response_duration_milliseconds_count{") && v > 0 && !k.includes('error=""')
  )
  .map(([k, v]) => `  ${k.slice("chihaya_".length, k.indexOf("_response"))} ${k.slice(k.indexOf("{"))} ${v}`);
console.log(`error replies by kind (all traffic):\n${errors.join("\n") || "  none"}`);
console.log(
  `honest swarms: ${honestSwarms.pass} checks passed, ${honestSwarms.fail} failed over ${honestSwarms.rounds} rounds, ` +
    `slowest ${honestSwarms.maxMs.toFixed(0)} ms${
      honestSwarms.failures.length ? `\n  ${honestSwarms.failures.join("\n  ")}` : ""
    }`,
);
console.log(
  `slowloris: ${slowCut} connections cut by the server (longest lived ${
    (slowLongest / 1000).toFixed(1)
  } s), ` +
    `${slowCompleted} heads completed, ${slowRefused} connects refused`,
);
console.log(`${hostileTotals}; tracker alive at the end: ${alive}`);
console.log(
  `tracker peak RSS (VmHWM) ${peakRSS === null ? "unknown" : `${mib(peakRSS)} MiB`}; ` +
    `${complaints.length} warning/error lines in its log${
      complaints.length ? `, the first: ${complaints[0]}` : ""
    }`,
);
await Deno.remove(tmp, { recursive: true });
killAll();
Deno.exit(honestSwarms.fail === 0 && alive ? 0 : 1);
