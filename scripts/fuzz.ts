/**
 * A seeded fuzzer for every parser and decoder that sees untrusted bytes: URL
 * data, HTTP announce/scrape parsing, the whole HTTP frontend, bencode, UDP
 * packets of every action (BEP 41 options included), the config loader, and JWT /
 * JWK Set input.
 *
 * Each target starts from a corpus of valid inputs and feeds it mutated (bit
 * flips, byte edits, splices, inserted tokens, truncation) and fresh random
 * inputs from a seeded PRNG, so a run is reproducible from its seed. A target
 * fails an input when something other than its documented error escapes
 * (ClientError, BencodeError, ConfigError), when a reply is malformed, or when
 * one input takes longer than the time bound (a hang).
 *
 * ```sh
 * deno task fuzz                                  # 1,000,000 inputs per target
 * deno task fuzz --count 20000 --target udp --seed 7
 * ```
 *
 * `tests/fuzz.test.ts` runs a short fixed-seed slice of every target.
 *
 * @module
 */
import { isClientError } from "../src/bittorrent/errors.ts";
import { BencodeError, decode, encode } from "../src/bittorrent/bencode.ts";
import { parseURLData } from "../src/bittorrent/params.ts";
import { ManualClock } from "../src/clock.ts";
import { loadConfig } from "../src/config/load.ts";
import { ConfigError } from "../src/config/options.ts";
import { ErrRequestTooLong, HTTPFrontend } from "../src/frontend/http/frontend.ts";
import { type ByteStream, HTTPServer } from "../src/frontend/http/server.ts";
import { writeError } from "../src/frontend/http/writer.ts";
import { parseAnnounce, type ParseOptions, parseScrape } from "../src/frontend/http/parser.ts";
import { ConnectionIDs } from "../src/frontend/udp/connection_id.ts";
import { UDPFrontend } from "../src/frontend/udp/frontend.ts";
import { parseURLOptions } from "../src/frontend/udp/parser.ts";
import { MAX_PAYLOAD } from "../src/frontend/udp/writer.ts";
import { Logger } from "../src/log.ts";
import { ErrInvalidJWT, ErrMissingJWT, importJWKSet, JWTHook } from "../src/middleware/jwt/jwt.ts";
import { hookNames } from "../src/middleware/hook.ts";
import { MemoryStore } from "../src/storage/memory/store.ts";
import { storeNames } from "../src/storage/store.ts";
import "../src/storage/memory/driver.ts";
import "../src/middleware/drivers.ts";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { MaybePromise } from "../src/maybe.ts";
import { bareLogic } from "../tests/helpers/fixtures.ts";

/** A small, fast, seeded PRNG (mulberry32). */
export class Rng {
  constructor(private state: number) {}
  /** A uint32. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const te = new TextEncoder();
const td = new TextDecoder();

/** One thing to fuzz. `run` throws (or rejects) when the input breaks a property. */
export interface FuzzTarget {
  name: string;
  /** Valid (or interesting) inputs mutations start from. */
  corpus: Uint8Array[];
  /** Tokens mutations insert (delimiters, escapes, magic numbers). */
  tokens: Uint8Array[];
  /** Makes a fresh structured input, besides mutations of the corpus. */
  generate?(rng: Rng): Uint8Array;
  run(input: Uint8Array): MaybePromise<void>;
  /** Largest input worth trying. */
  maxLength: number;
  stop?(): MaybePromise<void>;
}

/** Returns a mutated copy of `input`: 1–4 random edits. */
export function mutate(rng: Rng, input: Uint8Array, t: FuzzTarget): Uint8Array {
  let b: Uint8Array = input.slice();
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const at = b.length === 0 ? 0 : rng.int(b.length + 1);
    switch (rng.int(9)) {
      case 0: // bit flip
        if (b.length > 0) b[rng.int(b.length)] ^= 1 << rng.int(8);
        break;
      case 1: // random byte
        if (b.length > 0) b[rng.int(b.length)] = rng.u32() & 0xff;
        break;
      case 2: { // interesting byte
        if (b.length > 0) b[rng.int(b.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x25, 0x3a, 0x65, 0x0a]);
        break;
      }
      case 3: { // insert random bytes
        const ins = rng.bytes(1 + rng.int(8));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 4: { // delete a range
        const n = 1 + rng.int(Math.min(16, Math.max(1, b.length)));
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + n)));
        break;
      }
      case 5: { // duplicate a range
        const from = b.length === 0 ? 0 : rng.int(b.length);
        const n = rng.int(32);
        b = concat(b.subarray(0, at), b.subarray(from, from + n), b.subarray(at));
        break;
      }
      case 6: // token
        if (t.tokens.length > 0) b = concat(b.subarray(0, at), rng.pick(t.tokens), b.subarray(at));
        break;
      case 7: { // splice with another corpus entry
        const other = rng.pick(t.corpus);
        const cut = other.length === 0 ? 0 : rng.int(other.length);
        b = concat(b.subarray(0, at), other.subarray(cut));
        break;
      }
      default: // truncate
        b = b.subarray(0, at).slice();
    }
  }
  return b.length > t.maxLength ? b.subarray(0, t.maxLength) : b;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What a run found. */
