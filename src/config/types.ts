/**
 * The validated configuration the tracker runs on. Durations are milliseconds.
 * YAML keys are chihaya's (snake_case); these are their camelCase forms.
 *
 * @module
 */

/** A hook entry of `prehooks` / `posthooks`. */
export interface HookConfig {
  name: string;
  options: Record<string, unknown>;
  /** Where the entry stands, for error messages: `file:line`. */
  where: string;
  /**
   * Dotted path of `options`, e.g. `prehooks[0].options`, for messages of an
   * `OptionsReader` built on it. Set by the loader.
   */
  path?: string;
}

/** The `http:` block. */
export interface HTTPConfig {
  addr: string;
  httpsAddr: string;
  tlsCertPath: string;
  tlsKeyPath: string;
  readTimeout: number;
  writeTimeout: number;
  idleTimeout: number;
  /** `max_connections` (hayate only): open HTTP connections in all; more are closed at accept. */
  maxConnections: number;
  /** `max_connections_per_ip` (hayate only): open connections per address, IPv6 per /64. */
  maxConnectionsPerIP: number;
  enableKeepalive: boolean;
  enableRequestTiming: boolean;
  announceRoutes: string[];
  scrapeRoutes: string[];
  allowIPSpoofing: boolean;
  realIPHeader: string;
  maxNumWant: number;
  defaultNumWant: number;
  maxScrapeInfoHashes: number;
  /**
   * `allow_full_scrape` (hayate only; opentracker's feature): a scrape without
   * `info_hash` lists every swarm of the client's address family. Default false.
   */
  allowFullScrape: boolean;
  /**
   * How connections are driven (hayate only, `http.transport`): `ffi` runs them on
   * epoll through libc (Linux glibc 64-bit, plain HTTP), `deno` uses `Deno.listen`,
   * `auto` picks `ffi` where it is available. HTTPS always uses `Deno.listenTls`.
   */
  transport: HTTPTransport;
}

/** Values of `http.transport`: those of `udp.transport`. */
export type HTTPTransport = UDPTransport;

/** The `udp:` block. */
export interface UDPConfig {
  addr: string;
  /** HMAC key for connection IDs; generated at start when absent. Never log it. */
  privateKey: string;
  privateKeyGenerated: boolean;
  maxClockSkew: number;
  connectionIDLifetime: number;
  enableRequestTiming: boolean;
  allowIPSpoofing: boolean;
  maxNumWant: number;
  defaultNumWant: number;
  maxScrapeInfoHashes: number;
  /**
   * How the socket is driven (hayate only, `udp.transport`): `ffi` calls libc
   * `recvmmsg`/`sendmmsg` (Linux glibc 64-bit), `deno` uses `Deno.listenDatagram`,
   * `auto` picks `ffi` where it is available.
   */
  transport: UDPTransport;
}

/**
 * Values of `udp.transport`.
 *
 * @example
 * ```ts
 * const t: UDPTransport = "auto";
 * ```
 */
export type UDPTransport = "auto" | "ffi" | "deno";

/** The `storage:` block; `config` is handed to the named store, which validates it. */
export interface StorageConfig {
  name: string;
  config: Record<string, unknown>;
  where: string;
  /** Dotted path of `config` (`storage.config`) for an `OptionsReader`'s messages. Set by the loader. */
  path?: string;
}

/** The whole `chihaya:` (or `hayate:`) block. */
export interface Config {
  announceInterval: number;
  minAnnounceInterval: number;
  metricsAddr: string;
  /** Absent when the file has no `http:` block. */
  http?: HTTPConfig;
  udp?: UDPConfig;
  storage: StorageConfig;
  prehooks: HookConfig[];
  posthooks: HookConfig[];
  /**
   * `lbry_mode` (LBRY's fork, "anonymous mode"): port 0 is accepted, and an
   * announce with a port below 100 is answered but never stored. Absent means false.
   */
  lbryMode?: boolean;
  /**
   * `seeders_see_seeders`: a seeder that finds no leechers is given other seeders.
   * Absent means false (chihaya: seeders get leechers only).
   */
  seedersSeeSeeders?: boolean;
}
