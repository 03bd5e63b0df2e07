/**
 * The hayate command line: reads the YAML config, starts the tracker, reloads it
 * on SIGUSR1 or SIGHUP (the peer store is kept), and stops it cleanly on
 * SIGINT/SIGTERM. `main.ts e2e` runs chihaya's end-to-end check against a running
 * tracker.
 *
 * ```sh
 * deno run --allow-net --allow-read --allow-env --allow-ffi main.ts --config config.example.yaml
 * deno run --allow-net main.ts e2e --httpaddr http://127.0.0.1:6969/announce --udpaddr udp://127.0.0.1:6969
 * ```
 *
 * `--allow-ffi` lets `udp.transport: auto` (the default) use the batched libc
 * `recvmmsg`/`sendmmsg` transport on Linux; without it UDP runs on
 * `Deno.listenDatagram`, and `udp.transport: ffi` refuses to start.
 *
 * The same file runs on Bun (`bun main.ts --config ...`, or a `bun build --compile`
 * binary): `src/runtime.ts` and `src/frontend/bindings.ts` pick the runtime's APIs
 * (`Bun.listen` for the HTTP server, `Bun.serve` for metrics, `node:dgram`; no FFI
 * transport).
 *
 * @module
 */
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import { parseDuration } from "./src/config/duration.ts";
import { loadConfig, parseHostPort } from "./src/config/load.ts";
import type { Config } from "./src/config/types.ts";
import { runE2E } from "./src/e2e.ts";
import { bindings } from "./src/frontend/bindings.ts";
import { Logger } from "./src/log.ts";
import { TrackerMetrics } from "./src/metrics/metrics.ts";
import { hookNames } from "./src/middleware/hook.ts";
import { storeNames } from "./src/storage/store.ts";
import { runtime as proc, type Signal } from "./src/runtime.ts";
import { type BoundAddress, type Runtime, Tracker } from "./src/tracker.ts";

const HELP = `hayate ${denoJson.version}: a BitTorrent tracker (chihaya-compatible)

Usage: hayate [--config PATH] [--debug] [--json] [--nocolors]
       hayate e2e [--httpaddr URL] [--udpaddr URL] [--delay 1s]

Signals: SIGINT/SIGTERM stop; SIGHUP (or SIGUSR1, as chihaya) reloads the config, keeping
the peers. Prefer SIGHUP: on SIGUSR1, Deno 2.9.2+ also opens its inspector on 127.0.0.1:9229.

Options:
  --config PATH   YAML config file (default /etc/hayate.yaml)
  --debug         log debug lines, including one per request
  --json          log JSON lines instead of text
  --nocolors      plain text logs (colours are also off when stderr is not a terminal)
  --help          show this help
  --version       print the version
`;

const E2E_HELP = `Usage: hayate e2e [--httpaddr URL] [--udpaddr URL] [--delay 1s]

Announces twice per protocol against a running tracker; the second announce must
see the first. Exits 0 when every protocol passes, 1 otherwise.

Options:
  --httpaddr URL  HTTP announce URL (default http://127.0.0.1:6969/announce; "" skips HTTP)
  --udpaddr URL   UDP tracker address (default udp://127.0.0.1:6969; "" skips UDP)
  --delay D       wait between the two announces (default 1s)
  --debug, --json, --nocolors as for the tracker
`;

function makeLogger(flags: { json: boolean; debug: boolean; nocolors: boolean }): Logger {
  return new Logger({
    json: flags.json,
    debug: flags.debug,
    colors: !flags.nocolors && proc.isTerminal(),
    sink: (line) => proc.writeStderr(line + "\n"),
  });
}

/** One datagram out, the first reply back (for `e2e`); node:dgram, so Deno and Bun alike. */
function udpExchange(host: string, port: number, packet: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
  const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
  const fail = (why: string) =>
    reject(new Error(`no UDP reply from ${host}:${port} within ${timeoutMs} ms (${why})`));
  const timer = setTimeout(() => fail("timed out"), timeoutMs);
  sock.on("error", (err) => fail(err.message));
  sock.once("message", (reply) => resolve(new Uint8Array(reply)));
  sock.send(packet, port, host, (err) => err && fail(err.message));
  return promise.finally(() => {
    clearTimeout(timer);
    try {
      sock.close();
    } catch {
      // already closed
    }
  });
}

