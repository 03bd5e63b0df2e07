/**
 * HTTP replies as bencode bytes, keys in BEP 3 order, written straight into a
 * buffer: compact peers (BEP 23) and peers6 (BEP 7), or the dictionary list.
 *
 * @module
 */
import { BencodeWriter } from "../../bittorrent/bencode.ts";
import { allocBytes } from "../../bittorrent/bytes.ts";
import { formatIP } from "../../bittorrent/ip.ts";
import type { AnnounceResponse, PeerList, ScrapeResponse } from "../../bittorrent/request.ts";

const utf8 = new TextEncoder();

/** The keys of every announce reply, encoded once. */
const KEY = {
  complete: utf8.encode("8:complete"),
  incomplete: utf8.encode("10:incomplete"),
  interval: utf8.encode("8:interval"),
  minInterval: utf8.encode("12:min interval"),
  peers: utf8.encode("5:peers"),
  peers6: utf8.encode("6:peers6"),
  files: utf8.encode("5:files"),
  downloaded: utf8.encode("10:downloaded"),
};

function writePeerDicts(w: BencodeWriter, list: PeerList, withID: boolean): void {
  for (let i = 0; i < list.count; i++) {
    const p = list.get(i);
    w.dict().key("ip").key(formatIP(p.ip));
    if (withID) w.key("peer id").bytes(p.id);
    w.key("port").int(p.port).end();
  }
}

/** Where a reply may be written with room in front of it (hayate's server hands its `ReplyFrame`). */
export interface BodyFrame {
  /** An array whose last `bodyLength` bytes are for the body. */
  frame(bodyLength: number): Uint8Array;
}

/**
 * Encodes an announce reply. Compact replies leave out an empty `peers`/`peers6`,
 * as chihaya does; `noPeerID` drops `peer id` from the dictionary form. Given
 * `into`, a compact reply is written in the last bytes of `into.frame(length)`,
 * and that whole array is returned.
 *
 * @example
 * ```ts
 * writeAnnounce(resp, false); // d8:completei0e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:...e
 * ```
 */
export function writeAnnounce(resp: AnnounceResponse, noPeerID: boolean, into?: BodyFrame): Uint8Array {
  if (resp.compact) {
    const n = compactLength(resp);
    if (n > 0) {
      const out = into !== undefined ? into.frame(n) : allocBytes(n);
      writeCompact(resp, out, out.length - n);
      return out;
    }
  }
  const v4 = resp.ipv4Peers;
  const v6 = resp.ipv6Peers;
  const w = new BencodeWriter(
    96 + v4.count * 6 + v6.count * 18 + (resp.compact ? 0 : (v4.count + v6.count) * 80),
  );
  w.dict()
    .raw(KEY.complete).int(resp.complete)
    .raw(KEY.incomplete).int(resp.incomplete)
    .raw(KEY.interval).int(resp.interval)
    .raw(KEY.minInterval).int(resp.minInterval);
  if (resp.compact) {
    if (v4.count > 0) w.raw(KEY.peers).bytes(v4.compactBytes());
    if (v6.count > 0) w.raw(KEY.peers6).bytes(v6.compactBytes());
  } else {
    w.key("peers").list();
    writePeerDicts(w, v4, !noPeerID);
    writePeerDicts(w, v6, !noPeerID);
    w.end();
  }
  return w.end().finish();
}

/** Digits of `n`, a count below 2^31. */
function digits(n: number): number {
  let d = 1;
  for (; n >= 10; n = (n / 10) | 0) d++;
  return d;
}

/** The length of a compact reply's body, or 0 where a count is not a small integer (the writer handles those). */
function compactLength(resp: AnnounceResponse): number {
  const { complete, incomplete, interval, minInterval } = resp;
  if (!(small(complete) && small(incomplete) && small(interval) && small(minInterval))) return 0;
  let n = COMPACT_FIXED + digits(complete) + digits(incomplete) + digits(interval) + digits(minInterval);
  n += listLength(KEY.peers, resp.ipv4Peers) + listLength(KEY.peers6, resp.ipv6Peers);
  return n;
}

