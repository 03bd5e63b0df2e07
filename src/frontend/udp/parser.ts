/**
 * Reading BEP 15 requests: the packet header, announces (action 1, and the old
 * opentracker IPv6 announce, action 4, whose IP field is 16 bytes), scrapes, and
 * the BEP 41 options after an announce. Errors are ClientErrors with chihaya's
 * strings. Everything a request keeps is copied out of the packet, so the caller
 * may reuse its receive buffer as soon as parsing returns.
 *
 * @module
 */
import { allocBytes, copyBytes } from "../../bittorrent/bytes.ts";
import { ClientError } from "../../bittorrent/errors.ts";
import type { Event } from "../../bittorrent/event.ts";
import { familyOf, isUsableIP, normalizeIP } from "../../bittorrent/ip.ts";
import { noParams, type Params, parseURLData } from "../../bittorrent/params.ts";
import type { AnnounceRequest, ScrapeRequest } from "../../bittorrent/request.ts";
import { ErrInvalidPort, ErrUnusableIP } from "../http/parser.ts";
import { MAX_SCRAPE_PER_REPLY, maxPeersPerReply } from "./writer.ts";

/** BEP 15 action numbers; 4 is opentracker's IPv6 announce. */
export enum Action {
  Connect = 0,
  Announce = 1,
  Scrape = 2,
  Error = 3,
  AnnounceV6 = 4,
}

/** connection_id ‖ action ‖ transaction_id. */
export const HEADER_SIZE = 16;
/** A BEP 15 announce without options. */
export const ANNOUNCE_SIZE = 98;
/** An action 4 announce: the IP field grows from 4 to 16 bytes. */
export const ANNOUNCE_V6_SIZE = 110;

const CONNECT_MAGIC = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80];

/** The `udp:` settings parsing needs. */
export interface UDPParseOptions {
  allowIPSpoofing: boolean;
  maxNumWant: number;
  defaultNumWant: number;
  maxScrapeInfoHashes: number;
  /** Accept port 0 (LBRY mode, `lbry_mode`); otherwise it is `invalid port`. */
  allowZeroPort?: boolean;
}

/**
 * chihaya's UDP client errors. A request too short for its action, a truncated
 * BEP 41 option, or a ragged scrape:
 *
 * @example
 * ```ts
 * writeError(tx, ErrMalformedPacket.message); // action 3, "malformed packet"
 * ```
 */
export const ErrMalformedPacket: ClientError = new ClientError("malformed packet");
/** An announce event other than 0 (none), 1 (completed), 2 (started), 3 (stopped). */
export const ErrMalformedEvent: ClientError = new ClientError("malformed event ID");
/** A BEP 41 option type other than 0x00, 0x01 and 0x02. */
export const ErrUnknownOptionType: ClientError = new ClientError("unknown option type");
/** An action other than connect, announce (1, 4) and scrape, from a client with a valid ID. */
export const ErrUnknownAction: ClientError = new ClientError("unknown action ID");
/** A connection ID that is forged, expired, from the future, or issued to another address. */
export const ErrBadConnectionID: ClientError = new ClientError("bad connection ID");

/**
 * A big-endian u32 at `at`.
 *
 * @example
 * ```ts
 * readUint32(new Uint8Array([0xde, 0xad, 0xbe, 0xef]), 0); // 0xdeadbeef
 * ```
 */
export function readUint32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** A big-endian u64 as a number; exact up to 2^53, like the HTTP counters. */
function readUint64(b: Uint8Array, at: number): number {
  return readUint32(b, at) * 0x1_0000_0000 + readUint32(b, at + 4);
}

/**
 * True when the first 8 bytes are BEP 15's protocol ID `0x41727101980`, which a
 * connect request carries instead of a connection ID.
 *
 * @example
 * ```ts
 * isConnectMagic(hex("000004172710198000000000deadbeef")); // true
 * ```
 */
