/**
 * HTTP replies as bencode bytes, keys in BEP 3 order, written straight into a
 * buffer: compact peers (BEP 23) and peers6 (BEP 7), or the dictionary list.
 *
 * @module
 */
import { BencodeWriter } from "../../bittorrent/bencode.ts";
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

/**
 * Encodes an announce reply. Compact replies leave out an empty `peers`/`peers6`,
 * as chihaya does; `noPeerID` drops `peer id` from the dictionary form.
 *
 * @example
 * ```ts
 * writeAnnounce(resp, false); // d8:completei0e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:...e
 * ```
 */
export function writeAnnounce(resp: AnnounceResponse, noPeerID: boolean): Uint8Array {
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
