/**
 * One swarm's peers as fixed-size records in a single byte array, seeders first:
 * slots [0, seeders) hold seeders and [seeders, count) leechers. A record is
 * ip ‖ port ‖ peer id ‖ last-seen seconds (30 bytes for IPv4, 42 for IPv6), so a
 * reply copies the compact part of a record without touching objects. Large swarms
 * get an open-addressing index (linear probing, backward-shift deletion) so that
 * lookups stay O(1); small ones are scanned, which is cheaper than an index.
 *
 * @module
 */
import type { PeerList } from "../../bittorrent/request.ts";

/** Past this many peers a swarm keeps a hash index. */
const INDEX_FROM = 16;

/** Record geometry for one address family. */
export interface Layout {
  /** Bytes of ip ‖ port: the compact entry. */
  entry: number;
  /** Bytes of the key: ip ‖ port ‖ peer id. */
  key: number;
  /** Bytes per record: key and a 4-byte last-seen time. */
  stride: number;
}

/** Geometry of IPv4 records. */
export const LAYOUT_V4: Layout = { entry: 6, key: 26, stride: 30 };
/** Geometry of IPv6 records. */
export const LAYOUT_V6: Layout = { entry: 18, key: 38, stride: 42 };

function hashKey(buf: Uint8Array, at: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = at; i < at + len; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The peers of one infohash in one address family. */
export class Swarm {
  records: Uint8Array;
  count = 0;
  seeders = 0;
  downloaded = 0;
  private index: Int32Array | null = null;

  constructor(readonly layout: Layout) {
    this.records = new Uint8Array(layout.stride * 2);
  }

  get leechers(): number {
    return this.count - this.seeders;
  }

  /** The slot holding the key at `key[at..]`, or -1. */
  find(key: Uint8Array, at = 0): number {
    const { key: len, stride } = this.layout;
    const recs = this.records;
    if (this.index === null) {
      outer: for (let s = 0; s < this.count; s++) {
        const base = s * stride;
        for (let i = 0; i < len; i++) if (recs[base + i] !== key[at + i]) continue outer;
        return s;
      }
      return -1;
    }
    const mask = this.index.length - 1;
    for (let p = hashKey(key, at, len) & mask;; p = (p + 1) & mask) {
      const e = this.index[p];
      if (e === 0) return -1;
      const base = (e - 1) * stride;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (recs[base + i] !== key[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return e - 1;
    }
  }

  /** Last-seen seconds of a slot. */
  seen(slot: number): number {
    const at = slot * this.layout.stride + this.layout.key;
    const r = this.records;
    return (r[at] | (r[at + 1] << 8) | (r[at + 2] << 16) | (r[at + 3] << 24)) >>> 0;
  }

  /** Refreshes a slot's last-seen time. */
  touch(slot: number, now: number): void {
    const at = slot * this.layout.stride + this.layout.key;
    const r = this.records;
    r[at] = now;
    r[at + 1] = now >>> 8;
    r[at + 2] = now >>> 16;
    r[at + 3] = now >>> 24;
  }

  /** Adds a new peer (its key at `key[at..]`), as seeder or leecher. */
  add(key: Uint8Array, at: number, seeder: boolean, now: number): void {
    if (this.count * this.layout.stride === this.records.length) this.resize(this.count * 2);
    let slot = this.count;
    if (seeder) {
      // Make room at the end of the seeder range by moving the first leecher out.
      if (this.count > this.seeders) this.move(this.seeders, this.count);
      slot = this.seeders++;
    }
    this.count++;
    this.records.set(key.subarray(at, at + this.layout.key), slot * this.layout.stride);
    this.touch(slot, now);
    if (this.index !== null) this.indexInsert(slot);
    else if (this.count > INDEX_FROM) this.rebuildIndex();
  }

  /** Removes the peer in `slot`, keeping both ranges packed. */
  removeAt(slot: number): void {
    if (this.index !== null) this.indexRemove(slot);
    const last = this.count - 1;
    if (slot < this.seeders) {
      const lastSeeder = this.seeders - 1;
      if (slot !== lastSeeder) this.move(lastSeeder, slot);
      if (last !== lastSeeder) this.move(last, lastSeeder);
      this.seeders--;
    } else if (slot !== last) {
      this.move(last, slot);
    }
    this.count--;
    const capacity = this.records.length / this.layout.stride;
    if (capacity > 8 && this.count < capacity / 4) this.resize(capacity / 2);
  }

  /**
   * Appends up to `want` peers from slots [from, to) to `out`, starting at a random
   * slot and wrapping, skipping `skip`. O(want), whatever the swarm's size.
   */
  pick(from: number, to: number, want: number, skip: number, out: PeerList): number {
    const size = to - from;
    if (size <= 0 || want <= 0) return 0;
    const { stride, entry } = this.layout;
    let slot = from + Math.floor(Math.random() * size);
    let added = 0;
    for (let seen = 0; seen < size && added < want; seen++) {
      if (slot !== skip) {
        const base = slot * stride;
        out.pushPacked(this.records, base, base + entry);
        added++;
      }
      if (++slot === to) slot = from;
    }
    return added;
  }

  private move(from: number, to: number): void {
    const { stride } = this.layout;
    if (this.index !== null) {
      this.index[this.indexPosition(from)] = to + 1;
    }
    this.records.copyWithin(to * stride, from * stride, (from + 1) * stride);
  }

  private resize(capacity: number): void {
    const next = new Uint8Array(Math.max(2, capacity) * this.layout.stride);
    next.set(this.records.subarray(0, this.count * this.layout.stride));
    this.records = next;
    if (this.count > INDEX_FROM) this.rebuildIndex();
    else this.index = null;
  }

  private rebuildIndex(): void {
    const capacity = this.records.length / this.layout.stride;
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    for (let s = 0; s < this.count; s++) this.indexInsert(s);
  }

  private indexInsert(slot: number): void {
    const index = this.index!;
    const mask = index.length - 1;
    let p = hashKey(this.records, slot * this.layout.stride, this.layout.key) & mask;
    while (index[p] !== 0) p = (p + 1) & mask;
    index[p] = slot + 1;
  }

  private indexPosition(slot: number): number {
    const index = this.index!;
    const mask = index.length - 1;
    let p = hashKey(this.records, slot * this.layout.stride, this.layout.key) & mask;
    while (index[p] !== slot + 1) p = (p + 1) & mask;
    return p;
  }

  private indexRemove(slot: number): void {
    const index = this.index!;
    const mask = index.length - 1;
    let hole = this.indexPosition(slot);
    index[hole] = 0;
    // Backward-shift: pull later entries of the probe run into the hole so that
    // lookups never need tombstones.
    for (let p = (hole + 1) & mask; index[p] !== 0; p = (p + 1) & mask) {
      const home = hashKey(this.records, (index[p] - 1) * this.layout.stride, this.layout.key) & mask;
      const distHome = (p - home) & mask;
      const distHole = (p - hole) & mask;
      if (distHome >= distHole) {
        index[hole] = index[p];
        index[p] = 0;
        hole = p;
      }
    }
  }
}
