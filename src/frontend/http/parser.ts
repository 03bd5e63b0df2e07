/**
 * HTTP announce and scrape parsing, in chihaya's order and with its client error
 * strings, from the raw request target bytes.
 *
 * @module
 */
import { ClientError } from "../../bittorrent/errors.ts";
import { allocBytes, copyBytes } from "../../bittorrent/bytes.ts";
import { ErrUnknownEvent, type Event, eventIn, parseEvent } from "../../bittorrent/event.ts";
import { familyOf, isUsableIP, parseIP } from "../../bittorrent/ip.ts";
import { escapeAt, HEX, isInfoHashKey, KeySet, MAX_UINT64, Params, uintIn } from "../../bittorrent/params.ts";
import type { AnnounceRequest, ScrapeRequest } from "../../bittorrent/request.ts";

/** The `http:` settings the parser needs. */
export interface ParseOptions {
  allowIPSpoofing: boolean;
  realIPHeader: string;
  maxNumWant: number;
  defaultNumWant: number;
  maxScrapeInfoHashes: number;
  /** Accept `port=0` (LBRY mode, `lbry_mode`); otherwise it is `invalid port`. */
  allowZeroPort?: boolean;
}

const err = (msg: string) => new ClientError(msg);
export const ErrNoInfoHash: ClientError = err("no info_hash parameter supplied");
export const ErrMultipleInfoHashes: ClientError = err("multiple info_hash parameters supplied");
export const ErrInvalidEvent: ClientError = err("failed to provide valid client event");
export const ErrInvalidPeerID: ClientError = err("failed to provide valid peer_id");
export const ErrInvalidIP: ClientError = err("failed to parse peer IP address");
export const ErrUnusableIP: ClientError = err("invalid IP");
export const ErrInvalidPort: ClientError = err("invalid port");
const missing: Record<string, ClientError> = {};
for (const p of ["peer_id", "left", "downloaded", "uploaded", "numwant", "port"]) {
  missing[p] = err(`failed to parse parameter: ${p}`);
}

const utf8 = new TextDecoder();

/**
 * The socket peer's address: as text (`"203.0.113.7"`, `"::1"`), or already
 * parsed into 4 or 16 bytes (hayate's server parses it once per connection).
 */
export type RemoteAddress = string | Uint8Array;

/**
 * The client's address: with spoofing allowed, the first of `ip`, `ipv4`, `ipv6`
 * present; else the `real_ip_header` (the first valid entry of a comma list such as
 * X-Forwarded-For); else the socket's peer. Null when what was chosen is not an IP.
 */
export function clientIP(
  params: Params,
  header: (name: string) => string | null,
  remote: RemoteAddress,
  opts: ParseOptions,
): { ip: Uint8Array | null; provided: boolean } {
  if (opts.allowIPSpoofing) {
    for (const key of ["ip", "ipv4", "ipv6"]) {
      const v = params.bytes(key);
      if (v !== undefined) return { ip: parseIP(utf8.decode(v)), provided: true };
    }
  }
  if (opts.realIPHeader !== "") {
    const value = header(opts.realIPHeader);
    if (value !== null && value !== "") {
      for (const part of value.split(",")) {
        const ip = parseIP(part.trim());
        if (ip !== null) return { ip, provided: false };
      }
      return { ip: null, provided: false };
    }
  }
  return { ip: typeof remote === "string" ? parseIP(remote) : remote, provided: false };
}

// The parameters an announce reads, found in one pass over the query.
const ANNOUNCE_KEYS = new KeySet([
  "event",
  "compact",
  "peer_id",
  "left",
  "downloaded",
  "uploaded",
  "numwant",
  "port",
  "no_peer_id",
]);
const EVENT = 0,
  COMPACT = 1,
  PEER_ID = 2,
  LEFT = 3,
  DOWNLOADED = 4,
  UPLOADED = 5,
  NUMWANT = 6,
  PORT = 7,
  NO_PEER_ID = 8;
// parseAnnounce is synchronous, so one scratch serves every call.
const found = new Int32Array(ANNOUNCE_KEYS.names.length);

function requireUint(params: Params, key: number, max: number): number {
  const v = params.uintAt(found[key], max);
  if (v < 0) throw missing[ANNOUNCE_KEYS.names[key]];
  return v;
}

/**
 * Builds an AnnounceRequest; throws ClientError with chihaya's strings.
 *
 * @example
 * ```ts
 * const req = parseAnnounce(parseURLData(bytes), () => null, "127.0.0.1", opts);
 * ```
 */
