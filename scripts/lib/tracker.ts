/**
 * The pieces a socket-level script needs around the real tracker: building the C
 * load generator, starting `main.ts` pinned to a CPU on a generated loopback
 * config, reading udpload's summary and the tracker's `/metrics`.
 *
 * @module
 */
import { HOST, run, type RunResult, type Server, startServer, waitHTTP, waitUDP } from "./proc.ts";

/** ../shared/bench: udpload.c, httpload.lua, reflector.c. */
export const BENCH_DIR = new URL("../../../shared/bench/", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

/** Compiles `udpload.c` into `dir` and returns the binary's path. */
export async function buildUdpload(dir: string, benchDir = BENCH_DIR): Promise<string> {
  const out = `${dir}/udpload`;
  const r = await run(
    "gcc",
    ["-O2", "-Wall", "-pthread", "-o", out, `${benchDir}/udpload.c`, "-lm"],
    120_000,
  );
  if (r.code !== 0) throw new Error(`gcc udpload.c failed (apt-get install -y gcc):\n${r.stderr}`);
  return out;
}

export interface HayateOptions {
  /** Where the config and the log go. */
  dir: string;
  udpPort: number;
  httpPort: number;
  /** Turns the metrics server on. */
  metricsPort?: number;
  /** `udp.transport` and `http.transport`; ffi by default. */
  transport?: string;
  /** YAML under `storage.config`, indented by 6 spaces; none: the store's defaults. */
  storageConfig?: string;
  /** The CPU `taskset` pins the tracker to; 0 by default. */
  cpu?: number;
}

/** Writes a loopback config, starts `main.ts` on it and waits until UDP and HTTP answer. */
export async function startHayate(o: HayateOptions): Promise<Server> {
  const config = `${o.dir}/hayate.yaml`;
  const log = `${o.dir}/hayate.log`;
  await Deno.writeTextFile(
    config,
    `hayate:
  announce_interval: 30m
  min_announce_interval: 15m
  metrics_addr: "${o.metricsPort === undefined ? "" : `${HOST}:${o.metricsPort}`}"
  http:
    addr: ${HOST}:${o.httpPort}
    enable_keepalive: true
    transport: ${o.transport ?? "ffi"}
    announce_routes: [/announce]
    scrape_routes: [/scrape]
  udp:
    addr: ${HOST}:${o.udpPort}
    private_key: script-test-key
    transport: ${o.transport ?? "ffi"}
  storage:
    name: memory
${o.storageConfig ? `    config:\n${o.storageConfig}` : ""}`,
  );
  const server = startServer(
    [
      "taskset",
      "-c",
      String(o.cpu ?? 0),
      Deno.execPath(),
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      `${ROOT}/main.ts`,
      "--config",
      config,
      "--nocolors",
    ],
    log,
  );
  try {
    await waitUDP(o.udpPort, 20_000, server);
    await waitHTTP(o.httpPort, 20_000, server);
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}\n${await Deno.readTextFile(log).catch(() => "")}`);
  }
  return server;
}

/**
 * Runs udpload pinned to CPU 1 against `port` on the loopback for `seconds` (no
 * warm-up, numwant 50, 128 requests in flight), with `workload` flags on top
 * (rate, torrents, ratio, seed...), and waits for it with a minute to spare.
 */
export function runUdpload(
  udpload: string,
  port: number,
  seconds: number,
  workload: string[],
): Promise<RunResult> {
  return run("taskset", [
    "-c",
    "1",
    udpload,
    "-H",
    HOST,
    "-p",
    String(port),
    "-d",
    seconds.toFixed(3),
    "-w",
    "0",
    "-n",
    "50",
    "-W",
    "128",
    ...workload,
  ], (seconds + 60) * 1000);
}

/** One udpload run's totals. */
export interface UdploadSummary {
  seconds: number;
  sent: number;
  announces: number;
  scrapes: number;
  /** action 3 replies */
  errors: number;
  malformed: number;
  timeouts: number;
  /** The first error reply's message, if any. */
  firstError: string;
}

/** Reads udpload's summary lines; null when it printed none. */
export function parseUdpload(stdout: string, stderr: string): UdploadSummary | null {
  const m = stdout.match(
    /measured ([\d.]+) s: sent (\d+) requests .*responses: (\d+) announce \+ (\d+) scrape/,
  );
  const e = stdout.match(
    /errors: (\d+) error responses, (\d+) malformed, \d+ unmatched\/late, (\d+) timeouts/,
  );
  if (!m || !e) return null;
  return {
    seconds: Number(m[1]),
    sent: Number(m[2]),
    announces: Number(m[3]),
    scrapes: Number(m[4]),
    errors: Number(e[1]),
    malformed: Number(e[2]),
    timeouts: Number(e[3]),
    firstError: stderr.match(/first error response: "(.*)"/)?.[1] ?? "",
  };
}

/** The tracker's `/metrics` as series (name with labels, as written) → value; null when unreachable. */
export async function readMetrics(port: number): Promise<Map<string, number> | null> {
  try {
    const r = await fetch(`http://${HOST}:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await r.text();
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const sp = line.lastIndexOf(" ");
      out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
    return out;
  } catch {
    return null;
  }
}
