/**
 * Loads chihaya's YAML configuration into a validated {@link Config}.
 *
 * Same keys and defaults as chihaya, so an existing chihaya file works as is;
 * the differences are stricter checks at startup (a bad address or a missing
 * `announce_interval` fails now, not at the first announce), warnings for
 * unknown keys, and `$VAR` expansion in values. The caller reads the file and
 * passes its text and environment, which keeps this module free of runtime APIs.
 *
 * @module
 */

import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from "yaml";
import {
  closestMatch,
  ConfigError,
  describeValue,
  joinPath,
  OptionsReader,
  type SourceInfo,
  sourceOf,
  tagSource,
} from "./options.ts";
import type {
  Config,
  HookConfig,
  HTTPConfig,
  HTTPTransport,
  StorageConfig,
  UDPConfig,
  UDPTransport,
} from "./types.ts";

/**
 * Options of {@link loadConfig}.
 *
 * @example
 * ```ts
 * const opts: LoadOptions = { path: "config.yaml", env: Deno.env.toObject(), knownStores: ["memory"] };
 * ```
 */
export interface LoadOptions {
  /** The file name used in messages (`config.yaml:12`). */
  path: string;
  /** Variables for `$VAR` / `${VAR}` in values; usually `Deno.env.toObject()` or `process.env`. */
  env?: Record<string, string | undefined>;
  /** Registered storage driver names; when given, `storage.name` must be one of them. */
  knownStores?: string[];
  /** Registered middleware names; when given, every hook `name` must be one of them. */
  knownHooks?: string[];
}

/**
 * What {@link loadConfig} returns: the config and the non-fatal findings to log.
 *
 * @example
 * ```ts
 * const { config, warnings }: LoadResult = loadConfig(text, { path: "config.yaml" });
 * ```
 */