export function isConnectMagic(packet: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (packet[i] !== CONNECT_MAGIC[i]) return false;
  return true;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Reads BEP 41 options from `packet[from..]`: 0x00 ends them, 0x01 is a one-byte
 * NOP, 0x02 is URL data (a length byte, then the data). URL data chunks are
 * concatenated and parsed like an HTTP request target, so `/announce/<passkey>?jwt=…`
 * reaches hooks as `params.path` and parameters. No options gives empty params.
 *
 * @throws {ClientError} `malformed packet` for a truncated option, `unknown option
 * type` for any other type, or the URL data parser's errors.
 * @example
 * ```ts
 * parseURLOptions(new Uint8Array([2, 5, ...new TextEncoder().encode("/?a=b")]), 0).string("a"); // "b"
 * ```
 */
export function parseURLOptions(packet: Uint8Array, from: number): Params {
  if (from >= packet.length || packet[from] === 0x00) return noParams();
  // Spans of the URL data chunks; one chunk (the usual case) is parsed in place.
  const spans: number[] = [];
  let total = 0;
  for (let i = from; i < packet.length;) {
    const type = packet[i];
    if (type === 0x00) break;
    if (type === 0x01) {
      i++;
      continue;
    }
    if (type !== 0x02) throw ErrUnknownOptionType;
    if (i + 1 >= packet.length) throw ErrMalformedPacket;
    const start = i + 2;
    const end = start + packet[i + 1];
    if (end > packet.length) throw ErrMalformedPacket;
    spans.push(start, end);
    total += end - start;
    i = end;
  }
  if (spans.length <= 2) return parseURLData(packet, spans[0] ?? 0, spans[1] ?? 0);
  const data = allocBytes(total);
  let at = 0;
  for (let s = 0; s < spans.length; s += 2) {
    data.set(packet.subarray(spans[s], spans[s + 1]), at);
    at += spans[s + 1] - spans[s];
  }
  return parseURLData(data);
}

/**
 * Builds an AnnounceRequest from an action 1 or action 4 packet whose connection ID
 * has been checked. `source` is the normalised client address (4 or 16 bytes).
 *
 * - event: 0 none, 1 completed, 2 started, 3 stopped; anything else is
 *   `malformed event ID` (the whole 32-bit field is read, not only its last byte).
 * - IP: with spoofing allowed, a non-zero IP field of the client's own family
 *   replaces the source; zero means "the source" (BEP 15). A field of the other
 *   family (the 4-byte field from an IPv6 client) is ignored, never half-copied.
 * - num_want: negative (BEP 15's −1) means `default_numwant`; otherwise it is
 *   clamped to `max_numwant`. Both are then capped to what fits one reply.
 * - port 0 is refused with `invalid port`, unless `allowZeroPort` (LBRY mode).
 *
 * @example
 * ```ts
 * const req = parseAnnounce(packet, new Uint8Array([127, 0, 0, 1]), opts);
 * req.peer.port; // 6881
 * ```
 */
export function parseAnnounce(
  packet: Uint8Array,
  source: Uint8Array,
  opts: UDPParseOptions,
): AnnounceRequest {
  const ipSize = readUint32(packet, 8) === Action.AnnounceV6 ? 16 : 4;
  if (packet.length < (ipSize === 16 ? ANNOUNCE_V6_SIZE : ANNOUNCE_SIZE)) throw ErrMalformedPacket;
  const eventID = readUint32(packet, 80);
  if (eventID > 3) throw ErrMalformedEvent;

  const ipEnd = 84 + ipSize;
  let ip = source;
  let ipProvided = false;
  if (opts.allowIPSpoofing) {
    const field = normalizeIP(packet.subarray(84, ipEnd));
    if (field.length === source.length && !isZero(field)) {
      ip = field;
      ipProvided = true;
    }
  }

  const family = familyOf(ip);
  const wanted = readUint32(packet, ipEnd + 4) | 0;
  const numWantProvided = wanted >= 0;
  const numWant = Math.min(
    numWantProvided ? Math.min(wanted, opts.maxNumWant) : opts.defaultNumWant,
    maxPeersPerReply(family),
  );
  const port = (packet[ipEnd + 8] << 8) | packet[ipEnd + 9];
  const params = parseURLOptions(packet, ipEnd + 10);

  if (port === 0 && !opts.allowZeroPort) throw ErrInvalidPort;
  if (!isUsableIP(ip)) throw ErrUnusableIP;
  return {
    infoHash: copyBytes(packet, 16, 36),
    peer: { id: copyBytes(packet, 36, 56), ip: ip === source ? ip : copyBytes(ip), port },
    event: eventID as Event,
    eventProvided: true,
    numWant,
    numWantProvided,
    ipProvided,
    // UDP replies are always compact and never carry peer IDs.
    compact: true,
    noPeerID: true,
    downloaded: readUint64(packet, 56),
    left: readUint64(packet, 64),
    uploaded: readUint64(packet, 72),
    params,
  };
}

/**
 * Builds a ScrapeRequest: at least one infohash and a whole number of them
 * (`malformed packet` otherwise), truncated to `max_scrape_infohashes` and to what
 * one reply holds. The swarms counted are those of the client's address family.
 *
 * @example
 * ```ts
 * parseScrape(packet, new Uint8Array([127, 0, 0, 1]), opts).infoHashes.length; // 1
 * ```
 */
export function parseScrape(packet: Uint8Array, source: Uint8Array, opts: UDPParseOptions): ScrapeRequest {
  const bytes = packet.length - HEADER_SIZE;
  if (bytes < 20 || bytes % 20 !== 0) throw ErrMalformedPacket;
  const n = Math.min(bytes / 20, opts.maxScrapeInfoHashes, MAX_SCRAPE_PER_REPLY);
  const infoHashes: Uint8Array[] = [];
  // One small array each: a view costs as much as a copy's allocation.
  for (let i = 0; i < n; i++) {
    infoHashes.push(copyBytes(packet, HEADER_SIZE + i * 20, HEADER_SIZE + i * 20 + 20));
  }
  return { infoHashes, family: familyOf(source), params: noParams() };
}