export function parseAnnounce(
  params: Params,
  header: (name: string) => string | null,
  remote: RemoteAddress,
  opts: ParseOptions,
): AnnounceRequest {
  params.locate(ANNOUNCE_KEYS, found);
  let event: Event = 0;
  const eventBytes = params.bytesAt(found[EVENT]);
  if (eventBytes !== undefined) {
    try {
      event = parseEvent(eventBytes);
    } catch (e) {
      if (e === ErrUnknownEvent) throw ErrInvalidEvent;
      throw e;
    }
  }
  const compactBytes = params.bytesAt(found[COMPACT]);
  const compact = compactBytes !== undefined && compactBytes.length > 0 &&
    !(compactBytes.length === 1 && compactBytes[0] === 0x30);

  if (params.infoHashes.length === 0) throw ErrNoInfoHash;
  if (params.infoHashes.length > 1) throw ErrMultipleInfoHashes;

  const peerID = params.bytesAt(found[PEER_ID]);
  if (peerID === undefined) throw missing.peer_id;
  if (peerID.length !== 20) throw ErrInvalidPeerID;

  const left = requireUint(params, LEFT, MAX_UINT64);
  const downloaded = requireUint(params, DOWNLOADED, MAX_UINT64);
  const uploaded = requireUint(params, UPLOADED, MAX_UINT64);

  const numWantProvided = found[NUMWANT] >= 0;
  let numWant = opts.defaultNumWant;
  if (numWantProvided) numWant = Math.min(requireUint(params, NUMWANT, 0xffffffff), opts.maxNumWant);

  const port = requireUint(params, PORT, 0xffff);

  const { ip, provided } = clientIP(params, header, remote, opts);
  if (ip === null) throw ErrInvalidIP;
  if (port === 0 && !opts.allowZeroPort) throw ErrInvalidPort;
  if (!isUsableIP(ip)) throw ErrUnusableIP;

  const noPeerID = params.bytesAt(found[NO_PEER_ID]);
  return announceRequest(
    params.infoHashes[0],
    peerID,
    ip,
    port,
    event,
    eventBytes !== undefined,
    numWant,
    numWantProvided,
    provided,
    compact,
    noPeerID !== undefined && noPeerID.length === 1 && noPeerID[0] === 0x31,
    left,
    downloaded,
    uploaded,
    params,
  );
}

/** The one place announce requests are made, so that both parsers' requests have one shape. */
function announceRequest(
  infoHash: Uint8Array,
  id: Uint8Array,
  ip: Uint8Array,
  port: number,
  event: Event,
  eventProvided: boolean,
  numWant: number,
  numWantProvided: boolean,
  ipProvided: boolean,
  compact: boolean,
  noPeerID: boolean,
  left: number,
  downloaded: number,
  uploaded: number,
  params: Params,
): AnnounceRequest {
  return {
    infoHash,
    peer: { id, ip, port },
    event,
    eventProvided,
    numWant,
    numWantProvided,
    ipProvided,
    compact,
    noPeerID,
    left,
    downloaded,
    uploaded,
    params,
  };
}

// What a byte of a key is to parseAnnounceTarget: part of it (0), its end ('=', '&',
// ';'), or one the generic parser would change (a capital, lower-cased; an escape; '+').
const KEY_END = 1, KEY_CHANGED = 2;
const KEY_BYTE = new Uint8Array(256);
for (const c of [0x3d, 0x26, 0x3b]) KEY_BYTE[c] = KEY_END;
for (let c = 0x41; c <= 0x5a; c++) KEY_BYTE[c] = KEY_CHANGED;
KEY_BYTE[0x25] = KEY_BYTE[0x2b] = KEY_CHANGED;
// Where the last value of each announce key starts and ends in the raw query (-1: absent).
const valueStart = new Int32Array(ANNOUNCE_KEYS.names.length);
const valueEnd = new Int32Array(ANNOUNCE_KEYS.names.length);

/**
 * The announce of the request target `src[from, to)` read straight from its bytes,
 * as {@link parseAnnounce} of {@link parseURLData} would make it, or undefined
 * where that path must decide (an error to report, capitals, `+` or escapes in a
 * key or in a value other than `info_hash` and `peer_id`, IP spoofing): a
 * client's announce then costs one pass over the query, with no copy of every key
 * and value. Hooks still read any parameter: `params` parses a copy of the query
 * when first asked.
 *
 * @example
 * ```ts
 * const req = parseAnnounceTarget(bytes, 0, bytes.length, "/announce", () => null, remote, opts) ??
 *   parseAnnounce(parseURLData(bytes, 0, bytes.length, "/announce"), () => null, remote, opts);
 * ```
 */