export interface LoadResult {
  config: Config;
  /** One line each, naming the dotted key and `file:line`. Log them at WARN. */
  warnings: string[];
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/**
 * chihaya's code defaults (section 3 of the reference), plus hayate's own keys.
 * `max_clock_skew` is 0 in chihaya; we default to 10 s, the value of chihaya's
 * example config, because a zero skew rejects connection IDs from clients whose
 * clock runs a little ahead (chihaya issues #416/#417).
 *
 * @example
 * ```ts
 * DEFAULTS.http.readTimeout; // 2000
 * ```
 */
export const DEFAULTS = {
  http: {
    readTimeout: 2 * SECOND,
    writeTimeout: 2 * SECOND,
    idleTimeout: 30 * SECOND,
    maxConnections: 16384,
    maxConnectionsPerIP: 256,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    transport: "auto" as HTTPTransport,
  },
  udp: {
    maxClockSkew: 10 * SECOND,
    connectionIDLifetime: 2 * MINUTE,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    transport: "auto" as UDPTransport,
  },
} as const;

/**
 * A UDP scrape is read into a 2048-byte buffer (as in chihaya): a 16-byte header
 * plus 20 bytes per infohash, so at most ⌊(2048 − 16) / 20⌋ = 101 fit.
 */
const UDP_MAX_SCRAPE = 101;

/**
 * A UDP reply must fit in one datagram (65,507 bytes over IPv4): 20 header bytes
 * plus 18 bytes per IPv6 peer allows ⌊(65507 − 20) / 18⌋ = 3638 peers.
 */
const UDP_MAX_NUMWANT = 3638;

const TRANSPORTS: readonly UDPTransport[] = ["auto", "ffi", "deno"];

/** `transport` of the `http:` or `udp:` block. */
function readTransport(r: OptionsReader, fallback: UDPTransport): UDPTransport {
  const transport = r.string("transport", fallback);
  if (!(TRANSPORTS as readonly string[]).includes(transport)) {
    throw r.error(
      "transport",
      `${JSON.stringify(transport)} is not a transport; use auto (the default), ffi or deno`,
    );
  }
  return transport as UDPTransport;
}

/** chihaya's `dist/example_config.yaml` placeholder; running with it means a guessable key. */
const CHIHAYA_PLACEHOLDER_KEY = "paste a random string here that will be used to hmac connection IDs";

/**
 * Parses and validates a chihaya-style YAML config.
 *
 * The tracker settings live under the top-level key `chihaya:` (`hayate:` is
 * accepted as an alias). Errors throw {@link ConfigError} with the dotted key and
 * `file:line`; unknown keys, deprecated spellings and default fallbacks are
 * returned as warnings instead, so a config written for chihaya still starts.
 *
 * @throws {ConfigError} on YAML syntax errors and invalid or missing settings.
 * @example
 * ```ts
 * const text = await Deno.readTextFile("config.yaml");
 * const { config, warnings } = loadConfig(text, {
 *   path: "config.yaml",
 *   env: Deno.env.toObject(),
 *   knownStores: ["memory"],
 *   knownHooks: ["jwt", "client approval"],
 * });
 * for (const w of warnings) console.warn(w);
 * config.http?.addr; // "0.0.0.0:6969"
 * ```
 */
export function loadConfig(text: string, opts: LoadOptions): LoadResult {
  const file = opts.path;
  const warnings: string[] = [];
  const lines = new LineCounter();
  // YAML 1.1 because chihaya reads the file with gopkg.in/yaml.v2, which is 1.1:
  // `yes`/`on` are booleans and `010` is octal there, so they must be here too.
  const doc = parseDocument(text, {
    lineCounter: lines,
    version: "1.1",
    prettyErrors: false,
    uniqueKeys: true,
  });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 0 : lines.linePos(offset).line);

  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : "";
    throw new ConfigError(
      `YAML syntax error: ${e.message} at column ${pos.col}${more} (${file}:${pos.line})`,
    );
  }
  for (const w of doc.warnings) warnings.push(`YAML: ${w.message} (${file}:${lineOf(w.pos[0])})`);

  const converter = new Converter(doc, file, opts.env ?? {}, lineOf, warnings);
  const root = doc.contents;
  const expected = "put the tracker settings under a top-level chihaya: key (hayate: is accepted too), " +
    "as in config.example.yaml";
  if (root === null || (isScalar(root) && root.value === null)) {
    throw new ConfigError(`${file}: the file is empty; ${expected}`);
  }
  if (!isMap(root)) {
    throw new ConfigError(
      `${file}: expected a map at the top level, got ${kindOf(root)}; ${expected} (${file}:1)`,
    );
  }

  let block: { node: unknown; key: string; line: number } | undefined;
  for (const pair of root.items) {
    const key = converter.keyText(pair.key);
    const line = lineOf(nodeRange(pair.key)?.[0]);
    if (key === "chihaya" || key === "hayate") {
      if (block) {
        throw new ConfigError(
          `${key}: found both ${block.key}: and ${key}: at the top level; they are aliases, keep only one ` +
            `(${file}:${line})`,
        );
      }
      block = { node: pair.value, key, line };
    } else {
      warnings.push(
        `unknown key ${key} (${file}:${line}) is ignored; tracker settings go under chihaya:` +
          (closestMatch(key, ["chihaya", "hayate"])
            ? `, did you mean ${closestMatch(key, ["chihaya", "hayate"])}?`
            : ""),
      );
    }
  }
  if (!block) throw new ConfigError(`missing top-level key chihaya: (${file}:1); ${expected}`);

  // The block's keys get paths without a `chihaya.` prefix: messages say
  // `http.addr`, the way people talk about the settings.
  const value = converter.convert(block.node as Node | null, "", block.line);
  if (value === null) {
    throw new ConfigError(
      `${block.key}: is empty; add at least announce_interval and storage under it (${file}:${block.line})`,
    );
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      `${block.key}: expected a map of settings (indented key: value lines), got ${
        Array.isArray(value) ? "a list" : JSON.stringify(value)
      } (${file}:${block.line})`,
    );
  }
  const r = new OptionsReader(value, "", warnings);
  const config = readTop(r, opts);
  r.finish();
  return { config, warnings };
}