export interface FuzzResult {
  target: string;
  inputs: number;
  ms: number;
  /** The slowest single input, in ms. */
  slowestMs: number;
  failures: { input: Uint8Array; error: unknown }[];
}

/** Options of {@link fuzz}. */
export interface FuzzOptions {
  seed: number;
  count: number;
  /** Longest time one input may take, in ms. */
  timeBoundMs?: number;
  /** Stop after this many failures. */
  maxFailures?: number;
  onProgress?: (done: number) => void;
}

/** Feeds `count` inputs to `t`. Never throws: failures are collected. */
export async function fuzz(t: FuzzTarget, o: FuzzOptions): Promise<FuzzResult> {
  const rng = new Rng(o.seed);
  const bound = o.timeBoundMs ?? 250;
  const failures: FuzzResult["failures"] = [];
  const started = performance.now();
  let slowest = 0;
  let i = 0;
  for (; i < o.count && failures.length < (o.maxFailures ?? 10); i++) {
    let input: Uint8Array;
    const kind = rng.int(10);
    if (i < t.corpus.length) input = t.corpus[i];
    else if (kind === 0) input = rng.bytes(rng.int(Math.min(t.maxLength, 256)));
    else if (kind <= 2 && t.generate) input = t.generate(rng);
    else input = mutate(rng, rng.pick(t.corpus), t);
    const t0 = performance.now();
    try {
      const r = t.run(input);
      if (r instanceof Promise) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          r,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`hang: no answer within ${bound} ms`)), bound);
          }),
        ]).finally(() => clearTimeout(timer));
      }
      const ms = performance.now() - t0;
      if (ms > slowest) slowest = ms;
      // A synchronous call cannot be interrupted; one that ran past the bound is a hang.
      if (ms > bound) throw new Error(`hang: ${ms.toFixed(1)} ms for one input (bound ${bound} ms)`);
    } catch (error) {
      failures.push({ input, error });
    }
    if (o.onProgress && (i + 1) % 100_000 === 0) o.onProgress(i + 1);
  }
  return { target: t.name, inputs: i, ms: performance.now() - started, slowestMs: slowest, failures };
}

// ---- targets ----

function fail(msg: string): never {
  throw new Error(msg);
}

/** Rethrows anything that is not a ClientError. */
function onlyClientErrors(err: unknown): void {
  if (!isClientError(err)) throw err;
}

const HTTP_OPTS: ParseOptions = {
  allowIPSpoofing: false,
  realIPHeader: "",
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
};

const IH = "%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14";
const HTTP_CORPUS = [
  `/announce?info_hash=${IH}&peer_id=-TEST01-6wfG2wk6wWLc&port=6881&left=0&downloaded=0&uploaded=0&compact=1`,
  `/announce?info_hash=${IH}&peer_id=-TEST01-6wfG2wk6wWLc&port=6881&left=10&downloaded=1&uploaded=2&event=started&numwant=30&ip=10.0.0.2&ipv6=%3A%3A1&no_peer_id=1`,
  `/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1&left=18446744073709551615&downloaded=0&uploaded=0&event=stopped`,
  `/announce?info_hash=${IH};peer_id=-TEST01-6wfG2wk6wWLc;port=6881;left=5;downloaded=0;uploaded=0;event=completed`,
  `/scrape?info_hash=${IH}&info_hash=bbbbbbbbbbbbbbbbbbbb`,
  `/scrape?info_hash=${IH}`,
  `/scrape`,
  `/announce/passkey123?info_hash=${IH}&peer_id=-TEST01-6wfG2wk6wWLc&port=6881&left=1&downloaded=0&uploaded=0`,
  `/announce?info_hash=${IH}&peer_id=%2DTEST01%2D6wfG2wk6wWLc&port=65535&left=0&downloaded=0&uploaded=0&ipv4=1.2.3.4`,
].map((s) => te.encode(s));
const HTTP_TOKENS = [
  "&",
  ";",
  "=",
  "?",
  "%",
  "%2",
  "%zz",
  "%00",
  "%ff",
  "+",
  "info_hash=",
  "&info_hash=" + IH,
  "peer_id=",
  "port=",
  "port=0",
  "port=65536",
  "left=-1",
  "numwant=4294967296",
  "event=",
  "event=paused",
  "compact=0",
  "ip=",
  "ip=::ffff:1.2.3.4",
  "ip=256.1.1.1",
  "18446744073709551616",
  "99999999999999999999",
  "/",
  "//",
  "#",
  "\u00e9",
].map((s) => te.encode(s));