async function e2e(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        httpaddr: { type: "string", default: "http://127.0.0.1:6969/announce" },
        udpaddr: { type: "string", default: "udp://127.0.0.1:6969" },
        delay: { type: "string", default: "1s" },
        debug: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        nocolors: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${E2E_HELP}`);
    return 2;
  }
  if (flags.help) {
    console.log(E2E_HELP);
    return 0;
  }
  const log = makeLogger(flags);
  let delayMs: number;
  try {
    delayMs = parseDuration(flags.delay);
  } catch (err) {
    log.error("e2e: bad --delay", { delay: flags.delay, error: (err as Error).message });
    return 2;
  }
  const failures = await runE2E({
    httpAddr: flags.httpaddr,
    udpAddr: flags.udpaddr,
    delayMs,
    udp: udpExchange,
    report: (protocol) => log.info("e2e: passed", { protocol }),
  });
  for (const f of failures) log.error("e2e: failed", { protocol: f.protocol, error: f.error });
  if (failures.length > 0) return 1;
  log.info("e2e: all checks passed");
  return 0;
}

/** Reads and validates the config file; throws with a message naming the key and line. */
async function readConfig(path: string, log: Logger): Promise<Config> {
  const text = await proc.readTextFile(path);
  const { config, warnings } = loadConfig(text, {
    path,
    env: proc.env(),
    knownStores: storeNames(),
    knownHooks: hookNames(),
  });
  for (const w of warnings) log.warn(w);
  return config;
}

/**
 * Carries what a reload must not change over from the running config: a
 * generated UDP key (connection IDs stay valid), and the real ports of addresses
 * that ask for port 0 and are unchanged (clients keep reaching the tracker).
 */
function carryOver(next: Config, prev: Config, running: Config, bound: readonly BoundAddress[]): Config {
  const keep = (addr: string, old: string, protocol: BoundAddress["protocol"]): string => {
    if (addr !== old || addr === "") return addr;
    const { hostname, port } = parseHostPort(addr);
    const b = bound.find((a) => a.protocol === protocol);
    if (port !== 0 || b === undefined) return addr;
    return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${b.port}`;
  };
  const out: Config = { ...next, metricsAddr: keep(next.metricsAddr, prev.metricsAddr, "metrics") };
  if (next.http !== undefined) {
    out.http = {
      ...next.http,
      addr: keep(next.http.addr, prev.http?.addr ?? "", "http"),
      httpsAddr: keep(next.http.httpsAddr, prev.http?.httpsAddr ?? "", "https"),
    };
  }
  if (next.udp !== undefined) {
    out.udp = { ...next.udp, addr: keep(next.udp.addr, prev.udp?.addr ?? "", "udp") };
    if (next.udp.privateKeyGenerated && running.udp?.privateKeyGenerated) {
      out.udp.privateKey = running.udp.privateKey;
    }
  }
  return out;
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "e2e") return await e2e(args.slice(1));
  let flags;
  try {
    flags = parseArgs({
      args,
      options: {
        config: { type: "string", default: "/etc/hayate.yaml" },
        debug: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        nocolors: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
        version: { type: "boolean", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.version) {
    console.log(`hayate ${denoJson.version}`);
    return 0;
  }
  const log = makeLogger(flags);
  const runtime: Runtime = bindings;
  // One set of metrics for the process: counters survive reloads.
  const metrics = new TrackerMetrics({ version: denoJson.version, memory: () => proc.memoryUsage() });
  metrics.startSampling();

  let tracker: Tracker;
  // As read from the file, and as running (with the ports port 0 got).
  let fileConfig: Config;
  let config: Config;
  try {
    config = fileConfig = await readConfig(flags.config, log);
    if (config.udp?.privateKeyGenerated) {
      log.warn("udp.private_key is not set: a random key was generated, so connection IDs change on restart");
    }
    tracker = await Tracker.start(config, { runtime, log, metrics });
  } catch (err) {
    metrics.stopSampling();
    log.error("failed to start", { error: (err as Error).message });
    return 1;
  }
  log.info("hayate started", { version: denoJson.version, config: flags.config });

  /**
   * Re-reads the config and restarts frontends, hooks and the metrics server on
   * the same store. A config that does not load is refused before anything stops;
   * one that loads but cannot start (a port in use, a hook failing) is rolled
   * back to the previous config.
   */
  const reload = async (signal: string): Promise<void> => {
    log.info("reloading config", { signal, config: flags.config });
    if (signal === "SIGUSR1" && proc.name === "deno") {
      log.warn(
        "SIGUSR1 also makes Deno (2.9.2 and later) open its inspector on 127.0.0.1:9229 for local users; " +
          "reload with SIGHUP instead",
      );
    }
    let read: Config, next: Config;
    try {
      read = await readConfig(flags.config, log);
      next = carryOver(read, fileConfig, config, tracker.addresses);
    } catch (err) {
      log.error("reload refused: the new config is invalid; still serving the previous one", {
        error: (err as Error).message,
      });
      return;
    }
    if (JSON.stringify(next.storage) !== JSON.stringify(config.storage)) {
      log.warn("reload: storage settings changed; they take effect on restart (the peer store is kept)");
    }
    const store = tracker.store;
    await tracker.stop(true);
    try {
      tracker = await Tracker.start(next, { runtime, log, store, metrics });
      config = next;
      fileConfig = read;
      log.info("config reloaded", { signal });
    } catch (err) {
      log.error("reload failed: the new config could not start; restoring the previous one", {
        error: (err as Error).message,
      });
      try {
        tracker = await Tracker.start(config, { runtime, log, store, metrics });
      } catch (again) {
        log.error("failed to restore the previous config; exiting", { error: (again as Error).message });
        proc.exit(1);
      }
    }
  };
  // Reloads run one after another, exactly one per signal received.
  let reloading = Promise.resolve();
  for (const s of ["SIGUSR1", "SIGHUP"] as const) {
    proc.onSignal(s, () => {
      reloading = reloading.then(() => reload(s));
    });
  }

  const { promise: stopping, resolve } = Promise.withResolvers<string>();
  const signals: Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) proc.onSignal(s, () => resolve(s));
  const signal = await stopping;
  log.info("shutting down", { signal });
  // A second signal, or a shutdown that hangs, must not keep the process alive.
  const deadline = setTimeout(() => {
    log.error("shutdown took too long; exiting");
    proc.exit(1);
  }, 5000);
  await reloading;
  await tracker.stop();
  metrics.stopSampling();
  clearTimeout(deadline);
  log.info("stopped");
  return 0;
}

if (import.meta.main) proc.exit(await main(proc.args));
