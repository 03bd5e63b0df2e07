/**
 * The peers of one address family, packed. Two structures, no per-peer objects:
 *
 * - a swarm table: one dense 40-byte row a swarm (infohash and counters), found
 *   through a 4-byte-a-slot open-addressing index (linear probing, backward-shift
 *   deletion) keyed by infohash;
 * - a peer slab: every swarm's records live in one contiguous block of records,
 *   seeders first ([0, seeders) seeders, [seeders, count) leechers). A record is
 *   ip ‖ port ‖ peer id ‖ a 2-byte last-seen stamp (28 bytes for IPv4, 40 for
 *   IPv6), kept as two columns: the compact entries (ip ‖ port) in one byte array
 *   and the rest in another, so that the peers a reply takes from a run of a block
 *   are one contiguous copy that touches as few cache lines as possible. Blocks come in
 *   size classes about 1.25× apart; a growing block extends in place into the top
 *   or a free neighbour when it can, a shrinking one gives its tail back in place,
 *   and freed blocks merge with free neighbours and are split to fit.
 *
 * Swarms past {@link INDEX_FROM} peers also get a hash index over their block so
 * that a lookup stays O(1) however large the swarm grows.
 *
 * @module
 */
import type { PeerList } from "../../bittorrent/request.ts";

/** Record geometry for one address family. */
export interface Layout {
  /** Bytes of ip ‖ port: the compact entry. */
  entry: number;
  /** Bytes of the key: ip ‖ port ‖ peer id. */
  key: number;
  /** Bytes per record: key and a 2-byte last-seen stamp. */
  stride: number;
  /** Bytes per record outside the compact entry: peer id and stamp (the second column). */
  tail: number;
}

/** Geometry of IPv4 records. */
export const LAYOUT_V4: Layout = { entry: 6, key: 26, stride: 28, tail: 22 };
/** Geometry of IPv6 records. */
export const LAYOUT_V6: Layout = { entry: 18, key: 38, stride: 40, tail: 22 };

/** Byte of a tail where the last-seen stamp starts (after the peer id). */
const STAMP = 20;

/**
 * Last-seen stamps are 16 bits: the time in units of {@link FamilyStore.unit}
 * seconds, modulo 2^16. A stamp is read as an age against the current time, and
 * ages of 2^15 units or more are taken for stamps from the future (a clock set
 * back), so every record must be looked at by the garbage collector before it is
 * 2^15 units old; {@link stampUnit} picks a unit that leaves a margin of two.
 */
export const STAMP_WINDOW = 0x8000;

/** The stamp unit, in seconds, for a store whose peers live `lifetime` seconds and are swept every `interval`. */
export function stampUnit(lifetime: number, interval: number): number {
  const unit = Math.ceil((2 * (lifetime + interval)) / STAMP_WINDOW);
  return unit > 1 ? unit : 1; // also for NaN
}

/**
 * The smaller column of the slab starts this large (the other in proportion).
 * Untouched pages of a fresh zeroed allocation take no memory, and from 32 MiB on
 * the C allocator always maps them straight from the kernel and unmaps them on
 * release, so the slab neither costs memory before it is filled nor leaves heap
 * fragments behind each time it grows (smaller buffers may be carved from the C
 * heap, whose freed chunks stay resident).
 */
const COLUMN_START = 32 * 1024 * 1024;

/** The slab is compacted once holes exceed 1/COMPACT_WHEN of it. */
const COMPACT_WHEN = 8;

/** Past this many peers a swarm keeps a hash index. */
export const INDEX_FROM = 16;
/**
 * Slots per remaining peer at which a shrinking swarm's index is rebuilt smaller.
 * A rebuild is O(peers) in one go: at the block's own pace (10-20 slots a peer), a
 * swarm that had 1M peers rebuilt at ~200k, holding the event loop for ~40 ms in the
 * middle of a GC sweep. At 64 a rebuild takes a third to a sixth as many peers, and
 * a shrinking swarm keeps at most 256 bytes of index a peer, never more than it had.
 */
const INDEX_SHRINK_AT = 64;

// A slot of a swarm's index: 0 (empty) or (position + 1) | hash tag << 24, so that
// most probes of the wrong peer are told apart without reading its record.
const POS_MASK = 0xffffff;
/** Most peers in one swarm of one family (positions must fit the index's 24 bits). */
export const MAX_SWARM_PEERS = POS_MASK - 1;

// A swarm is 40 bytes of one dense table: its infohash (20 bytes), then five u32:
// count, seeders, block offset (in records), meta, downloaded. meta = (size class +
// 1) | (index id + 1) << 8. Swarms are numbered 0..size-1 without gaps (a deletion
// moves the last swarm into the hole), and a separate open-addressing index maps
// infohashes to numbers: 4 bytes a slot instead of a whole row.
const R = 10; // u32 per swarm
const COUNT = 5, SEEDERS = 6, OFFSET = 7, META = 8, DOWNLOADED = 9;