/** `parseURLData`: only its two ClientErrors; what it returns reads back without throwing. */
export function paramsTarget(): FuzzTarget {
  return {
    name: "params",
    corpus: HTTP_CORPUS,
    tokens: HTTP_TOKENS,
    maxLength: 4096,
    run(input) {
      let p;
      try {
        p = parseURLData(input);
      } catch (err) {
        return onlyClientErrors(err);
      }
      for (const ih of p.infoHashes) if (ih.length !== 20) fail(`info_hash of ${ih.length} bytes`);
      p.toRecord();
      p.string("peer_id");
      p.has("port");
      const q = input.indexOf(0x3f);
      const limit = q < 0 ? 0 : input.length - q - 1;
      for (const v of Object.values(p.toRecord())) {
        if (te.encode(v).length > limit * 3) fail("value too long");
      }
    },
  };
}

/** HTTP announce and scrape parsing, with and without spoofing and a real-IP header. */
export function httpParserTarget(): FuzzTarget {
  const variants: ParseOptions[] = [
    HTTP_OPTS,
    { ...HTTP_OPTS, allowIPSpoofing: true, allowZeroPort: true },
    { ...HTTP_OPTS, realIPHeader: "x-real-ip" },
  ];
  let n = 0;
  return {
    name: "http-parser",
    corpus: HTTP_CORPUS,
    tokens: HTTP_TOKENS,
    maxLength: 4096,
    run(input) {
      const opts = variants[n++ % variants.length];
      // A header made of the input's tail: junk real-IP values too.
      const header = (name: string) =>
        name === "x-real-ip" ? td.decode(input.subarray(input.length >> 1)) : null;
      let params;
      try {
        params = parseURLData(input);
      } catch (err) {
        return onlyClientErrors(err);
      }
      try {
        const a = parseAnnounce(params, header, n & 1 ? "10.1.2.3" : "2001:db8::1", opts);
        if (a.infoHash.length !== 20 || a.peer.id.length !== 20) {
          fail("announce with a bad infohash or peer ID");
        }
        if (a.peer.ip.length !== 4 && a.peer.ip.length !== 16) fail(`peer IP of ${a.peer.ip.length} bytes`);
        if (!Number.isInteger(a.peer.port) || a.peer.port < 0 || a.peer.port > 0xffff) fail("bad port");
        if (a.numWant < 0 || a.numWant > opts.maxNumWant) fail(`numwant ${a.numWant}`);
        for (const v of [a.left, a.downloaded, a.uploaded]) if (!(v >= 0)) fail(`counter ${v}`);
      } catch (err) {
        onlyClientErrors(err);
      }
      try {
        const s = parseScrape(params, header, "10.1.2.3", opts);
        if (s.infoHashes.length === 0 || s.infoHashes.length > opts.maxScrapeInfoHashes) fail("scrape size");
      } catch (err) {
        onlyClientErrors(err);
      }
    },
  };
}

/** A logger whose error lines fail the input that caused them. */
function errorLog(): { log: Logger; check(): void } {
  let last: string | undefined;
  return {
    log: new Logger({ json: true, sink: (line) => void (line.includes('"level":"error"') && (last = line)) }),
    check() {
      if (last === undefined) return;
      const line = last;
      last = undefined;
      fail(`logged an error: ${line}`);
    },
  };
}

/**
 * A store for the targets. Its swarm cap keeps a full scrape (a scrape without
 * info_hash lists every swarm) a bounded amount of work however many swarms a
 * million random announces create; past it, announces get `tracker is full`.
 */
function memoryStore(): MemoryStore {
  return new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 1_800_000,
    clock: new ManualClock(),
    maxSwarms: 20_000,
  });
}

/** The HTTP frontend the HTTP targets drive: routes with parameters, a real-IP header, full scrape. */
function fuzzFrontend() {
  const store = memoryStore();
  const errors = errorLog();
  const frontend = new HTTPFrontend({
    ...HTTP_OPTS,
    realIPHeader: "x-forwarded-for",
    announceRoutes: ["/announce", "/announce/:passkey"],
    scrapeRoutes: ["/scrape", "/s/*rest"],
    enableKeepalive: true,
    logic: bareLogic(store),
    log: errors.log,
    fullScrape: (family) => store.swarms(family),
  });
  return { store, errors, frontend };
}

