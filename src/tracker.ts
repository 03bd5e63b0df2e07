/**
 * Assembles a running tracker from a validated config: the peer store, the hook
 * chain and the frontends, bound through a runtime's listeners.
 *
 * @module
 */
import { CoarseClock } from "./clock.ts";
import type { Config, HTTPTransport, UDPTransport } from "./config/types.ts";
import { parseHostPort } from "./config/load.ts";
import { ErrRequestTooLong, HTTPFrontend } from "./frontend/http/frontend.ts";
import type { HTTPListener, ListenTCPOptions, ServeOptions } from "./frontend/http/deno.ts";
import { HTTPServer } from "./frontend/http/server.ts";
import { writeError } from "./frontend/http/writer.ts";
import type { ListenUDPOptions, UDPListener } from "./frontend/udp/deno.ts";
import { UDPFrontend } from "./frontend/udp/frontend.ts";
import { Activity } from "./frontend/activity.ts";
import type { Logger } from "./log.ts";
import { type Hook, hookDriver, hookNames } from "./middleware/hook.ts";
import { Logic } from "./middleware/logic.ts";
import { type PeerStore, storeDriver, storeNames } from "./storage/store.ts";
import type { RequestObserver, TrackerMetrics } from "./metrics/metrics.ts";
import { isClientError } from "./bittorrent/errors.ts";
import { metricsHandler } from "./metrics/server.ts";
import { observeUDP } from "./metrics/udp.ts";
import "./storage/memory/driver.ts";
import "./storage/redis/driver.ts";
import "./middleware/drivers.ts";

/**
 * How long the HTTP frontend must have been idle before UDP may keep the thread
 * for several batches. Much shorter, and UDP takes turns that HTTP needs: HTTP's
 * wake-ups land between UDP batches, so a turn without an HTTP request says little
 * (measured: with "none since the last batch", HTTP under a UDP flood fell from
 * 13k to 2k requests/s).
 */
const HTTP_QUIET_MS = 100;

/** The UDP transport a runtime picked for `udp.transport`. */
export interface UDPTransportChoice {
  /**
   * What serves UDP: `deno` (`Deno.listenDatagram` or a runtime's own), `dgram`
   * (`node:dgram`, on Bun) or `ffi` (batched libc calls).
   */
  transport: "ffi" | "deno" | "dgram";
  /** Why it was picked, for the log line. */
  reason: string;
  listen(opts: ListenUDPOptions): Promise<UDPListener>;
}

/** The TCP transport a runtime picked for `http.transport`. */
export interface TCPTransportChoice {
  /** What serves the HTTP server's connections: `ffi` (epoll through libc) or the runtime's own (`deno`). */
  transport: "ffi" | "deno";
  /** Why it was picked, for the log line. */
  reason: string;
  listen(opts: ListenTCPOptions): Promise<HTTPListener>;
}

/** The sockets a runtime offers the tracker. */
export interface Runtime {
  /** A fetch-style server: the metrics endpoints, and the tracker's HTTP where `listenTCP` is absent. */
  serveHTTP(opts: ServeOptions): Promise<HTTPListener>;
  /** Raw TCP/TLS streams for hayate's own HTTP server (connection caps, slowloris timeouts). */
  listenTCP?(opts: ListenTCPOptions): Promise<HTTPListener>;
  /**
   * Picks the transport for `http.transport` (auto|ffi|deno) of a listener (TLS or
   * not); throws, with what to do, when the requested one cannot run. Without it,
   * `listenTCP` serves `auto` and `deno`, and `ffi` is refused.
   */
  selectTCP?(requested: HTTPTransport, tls: boolean): TCPTransportChoice;
  /** Needed only when the config has a `udp:` block (and `selectUDP` is absent). */
  listenUDP?(opts: ListenUDPOptions): Promise<UDPListener>;
  /**
   * Picks the transport for `udp.transport` (auto|ffi|deno); throws, with what to
   * do, when the requested one cannot run. Without it, `listenUDP` serves `auto`
   * and `deno`, and `ffi` is refused.
   */
  selectUDP?(requested: UDPTransport): UDPTransportChoice;
}

/**
 * The transport of a runtime without a choice of its own (no `selectUDP` or
 * `selectTCP`): its one `listen`, for `auto` and `deno`; `ffi` is refused.
 */
function runtimeOwn<L>(key: string, requested: UDPTransport, listen: L) {
  if (requested === "ffi") {
    throw new Error(`${key} is ffi, but this runtime has no FFI transport; set ${key}: deno`);
  }
  return {
    transport: "deno" as const,
    reason: `${key} is ${requested}; the runtime has one transport`,
    listen,
  };
}

function chooseUDP(runtime: Runtime, requested: UDPTransport): UDPTransportChoice {
  if (runtime.selectUDP !== undefined) return runtime.selectUDP(requested);
  if (runtime.listenUDP === undefined) throw new Error("udp: this runtime cannot listen on UDP");
  return runtimeOwn("udp.transport", requested, runtime.listenUDP);
}

