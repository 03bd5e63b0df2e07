/** Starts a real tracker in-process on ephemeral loopback ports for black-box tests. */
import type { Config, HTTPConfig, HTTPTransport, UDPConfig } from "../../src/config/types.ts";
// The running runtime's sockets: Deno.listen/Deno.serve/Deno.listenDatagram, or Bun.listen/Bun.serve/node:dgram.
import { listenTCP, listenUDP, selectTCP, serveHTTP } from "../../src/frontend/bindings.ts";
import { ffiUnavailable } from "../../src/frontend/libc.ts";
import { isBun } from "../../src/runtime.ts";
import { silentLogger } from "../../src/log.ts";
import { Tracker } from "../../src/tracker.ts";

const ffiWhyNot = ffiUnavailable();

/**
 * The HTTP transports the black-box tests run on: epoll through FFI and
 * `Deno.listen` on Deno; on Bun its own `Bun.listen` (FFI skipped: it is Deno's).
 */
export const HTTP_TRANSPORTS: { transport: HTTPTransport; label: string; skip: string | false }[] = [
  {
    transport: "ffi",
    label: "ffi",
    skip: isBun
      ? "the epoll transport needs Deno's FFI (bun:ffi has no thread-pool calls); Bun serves HTTP on Bun.listen"
      : ffiWhyNot === null
      ? false
      : `the FFI transport is unavailable: ${ffiWhyNot}`,
  },
  { transport: "deno", label: isBun ? "bun" : "deno", skip: false },
];

/** The `http:` block tests start from. */
export function httpConfig(over: Partial<HTTPConfig> = {}): HTTPConfig {
  return {
    addr: "127.0.0.1:0",
    httpsAddr: "",
    tlsCertPath: "",
    tlsKeyPath: "",
    readTimeout: 2000,
    writeTimeout: 2000,
    idleTimeout: 30_000,
    maxConnections: 16384,
    maxConnectionsPerIP: 256,
    enableKeepalive: true,
    enableRequestTiming: false,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    allowIPSpoofing: false,
    realIPHeader: "",
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    allowFullScrape: false,
    transport: "auto",
    ...over,
  };
}

/** The `udp:` block tests start from: an ephemeral loopback port, a fixed key, the Deno transport. */
export function udpConfig(over: Partial<UDPConfig> = {}): UDPConfig {
  return {
    addr: "127.0.0.1:0",
    privateKey: "test key",
    privateKeyGenerated: false,
    maxClockSkew: 10_000,
    connectionIDLifetime: 120_000,
    enableRequestTiming: false,
    allowIPSpoofing: false,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    transport: "deno",
    ...over,
  };
}

/** A whole config with memory storage; `http` as given. */
export function testConfig(over: Partial<Config> = {}): Config {
  return {
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    metricsAddr: "",
    storage: { name: "memory", config: {}, where: "test" },
    prehooks: [],
    posthooks: [],
    ...over,
  };
}

/** Starts the tracker; `url(protocol)` gives the base URL of a bound frontend. */
export async function startTracker(config: Config) {
  const tracker = await Tracker.start(config, {
    runtime: { serveHTTP, listenTCP, listenUDP, selectTCP },
    log: silentLogger,
  });
  return {
    tracker,
    url(protocol: "http" | "https" = "http"): string {
      const a = tracker.address(protocol);
      if (a === undefined) throw new Error(`no ${protocol} frontend`);
      const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
      return `${protocol}://${host}:${a.port}`;
    },
    stop: () => tracker.stop(),
  };
}
