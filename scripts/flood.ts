/**
 * A flood of announces with random infohashes against the memory store with its
 * default limits (1M swarms, 250k peers per swarm, 4M peers: sized for a 1 GiB
 * host; when full, new swarms get `tracker is full`), while honest swarms keep
 * announcing and must keep getting exactly the right peers.
 *
 * By default over real sockets: starts hayate (`main.ts`, memory store, FFI UDP,
 * metrics on) pinned to CPU 0 and floods it over UDP with udpload (pinned to CPU 1,
 * this script too) in runs of about `--chunk` announces, each run with its own
 * seed, so its own `--torrents` infohashes (Pareto `--pareto` picks: most
 * announces of a run hit a swarm nobody announced before). Meanwhile every second
 * 3 honest swarms of 4 fixed peers each (a seeder and a leecher over UDP, the same
 * over HTTP) announce, and each reply must list exactly the other peers it should
 * (a seeder: the leechers; a leecher: everybody else) with the right addresses,
 * ports and counts. Prints announces sent, swarms and peers stored (`/metrics`),
 * refusals, the tracker's RSS against `--rss-bound` and the honest checks every
 * `--every` announces or 10 s; exits 1 if an honest check failed, the peak RSS
 * (VmHWM) went over the bound or the tracker died.
 *
 * ```sh
 * deno run --allow-all scripts/flood.ts 5000000                 # over sockets
 * deno run --allow-all scripts/flood.ts 5000000 --in-process    # through the hook chain only
 * ```
 *
 * Options: `--rss-bound MiB` (1024), `--chunk N` announces per udpload run
 * (50000), `--torrents N` infohashes per run (10000000), `--pareto F` (1),
 * `--every N` (1000000), `--transport ffi|deno` (ffi), `--keep` (keep the temp
 * dir with the tracker's log), `--verbose` (a line per udpload run). Needs gcc and taskset. Loopback only; every child
 * is killed at exit.
 *
 * `--in-process` runs the announces through the hook chain and MemoryStore in
 * this process and prints swarms, refusals, store bytes and RSS every `--every`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ManualClock } from "../src/clock.ts";
import { Context } from "../src/middleware/hook.ts";
import { bareLogic } from "../tests/helpers/fixtures.ts";
import { MEMORY_LIMIT_DEFAULTS, MemoryStore } from "../src/storage/memory/store.ts";
import { parseURLData } from "../src/bittorrent/params.ts";
import { UDPClient } from "../tests/helpers/udp_client.ts";
import { Honest, HONEST_SWARMS, honestPeers } from "./lib/honest.ts";
import { freeTCPPort, freeUDPPort, killAll, procStatus, run } from "./lib/proc.ts";
import { buildUdpload, parseUdpload, readMetrics, runUdpload, startHayate } from "./lib/tracker.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  options: {
    "in-process": { type: "boolean", default: false },
    "rss-bound": { type: "string", default: "1024" },
    chunk: { type: "string", default: "50000" },
    torrents: { type: "string", default: "10000000" },
    pareto: { type: "string", default: "1" },
    every: { type: "string", default: "1000000" },
    transport: { type: "string", default: "ffi" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
  },
  allowPositionals: true,
  strict: true,
});
const N = Number(positionals[0] ?? 5_000_000);
const EVERY = Number(flags.every);
const MiB = 2 ** 20;
const mib = (b: number | null) => (b === null ? "?" : (b / MiB).toFixed(0));
const n = (x: number) => x.toLocaleString("en-US");

// ---------------------------------------------------------------- in-process

function inProcess(): void {
  const store = new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 1_800_000,
    clock: new ManualClock(),
    ...MEMORY_LIMIT_DEFAULTS,
  });
  const logic = bareLogic(store);
  const params = parseURLData(new Uint8Array(0));
  let refused = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const ih = crypto.getRandomValues(new Uint8Array(20));
    const id = crypto.getRandomValues(new Uint8Array(20));
    const req = {
      infoHash: ih,
      peer: { id, ip: new Uint8Array([10, i >> 16 & 255, i >> 8 & 255, i & 255]), port: 6881 },
      event: 0,
      eventProvided: false,
      numWant: 50,
      numWantProvided: false,
      ipProvided: false,
      compact: true,
      noPeerID: false,
      left: 1,
      downloaded: 0,
      uploaded: 0,
      params,
    } as never;
    const ctx = new Context();
    try {
      const r = logic.handleAnnounce(ctx, req) as never;
      logic.afterAnnounce(ctx, req, r);
    } catch {
      refused++;
    }
    if ((i + 1) % EVERY === 0) {
      console.log(
        `${i + 1} announces: swarms ${store.stats().swarms}, refused ${refused}, store ${
          (store.bytes / MiB).toFixed(0)
        } MiB, rss ${(Deno.memoryUsage().rss / MiB).toFixed(0)} MiB, ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
    }
  }
  store.stop();
}

// ---------------------------------------------------------------- sockets

async function sockets(): Promise<number> {
  if (Deno.build.os !== "linux") throw new Error("the socket flood needs Linux (taskset, /proc)");
  const bound = Number(flags["rss-bound"]) * MiB;
  const chunk = Number(flags.chunk);
  const tmp = await Deno.makeTempDir({ prefix: "hayate-flood-" });
  const udpload = await buildUdpload(tmp);
  const udpPort = freeUDPPort();
  const httpPort = freeTCPPort();
  let metricsPort = freeTCPPort();
  while (metricsPort === httpPort) metricsPort = freeTCPPort();
  const server = await startHayate({ dir: tmp, udpPort, httpPort, metricsPort, transport: flags.transport });
  // This process (the honest clients, the samplers) shares CPU 1 with udpload.
  await run("taskset", ["-a", "-p", "-c", "1", String(Deno.pid)], 5000);
  const pid = server.pid;
  const startRSS = procStatus(pid, "VmRSS");
  console.log(
    `flood: ${n(N)} announces over UDP, random infohashes (udpload runs of ~${n(chunk)}, ${
      n(Number(flags.torrents))
    } infohashes each, Pareto ${flags.pareto}); tracker pid ${pid} on CPU 0 (memory store, default limits, ` +
      `udp ${flags.transport}), RSS at start ${mib(startRSS)} MiB, bound ${mib(bound)} MiB; logs in ${tmp}`,
  );

  const client = await UDPClient.open(udpPort);
  const honest = new Honest(honestPeers("flood"), client, httpPort);
  await honest.join();
  await honest.round();
  if (honest.fail > 0) {
    console.log(`honest check failed before the flood:\n  ${honest.failures.join("\n  ")}`);
  }
  honest.start(1000);

  let peakRSS = startRSS ?? 0;
  const sampler = setInterval(() => {
    const r = procStatus(pid, "VmRSS");
    if (r !== null) peakRSS = Math.max(peakRSS, r);
  }, 250);

  const total = { sent: 0, announces: 0, errors: 0, malformed: 0, timeouts: 0, runs: 0, udploadSeconds: 0 };
  const messages = new Set<string>();
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  let rate = 0;
  let nextPrint = EVERY;
  let lastPrint = 0;
  let fullAt: { sent: number; s: number } | null = null;
  const progress = async () => {
    const m = await readMetrics(metricsPort);
    const swarms = m?.get("chihaya_storage_infohashes_count") ?? NaN;
    const peers = (m?.get("chihaya_storage_seeders_count") ?? NaN) +
      (m?.get("chihaya_storage_leechers_count") ?? NaN);
    const rss = procStatus(pid, "VmRSS");
    if (rss !== null) peakRSS = Math.max(peakRSS, rss);
    console.log(
      `${n(total.sent).padStart(10)} sent  ${elapsed().toFixed(1).padStart(6)} s  swarms ${
        n(swarms)
      }  peers ${n(peers)}  refused ${n(total.errors)}  timeouts ${n(total.timeouts)}  RSS ${mib(rss)}/${
        mib(bound)
      } MiB  honest ${n(honest.pass)} ok ${honest.fail} failed`,
    );
    lastPrint = elapsed();
  };

  let alive = true;
  while (total.sent < N) {
    if (!server.alive()) {
      alive = false;
      break;
    }
    const left = N - total.sent;
    const seconds = rate > 0 ? Math.min(5, Math.max(0.1, Math.min(chunk, left) / rate)) : 0.5;
    const r = await runUdpload(udpload, udpPort, seconds, [
      "-r",
      "1:0",
      "-t",
      flags.torrents,
      "--pareto",
      flags.pareto,
      "-P",
      "64512",
      "--seed",
      String(0x5eed0000 + total.runs),
    ]);
    const s = parseUdpload(r.stdout, r.stderr);
    if (s === null) throw new Error(`udpload failed (code ${r.code}):\n${r.stdout}${r.stderr}`);
    total.runs++;
    total.sent += s.sent;
    total.announces += s.announces;
    total.errors += s.errors;
    total.malformed += s.malformed;
    total.timeouts += s.timeouts;
    total.udploadSeconds += s.seconds;
    if (s.errors > 0) messages.add(s.firstError);
    if (s.seconds > 0) rate = s.sent / s.seconds;
    if (flags.verbose) {
      console.log(
        `  udpload run ${total.runs}: -d ${
          seconds.toFixed(3)
        }: ${s.seconds} s, sent ${s.sent}, ${s.announces} peer lists, ${s.errors} errors, ${s.timeouts} timeouts`,
      );
    }
    if (fullAt === null) {
      const swarms = (await readMetrics(metricsPort))?.get("chihaya_storage_infohashes_count") ?? 0;
      if (swarms >= MEMORY_LIMIT_DEFAULTS.maxSwarms) fullAt = { sent: total.sent, s: elapsed() };
    }
    if (total.sent >= nextPrint || elapsed() - lastPrint >= 10 || total.sent >= N) {
      while (nextPrint <= total.sent) nextPrint += EVERY;
      await progress();
    }
  }
  const wall = elapsed();
  await honest.stop();
  await honest.round(); // one more after the flood
  clearInterval(sampler);
  const m = await readMetrics(metricsPort);
  const hwm = procStatus(pid, "VmHWM");
  const endRSS = procStatus(pid, "VmRSS");
  alive &&= server.alive();
  await client.close();
  await server.stop();

  const clientErrors = [...(m?.entries() ?? [])]
    .filter(([k]) =>
      k.startsWith("hayate_requests_total{") && k.includes(`protocol="udp"`) &&
      k.includes(`action="announce"`) && k.includes(`result="client_error"`)
    )
    .reduce((a, [, v]) => a + v, 0);
  const peak = Math.max(hwm ?? 0, peakRSS);
  console.log(`
announces sent: ${n(total.sent)} in ${wall.toFixed(1)} s (${n(Math.round(total.sent / wall))}/s overall, ${
    n(Math.round(total.sent / total.udploadSeconds))
  }/s while udpload ran; ${total.runs} udpload runs)
answered: ${n(total.announces)} peer lists, ${n(total.errors)} error replies (first message of each run: ${
    [...messages].map((t) => `"${t}"`).join(", ") || "none"
  }; tracker counted ${n(clientErrors)} UDP announce client errors), ${total.malformed} malformed, ${
    n(total.timeouts)
  } timeouts
store at the end: ${n(m?.get("chihaya_storage_infohashes_count") ?? NaN)} swarms, ${
    n((m?.get("chihaya_storage_seeders_count") ?? NaN) + (m?.get("chihaya_storage_leechers_count") ?? NaN))
  } peers${fullAt ? `; full (1M swarms) by ${n(fullAt.sent)} announces, ${fullAt.s.toFixed(1)} s` : ""}
tracker RSS: start ${mib(startRSS)} MiB, peak ${mib(peak)} MiB (VmHWM ${mib(hwm)}), end ${
    mib(endRSS)
  } MiB; bound ${mib(bound)} MiB
honest checks: ${n(honest.pass)} passed, ${honest.fail} failed over ${honest.rounds} rounds of ${
    HONEST_SWARMS * 4
  } announces (UDP and HTTP), slowest ${honest.maxMs.toFixed(0)} ms${
    honest.failures.length ? `\n  ${honest.failures.join("\n  ")}` : ""
  }
tracker alive at the end: ${alive}`);
  if (flags.keep) console.log(`kept ${tmp}`);
  else await Deno.remove(tmp, { recursive: true }).catch(() => {});

  const problems = [
    ...(honest.fail > 0 ? [`${honest.fail} honest checks failed`] : []),
    ...(peak > bound ? [`RSS peak ${mib(peak)} MiB is over the bound of ${mib(bound)} MiB`] : []),
    ...(!alive ? ["the tracker died"] : []),
    ...(total.malformed > 0 ? [`${total.malformed} malformed replies`] : []),
  ];
  console.log(problems.length ? `FAIL: ${problems.join("; ")}` : "PASS");
  return problems.length ? 1 : 0;
}

if (flags["in-process"]) {
  inProcess();
} else {
  let code = 1;
  try {
    code = await sockets();
  } catch (err) {
    console.error(`flood failed: ${(err as Error).message}`);
  } finally {
    killAll();
  }
  Deno.exit(code);
}