/**
 * The whole HTTP frontend: the input is the request target (or, for a few inputs,
 * the value of the real-IP header); the reply is never a 5xx, a 200 is a bencoded
 * dictionary, and a failure is never `internal server error`.
 */
export function httpFetchTarget(): FuzzTarget {
  const { store, errors, frontend } = fuzzFrontend();
  let n = 0;
  return {
    name: "http-fetch",
    corpus: HTTP_CORPUS,
    tokens: HTTP_TOKENS,
    maxLength: 4096,
    async run(input) {
      n++;
      let latin1 = "";
      for (let i = 0; i < input.length; i++) latin1 += String.fromCharCode(input[i]);
      let req: Request;
      try {
        // What a server hands us is a parsed URL; bytes a URL cannot hold never get here.
        const headers = n % 4 === 0
          ? { "x-forwarded-for": latin1.slice(-40).replace(/[\r\n\0]/g, "") }
          : undefined;
        req = new Request(`http://tracker.test${latin1.startsWith("/") ? "" : "/"}${latin1}`, {
          method: n % 97 === 0 ? "POST" : "GET",
          headers,
        });
      } catch {
        return;
      }
      const res = await frontend.fetch(req, n & 1 ? "10.9.8.7" : "2001:db8::7");
      errors.check();
      if (res.status >= 500) fail(`HTTP ${res.status}`);
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200) {
        if (res.status !== 404 && res.status !== 405) fail(`unexpected HTTP ${res.status}`);
        return;
      }
      if (res.headers.get("content-encoding")) return; // a gzipped full scrape
      const v = decode(body) as Record<string, unknown>;
      if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
        fail("reply is not a dictionary");
      }
      const reason = v["failure reason"];
      if (reason instanceof Uint8Array) {
        if (td.decode(reason) === "internal server error") fail("internal server error");
      } else if (!("interval" in v) && !("files" in v)) {
        fail(`reply without interval or files: ${Object.keys(v)}`);
      }
    },
    stop: () => store.stop(),
  };
}

/** A connection's bytes, fed in a few reads; what the server writes back is kept. */
class ReplayStream implements ByteStream {
  private at = 0;
  readonly out: Uint8Array[] = [];
  readonly closed = Promise.withResolvers<void>();
  constructor(private readonly input: Uint8Array, private readonly chunk: number) {}
  read(p: Uint8Array): Promise<number | null> {
    if (this.at >= this.input.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.chunk, this.input.length - this.at);
    p.set(this.input.subarray(this.at, this.at + n));
    this.at += n;
    return Promise.resolve(n);
  }
  write(p: Uint8Array): Promise<number> {
    this.out.push(p.slice());
    return Promise.resolve(p.length);
  }
  close(): void {
    this.closed.resolve();
  }
}

/** Checks the responses a connection got: HTTP/1.1 status lines, no 5xx, 200s are bencoded dictionaries. */
function checkResponses(bytes: Uint8Array): void {
  let at = 0;
  const find = (needle: string, from: number) => {
    const s = td.decode(bytes.subarray(from, Math.min(bytes.length, from + 16384)));
    const i = s.indexOf(needle);
    return i < 0 ? -1 : from + te.encode(s.slice(0, i)).length;
  };
  while (at < bytes.length) {
    const end = find("\r\n\r\n", at);
    if (end < 0) fail("a response head without its end");
    const head = td.decode(bytes.subarray(at, end));
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    if (status === null) fail(`not a status line: ${JSON.stringify(head.slice(0, 40))}`);
    const code = Number(status[1]);
    if (code >= 500) fail(`HTTP ${code}`);
    let body: Uint8Array;
    const length = /\r\ncontent-length: (\d+)/.exec(head);
    at = end + 4;
    if (length !== null) {
      body = bytes.subarray(at, at + Number(length[1]));
      at += Number(length[1]);
    } else if (head.includes("\r\ntransfer-encoding: chunked")) {
      const parts: Uint8Array[] = [];
      for (;;) {
        const eol = find("\r\n", at);
        const size = parseInt(td.decode(bytes.subarray(at, eol)), 16);
        if (!(size >= 0)) fail("a bad chunk size");
        at = eol + 2 + size + 2;
        if (size === 0) break;
        parts.push(bytes.subarray(eol + 2, eol + 2 + size));
      }
      body = concat(...parts);
    } else {
      body = bytes.subarray(at);
      at = bytes.length;
    }
    if (code !== 200 || head.includes("content-encoding")) continue;
    const v = decode(body) as Record<string, unknown>;
    if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array) {
      fail("a 200 that is not a bencoded dictionary");
    }
    const reason = v["failure reason"];
    if (reason instanceof Uint8Array && td.decode(reason) === "internal server error") {
      fail("internal server error");
    }
  }
}