function readTop(r: OptionsReader, opts: LoadOptions): Config {
  if (!r.has("announce_interval")) {
    throw r.error(
      "announce_interval",
      "missing; set how often clients should announce, e.g. announce_interval: 30m",
    );
  }
  // The interval reaches clients in whole seconds: below 1 s they would get 0
  // and announce as fast as they can.
  const announceInterval = r.duration("announce_interval", 0, { allowZero: true });
  if (announceInterval < SECOND) {
    throw r.error(
      "announce_interval",
      "must be at least 1s (clients receive whole seconds); chihaya's example uses 30m",
    );
  }
  // chihaya has no default for min_announce_interval and sends 0 when it is unset.
  const minAnnounceInterval = r.duration("min_announce_interval", 0, { allowZero: true });
  if (minAnnounceInterval > announceInterval) {
    throw r.error(
      "min_announce_interval",
      "is longer than announce_interval; clients could never re-announce on schedule, " +
        "so make it at most announce_interval (chihaya's example uses 15m with 30m)",
    );
  }
  // Unlike chihaya, where "" binds port 80 and there is no way to turn metrics
  // off, an empty metrics_addr means no metrics server.
  const metricsAddr = readAddress(r, "metrics_addr");

  const h = r.child("http");
  const http = h ? readHTTP(h) : undefined;
  const u = r.child("udp");
  const udp = u ? readUDP(u) : undefined;

  checkPortClash(r, metricsAddr, http, h);

  const storage = readStorage(r, opts);
  const prehooks = readHooks(r, "prehooks", opts);
  const posthooks = readHooks(r, "posthooks", opts);
  // LBRY's fork always runs in its "anonymous mode"; here it is opt-in.
  const lbryMode = r.bool("lbry_mode", false);
  const seedersSeeSeeders = r.bool("seeders_see_seeders", false);
  return {
    announceInterval,
    minAnnounceInterval,
    metricsAddr,
    http,
    udp,
    storage,
    prehooks,
    posthooks,
    lbryMode,
    seedersSeeSeeders,
  };
}

function readHTTP(h: OptionsReader): HTTPConfig {
  const addr = readAddress(h, "addr");
  const httpsAddr = readAddress(h, "https_addr");
  const tlsCertPath = h.string("tls_cert_path", "");
  const tlsKeyPath = h.string("tls_key_path", "");
  const d = DEFAULTS.http;
  const cfg: HTTPConfig = {
    addr,
    httpsAddr,
    tlsCertPath,
    tlsKeyPath,
    readTimeout: h.duration("read_timeout", d.readTimeout),
    writeTimeout: h.duration("write_timeout", d.writeTimeout),
    idleTimeout: h.duration("idle_timeout", d.idleTimeout),
    maxConnections: h.uint("max_connections", d.maxConnections),
    maxConnectionsPerIP: h.uint("max_connections_per_ip", d.maxConnectionsPerIP),
    enableKeepalive: h.bool("enable_keepalive", false),
    enableRequestTiming: h.bool("enable_request_timing", false),
    announceRoutes: h.stringList("announce_routes", []),
    scrapeRoutes: h.stringList("scrape_routes", []),
    allowIPSpoofing: h.bool("allow_ip_spoofing", false),
    realIPHeader: h.string("real_ip_header", "").trim(),
    maxNumWant: h.uint("max_numwant", d.maxNumWant),
    defaultNumWant: h.uint("default_numwant", d.defaultNumWant),
    maxScrapeInfoHashes: h.uint("max_scrape_infohashes", d.maxScrapeInfoHashes),
    allowFullScrape: h.bool("allow_full_scrape", false),
    transport: readTransport(h, d.transport),
  };
  h.finish();

  // chihaya starts the HTTP frontend only when addr is set, so an https_addr-only
  // block silently serves nothing there; here it is valid and serves HTTPS.
  if (addr === "" && httpsAddr === "") {
    throw h.error(
      undefined,
      "must specify addr or https_addr or both; remove the http block to turn HTTP off",
    );
  }
  if (cfg.announceRoutes.length === 0 || cfg.scrapeRoutes.length === 0) {
    const missing = cfg.announceRoutes.length === 0
      ? `announce_routes, e.g. announce_routes: ["/announce"]`
      : `scrape_routes, e.g. scrape_routes: ["/scrape"]`;
    throw h.error(undefined, `must specify routes; add ${missing}`);
  }
  checkRoutes(h, cfg.announceRoutes, cfg.scrapeRoutes);
  if (httpsAddr !== "" && (tlsCertPath === "" || tlsKeyPath === "")) {
    throw errorAt(h, "https_addr", "must specify tls_cert_path and tls_key_path when using https_addr");
  }
  if (httpsAddr === "" && (tlsCertPath !== "" || tlsKeyPath !== "")) {
    throw errorAt(
      h,
      tlsCertPath !== "" ? "tls_cert_path" : "tls_key_path",
      "must specify https_addr when using tls_cert_path and tls_key_path",
    );
  }
  if (addr !== "" && httpsAddr !== "" && clash(addr, httpsAddr)) {
    throw h.error(
      "https_addr",
      `${httpsAddr} uses the same TCP port as http.addr ${addr}; give one of them another port`,
    );
  }
  checkNumWant(h, cfg.maxNumWant, cfg.defaultNumWant);
  return cfg;
}

