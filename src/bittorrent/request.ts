/**
 * Requests and responses as the hook chain sees them, independent of the frontend
 * that parsed them.
 *
 * @module
 */
import type { Event } from "./event.ts";
import type { AddressFamily } from "./ip.ts";
import type { Params } from "./params.ts";
import type { InfoHash, Peer, PeerID } from "./peer.ts";

/** An announce after parsing and sanitising. */
export interface AnnounceRequest {
  infoHash: InfoHash;
  /** The announcing peer; its `ip` is the address the tracker will hand out. */
  peer: Peer;
  event: Event;
  eventProvided: boolean;
  /** Wanted peers after applying the default and the maximum. */
  numWant: number;
  numWantProvided: boolean;
  /** True when the address came from the request itself (spoofing allowed). */
  ipProvided: boolean;
  compact: boolean;
  noPeerID: boolean;
  left: number;
  downloaded: number;
  uploaded: number;
  params: Params;
}

/** A scrape after parsing; `family` picks the IPv4 or IPv6 swarms. */
export interface ScrapeRequest {
  infoHashes: InfoHash[];
  family: AddressFamily;
  params: Params;
}

/** Counts of one swarm. `downloaded` counts completed events. */
export interface Scrape {
  infoHash: InfoHash;
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** What a scrape answers: one entry per requested infohash, in request order. */
export interface ScrapeResponse {
  files: Scrape[];
}

/**
 * Peers of one address family in wire order, kept flat: `compact` holds
 * ip ‖ port (6 or 18 bytes) per peer, ready for BEP 23 / BEP 7 / BEP 15 replies,
 * and `ids` the 20-byte peer IDs, for non-compact HTTP replies.
 *
 * @example
 * ```ts
 * const list = new PeerList(4);
 * list.push({ id: new Uint8Array(20), ip: new Uint8Array([127, 0, 0, 1]), port: 6881 });
 * list.compactBytes(); // 7f 00 00 01 1a e1
 * ```
 */
export class PeerList {
  /** Bytes per compact entry: the address and a 2-byte port. */
  readonly entrySize: number;
  count = 0;
  /**
   * Whether {@link pushPacked} copies peer IDs. Compact replies carry none, so the
   * chain turns this off for them when no hook could look at the IDs; then
   * {@link get} returns all-zero IDs for such peers.
   */
  keepIDs = true;
  private compact: Uint8Array;
  private ids: Uint8Array;

  constructor(readonly family: AddressFamily, capacity = 8) {
    this.entrySize = family === 4 ? 6 : 18;
    this.compact = new Uint8Array(capacity * this.entrySize);
    this.ids = new Uint8Array(capacity * 20);
  }

  /** Makes room for `n` more entries. */
  private reserve(n: number): void {
    if ((this.count + n) * 20 <= this.ids.length) return;
    const cap = Math.max(8, this.count * 2, this.count + n);
    const compact = new Uint8Array(cap * this.entrySize);
    compact.set(this.compact);
    const ids = new Uint8Array(cap * 20);
    ids.set(this.ids);
    this.compact = compact;
    this.ids = ids;
  }

  /** Appends a peer; its address must be of this list's family. */
  push(peer: Peer): void {
    if (peer.ip.length !== this.entrySize - 2) {
      throw new RangeError(`IPv${this.family} peer list given a ${peer.ip.length}-byte address`);
    }
    this.reserve(1);
    const at = this.count * this.entrySize;
    this.compact.set(peer.ip, at);
    this.compact[at + this.entrySize - 2] = peer.port >> 8;
    this.compact[at + this.entrySize - 1] = peer.port & 0xff;
    this.ids.set(peer.id, this.count * 20);
    this.count++;
  }

  /**
   * Appends `n` peers from packed columns: their compact entries (ip ‖ port)
   * contiguous from `entries[entryAt]`, and their 20-byte IDs `idStride` bytes
   * apart from `ids[idAt]`. Stores use it to copy runs of records without
   * building Peer objects.
   */
  pushRun(
    entries: Uint8Array,
    entryAt: number,
    ids: Uint8Array,
    idAt: number,
    idStride: number,
    n: number,
  ): void {
    if (n <= 0) return;
    this.reserve(n);
    const size = this.entrySize;
    const bytes = n * size;
    if (bytes <= 32) {
      // One or a few peers (subnet-preferring picks take them singly): a loop beats a view and a copy call.
      const out = this.compact;
      const at = this.count * size;
      for (let i = 0; i < bytes; i++) out[at + i] = entries[entryAt + i];
    } else {
      this.compact.set(entries.subarray(entryAt, entryAt + bytes), this.count * size);
    }
    if (this.keepIDs) {
      const out = this.ids;
      let d = this.count * 20;
      for (let k = 0, at = idAt; k < n; k++, at += idStride) {
        for (let i = 0; i < 20; i++) out[d++] = ids[at + i];
      }
    }
    this.count += n;
  }

  /** The compact entries, `count * entrySize` bytes (a view). */
  compactBytes(): Uint8Array {
    return this.compact.subarray(0, this.count * this.entrySize);
  }

  /** Copies the compact entries of the first `n` peers into `out` at `at`. */
  copyCompact(out: Uint8Array, at: number, n: number): void {
    out.set(this.compact.subarray(0, n * this.entrySize), at);
  }

  /** Peer `i` as an object (a copy). */
  get(i: number): Peer {
    const at = i * this.entrySize;
    const ipLen = this.entrySize - 2;
    return {
      ip: this.compact.slice(at, at + ipLen),
      port: (this.compact[at + ipLen] << 8) | this.compact[at + ipLen + 1],
      id: this.ids.slice(i * 20, i * 20 + 20) as PeerID,
    };
  }

  /** Every peer as objects, for hooks and tests. */
  toArray(): Peer[] {
    return Array.from({ length: this.count }, (_, i) => this.get(i));
  }
}

/** What an announce answers. Intervals are in seconds. */
export interface AnnounceResponse {
  compact: boolean;
  complete: number;
  incomplete: number;
  interval: number;
  minInterval: number;
  ipv4Peers: PeerList;
  ipv6Peers: PeerList;
}