export function parseAnnounceTarget(
  src: Uint8Array,
  from: number,
  to: number,
  path: string,
  header: (name: string) => string | null,
  remote: RemoteAddress,
  opts: ParseOptions,
): AnnounceRequest | undefined {
  if (opts.allowIPSpoofing) return undefined;
  let q = from;
  while (q < to && src[q] !== 0x3f) q++;
  for (let k = 0; k < valueStart.length; k++) valueStart[k] = -1;
  let infoHash: Uint8Array | undefined;
  let peerID: Uint8Array | undefined;
  for (let i = q + 1; i < to; i++) {
    const keyStart = i;
    let kind = 0;
    for (; i < to; i++) {
      kind = KEY_BYTE[src[i]];
      if (kind !== 0) break;
    }
    if (kind === KEY_CHANGED) return undefined;
    const keyEnd = i;
    if (i < to && src[i] === 0x3d) i++;
    if (keyEnd - keyStart === 9 && isInfoHashKey(src, keyStart)) {
      if (infoHash !== undefined) return undefined;
      infoHash = allocBytes(20);
      i = decode20(src, i, to, infoHash);
      if (i < 0) return undefined;
      continue;
    }
    const k = ANNOUNCE_KEYS.indexOf(src, keyStart, keyEnd);
    if (k === PEER_ID) {
      peerID = allocBytes(20);
      i = decode20(src, i, to, peerID);
      if (i < 0) return undefined;
      continue;
    }
    const start = i;
    for (; i < to; i++) {
      const c = src[i];
      if (c === 0x26 || c === 0x3b) break;
      // Every escape must be valid; a known key's value must be its bytes as sent.
      if (c === 0x25) {
        if (k >= 0 || escapeAt(src, i, to) < 0) return undefined;
        i += 2;
      } else if (c === 0x2b && k >= 0) {
        return undefined;
      }
    }
    if (k >= 0) {
      valueStart[k] = start;
      valueEnd[k] = i;
    }
  }
  if (infoHash === undefined || peerID === undefined) return undefined;
  const e = valueStart[EVENT];
  const event = e < 0 ? 0 : eventIn(src, e, valueEnd[EVENT]);
  if (event === -1) return undefined;
  const c = valueStart[COMPACT];
  const compact = c >= 0 && valueEnd[COMPACT] > c && !(valueEnd[COMPACT] - c === 1 && src[c] === 0x30);
  const left = rawUint(src, LEFT, MAX_UINT64);
  const downloaded = rawUint(src, DOWNLOADED, MAX_UINT64);
  const uploaded = rawUint(src, UPLOADED, MAX_UINT64);
  const numWantProvided = valueStart[NUMWANT] >= 0;
  const wanted = numWantProvided ? rawUint(src, NUMWANT, 0xffffffff) : opts.defaultNumWant;
  const port = rawUint(src, PORT, 0xffff);
  if (left < 0 || downloaded < 0 || uploaded < 0 || wanted < 0 || port < 0) return undefined;
  const params = Params.deferred(copyBytes(src, q, to), path);
  const { ip } = clientIP(params, header, remote, opts);
  if (ip === null || (port === 0 && !opts.allowZeroPort) || !isUsableIP(ip)) return undefined;
  const n = valueStart[NO_PEER_ID];
  return announceRequest(
    infoHash,
    peerID,
    ip,
    port,
    event,
    e >= 0,
    numWantProvided ? Math.min(wanted, opts.maxNumWant) : wanted,
    numWantProvided,
    false,
    compact,
    n >= 0 && valueEnd[NO_PEER_ID] - n === 1 && src[n] === 0x31,
    left,
    downloaded,
    uploaded,
    params,
  );
}

function rawUint(src: Uint8Array, key: number, max: number): number {
  const at = valueStart[key];
  return at < 0 ? -1 : uintIn(src, at, valueEnd[key], max);
}

/**
 * Decodes the value at `src[i]` (up to the next `&` or `;`) into all 20 bytes of
 * `out`; returns where it ends, or -1 when it is not 20 bytes or holds a bad escape.
 */
function decode20(src: Uint8Array, i: number, to: number, out: Uint8Array): number {
  // The escape decoded here rather than by escapeAt(): as a call it costs this parser ~80 ns.
  let n = 0;
  while (i < to) {
    const c = src[i];
    if (c === 0x26 || c === 0x3b) break;
    if (c === 0x25) {
      if (i + 2 >= to) return -1;
      const h = HEX[src[i + 1]], l = HEX[src[i + 2]];
      if ((h | l) < 0) return -1;
      if (n < 20) out[n] = (h << 4) | l;
      n++;
      i += 3;
    } else {
      if (n < 20) out[n] = c === 0x2b ? 0x20 : c;
      n++;
      i++;
    }
  }
  return n === 20 ? i : -1;
}

/**
 * Builds a ScrapeRequest: at least one info_hash, truncated to
 * `max_scrape_infohashes`; the address family is the client's real one.
 */
export function parseScrape(
  params: Params,
  header: (name: string) => string | null,
  remote: RemoteAddress,
  opts: ParseOptions,
): ScrapeRequest {
  if (params.infoHashes.length === 0) throw ErrNoInfoHash;
  const { ip } = clientIP(params, header, remote, opts);
  if (ip === null) throw ErrInvalidIP;
  return {
    infoHashes: params.infoHashes.slice(0, opts.maxScrapeInfoHashes),
    family: familyOf(ip),
    params,
  };
}