/**
 * The dense table starts with room for this many swarms. Like the slab, its pages
 * cost nothing until swarms are written there, and at 40 MiB the allocator maps it
 * straight from the kernel.
 */
const TABLE_START = 1 << 20;

// An index slot: 0 (empty) or (swarm + 1) | hash tag << 24, so that most probes of
// the wrong swarm are told apart without reading its row.
const ID_MASK = 0xffffff;
/** Most swarms of one family (ids must fit the index's 24 bits). */
export const MAX_SWARMS = ID_MASK - 1;

/** Block sizes in records: 1..8, then about ×1.25 each. */
const CLASS_SIZE: number[] = [];
for (let n = 1; n < 2 ** 31; n = n < 8 ? n + 1 : Math.ceil(n * 1.25)) CLASS_SIZE.push(n);

/** The largest class whose size is at most `n` (n ≥ 1): the free list a block of `n` records goes to. */
function floorClass(n: number): number {
  if (n <= 8) return n - 1;
  let lo = 7, hi = CLASS_SIZE.length - 1; // CLASS_SIZE[lo] <= n < CLASS_SIZE[hi + 1]
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (CLASS_SIZE[mid] <= n) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Bytes of the edge bitmap of a slab of `records` records (one bit a record, and a spare byte). */
function edgeBytes(records: number): number {
  return (records >>> 3) + 1;
}

const EMPTY = new Uint8Array(0);

/** Records of a fresh slab: its smaller column is {@link COLUMN_START} bytes. */
function startCapacity(layout: Layout): number {
  return Math.ceil(COLUMN_START / Math.min(layout.entry, layout.tail));
}

/** FNV-style mixing of `buf[at..at+len)` into `h`; {@link finish} completes a hash. */
function mix(h: number, buf: Uint8Array, at: number, len: number): number {
  for (let i = at; i < at + len; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h;
}

function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * Swarms and peers of one family. Swarm handles (`s`) are numbers 0..size-1: valid
 * until the next deletion of a swarm (which moves the last swarm into its number).
 *
 * @example
 * ```ts
 * const v4 = new FamilyStore(LAYOUT_V4);
 * const s = v4.swarmOrCreate(infoHash);
 * v4.add(s, key, true, now);
 * ```
 */
export class FamilyStore {
  private tableCapacity = TABLE_START;
  private keys: Uint8Array; // the dense table as bytes (infohashes)
  private rows: Uint32Array; // the same table as u32 (counters)
  private indexCapacity = 16;
  private index = new Uint32Array(16);
  /** Number of swarms. */
  size = 0;
  // The two columns of the slab, `capacity` records each: compact entries, and tails.
  private capacity = 0;
  private addrs = EMPTY;
  private tails = EMPTY;
  private top = 0;
  // Free blocks are kept merged with free neighbours (and with the top), in
  // doubly linked lists by size (list c: sizes from CLASS_SIZE[c] up to the next
  // class) threaded through the blocks themselves: the first record of a free
  // block holds next, prev and size, its last record the size again, so holes
  // cost no memory beyond what they already occupy. -1 ends a list. One bit a
  // record marks the first and last records of free blocks, so a block being
  // freed finds free neighbours in O(1).
  private readonly freeHead = new Int32Array(CLASS_SIZE.length).fill(-1);
  private edges = EMPTY;
  private freeRecords = 0;
  private readonly indexes: (Int32Array | undefined)[] = [];
  private readonly freeIndexIDs: number[] = [];
  // Keyed hashing: without the secret seed, nobody can pick infohashes or peers
  // that collide and turn lookups into long scans.
  private readonly seed = (Math.random() * 2 ** 32) >>> 0;
  // Hints, never trusted: see swarm() and find().
  private lastSwarm = 0;
  private lastFoundSwarm = -1;
  private lastFound = 0;
  private readonly keyScratch: Uint8Array;

  /**
   * @param unit seconds per last-seen stamp unit (see {@link STAMP_WINDOW} and
   *   {@link stampUnit})
   */
  constructor(readonly layout: Layout, readonly unit = 1) {
    this.freshSlab();
    this.keyScratch = new Uint8Array(layout.key);
    const table = new ArrayBuffer(TABLE_START * R * 4);
    this.keys = new Uint8Array(table);
    this.rows = new Uint32Array(table);
  }

  // ---- swarm table ----

  private hashIH(ih: Uint8Array, at: number): number {
    return finish(mix(this.seed, ih, at, 20));
  }

  private sameKey(s: number, ih: Uint8Array): boolean {
    const k = this.keys;
    const base = s * R * 4;
    for (let i = 0; i < 20; i++) if (k[base + i] !== ih[i]) return false;
    return true;
  }

  /** The swarm of `ih`, or -1. */
  swarm(ih: Uint8Array): number {
    // One announce looks its swarm up several times (admission, counts, peers,
    // update): the last swarm found is tried first. Keys are unique, so a match is
    // the answer whatever moved since.
    const last = this.lastSwarm;
    if (last < this.size && this.sameKey(last, ih)) return last;
    const found = this.lookup(ih);
    if (found >= 0) this.lastSwarm = found;
    return found;
  }

  private lookup(ih: Uint8Array): number {
    const mask = this.indexCapacity - 1;
    const index = this.index;
    const h = this.hashIH(ih, 0);
    const tag = h >>> 24;
    for (let p = h & mask;; p = (p + 1) & mask) {
      const e = index[p];
      if (e === 0) return -1;
      if (e >>> 24 === tag && this.sameKey((e & ID_MASK) - 1, ih)) return (e & ID_MASK) - 1;
    }
  }

  /** Index slot of swarm `s`. */
  private slotOf(s: number): number {
    const mask = this.indexCapacity - 1;
    for (let p = this.hashIH(this.keys, s * R * 4) & mask;; p = (p + 1) & mask) {
      if ((this.index[p] & ID_MASK) === s + 1) return p;
    }
  }

  private indexPut(s: number): void {
    const mask = this.indexCapacity - 1;
    const h = this.hashIH(this.keys, s * R * 4);
    let p = h & mask;
    while (this.index[p] !== 0) p = (p + 1) & mask;
    this.index[p] = ((h >>> 24) << 24 | (s + 1)) >>> 0;
  }

  /** The swarm of `ih`, created empty when missing. */
  swarmOrCreate(ih: Uint8Array): number {
    const found = this.swarm(ih);
    if (found >= 0) return found;
    if (this.size >= MAX_SWARMS) throw new RangeError("too many swarms in one address family");
    if ((this.size + 1) * 4 > this.indexCapacity * 3) this.rehash(this.indexCapacity * 2);
    if (this.size === this.tableCapacity) this.growTable();
    const offset = this.alloc(0); // before the swarm counts: alloc may compact
    const s = this.size++;
    this.keys.set(ih.subarray(0, 20), s * R * 4);
    const r = s * R;
    this.rows[r + COUNT] = 0;
    this.rows[r + SEEDERS] = 0;
    this.rows[r + OFFSET] = offset;
    this.rows[r + META] = 1;
    this.rows[r + DOWNLOADED] = 0;
    this.indexPut(s);
    return s;
  }

  private growTable(): void {
    this.tableCapacity = Math.ceil(this.tableCapacity * 1.5);
    const table = new ArrayBuffer(this.tableCapacity * R * 4);
    const rows = new Uint32Array(table);
    rows.set(this.rows.subarray(0, this.size * R));
    this.rows = rows;
    this.keys = new Uint8Array(table);
  }

  /**
   * Deletes swarm `s` and releases its block; the last swarm takes number `s`. The
   * index never shrinks here (see {@link shrink}).
   */
  deleteSwarm(s: number): void {
    this.release(this.rows[s * R + OFFSET], CLASS_SIZE[this.cls(s)]);
    this.dropIndex(s);
    // Backward-shift deletion: later entries of the probe run move into the hole,
    // so lookups need no tombstones.
    const index = this.index;
    const mask = this.indexCapacity - 1;
    let hole = this.slotOf(s);
    index[hole] = 0;
    for (let p = (hole + 1) & mask; index[p] !== 0; p = (p + 1) & mask) {
      const home = this.hashIH(this.keys, ((index[p] & ID_MASK) - 1) * R * 4) & mask;
      if (((p - home) & mask) >= ((p - hole) & mask)) {
        index[hole] = index[p];
        index[p] = 0;
        hole = p;
      }
    }
    const last = --this.size;
    if (s !== last) {
      const p = this.slotOf(last);
      index[p] = ((index[p] & ~ID_MASK) | (s + 1)) >>> 0;
      this.rows.copyWithin(s * R, last * R, last * R + R);
    }
  }

  /** Halves the index while it is less than an eighth full (after floods of swarms die out). */
  shrink(): void {
    while (this.indexCapacity > 16 && this.size * 8 < this.indexCapacity) this.rehash(this.indexCapacity / 2);
  }

  private rehash(capacity: number): void {
    this.indexCapacity = capacity;
    this.index = new Uint32Array(capacity);
    for (let s = 0; s < this.size; s++) this.indexPut(s);
  }

  /** Slots of the index, for walking it: {@link swarmAt} tells the swarm in each. */
  get slots(): number {
    return this.indexCapacity;
  }

  /** The swarm in index slot `slot`, or -1 for an empty slot. */
  swarmAt(slot: number): number {
    return slot < this.indexCapacity ? (this.index[slot] & ID_MASK) - 1 : -1;
  }

  /** A copy of the infohash of swarm `s` (for listing swarms). */
  infoHash(s: number): Uint8Array {
    return this.keys.slice(s * R * 4, s * R * 4 + 20);
  }

  private cls(s: number): number {
    return (this.rows[s * R + META] & 0xff) - 1;
  }

  private indexID(s: number): number {
    return this.rows[s * R + META] >>> 8;
  }

  private setMeta(s: number, cls: number, indexID: number): void {
    this.rows[s * R + META] = (cls + 1) | (indexID << 8);
  }

  count(s: number): number {
    return this.rows[s * R + COUNT];
  }

  seeders(s: number): number {
    return this.rows[s * R + SEEDERS];
  }

  downloaded(s: number): number {
    return this.rows[s * R + DOWNLOADED];
  }

  addDownloaded(s: number): void {
    this.rows[s * R + DOWNLOADED]++;
  }

  /** Drops every swarm and peer. */
  clear(): void {
    this.tableCapacity = TABLE_START;
    const table = new ArrayBuffer(TABLE_START * R * 4);
    this.keys = new Uint8Array(table);
    this.rows = new Uint32Array(table);
    this.indexCapacity = 16;
    this.index = new Uint32Array(16);
    this.size = 0;
    this.freshSlab();
    this.top = 0;
    this.freeHead.fill(-1);
    this.freeRecords = 0;
    this.indexes.length = 0;
    this.freeIndexIDs.length = 0;
  }

  // ---- peer slab ----

  /** An empty slab of the starting size (the bookkeeping of its blocks is the caller's). */
  private freshSlab(): void {
    this.capacity = startCapacity(this.layout);
    this.addrs = new Uint8Array(this.capacity * this.layout.entry);
    this.tails = new Uint8Array(this.capacity * this.layout.tail);
    this.edges = new Uint8Array(edgeBytes(this.capacity));
  }

  /** Records [at, at + size) become a free block: linked into its list, edges marked. */
  private pushFree(at: number, size: number): void {
    const c = floorClass(size);
    const head = this.freeHead[c];
    this.setWord(at, 0, head);
    this.setWord(at, 4, -1);
    this.setWord(at, 8, size);
    this.setWord(at + size - 1, 12, size);
    if (head >= 0) this.setWord(head, 4, at);
    this.freeHead[c] = at;
    this.markEdge(at, true);
    this.markEdge(at + size - 1, true);
    this.freeRecords += size;
  }

  /** Takes the free block at `at` out of its list; returns its size. */
  private unlinkFree(at: number): number {
    const size = this.word(at, 8);
    const next = this.word(at, 0);
    const prev = this.word(at, 4);
    if (prev >= 0) this.setWord(prev, 0, next);
    else this.freeHead[floorClass(size)] = next;
    if (next >= 0) this.setWord(next, 4, prev);
    this.markEdge(at, false);
    this.markEdge(at + size - 1, false);
    this.freeRecords -= size;
    return size;
  }

  /** A block of class `cls`: the smallest free block that fits (split), else fresh records. */
  private alloc(cls: number): number {
    const size = CLASS_SIZE[cls];
    if (this.freeRecords >= size) {
      // List c holds blocks of CLASS_SIZE[c] up to the next class: any of list cls fits.
      for (let c = cls; c < CLASS_SIZE.length; c++) {
        const at = this.freeHead[c];
        if (at < 0) continue;
        const got = this.unlinkFree(at);
        if (got > size) this.pushFree(at + size, got - size); // its right neighbour is in use
        return at;
      }
    }
    // Coalescing keeps holes few; when they still add up (scattered blocks of
    // swarms that shrank), slide everything down before taking fresh records.
    if (this.freeRecords * COMPACT_WHEN > this.top) this.compact();
    this.reserve(this.top + size);
    const at = this.top;
    this.top += size;
    return at;
  }

  /** Frees records [at, at + size), merged with free neighbours and folded into the top. */
  private release(at: number, size: number): void {
    if (at > 0 && this.isEdge(at - 1)) {
      const start = at - this.word(at - 1, 12);
      size += at - start;
      this.unlinkFree(start);
      at = start;
    }
    if (at + size === this.top) {
      this.top = at;
      return;
    }
    if (this.isEdge(at + size)) size += this.unlinkFree(at + size);
    this.pushFree(at, size);
  }

  /** Makes room for `records` records in the slab. */
  private reserve(records: number): void {
    if (records > this.capacity) this.resizeSlab(Math.max(records, Math.ceil(this.capacity * 1.5)));
  }

  private isEdge(record: number): boolean {
    return (this.edges[record >>> 3] & (1 << (record & 7))) !== 0;
  }

  private markEdge(record: number, on: boolean): void {
    if (on) this.edges[record >>> 3] |= 1 << (record & 7);
    else this.edges[record >>> 3] &= ~(1 << (record & 7));
  }

  /** The i32 at byte `byte` of the tail of record `record` (free-block bookkeeping). */
  private word(record: number, byte: number): number {
    const at = record * this.layout.tail + byte;
    const b = this.tails;
    return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
  }

  private setWord(record: number, byte: number, value: number): void {
    const at = record * this.layout.tail + byte;
    const b = this.tails;
    b[at] = value;
    b[at + 1] = value >> 8;
    b[at + 2] = value >> 16;
    b[at + 3] = value >> 24;
  }

  private resizeSlab(records: number): void {
    // Zeroed pages cost no memory until written, so growing generously is cheap.
    const { entry, tail } = this.layout;
    const addrs = new Uint8Array(records * entry);
    addrs.set(this.addrs.subarray(0, this.top * entry));
    this.addrs = addrs;
    const tails = new Uint8Array(records * tail);
    tails.set(this.tails.subarray(0, this.top * tail));
    this.tails = tails;
    this.capacity = records;
    const edges = new Uint8Array(edgeBytes(records));
    edges.set(this.edges.subarray(0, Math.min(this.edges.length, edges.length)));
    this.edges = edges;
  }

  /**
   * Slides every block down over the holes, in offset order, so that the slab is
   * one packed run again and the free lists are empty. O(peers); it runs when
   * fresh records are needed while an eighth of the slab is holes that no free
   * block could serve (merging makes that rare), so each freed record pays for
   * about eight moved ones. (In place: a fresh buffer would leave
   * the old one resident until the JS garbage collector gets to it.)
   */
  compact(): void {
    // offset × size + swarm sorts by offset and still names the swarm (< 2^53).
    const n = this.size;
    const order = new Float64Array(n);
    for (let s = 0; s < n; s++) order[s] = this.rows[s * R + OFFSET] * n + s;
    order.sort();
    let to = 0;
    for (let k = 0; k < n; k++) {
      const s = order[k] % n;
      const r = s * R;
      const from = this.rows[r + OFFSET];
      if (from !== to) this.copyRecords(to, from, this.rows[r + COUNT]);
      this.rows[r + OFFSET] = to;
      to += CLASS_SIZE[this.cls(s)];
    }
    this.top = to;
    this.freeHead.fill(-1);
    this.freeRecords = 0;
    this.edges.fill(0);
    // Written pages past the new top stay resident: hand a mostly empty slab back.
    const start = startCapacity(this.layout);
    if (this.top * 2 < this.capacity && this.capacity > start) {
      this.resizeSlab(Math.max(start, Math.ceil(this.top * 1.25)));
    }
  }

  /** Copies `n` records from record `from` to record `to` (the ranges may overlap). */
  private copyRecords(to: number, from: number, n: number): void {
    const { entry, tail } = this.layout;
    this.addrs.copyWithin(to * entry, from * entry, (from + n) * entry);
    this.tails.copyWithin(to * tail, from * tail, (from + n) * tail);
  }

  /**
   * Moves swarm `s` to a block of class `cls`; positions inside the block are kept.
   * The block grows in place into the top or a free right neighbour when it can,
   * and always shrinks in place.
   */
  private reblock(s: number, cls: number): void {
    const r = s * R;
    const from = this.rows[r + OFFSET];
    const had = CLASS_SIZE[this.cls(s)];
    const size = CLASS_SIZE[cls];
    const end = from + had;
    if (size < had) {
      this.release(from + size, had - size);
    } else if (end === this.top) {
      this.reserve(from + size);
      this.top = from + size;
    } else if (this.isEdge(end) && had + this.word(end, 8) >= size) {
      const got = had + this.unlinkFree(end);
      if (got > size) this.pushFree(from + size, got - size);
    } else {
      const to = this.alloc(cls); // may compact, which moves this swarm's block too
      const moved = this.rows[r + OFFSET];
      this.copyRecords(to, moved, this.rows[r + COUNT]);
      this.release(moved, had);
      this.rows[r + OFFSET] = to;
    }
    this.setMeta(s, cls, this.indexID(s));
  }

  // ---- peers of a swarm ----

  /** The slab record of position `pos` of swarm `s`. */
  private record(s: number, pos: number): number {
    return this.rows[s * R + OFFSET] + pos;
  }

  private sameRecord(record: number, key: Uint8Array): boolean {
    const { entry } = this.layout;
    const a = record * entry;
    const addrs = this.addrs;
    // The port tells most records apart at once.
    if (addrs[a + entry - 1] !== key[entry - 1]) return false;
    for (let i = 0; i < entry - 1; i++) if (addrs[a + i] !== key[i]) return false;
    const t = record * this.layout.tail;
    const tails = this.tails;
    for (let i = 0; i < 20; i++) if (tails[t + i] !== key[entry + i]) return false;
    return true;
  }

  /** Position of the peer whose key is at `key[0..]` in swarm `s`, or -1. */
  find(s: number, key: Uint8Array): number {
    const r = s * R;
    const count = this.rows[r + COUNT];
    const start = this.rows[r + OFFSET];
    // An announce finds its peer twice (to leave it out of the reply, then to
    // update it): the last position found in this swarm is tried first, checked
    // by its key. (In another swarm it would be a cache miss for nothing.)
    const last = this.lastFound;
    if (s === this.lastFoundSwarm && last < count && this.sameRecord(start + last, key)) return last;
    const pos = this.search(s, key, count, start);
    if (pos >= 0) {
      this.lastFoundSwarm = s;
      this.lastFound = pos;
    }
    return pos;
  }

  private search(s: number, key: Uint8Array, count: number, start: number): number {
    const id = this.indexID(s);
    if (id === 0) {
      for (let pos = 0; pos < count; pos++) if (this.sameRecord(start + pos, key)) return pos;
      return -1;
    }
    const index = this.indexes[id - 1]!;
    const mask = index.length - 1;
    const h = finish(mix(this.seed, key, 0, this.layout.key));
    const tag = h >>> 24;
    for (let p = h & mask;; p = (p + 1) & mask) {
      const e = index[p];
      if (e === 0) return -1;
      if (e >>> 24 === tag && this.sameRecord(start + (e & POS_MASK) - 1, key)) return (e & POS_MASK) - 1;
    }
  }

  /**
   * Last-seen time of a peer in seconds, read against `now`: exact with a 1-second
   * unit, otherwise the end of the stamp's unit (never earlier than the true time,
   * so a peer is never removed early). A stamp from the future reads as `now`.
   */
  seen(s: number, pos: number, now: number): number {
    const at = this.record(s, pos) * this.layout.tail + STAMP;
    const unit = this.unit;
    const u = unit === 1 ? now : Math.floor(now / unit);
    const age = (u - (this.tails[at] | (this.tails[at + 1] << 8))) & 0xffff;
    if (age >= STAMP_WINDOW) return now;
    return unit === 1 ? now - age : Math.min(now, (u - age + 1) * unit - 1);
  }

  /** Refreshes a peer's last-seen time to `now` (seconds). */
  touch(s: number, pos: number, now: number): void {
    const at = this.record(s, pos) * this.layout.tail + STAMP;
    const u = this.unit === 1 ? now : Math.floor(now / this.unit);
    this.tails[at] = u;
    this.tails[at + 1] = u >>> 8;
  }

  /** Adds a peer that is not in swarm `s` yet, as seeder or leecher. */
  add(s: number, key: Uint8Array, seeder: boolean, now: number): void {
    const r = s * R;
    const rows = this.rows;
    const count = rows[r + COUNT];
    if (count >= MAX_SWARM_PEERS) throw new RangeError("too many peers in one swarm");
    if (count === CLASS_SIZE[this.cls(s)]) this.reblock(s, this.cls(s) + 1);
    let pos = count;
    if (seeder) {
      // Make room at the end of the seeder range by moving the first leecher out.
      const seeders = rows[r + SEEDERS];
      if (count > seeders) this.move(s, seeders, count);
      pos = seeders;
      rows[r + SEEDERS] = seeders + 1;
    }
    rows[r + COUNT] = count + 1;
    const { entry, tail } = this.layout;
    const record = this.record(s, pos);
    const a = record * entry;
    for (let i = 0; i < entry; i++) this.addrs[a + i] = key[i];
    const t = record * tail;
    for (let i = 0; i < 20; i++) this.tails[t + i] = key[entry + i];
    this.touch(s, pos, now);
    if (this.indexID(s) !== 0) this.indexInsert(s, pos);
    else if (count + 1 > INDEX_FROM) this.buildIndex(s);
  }

  /** Removes the peer at `pos`, keeping both ranges packed. */
  removeAt(s: number, pos: number): void {
    const r = s * R;
    const rows = this.rows;
    if (this.indexID(s) !== 0) this.indexRemove(s, pos);
    const last = rows[r + COUNT] - 1;
    const seeders = rows[r + SEEDERS];
    if (pos < seeders) {
      const lastSeeder = seeders - 1;
      if (pos !== lastSeeder) this.move(s, lastSeeder, pos);
      if (last !== lastSeeder) this.move(s, last, lastSeeder);
      rows[r + SEEDERS] = lastSeeder;
    } else if (pos !== last) {
      this.move(s, last, pos);
    }
    rows[r + COUNT] = last;
    const cls = this.cls(s);
    if (cls > 8 && last * 2 < CLASS_SIZE[cls - 4]) {
      // Well under the class below: give most of the block back.
      this.reblock(s, cls - 3);
      // Past INDEX_FROM a swarm always has its index (add() builds it).
      if (last <= INDEX_FROM) this.dropIndex(s);
      else if (this.indexes[this.indexID(s) - 1]!.length > INDEX_SHRINK_AT * last) this.buildIndex(s);
    }
  }

  /**
   * Appends up to `want` peers from positions [from, to) to `out`, starting at a
   * random position and wrapping, skipping `skip`. O(want), whatever the swarm's size.
   */
  pick(s: number, from: number, to: number, want: number, skip: number, out: PeerList): number {
    const size = to - from;
    if (size <= 0 || want <= 0) return 0;
    const start = this.record(s, 0);
    const pos = from + Math.floor(Math.random() * size);
    // The walk pos..to, then from..pos is two runs of the block.
    const added = this.pickRun(start, pos, to, want, skip, out);
    return added < want ? added + this.pickRun(start, from, pos, want - added, skip, out) : added;
  }

  /** Copies the first `want` records of [from, to), `skip` left out, of the block at record `start` into `out`. */
  private pickRun(
    start: number,
    from: number,
    to: number,
    want: number,
    skip: number,
    out: PeerList,
  ): number {
    let end = Math.min(to, from + want);
    if (skip < from || skip >= end) {
      this.copyOut(start + from, end - from, out);
      return end - from;
    }
    end = Math.min(to, end + 1);
    this.copyOut(start + from, skip - from, out);
    this.copyOut(start + skip + 1, end - skip - 1, out);
    return end - from - 1;
  }

  /** Appends records [first, first + n) of the slab to `out`. */
  private copyOut(first: number, n: number, out: PeerList): void {
    const { entry, tail } = this.layout;
    out.pushRun(this.addrs, first * entry, this.tails, first * tail, tail, n);
  }

  /**
   * Like {@link pick}, but only peers whose address does (`same` true) or does not
   * share the first `bits` bits with `ip`. Looks at no more than `window` positions
   * from a random start, so a preference never costs a scan of a huge swarm: in
   * swarms larger than the window, same-subnet peers are preferred among the
   * `window` looked at.
   */
  pickSubnet(
    s: number,
    from: number,
    to: number,
    want: number,
    skip: number,
    out: PeerList,
    ip: Uint8Array,
    bits: number,
    same: boolean,
    window: number,
  ): number {
    const size = to - from;
    if (size <= 0 || want <= 0) return 0;
    const { entry } = this.layout;
    const start = this.record(s, 0);
    const whole = bits >> 3;
    const mask = (0xff00 >> (bits & 7)) & 0xff;
    let pos = from + Math.floor(Math.random() * size);
    let added = 0;
    for (let seen = 0; seen < size && seen < window && added < want; seen++) {
      if (pos !== skip) {
        const at = (start + pos) * entry;
        let match = true;
        for (let i = 0; i < whole && match; i++) match = this.addrs[at + i] === ip[i];
        if (match && mask !== 0) match = ((this.addrs[at + whole] ^ ip[whole]) & mask) === 0;
        if (match === same) {
          this.copyOut(start + pos, 1, out);
          added++;
        }
      }
      if (++pos === to) pos = from;
    }
    return added;
  }

  private move(s: number, from: number, to: number): void {
    if (this.indexID(s) !== 0) {
      const index = this.indexes[this.indexID(s) - 1]!;
      const p = this.indexPosition(s, from);
      index[p] = (index[p] & ~POS_MASK) | (to + 1);
    }
    this.copyRecords(this.record(s, to), this.record(s, from), 1);
  }

  // ---- per-swarm index over block positions ----

  private buildIndex(s: number): void {
    let size = 32;
    while (size < CLASS_SIZE[this.cls(s)] * 2) size *= 2;
    let id = this.indexID(s);
    if (id === 0) id = (this.freeIndexIDs.pop() ?? this.indexes.length) + 1;
    this.indexes[id - 1] = new Int32Array(size);
    this.setMeta(s, this.cls(s), id);
    for (let pos = 0; pos < this.rows[s * R + COUNT]; pos++) this.indexInsert(s, pos);
  }

  private dropIndex(s: number): void {
    const id = this.indexID(s);
    if (id === 0) return;
    this.indexes[id - 1] = undefined;
    this.freeIndexIDs.push(id - 1);
    this.setMeta(s, this.cls(s), 0);
  }

  /** The hash of the key of the peer at `pos`, as search() computes it from a key buffer. */
  private keyHash(s: number, pos: number): number {
    const { entry, tail } = this.layout;
    const record = this.record(s, pos);
    return finish(mix(mix(this.seed, this.addrs, record * entry, entry), this.tails, record * tail, 20));
  }

  private indexInsert(s: number, pos: number): void {
    const index = this.indexes[this.indexID(s) - 1]!;
    if (this.rows[s * R + COUNT] * 2 > index.length) {
      this.buildIndex(s); // grown past half full: rebuild larger, which inserts `pos` too
      return;
    }
    const mask = index.length - 1;
    const h = this.keyHash(s, pos);
    let p = h & mask;
    while (index[p] !== 0) p = (p + 1) & mask;
    index[p] = ((h >>> 24) << 24) | (pos + 1);
  }

  private indexPosition(s: number, pos: number): number {
    const index = this.indexes[this.indexID(s) - 1]!;
    const mask = index.length - 1;
    let p = this.keyHash(s, pos) & mask;
    while ((index[p] & POS_MASK) !== pos + 1) p = (p + 1) & mask;
    return p;
  }

  private indexRemove(s: number, pos: number): void {
    const index = this.indexes[this.indexID(s) - 1]!;
    const mask = index.length - 1;
    let hole = this.indexPosition(s, pos);
    index[hole] = 0;
    // Backward-shift: pull later entries of the probe run into the hole so that
    // lookups never need tombstones.
    for (let p = (hole + 1) & mask; index[p] !== 0; p = (p + 1) & mask) {
      const home = this.keyHash(s, (index[p] & POS_MASK) - 1) & mask;
      if (((p - home) & mask) >= ((p - hole) & mask)) {
        index[hole] = index[p];
        index[p] = 0;
        hole = p;
      }
    }
  }

  /** The key of the peer at `pos` of swarm `s` (ip ‖ port ‖ peer id) in a scratch buffer reused by the next call; for snapshots. */
  peerKey(s: number, pos: number): Uint8Array {
    const { entry, tail } = this.layout;
    const record = this.record(s, pos);
    const key = this.keyScratch;
    key.set(this.addrs.subarray(record * entry, record * entry + entry));
    key.set(this.tails.subarray(record * tail, record * tail + 20), entry);
    return key;
  }

  /** Sets the completed count of swarm `s` (restoring a snapshot). */
  setDownloaded(s: number, n: number): void {
    this.rows[s * R + DOWNLOADED] = n;
  }

  /**
   * Checks the invariants of the table, the index and the slab, for tests: swarm
   * blocks and free blocks tile [0, top) exactly, free blocks are merged, listed
   * once under their size and marked at both ends, and the index names every
   * swarm once. Returns the first violation found, or undefined. O(n log n).
   */
  audit(): string | undefined {
    const spans: [number, number, string][] = [];
    for (let s = 0; s < this.size; s++) {
      const cls = this.cls(s);
      if (cls < 0 || this.count(s) > CLASS_SIZE[cls] || this.seeders(s) > this.count(s)) {
        return `swarm ${s} row`;
      }
      if (this.swarm(this.infoHash(s)) !== s) return `swarm ${s} not found by its infohash`;
      spans.push([this.rows[s * R + OFFSET], CLASS_SIZE[cls], `swarm ${s}`]);
    }
    let listed = 0;
    for (let c = 0; c < CLASS_SIZE.length; c++) {
      let prev = -1;
      for (let at = this.freeHead[c]; at >= 0; at = this.word(at, 0)) {
        const size = this.word(at, 8);
        if (floorClass(size) !== c) return `free block ${at} of ${size} in list ${c}`;
        if (this.word(at, 4) !== prev) return `free block ${at}: bad prev link`;
        if (this.word(at + size - 1, 12) !== size) return `free block ${at}: bad footer`;
        if (!this.isEdge(at) || !this.isEdge(at + size - 1)) return `free block ${at}: edges not marked`;
        spans.push([at, size, "free"]);
        listed += size;
        prev = at;
        if (listed > this.top) return "a free list loops";
      }
    }
    if (listed !== this.freeRecords) return `free records ${this.freeRecords}, listed ${listed}`;
    spans.sort((a, b) => a[0] - b[0]);
    let end = 0;
    for (let i = 0; i < spans.length; i++) {
      const [at, size, what] = spans[i];
      if (at !== end) return `${what} at ${at}, expected ${end}`;
      if (what === "free" && i > 0 && spans[i - 1][2] === "free") {
        return `free blocks ${spans[i - 1][0]} and ${at} not merged`;
      }
      if (what !== "free" && (this.isEdge(at) || this.isEdge(at + size - 1))) return `${what} marked as free`;
      end = at + size;
    }
    if (end !== this.top) return `blocks end at ${end}, top ${this.top}`;
    if (spans.length > 0 && spans[spans.length - 1][2] === "free") return "a free block touches the top";
    let named = 0;
    for (let p = 0; p < this.indexCapacity; p++) if (this.swarmAt(p) >= 0) named++;
    if (named !== this.size) return `index names ${named} swarms, table has ${this.size}`;
    return undefined;
  }

  /** Bytes held by the tables and the slab (not counting free pages never written). */
  get bytes(): number {
    return this.size * R * 4 + this.index.byteLength + this.top * this.layout.stride +
      this.indexes.reduce((n, ix) => n + (ix?.byteLength ?? 0), 0);
  }
}