function readUDP(u: OptionsReader): UDPConfig {
  const addr = readAddress(u, "addr");
  let privateKey = u.string("private_key", "");
  const d = DEFAULTS.udp;
  const cfg: UDPConfig = {
    addr,
    privateKey: "",
    privateKeyGenerated: false,
    // An explicit 0 is kept: it is a legitimate (strict) choice, and chihaya honours it.
    maxClockSkew: u.duration("max_clock_skew", d.maxClockSkew, { allowZero: true }),
    // Connection IDs carry a whole-second timestamp, so under 1 s cannot work.
    connectionIDLifetime: u.duration("connection_id_lifetime", d.connectionIDLifetime, { min: SECOND }),
    enableRequestTiming: u.bool("enable_request_timing", false),
    allowIPSpoofing: u.bool("allow_ip_spoofing", false),
    maxNumWant: u.uint("max_numwant", d.maxNumWant),
    defaultNumWant: u.uint("default_numwant", d.defaultNumWant),
    maxScrapeInfoHashes: u.uint("max_scrape_infohashes", d.maxScrapeInfoHashes),
    transport: readTransport(u, d.transport),
  };
  u.finish();

  if (addr === "") {
    throw u.error(
      undefined,
      "must specify addr, e.g. addr: 0.0.0.0:6969; remove the udp block to turn UDP off",
    );
  }
  if (privateKey === "") {
    // chihaya does the same (and logs the key; we never do). The key changes on
    // every restart, which invalidates the connection IDs clients hold.
    privateKey = randomKey();
    cfg.privateKeyGenerated = true;
  } else if (privateKey === CHIHAYA_PLACEHOLDER_KEY) {
    u.warn(
      "private_key",
      "is the placeholder text of chihaya's example config, so anyone can forge connection IDs; " +
        "replace it with a long random string, or leave it empty to generate one at start",
    );
  }
  cfg.privateKey = privateKey;
  if (cfg.maxScrapeInfoHashes > UDP_MAX_SCRAPE) {
    throw u.error(
      "max_scrape_infohashes",
      `${cfg.maxScrapeInfoHashes} is too large; use at most ${UDP_MAX_SCRAPE}: a UDP scrape is read into a ` +
        `2048-byte buffer, which holds a 16-byte header and at most ${UDP_MAX_SCRAPE} infohashes of 20 bytes`,
    );
  }
  if (cfg.maxNumWant > UDP_MAX_NUMWANT) {
    throw u.error(
      "max_numwant",
      `${cfg.maxNumWant} is too large; use at most ${UDP_MAX_NUMWANT}: a UDP reply with that many IPv6 peers ` +
        `(18 bytes each) would not fit in one 65,507-byte datagram`,
    );
  }
  checkNumWant(u, cfg.maxNumWant, cfg.defaultNumWant);
  return cfg;
}