const SERVER_TOKENS = [
  "\r\n",
  "\r\n\r\n",
  "\n",
  " ",
  ":",
  "GET ",
  "POST ",
  "HEAD ",
  " HTTP/1.1",
  " HTTP/1.0",
  " HTTP/2.0",
  "Host: t\r\n",
  "Connection: close\r\n",
  "Connection: keep-alive\r\n",
  "Content-Length: 5\r\n",
  "Content-Length: x\r\n",
  "Content-Length : 5\r\n",
  "Transfer-Encoding: chunked\r\n",
  "X-Forwarded-For: 203.0.113.9, 10.0.0.1\r\n",
  "Accept-Encoding: gzip\r\n",
  " folded\r\n",
  "http://tracker.test",
  "%zz",
].map((s) => te.encode(s));

/**
 * hayate's HTTP/1.1 server with the tracker's frontend behind it: the input is all
 * the bytes one connection sends (request heads, pipelined requests, junk), read in
 * chunks of 1 to 4096 bytes. Every response must be HTTP/1.1 with no 5xx, every 200
 * a bencoded dictionary that is not `internal server error`, and the connection must
 * end once the input does.
 */
export function httpServerTarget(): FuzzTarget {
  const { store, errors, frontend } = fuzzFrontend();
  const server = new HTTPServer({
    handler: (head, remote) => frontend.answer(head, remote),
    keepAlive: true,
    readTimeout: 2000,
    writeTimeout: 2000,
    idleTimeout: 2000,
    maxConnections: 16,
    maxConnectionsPerIP: 16,
    tooLong: writeError(ErrRequestTooLong.message),
    onError: (err) => fail(`server error: ${err}`),
  });
  const requests = HTTP_CORPUS.map((t) => te.encode(`GET ${td.decode(t)} HTTP/1.1\r\nHost: t\r\n\r\n`));
  const corpus = [
    ...requests,
    concat(requests[0], requests[4], requests[1]),
    te.encode(`GET ${td.decode(HTTP_CORPUS[0])} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`),
    te.encode(`POST /announce HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc`),
    te.encode(`GET /scrape HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n`),
    te.encode(`GET ${td.decode(HTTP_CORPUS[1])} HTTP/1.1\r\nX-Forwarded-For: 2001:db8::1\r\n\r\n`),
  ];
  let n = 0;
  return {
    name: "http-server",
    corpus,
    tokens: [...SERVER_TOKENS, ...HTTP_TOKENS],
    maxLength: 20_000,
    async run(input) {
      n++;
      const stream = new ReplayStream(input, [1, 7, 64, 4096][n & 3]);
      server.accept(stream, n & 1 ? "10.9.8.7" : "2001:db8::7");
      await stream.closed.promise;
      errors.check();
      checkResponses(concat(...stream.out));
    },
    stop: async () => {
      await server.close();
      store.stop();
    },
  };
}

const BENCODE_CORPUS = [
  "d8:completei1e10:incompletei2e8:intervali1800e5:peers6:abcdefe",
  "d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei0e10:downloadedi0e10:incompletei0eeee",
  "l4:spami42ee",
  "i-123e",
  "i0e",
  "0:",
  "d4:listl1:a1:bd1:xi1eeee",
  "i9223372036854775808e",
  "d14:failure reason11:hello worlde",
].map((s) => te.encode(s));

