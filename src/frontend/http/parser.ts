/**
 * HTTP announce and scrape parsing, in chihaya's order and with its client error
 * strings, from the raw request target bytes.
 *
 * @module
 */
import { ClientError } from "../../bittorrent/errors.ts";
import { ErrUnknownEvent, type Event, parseEvent } from "../../bittorrent/event.ts";
import { familyOf, isUsableIP, parseIP } from "../../bittorrent/ip.ts";
import { KeySet, MAX_UINT64, type Params } from "../../bittorrent/params.ts";
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
  return {
    infoHash: params.infoHashes[0],
    peer: { id: peerID, ip, port },
    event,
    eventProvided: eventBytes !== undefined,
    numWant,
    numWantProvided,
    ipProvided: provided,
    compact,
    noPeerID: noPeerID !== undefined && noPeerID.length === 1 && noPeerID[0] === 0x31,
    left,
    downloaded,
    uploaded,
    params,
  };
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