function readStorage(r: OptionsReader, opts: LoadOptions): StorageConfig {
  const s = r.child("storage");
  if (!s) {
    throw r.error(
      "storage",
      `missing; add a storage block, e.g. storage: {name: memory}${
        opts.knownStores ? ` (drivers: ${opts.knownStores.join(", ")})` : ""
      }`,
    );
  }
  const name = s.string("name", "").trim();
  if (name === "") {
    throw s.error("name", `missing; name the peer store driver, e.g. name: memory${known(opts.knownStores)}`);
  }
  if (opts.knownStores && !opts.knownStores.includes(name)) {
    throw s.error(
      "name",
      `peer store driver with that name does not exist: ${JSON.stringify(name)}${
        guess(name, opts.knownStores)
      }${known(opts.knownStores)}`,
    );
  }
  const config = optionsMap(s, "config");
  s.finish();
  return { name, config, where: s.location(), path: s.keyPath("config") };
}

function readHooks(r: OptionsReader, key: "prehooks" | "posthooks", opts: LoadOptions): HookConfig[] {
  const list = r.raw(key);
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw r.error(
      key,
      `expected a list of hooks ("- name: ..." lines with options: under each), got ${describeValue(list)}`,
    );
  }
  return list.map((item, i) => {
    const path = joinPath(r.keyPath(key), i);
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      const loc = r.location(key);
      throw new ConfigError(
        `${path}: expected a hook entry with name: and options:, got ${describeValue(item)}` +
          (loc ? ` (${loc})` : ""),
      );
    }
    const h = new OptionsReader(item, path, r.warnings);
    const name = h.string("name", "").trim();
    if (name === "") {
      throw h.error(
        "name",
        `missing; name the middleware, e.g. name: "client approval"${known(opts.knownHooks)}`,
      );
    }
    if (opts.knownHooks && !opts.knownHooks.includes(name)) {
      throw h.error(
        "name",
        `middleware driver with that name does not exist: ${JSON.stringify(name)}${
          guess(name, opts.knownHooks)
        }${known(opts.knownHooks)}`,
      );
    }
    const options = optionsMap(h, "options");
    if (h.raw("config") !== undefined || Object.hasOwn(item, "config")) {
      // docs/middleware/interval_variation.md shows `config:`; chihaya silently
      // ignores it, so such hooks run with no options at all.
      h.warn("config", "is ignored: hook options go under options:, not config: (rename the key)");
    }
    h.finish();
    return { name, options, where: h.location(), path: h.keyPath("options") };
  });
}

/** The map under `key` (tagged with its source), or an empty tagged map when absent. */
function optionsMap(r: OptionsReader, key: string): Record<string, unknown> {
  const v = r.raw(key);
  if (v === undefined) {
    // Tagged anyway, so a hook that misses a required option can still point at its entry.
    const src = r.source;
    const line = src?.entries.get(key)?.line ?? src?.line ?? 0;
    return tagSource({}, { path: r.keyPath(key), file: src?.file ?? "", line, entries: new Map() });
  }
  if (typeof v !== "object" || Array.isArray(v) || v instanceof Date) {
    throw r.error(key, `expected a map (indented key: value lines), got ${describeValue(v)}`);
  }
  return v as Record<string, unknown>;
}

function readAddress(r: OptionsReader, key: string): string {
  const addr = r.string(key, "").trim();
  if (addr === "") return "";
  try {
    parseHostPort(addr);
  } catch (err) {
    throw r.error(key, (err as Error).message);
  }
  return addr;
}

function checkNumWant(r: OptionsReader, max: number, dflt: number): void {
  if (dflt > max) {
    throw r.error(
      "default_numwant",
      `${dflt} is larger than max_numwant (${max}); lower default_numwant or raise max_numwant`,
    );
  }
}

function checkRoutes(h: OptionsReader, announce: string[], scrape: string[]): void {
  const seen = new Map<string, string>();
  for (const [key, routes] of [["announce_routes", announce], ["scrape_routes", scrape]] as const) {
    routes.forEach((route, i) => {
      const name = `${key}[${i}]`;
      if (!route.startsWith("/")) {
        throw h.error(name, `route ${JSON.stringify(route)} must begin with "/", e.g. "/${route}"`);
      }
      const other = seen.get(route);
      if (other) {
        throw h.error(
          name,
          `route ${JSON.stringify(route)} is already used by ${
            h.keyPath(other)
          }; each route can serve one thing`,
        );
      }
      seen.set(route, name);
    });
  }
}