/** Undefined where the runtime has no raw TCP listener (the tracker then serves HTTP through `serveHTTP`). */
function chooseTCP(runtime: Runtime, requested: HTTPTransport, tls: boolean): TCPTransportChoice | undefined {
  if (runtime.selectTCP !== undefined) return runtime.selectTCP(requested, tls);
  const listen = runtime.listenTCP;
  const own = runtimeOwn("http.transport", requested, listen);
  return listen === undefined ? undefined : { ...own, listen };
}

/**
 * What frontends report each request to: the metrics, plus a debug line per
 * request when debug logging is on. The line has only static fields (protocol,
 * action, family, outcome, duration): never addresses, infohashes or tokens.
 */
function requestObserver(metrics: TrackerMetrics | undefined, log: Logger): RequestObserver | undefined {
  const record = metrics?.observe;
  if (!log.debugEnabled) return record;
  return (protocol, action, family, error, ms) => {
    record?.(protocol, action, family, error, ms);
    const outcome = error === undefined
      ? "ok"
      : typeof error === "string"
      ? `dropped: ${error}`
      : isClientError(error)
      ? error.message
      : "internal error";
    log.debug("request", {
      protocol,
      action,
      family: family === 0 ? "Unknown" : `IPv${family}`,
      outcome,
      ms: Math.round(ms * 1000) / 1000,
    });
  };
}

/** Where a frontend ended up listening (port 0 in the config becomes a real port). */
export interface BoundAddress {
  protocol: "http" | "https" | "udp" | "metrics";
  hostname: string;
  port: number;
}

/**
 * A running tracker.
 *
 * @example
 * ```ts
 * const tracker = await Tracker.start(config, { runtime: denoRuntime, log });
 * await tracker.stop();
 * ```
 */
export class Tracker {
  private constructor(
    readonly store: PeerStore,
    readonly logic: Logic,
    readonly addresses: BoundAddress[],
    private readonly listeners: (HTTPListener | UDPListener)[],
    private readonly log: Logger,
  ) {}

  /** Builds the store from `config.storage`; throws ConfigError on bad options. */
  static createStore(config: Config, log: Logger, metrics?: TrackerMetrics): PeerStore {
    const driver = storeDriver(config.storage.name);
    if (driver === undefined) {
      throw new Error(
        `storage.name: no storage driver "${config.storage.name}" (${config.storage.where}); known: ${
          storeNames().join(", ")
        }`,
      );
    }
    const warnings: string[] = [];
    const store = driver(config.storage.config, {
      where: config.storage.where,
      warnings,
      onGC: metrics === undefined ? undefined : (ms) => metrics.observeGC(ms),
      log: (level, msg, fields) => log.log(level, msg, fields),
    });
    for (const w of warnings) log.warn(w);
    return store;
  }