/** bencode `decode`: only BencodeError; what decodes re-encodes to a value that decodes the same. */
export function bencodeTarget(): FuzzTarget {
  return {
    name: "bencode",
    corpus: BENCODE_CORPUS,
    tokens: ["i", "e", "l", "d", "0:", "1:", "i-0e", "i01e", "99999999999:", "l".repeat(70), "-", ":"].map((
      s,
    ) => te.encode(s)),
    maxLength: 2048,
    generate(rng) {
      // Nested lists and dictionaries of random depth.
      let s = "";
      const depth = rng.int(80);
      for (let i = 0; i < depth; i++) s += rng.pick(["l", "d1:k"]);
      s += rng.pick(["i1e", "0:", "3:abc"]);
      for (let i = 0; i < depth; i++) s += "e";
      return te.encode(s);
    },
    run(input) {
      let v;
      try {
        v = decode(input);
      } catch (err) {
        if (err instanceof BencodeError) return;
        throw err;
      }
      const again = decode(encode(v));
      if (!sameValue(v, again)) fail("decode(encode(v)) differs from v");
    },
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length &&
      ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/**
 * Every UDP action through `UDPFrontend.handle`: most inputs carry a valid
 * connection ID for their source, so announces, scrapes and BEP 41 options are
 * parsed. Replies must be well-formed: the request's transaction ID, action 3 or
 * the request's own, the sizes BEP 15 gives, one MTU at most, the amplification
 * bound without a valid ID, and never `internal error`.
 */
export function udpTarget(): FuzzTarget {
  const store = memoryStore();
  const errors = errorLog();
  const clock = new ManualClock();
  const logic = bareLogic(store);
  const opts = { privateKey: "fuzz", maxClockSkew: 10_000, connectionIDLifetime: 120_000 };
  const frontend = new UDPFrontend({
    ...opts,
    allowIPSpoofing: true,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    logic,
    log: errors.log,
    clock,
  });
  const ids = new ConnectionIDs({
    key: opts.privateKey,
    lifetime: opts.connectionIDLifetime,
    maxClockSkew: 10_000,
  });
  const v4 = new Uint8Array([10, 0, 0, 1]);
  const v6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const id4 = ids.create(v4, clock.now());
  const id6 = ids.create(v6, clock.now());
  const header = (action: number, tx = 0x01020304) => {
    const h = new Uint8Array(16);
    h.set(id4);
    new DataView(h.buffer).setUint32(8, action);
    new DataView(h.buffer).setUint32(12, tx);
    return h;
  };
  const announce = (action: number, options: string | Uint8Array = new Uint8Array(0)) => {
    const ipLen = action === 4 ? 16 : 4;
    const body = new Uint8Array(98 - 16 + ipLen - 4);
    const v = new DataView(body.buffer);
    body.fill(0x11, 0, 20);
    body.set(te.encode("-TEST01-6wfG2wk6wWLc"), 20);
    v.setBigUint64(48, 100n);
    v.setUint32(64, 2);
    v.setInt32(68 + ipLen + 4, -1);
    v.setUint16(68 + ipLen + 8, 6881);
    return concat(header(action), body, typeof options === "string" ? te.encode(options) : options);
  };
  const url = (s: string) => concat(new Uint8Array([2, s.length]), te.encode(s));
  const connect = new Uint8Array(16);
  connect.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 9, 9, 9, 9]);
  const corpus = [
    connect,
    announce(1),
    announce(4),
    announce(1, concat(url("/announce?jwt=abc&passkey=1"), new Uint8Array([1, 0]))),
    announce(1, concat(url("/ann"), url("ounce?x=%41"), new Uint8Array([1, 1, 0]))),
    announce(1, new Uint8Array([2, 200, 1])),
    concat(header(2), new Uint8Array(20).fill(0x11)),
    concat(header(2), new Uint8Array(60).fill(0x22)),
    header(3),
    header(5),
  ];
  let n = 0;
  return {
    name: "udp",
    corpus,
    tokens: [
      new Uint8Array([0]),
      new Uint8Array([1]),
      new Uint8Array([2, 0]),
      new Uint8Array([2, 255]),
      new Uint8Array([3]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff]),
      url("?info_hash=%zz"),
      url("/?a=%"),
      id4,
      id6,
    ],
    maxLength: 1600,
    generate(rng) {
      // A valid header for a random action, then random options or hashes.
      const action = rng.int(6);
      if (action === 1 || action === 4) {
        const opts: Uint8Array[] = [];
        for (let i = rng.int(5); i > 0; i--) {
          const t = rng.int(4);
          if (t === 2) {
            const data = rng.int(2)
              ? HTTP_CORPUS[rng.int(HTTP_CORPUS.length)].subarray(0, 255)
              : rng.bytes(rng.int(40));
            opts.push(concat(new Uint8Array([2, data.length]), data));
          } else opts.push(new Uint8Array([t]));
        }
        return announce(action, concat(...opts));
      }
      return concat(header(action, rng.u32()), rng.bytes(rng.int(action === 2 ? 2100 : 64)));
    },
    run(input) {
      n++;
      const six = (n & 3) === 0;
      let packet = input;
      if (six && packet.length >= 8 && n & 4) {
        packet = input.slice();
        packet.set(id6);
      }
      const source = six ? v6 : v4;
      const r = frontend.handle(packet, source, 6881);
      const check = (reply: Uint8Array | null) => {
        errors.check();
        if (reply === null) return;
        if (packet.length < 16) fail("a reply to a packet under 16 bytes");
        if (reply.length < 8) fail(`a ${reply.length}-byte reply`);
        if (reply.length > MAX_PAYLOAD[six ? 6 : 4]) fail(`a ${reply.length}-byte reply is over one MTU`);
        const dv = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
        const action = dv.getUint32(0);
        const reqAction = new DataView(packet.buffer, packet.byteOffset).getUint32(8);
        if (dv.getUint32(4) !== new DataView(packet.buffer, packet.byteOffset).getUint32(12)) {
          fail("wrong tx");
        }
        const verified = ids.valid(packet, source, clock.now());
        if (!verified && reply.length > packet.length * 2) fail("amplification over 2x without a valid ID");
        if (action === 3) {
          const msg = td.decode(reply.subarray(8));
          if (msg === "internal error") fail("internal error");
          return;
        }
        if (action !== reqAction && !(reqAction === 4 && action === 1)) {
          fail(`reply action ${action} to ${reqAction}`);
        }
        if (action === 0 && reply.length !== 16) fail("connect reply size");
        if (action === 1 && (reply.length - 20) % (six ? 18 : 6) !== 0) fail("announce reply size");
        if (action === 2 && (reply.length - 8) % 12 !== 0) fail("scrape reply size");
      };
      return r instanceof Promise ? r.then(check) : check(r);
    },
    stop: () => store.stop(),
  };
}