/** metrics_addr, http.addr and http.https_addr are all TCP listeners in one process. */
function checkPortClash(
  r: OptionsReader,
  metricsAddr: string,
  http: HTTPConfig | undefined,
  h?: OptionsReader,
): void {
  if (metricsAddr === "" || !http || !h) return;
  for (const [key, addr] of [["addr", http.addr], ["https_addr", http.httpsAddr]] as const) {
    if (addr !== "" && clash(metricsAddr, addr)) {
      throw r.error(
        "metrics_addr",
        `${metricsAddr} uses the same TCP port as ${
          h.keyPath(key)
        } ${addr}; give metrics_addr another port, ` +
          `e.g. 0.0.0.0:6880`,
      );
    }
  }
}

/** Whether two listen addresses would fight over one port (port 0 never does). */
function clash(a: string, b: string): boolean {
  const x = parseHostPort(a);
  const y = parseHostPort(b);
  if (x.port !== y.port || x.port === 0) return false;
  if (x.hostname === y.hostname) return true;
  const kind = (
    h: string,
  ) => (h === "" || h === "::" ? "any" : h === "0.0.0.0" ? "any4" : h.includes(":") ? "v6" : "v4");
  const [kx, ky] = [kind(x.hostname), kind(y.hostname)];
  if (kx === "any" || ky === "any") return true;
  // A host name might resolve to anything; only two IPv6 literals are surely apart from 0.0.0.0.
  if (kx === "any4") return ky !== "v6";
  if (ky === "any4") return kx !== "v6";
  return false;
}

/** `<path>: <message> (<file:line of key>)`: a block-level error pointed at one key's line. */
function errorAt(r: OptionsReader, key: string, message: string): ConfigError {
  const loc = r.location(key);
  return new ConfigError(`${r.path}: ${message}${loc ? ` (${loc})` : ""}`);
}

function known(names: string[] | undefined): string {
  return names ? `; known: ${names.map((n) => JSON.stringify(n)).join(", ")}` : "";
}

function guess(word: string, names: string[]): string {
  const g = closestMatch(word, names);
  return g ? `; did you mean ${JSON.stringify(g)}?` : "";
}

function kindOf(node: unknown): string {
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return JSON.stringify(String(node.value));
  return "something else";
}

function nodeRange(node: unknown): [number, number, number] | undefined {
  return (node as { range?: [number, number, number] } | null)?.range ?? undefined;
}

/**
 * Splits a listen address into host and port. `hostname` is `""` for "all
 * interfaces" (`:6969`); brackets are removed from IPv6 (`[::]` → `"::"`).
 * Port 0 is allowed and means "any free port". Service names (`:http`) are not.
 *
 * @throws {Error} when `addr` is not `host:port`; the message shows the accepted forms.
 * @example
 * ```ts
 * parseHostPort("0.0.0.0:6969"); // { hostname: "0.0.0.0", port: 6969 }
 * parseHostPort("[::]:6969"); // { hostname: "::", port: 6969 }
 * parseHostPort(":6969"); // { hostname: "", port: 6969 }
 * ```
 */
export function parseHostPort(addr: string): { hostname: string; port: number } {
  const fail = (why: string) =>
    new Error(
      `${
        JSON.stringify(addr)
      } is not a host:port address (${why}); write it like 0.0.0.0:6969, [::]:6969 or :6969`,
    );
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(addr)) throw fail("it looks like a URL; drop the scheme and any path");
  let hostname: string;
  let portText: string;
  if (addr.startsWith("[")) {
    const end = addr.indexOf("]");
    if (end < 0) throw fail(`missing "]" after the IPv6 address`);
    hostname = addr.slice(1, end);
    const rest = addr.slice(end + 1);
    if (!rest.startsWith(":")) throw fail(`missing ":port" after "]"`);
    portText = rest.slice(1);
    if (!isIPv6(hostname)) throw fail(`${JSON.stringify(hostname)} is not an IPv6 address`);
  } else {
    const colon = addr.lastIndexOf(":");
    if (colon < 0) throw fail(`missing ":port"`);
    hostname = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (hostname.includes(":")) throw fail("put an IPv6 address in brackets, like [::1]:6969");
    if (hostname !== "" && !isIPv4(hostname) && !isHostname(hostname)) {
      throw fail(`${JSON.stringify(hostname)} is not a host name or IP address`);
    }
  }
  if (portText === "") throw fail("missing port number");
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw fail(`port ${JSON.stringify(portText)} is not a number from 0 to 65535`);
  }
  return { hostname, port: Number(portText) };
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6(s: string): boolean {
  // A zone (fe80::1%eth0) is fine to bind to but not part of the address syntax.
  const addr = s.replace(/%[\w.-]+$/, "");
  if (!/^[0-9a-fA-F:.]+$/.test(addr) || !addr.includes(":")) return false;
  try {
    new URL(`http://[${addr}]/`);
    return true;
  } catch {
    return false;
  }
}

