/**
 * BEP 15 replies written straight into bytes: connect, announce, scrape and error.
 *
 * Every reply fits one unfragmented datagram on a 1500-byte MTU path: 1472 bytes
 * of UDP payload over IPv4 (1500 − 20 IP − 8 UDP) and 1452 over IPv6 (1500 − 40 −
 * 8). That caps an announce at {@link maxPeersPerReply} peers, a scrape at
 * {@link MAX_SCRAPE_PER_REPLY} infohashes and an error message at
 * {@link MAX_ERROR_MESSAGE} bytes. A fragmented reply is lost whole when any
 * fragment is, and some paths drop fragments outright.
 *
 * @module
 */
import { allocBytes } from "../../bittorrent/bytes.ts";
import type { AddressFamily } from "../../bittorrent/ip.ts";
import type { AnnounceResponse, ScrapeResponse } from "../../bittorrent/request.ts";

/** UDP payload bytes that fit a 1500-byte MTU, per address family. */
export const MAX_PAYLOAD: Readonly<Record<AddressFamily, number>> = { 4: 1500 - 20 - 8, 6: 1500 - 40 - 8 };

/** action ‖ tx ‖ interval ‖ leechers ‖ seeders. */
const ANNOUNCE_HEADER = 20;
/** action ‖ tx. */
const SHORT_HEADER = 8;

/**
 * Peers one announce reply may carry: 242 IPv4 peers (6 bytes each) or 79 IPv6
 * peers (18 bytes each). opentracker caps IPv6 at 66, sized for smaller MTUs.
 *
 * @example
 * ```ts
 * maxPeersPerReply(6); // 79
 * ```
 */
export function maxPeersPerReply(family: AddressFamily): number {
  return Math.floor((MAX_PAYLOAD[family] - ANNOUNCE_HEADER) / (family === 4 ? 6 : 18));
}

/** Scrape entries one reply holds on either family: ⌊(1452 − 8) / 12⌋. */
export const MAX_SCRAPE_PER_REPLY: number = Math.floor((MAX_PAYLOAD[6] - SHORT_HEADER) / 12);

/** Longest error message sent, in UTF-8 bytes; longer hook messages are cut. */
export const MAX_ERROR_MESSAGE = 255;

function writeUint32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
}

/**
 * A reply of `size` bytes: at the start of `room` when it is given and large
 * enough (the transport's send buffer, which saves a copy; its bytes are not
 * zeroed, so every writer fills its whole reply), else fresh memory.
 */
function header(size: number, action: number, tx: number, room: Uint8Array | undefined): Uint8Array {
  const out = room !== undefined && size <= room.length ? room.subarray(0, size) : allocBytes(size);
  writeUint32(out, 0, action);
  writeUint32(out, 4, tx);
  return out;
}

/**
 * The 16-byte connect reply: action 0, tx, the new connection ID. Like every
 * writer here, it builds the reply in `room` when given one that is large enough.
 *
 * @example
 * ```ts
 * writeConnect(0xdeadbeef, id); // 00000000 deadbeef <id>
 * ```
 */
export function writeConnect(tx: number, connectionID: Uint8Array, room?: Uint8Array): Uint8Array {
  const out = header(16, 0, tx, room);
  out.set(connectionID, 8);
  return out;
}

/**
 * An announce reply: `action` (1, or 4 echoing an opentracker IPv6 announce), tx,
 * interval in seconds, leechers, seeders, then the compact peers of `family` (6
 * bytes per IPv4 peer, 18 per IPv6 peer), at most {@link maxPeersPerReply}.
 *
 * @example
 * ```ts
 * writeAnnounce(1, 0xdeadbeef, resp, 4); // 00000001deadbeef0000070800000001000000007f0000011ae1
 * ```
 */
export function writeAnnounce(
  action: number,
  tx: number,
  resp: AnnounceResponse,
  family: AddressFamily,
  room?: Uint8Array,
): Uint8Array {
  const peers = family === 4 ? resp.ipv4Peers : resp.ipv6Peers;
  const n = Math.min(peers.count, maxPeersPerReply(family));
  const out = header(ANNOUNCE_HEADER + n * peers.entrySize, action, tx, room);
  writeUint32(out, 8, resp.interval);
  writeUint32(out, 12, resp.incomplete);
  writeUint32(out, 16, resp.complete);
  peers.copyCompact(out, ANNOUNCE_HEADER, n);
  return out;
}

/**
 * A scrape reply: action 2, tx, then per infohash in request order seeders,
 * completed, leechers (BEP 15's order), at most {@link MAX_SCRAPE_PER_REPLY}.
 *
 * @example
 * ```ts
 * writeScrape(0xdeadbeef, { files: [{ infoHash, complete: 1, downloaded: 3, incomplete: 2 }] });
 * // 00000002deadbeef 00000001 00000003 00000002
 * ```
 */
export function writeScrape(tx: number, resp: ScrapeResponse, room?: Uint8Array): Uint8Array {
  const n = Math.min(resp.files.length, MAX_SCRAPE_PER_REPLY);
  const out = header(SHORT_HEADER + n * 12, 2, tx, room);
  for (let i = 0; i < n; i++) {
    const f = resp.files[i];
    writeUint32(out, SHORT_HEADER + i * 12, f.complete);
    writeUint32(out, SHORT_HEADER + i * 12 + 4, f.downloaded);
    writeUint32(out, SHORT_HEADER + i * 12 + 8, f.incomplete);
  }
  return out;
}

const utf8 = new TextEncoder();
// Error messages come from a small fixed set (ours and the hooks'), and floods of
// bad connection IDs must not encode the same string again per packet.
const encoded = new Map<string, Uint8Array>();

function messageBytes(message: string): Uint8Array {
  let bytes = encoded.get(message);
  if (bytes !== undefined) return bytes;
  bytes = utf8.encode(message);
  if (bytes.length > MAX_ERROR_MESSAGE) {
    let end = MAX_ERROR_MESSAGE;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // never split a UTF-8 sequence
    bytes = bytes.slice(0, end);
  }
  if (encoded.size < 256) encoded.set(message, bytes);
  return bytes;
}

/**
 * An error reply: action 3, tx, the message, and a NUL as chihaya sends (BEP 15
 * clients read the message to the end of the packet).
 *
 * @example
 * ```ts
 * writeError(0xdeadbeef, "bad connection ID"); // 00000003deadbeef "bad connection ID" 00
 * ```
 */
export function writeError(tx: number, message: string, room?: Uint8Array): Uint8Array {
  const text = messageBytes(message);
  const out = header(SHORT_HEADER + text.length + 1, 3, tx, room);
  out.set(text, SHORT_HEADER);
  out[out.length - 1] = 0;
  return out;
}