/** BEP 41 option lists alone (`parseURLOptions`): only ClientErrors. */
export function udpOptionsTarget(): FuzzTarget {
  const url = (s: string) => concat(new Uint8Array([2, s.length]), te.encode(s));
  return {
    name: "udp-options",
    corpus: [
      new Uint8Array(0),
      new Uint8Array([0]),
      new Uint8Array([1, 1, 0]),
      url("/announce?jwt=x"),
      concat(url("/a?b="), url("c&d=%41"), new Uint8Array([1, 0, 2, 2])),
    ],
    tokens: [[0], [1], [2], [2, 0], [2, 255], [3], [0x25]].map((b) => new Uint8Array(b)),
    maxLength: 1500,
    run(input) {
      try {
        parseURLOptions(input, 0).toRecord();
      } catch (err) {
        onlyClientErrors(err);
      }
    },
  };
}

const CONFIG_CORPUS = [
  "chihaya:\n  announce_interval: 30m\n  storage:\n    name: memory\n",
  `chihaya:
  announce_interval: 30m
  min_announce_interval: 15m
  metrics_addr: "127.0.0.1:6880"
  http:
    addr: 0.0.0.0:6969
    read_timeout: 5s
    announce_routes: ["/announce", "/announce/:passkey"]
    scrape_routes: [/scrape]
    max_numwant: 100
    default_numwant: 50
    real_ip_header: x-real-ip
  udp:
    addr: "[::]:6969"
    private_key: abc
    max_clock_skew: 10s
  storage:
    name: memory
    config:
      gc_interval: 3m
      peer_lifetime: 31m
  prehooks:
    - name: client approval
      options:
        whitelist: [OP1011]
    - name: interval variation
      options: {modify_response_probability: 0.2, max_increase_delta: 60}
`,
  "hayate: {announce_interval: 1h, storage: {name: memory}, http: {addr: ':1'}}\n",
  "chihaya:\n  announce_interval: $INTERVAL\n  storage: &s {name: memory}\n  x: *s\n",
].map((s) => te.encode(s));

/** `loadConfig`: only ConfigError, however broken the YAML. */
export function configTarget(): FuzzTarget {
  const knownStores = storeNames();
  const knownHooks = hookNames();
  return {
    name: "config",
    corpus: CONFIG_CORPUS,
    tokens: [
      ": ",
      "\n  ",
      "- ",
      "{",
      "}",
      "[",
      "]",
      "&a ",
      "*a",
      "<<: *a",
      "!!binary ",
      "!!int ",
      "'",
      '"',
      "$",
      "${",
      "$$",
      "0x",
      "-1",
      "1e999",
      "~",
      "null",
      "2001-01-01",
      "---\n",
      "...\n",
      "\t",
      "#",
      "1h2m3s4ms5us6ns",
      "9999999h",
    ].map((s) => te.encode(s)),
    maxLength: 4096,
    run(input) {
      try {
        loadConfig(td.decode(input), {
          path: "fuzz.yaml",
          env: { INTERVAL: "30m" },
          knownStores,
          knownHooks,
        });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
      }
    },
  };
}

const b64 = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/**
 * JWT and JWK Set input: the token of a request (the jwt hook must refuse with
 * its two ClientErrors, and accept only the genuine token), and the JSON of a JWK
 * Set (`importJWKSet` rejects only with plain Errors that say what is wrong).
 */