function isHostname(s: string): boolean {
  // All digits and dots is a malformed IPv4 address, not a name.
  if (/^[\d.]+$/.test(s)) return false;
  return s.length <= 253 &&
    s.split(".").every((label) =>
      /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label) || label === ""
    );
}

const KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** 64 characters from [a-zA-Z0-9], like chihaya's generated key; unbiased by rejection. */
function randomKey(): string {
  const bytes = new Uint8Array(96);
  let out = "";
  while (out.length < 64) {
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      // 248 = 4 × 62: dropping bytes ≥ 248 keeps every character equally likely.
      if (b < 248 && out.length < 64) out += KEY_ALPHABET[b % 62];
    }
  }
  return out;
}

/**
 * Turns YAML nodes into plain values, tagging every map and list with its
 * dotted path and lines, and expanding `$VAR` in string values.
 */
class Converter {
  #budget = 100_000; // Aliases can multiply a small file into a huge tree ("billion laughs").
  readonly #active = new Set<unknown>();

  constructor(
    readonly doc: ReturnType<typeof parseDocument>,
    readonly file: string,
    readonly env: Record<string, string | undefined>,
    readonly lineOf: (offset: number | undefined) => number,
    readonly warnings: string[],
  ) {}

  keyText(key: unknown): string {
    if (key === null || key === undefined) return "";
    if (isScalar(key)) {
      // The key as written: YAML 1.1 reads `on:` or `n:` as booleans.
      if (typeof key.value === "string") return key.value;
      return key.source ?? String(key.value);
    }
    throw new ConfigError(
      `a map key must be a plain word, not a list or map (${this.file}:${this.lineOf(nodeRange(key)?.[0])})`,
    );
  }