  /**
   * Starts the frontends on `store` (a fresh one from the config when omitted), and
   * the metrics server on `metrics_addr` when it is set and `metrics` is given. A
   * failure part-way stops what was started and rethrows.
   */
  static async start(
    config: Config,
    opts: { runtime: Runtime; log: Logger; store?: PeerStore; metrics?: TrackerMetrics },
  ): Promise<Tracker> {
    const { runtime, log, metrics } = opts;
    const observe = requestObserver(metrics, log);
    const store = opts.store ?? Tracker.createStore(config, log, metrics);
    // Every hook built so far, to stop (timers, fetches) if a later step fails.
    const built: Hook[] = [];
    const hooks = async (list: Config["prehooks"], kind: string): Promise<Hook[]> => {
      const out: Hook[] = [];
      for (const [i, h] of list.entries()) {
        const driver = hookDriver(h.name);
        if (driver === undefined) {
          throw new Error(
            `${kind}[${i}].name: no hook "${h.name}" (${h.where}); known: ${hookNames().join(", ")}`,
          );
        }
        const warnings: string[] = [];
        const hook = await driver(h.options, {
          where: `${kind}[${i}].options`,
          warnings,
          log: (level, msg, fields) => log.log(level, msg, fields),
        });
        out.push(hook);
        built.push(hook);
        for (const w of warnings) log.warn(w);
      }
      return out;
    };
    const listeners: (HTTPListener | UDPListener)[] = [];
    const addresses: BoundAddress[] = [];
    // Once no HTTP request has come for HTTP_QUIET_MS, the UDP transport may answer
    // several batches per turn of the event loop (see `drainWhile`).
    const httpActivity = new Activity(HTTP_QUIET_MS);
    let logic: Logic | undefined;
    try {
      await store.open?.();
      logic = new Logic({
        announceInterval: config.announceInterval,
        minAnnounceInterval: config.minAnnounceInterval,
        store,
        prehooks: await hooks(config.prehooks, "prehooks"),
        posthooks: await hooks(config.posthooks, "posthooks"),
        log,
        lbryMode: config.lbryMode,
        seedersSeeSeeders: config.seedersSeeSeeders,
      });
      const allowZeroPort = config.lbryMode === true;
      if (config.http !== undefined) {
        const http = config.http;
        const swarms = store.swarms?.bind(store);
        if (http.allowFullScrape && swarms === undefined) {
          log.warn("http.allow_full_scrape: this storage cannot list swarms; full scrape stays off", {
            storage: config.storage.name,
          });
        }
        const frontend = new HTTPFrontend({
          ...http,
          allowZeroPort,
          logic,
          log,
          observe,
          fullScrape: http.allowFullScrape && swarms ? (family) => swarms(family) : undefined,
        });
        const onError = (err: unknown) => log.error("http server error", { error: err });
        const binds: { protocol: "http" | "https"; addr: string }[] = [];
        if (http.addr !== "") binds.push({ protocol: "http", addr: http.addr });
        if (http.httpsAddr !== "") binds.push({ protocol: "https", addr: http.httpsAddr });
        for (const b of binds) {
          const { hostname, port } = parseHostPort(b.addr);
          const where = {
            hostname: hostname === "" ? "0.0.0.0" : hostname,
            port,
            tls: b.protocol === "https"
              ? { certPath: http.tlsCertPath, keyPath: http.tlsKeyPath }
              : undefined,
            onError,
          };
          let l: HTTPListener;
          const choice = chooseTCP(runtime, http.transport, where.tls !== undefined);
          if (choice !== undefined) {
            const server = new HTTPServer({
              ...http,
              keepAlive: http.enableKeepalive,
              handler: (head, remote, frame) => {
                httpActivity.mark();
                return frontend.answer(head, remote, frame);
              },
              tooLong: writeError(ErrRequestTooLong.message),
              onError,
            });
            const socket = await choice.listen({
              ...where,
              accept: (s, remote) => server.accept(s, remote),
            })
              .catch(async (err) => {
                await server.close();
                throw err;
              });
            l = {
              hostname: socket.hostname,
              port: socket.port,
              close: () => socket.close().then(() => server.close()),
            };
          } else {
            l = await runtime.serveHTTP({
              ...where,
              handler: (req, remote) => {
                httpActivity.mark();
                return frontend.fetch(req, remote);
              },
            });
          }
          listeners.push(l);
          addresses.push({ protocol: b.protocol, hostname: l.hostname, port: l.port });
          log.info("http frontend listening", {
            protocol: b.protocol,
            addr: `${l.hostname}:${l.port}`,
            transport: choice?.transport ?? "fetch",
            ...(choice && { reason: choice.reason }),
          });
        }
      }
      if (config.udp !== undefined) {
        const choice = chooseUDP(runtime, config.udp.transport);
        // Connection IDs need whole seconds: a coarse clock spares a Date.now() per packet.
        const clock = new CoarseClock();
        const frontend = new UDPFrontend({ ...config.udp, allowZeroPort, logic, log, clock });
        // "" (all interfaces) is left to the runtime: dual-stack "::" where the host has IPv6.
        const { hostname, port } = parseHostPort(config.udp.addr);
        const handle = frontend.handle.bind(frontend);
        const socket = await choice.listen({
          hostname,
          port,
          handler: observe ? observeUDP(handle, observe, config.udp.enableRequestTiming) : handle,
          drainWhile: () => httpActivity.quiet(),
          onError: (err) => log.error("udp socket error", { error: err }),
        }).catch((err) => {
          clock.stop();
          throw err;
        });
        const l: UDPListener = { ...socket, close: () => socket.close().finally(() => clock.stop()) };
        listeners.push(l);
        addresses.push({ protocol: "udp", hostname: l.hostname, port: l.port });
        log.info("udp frontend listening", {
          addr: `${l.hostname}:${l.port}`,
          transport: choice.transport,
          reason: choice.reason,
        });
      }
      if (metrics !== undefined && config.metricsAddr !== "") {
        const { hostname, port } = parseHostPort(config.metricsAddr);
        const handler = metricsHandler({ metrics, store });
        const l = await runtime.serveHTTP({
          hostname: hostname === "" ? "0.0.0.0" : hostname,
          port,
          handler: (req) => handler(req),
          onError: (err) => log.error("metrics server error", { error: err }),
        });
        listeners.push(l);
        addresses.push({ protocol: "metrics", hostname: l.hostname, port: l.port });
        log.info("metrics server listening", { addr: `${l.hostname}:${l.port}` });
      }
    } catch (err) {
      await Promise.allSettled(listeners.map((l) => l.close()));
      if (logic !== undefined) await logic.stop();
      else await Promise.allSettled(built.map(async (h) => await h.stop?.()));
      if (opts.store === undefined) await store.stop();
      throw err;
    }
    return new Tracker(store, logic, addresses, listeners, log);
  }

  /** The first bound address of a protocol, for tests and the CLI. */
  address(protocol: BoundAddress["protocol"]): BoundAddress | undefined {
    return this.addresses.find((a) => a.protocol === protocol);
  }

  /**
   * Stops the frontends (in-flight requests finish) and the hooks; the store too
   * unless `keepStore` (a reload keeps the peers).
   */
  async stop(keepStore = false): Promise<void> {
    await Promise.allSettled(this.listeners.map((l) => l.close()));
    await this.logic.stop();
    if (!keepStore) await this.store.stop();
    this.log.debug("tracker stopped", { keepStore });
  }
}