export async function jwtTarget(): Promise<FuzzTarget> {
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", use: "sig" };
  const ihHex = "0102030405060708090a0b0c0d0e0f1011121314";
  const ih = Uint8Array.from(ihHex.match(/../g)!, (h) => parseInt(h, 16));
  const good = await new SignJWT({ infohash: ihHex })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer("iss")
    .setAudience("aud")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(privateKey);
  const jwks = JSON.stringify({ keys: [jwk] });
  const hook = await JWTHook.create({
    issuer: "iss",
    audience: "aud",
    jwkSetURL: "http://jwks.test/keys",
    jwkSetUpdateInterval: 3_600_000,
    leeway: 30_000,
    checkScrape: true,
  }, { log: () => {}, fetch: (() => Promise.resolve(new Response(jwks))) as typeof fetch });
  const header = b64(te.encode(JSON.stringify({ alg: "none", kid: "k1" })));
  const corpus = [
    `T${good}`,
    `T${good.split(".").slice(0, 2).join(".")}.`,
    `T${header}.${good.split(".")[1]}.`,
    `T${b64(te.encode(JSON.stringify({ alg: "ES256", kid: "k1", crit: ["x"] })))}.${good.split(".")[1]}.AAAA`,
    `K${jwks}`,
    `K{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"oct","kid":"o","k":"AA"},{}]}`,
    `K{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"${b64(new Uint8Array(32))}"}]}`,
  ].map((s) => te.encode(s));
  // The first verification pays for WebCrypto's set-up; keep it out of the time bound.
  await hook.check(parseURLData(te.encode(`/announce?jwt=${good}`)), [ih], "announce");
  return {
    name: "jwt",
    corpus,
    tokens: [
      ".",
      "=",
      "-",
      "_",
      "e30",
      "eyJ",
      '"',
      "{",
      "}",
      "[",
      "]",
      ",",
      "null",
      '"kid":',
      '"alg":"RS256"',
    ].map((
      s,
    ) => te.encode(s)),
    maxLength: 4096,
    async run(input) {
      if (input[0] === 0x4b) { // "K": a JWK Set body
        let body: unknown;
        try {
          body = JSON.parse(td.decode(input.subarray(1)));
        } catch {
          return;
        }
        try {
          const keys = await importJWKSet(body);
          for (const [kid, k] of keys) {
            if (typeof kid !== "string" || k.algorithms.size === 0) fail("bad key");
          }
        } catch (err) {
          if (!(err instanceof Error) || !/not a JWK Set/.test(err.message)) throw err;
        }
        return;
      }
      const token = td.decode(input.subarray(1));
      const query = te.encode(`/announce?jwt=${encodeURIComponent(token)}`);
      try {
        await hook.check(parseURLData(query), [ih], "announce");
        // jose's base64url is forgiving (whitespace, unused trailing bits): a token
        // may be spelled differently, but it must decode to the genuine one.
        if (!sameJWS(token, good)) fail("a token that is not the genuine one was accepted");
      } catch (err) {
        if (err !== ErrInvalidJWT && err !== ErrMissingJWT) throw err;
      }
    },
    stop: () => hook.stop(),
  };
}

/** True when two compact JWS decode to the same three byte strings. */
function sameJWS(a: string, b: string): boolean {
  const bytes = (seg: string) => {
    const t = seg.replace(/[\t\n\f\r ]/g, "").replace(/-/g, "+").replace(/_/g, "/");
    try {
      return atob(t + "=".repeat((4 - (t.length % 4)) % 4));
    } catch {
      return undefined;
    }
  };
  const sa = a.split(".");
  const sb = b.split(".");
  return sa.length === 3 && sb.length === 3 && sa.every((x, i) => {
    const v = bytes(x);
    return v !== undefined && v === bytes(sb[i]);
  });
}

/** Every target, freshly built. */
export async function allTargets(): Promise<FuzzTarget[]> {
  return [
    paramsTarget(),
    httpParserTarget(),
    httpFetchTarget(),
    httpServerTarget(),
    bencodeTarget(),
    udpTarget(),
    udpOptionsTarget(),
    configTarget(),
    await jwtTarget(),
  ];
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function main(args: string[]): Promise<number> {
  const flag = (name: string, def: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const count = Number(flag("count", "1000000"));
  const seed = Number(flag("seed", "1"));
  const only = flag("target", "");
  const bound = Number(flag("time-bound", "250"));
  let failed = 0;
  const targets = await allTargets();
  for (const t of targets) {
    if (only !== "" && !only.split(",").includes(t.name)) continue;
    const r = await fuzz(t, {
      seed,
      count,
      timeBoundMs: bound,
      onProgress: (done) => console.error(`  ${t.name}: ${done} inputs`),
    });
    console.log(
      `${t.name.padEnd(12)} ${String(r.inputs).padStart(9)} inputs  ${
        (r.ms / 1000).toFixed(1).padStart(7)
      } s  ` +
        `slowest ${r.slowestMs.toFixed(1)} ms  failures ${r.failures.length}`,
    );
    for (const f of r.failures) {
      console.log(`  FAIL ${hexOf(f.input)}\n    ${(f.error as Error)?.stack ?? String(f.error)}`);
    }
    failed += r.failures.length;
  }
  for (const t of targets) await t.stop?.();
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