  convert(node: Node | null | undefined, path: string, line: number): unknown {
    if (--this.#budget < 0) {
      throw new ConfigError(
        `${path || "config"}: the file expands to too many values (alias loop?) (${this.file}:${line})`,
      );
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) {
        throw new ConfigError(
          `${
            path || "config"
          }: unknown anchor *${node.source}; define &${node.source} first (${this.file}:${line})`,
        );
      }
      if (this.#active.has(target)) {
        throw new ConfigError(
          `${
            path || "config"
          }: alias *${node.source} refers to a map or list containing itself (${this.file}:${line})`,
        );
      }
      return this.convert(target, path, line);
    }
    if (isScalar(node)) return this.scalar(node, path, line).value;
    if (isMap(node)) {
      this.#active.add(node);
      const out: Record<string, unknown> = {};
      const entries: SourceInfo["entries"] = new Map();
      const merges: unknown[] = [];
      for (const pair of node.items) {
        const keyLine = this.lineOf(nodeRange(pair.key)?.[0]) || line;
        if (isScalar(pair.key) && pair.key.source === "<<") {
          // YAML 1.1 merge keys, which yaml.v2 honours: `<<: *defaults`.
          const v = this.convert(pair.value as Node | null, path, keyLine);
          merges.push(...(Array.isArray(v) ? v : [v]));
          continue;
        }
        const key = this.keyText(pair.key);
        const childPath = joinPath(path, key);
        const valueNode = pair.value as Node | null;
        if (isScalar(valueNode)) {
          const { value, text } = this.scalar(valueNode, childPath, keyLine);
          entries.set(key, { line: keyLine, text });
          define(out, key, value);
        } else {
          entries.set(key, { line: keyLine });
          define(out, key, this.convert(valueNode, childPath, keyLine));
        }
      }
      for (const m of merges) {
        if (m === null || typeof m !== "object" || Array.isArray(m)) {
          throw new ConfigError(
            `${path || "config"}: << must merge a map (<<: *anchor) (${this.file}:${line})`,
          );
        }
        const src = sourceOf(m);
        for (const [k, v] of Object.entries(m)) {
          if (Object.hasOwn(out, k)) continue; // Explicit keys win over merged ones.
          define(out, k, v);
          entries.set(k, src?.entries.get(k) ?? { line });
        }
      }
      this.#active.delete(node);
      return tagSource(out, { path, file: this.file, line, entries });
    }
    if (isSeq(node)) {
      this.#active.add(node);
      const entries: SourceInfo["entries"] = new Map();
      const out = node.items.map((item, i) => {
        const itemLine = this.lineOf(nodeRange(item)?.[0]) || line;
        const itemPath = joinPath(path, i);
        if (isScalar(item)) {
          const { value, text } = this.scalar(item, itemPath, itemLine);
          entries.set(i, { line: itemLine, text });
          return value;
        }
        entries.set(i, { line: itemLine });
        return this.convert(item as Node | null, itemPath, itemLine);
      });
      this.#active.delete(node);
      return tagSource(out, { path, file: this.file, line, entries });
    }
    return null;
  }

  scalar(node: Scalar, path: string, line: number): { value: unknown; text?: string } {
    const v = node.value;
    if (typeof v !== "string") return { value: v, text: node.source };
    if (!v.includes("$")) return { value: v, text: v };
    const expanded = this.expand(v, path, line);
    // An unquoted `$PORT` behaves as if the variable's text had been written
    // there: `max_numwant: $N` is a number, an empty expansion is "not set".
    // Quoted or explicitly tagged values stay strings.
    if (node.type === "PLAIN" && !node.tag && expanded !== v) {
      const resolved = resolvePlain(expanded);
      return { value: resolved, text: expanded };
    }
    return { value: expanded, text: expanded };
  }

  /** `$VAR`, `${VAR}` and `$$` (a literal `$`), like Go's os.ExpandEnv plus the `$$` escape. */
  expand(s: string, path: string, line: number): string {
    let out = "";
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== "$" || i + 1 >= s.length) {
        out += c;
        continue;
      }
      const next = s[i + 1];
      if (next === "$") {
        out += "$";
        i++;
        continue;
      }
      let name: string;
      if (next === "{") {
        const end = s.indexOf("}", i + 2);
        if (end < 0) {
          throw new ConfigError(
            `${path}: unterminated "\${" in the value; close it with "}" or write "$$" for a literal "$" (${this.file}:${line})`,
          );
        }
        name = s.slice(i + 2, end);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          throw new ConfigError(
            `${path}: "\${${name}}" is not a variable name (letters, digits and _; no defaults like \${VAR:-x}); ` +
              `write "$$" for a literal "$" (${this.file}:${line})`,
          );
        }
        i = end;
      } else {
        const m = /^[A-Za-z0-9_]+/.exec(s.slice(i + 1));
        if (!m) {
          out += "$"; // As in Go: a "$" not followed by a name is kept.
          continue;
        }
        name = m[0];
        i += name.length;
      }
      const value = this.env[name];
      if (value === undefined) {
        this.warnings.push(
          `${path}: environment variable ${name} is not set; using an empty string (write "$$" for a literal "$") ` +
            `(${this.file}:${line})`,
        );
      }
      out += value ?? "";
    }
    return out;
  }
}

/** Resolves the text of an expanded unquoted value the way YAML 1.1 would. */
function resolvePlain(text: string): unknown {
  const t = text.trim();
  if (t === "" || t === "~" || t === "null" || t === "Null" || t === "NULL") return null;
  const doc = parseDocument(t, { version: "1.1", prettyErrors: false });
  const c = doc.contents;
  if (
    doc.errors.length === 0 && isScalar(c) && c.type === "PLAIN" &&
    (typeof c.value === "number" || typeof c.value === "boolean")
  ) {
    return c.value;
  }
  return text;
}

/** Sets a key even if it is `__proto__`, which plain assignment would treat specially. */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