/** The bytes of a compact reply without its four numbers and peers: "d", the keys, "i…e" four times, "e". */
const COMPACT_FIXED = 2 + KEY.complete.length + KEY.incomplete.length + KEY.interval.length +
  KEY.minInterval.length + 4 * 2;

const small = (v: number) => v >= 0 && v < 0x80000000 && v === (v | 0);

/** `key` and the list's compact entries as a byte string, or nothing for an empty list. */
function listLength(key: Uint8Array, list: PeerList): number {
  const n = list.count * list.entrySize;
  return n === 0 ? 0 : key.length + digits(n) + 1 + n;
}

/** Copies `key` to `out[at]`; returns where it ends. A loop: the keys are too short for a native copy to pay. */
function putKey(out: Uint8Array, at: number, key: Uint8Array): number {
  for (let i = 0; i < key.length; i++) out[at + i] = key[i];
  return at + key.length;
}

/** Writes the digits of `n` (< 2^31) to `out[at]`; returns where they end. */
function putDigits(out: Uint8Array, at: number, n: number): number {
  const end = at + digits(n);
  for (let p = end; p > at; n = (n / 10) | 0) out[--p] = 0x30 + (n % 10);
  return end;
}

/** `key` then `i<n>e`. */
function putInt(out: Uint8Array, at: number, key: Uint8Array, n: number): number {
  at = putKey(out, at, key);
  out[at] = 0x69;
  at = putDigits(out, at + 1, n);
  out[at] = 0x65;
  return at + 1;
}

/** The compact reply, exactly {@link compactLength} bytes, into `out` from `at`: what the writer would make, without its checks and copies. */
function writeCompact(resp: AnnounceResponse, out: Uint8Array, at: number): void {
  out[at++] = 0x64;
  at = putInt(out, at, KEY.complete, resp.complete);
  at = putInt(out, at, KEY.incomplete, resp.incomplete);
  at = putInt(out, at, KEY.interval, resp.interval);
  at = putInt(out, at, KEY.minInterval, resp.minInterval);
  at = putList(out, at, KEY.peers, resp.ipv4Peers);
  at = putList(out, at, KEY.peers6, resp.ipv6Peers);
  out[at] = 0x65;
}

function putList(out: Uint8Array, at: number, key: Uint8Array, list: PeerList): number {
  const n = list.count * list.entrySize;
  if (n === 0) return at;
  at = putKey(out, at, key);
  at = putDigits(out, at, n);
  out[at] = 0x3a;
  list.copyCompact(out, at + 1, list.count);
  return at + 1 + n;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Encodes a scrape reply (BEP 48) with `complete`, `downloaded` and `incomplete` per
 * infohash; files are sorted by raw infohash and duplicates collapse into one.
 */
export function writeScrape(resp: ScrapeResponse): Uint8Array {
  const files = resp.files.length > 1
    ? [...resp.files].sort((a, b) => compareBytes(a.infoHash, b.infoHash))
    : resp.files;
  const w = new BencodeWriter(16 + files.length * 90);
  w.dict().raw(KEY.files).dict();
  let previous: Uint8Array | undefined;
  for (const f of files) {
    if (previous !== undefined && compareBytes(previous, f.infoHash) === 0) continue;
    previous = f.infoHash;
    w.bytes(f.infoHash).dict()
      .raw(KEY.complete).int(f.complete)
      .raw(KEY.downloaded).int(f.downloaded)
      .raw(KEY.incomplete).int(f.incomplete)
      .end();
  }
  return w.end().end().finish();
}

/**
 * Encodes `d14:failure reason<len>:<msg>e`.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(writeError("hello world")); // "d14:failure reason11:hello worlde"
 * ```
 */
export function writeError(message: string): Uint8Array {
  return new BencodeWriter(32 + message.length * 3).dict().key("failure reason").bytes(utf8.encode(message))
    .end()
    .finish();
}
