/**
 * The in-process PeerStore: one packed {@link FamilyStore} per address family, a
 * coarse clock for last-seen stamps, and a garbage collector that sweeps in slices
 * so it never holds the event loop for long.
 *
 * @module
 */
import { type GCResult, SweepSchedule } from "../gc.ts";
import type { AddressFamily } from "../../bittorrent/ip.ts";
import type { InfoHash, Peer } from "../../bittorrent/peer.ts";
import type { PeerList } from "../../bittorrent/request.ts";
import type { Clock } from "../../clock.ts";
import {
  ErrSwarmFull,
  ErrTrackerFull,
  type PeerStore,
  type StoreStats,
  type SwarmCounts,
  type SwarmSummary,
} from "../store.ts";
import type { ClientError } from "../../bittorrent/errors.ts";
import { FamilyStore, LAYOUT_V4, LAYOUT_V6, MAX_SWARM_PEERS, stampUnit } from "./family.ts";
import {
  decodeSnapshot,
  encodeSnapshot,
  readSnapshot,
  snapshotStride,
  writeSnapshot,
  writeSnapshotSync,
} from "./snapshot.ts";

/** Settings of the memory store; durations in milliseconds. */
export interface MemoryStoreOptions {
  gcInterval: number;
  peerLifetime: number;
  clock: Clock;
  /** Records scanned per GC slice before yielding to the event loop. */
  gcSliceSize?: number;
  /** Called after each sweep with its duration and what it removed. */
  onGC?: (result: GCResult) => void;
  /**
   * Subnet preference: peers whose address shares this many leading bits with the
   * announcer's come first. 0 or omitted: off.
   */
  preferredIPv4SubnetBits?: number;
  /** The same for IPv6 announcers. */
  preferredIPv6SubnetBits?: number;
  /** Most swarms (both families together); unlimited when omitted. */
  maxSwarms?: number;
  /** Most peers in one swarm of one address family; {@link MAX_SWARM_PEERS} when omitted. */
  maxPeersPerSwarm?: number;
  /** Most peers over all swarms; unlimited when omitted. */
  maxPeers?: number;
  /** Where swarms are saved at stop (and every `snapshotInterval`) and loaded from at start. */
  snapshotPath?: string;
  /** Milliseconds between periodic snapshots; 0 or omitted: only at stop. */
  snapshotInterval?: number;
  /** Told about snapshot loads, writes and failures. */
  log?: (level: "info" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Defaults of the memory limits, sized for a 1 GiB host. A peer costs at most
 * about 60 bytes (a 40-byte IPv6 record with size-class slack and holes) plus its
 * share of a per-swarm index, a swarm about 60 bytes (a 40-byte row and up to 16
 * bytes of index slots while the index doubles), so the worst case is roughly
 * 4M × 60 + 4M × 16 + 1M × 60 ≈ 365 MB, leaving room for the runtime (about
 * 100 MB) and the rest of the tracker.
 */
export const MEMORY_LIMIT_DEFAULTS = {
  maxSwarms: 1_000_000,
  maxPeersPerSwarm: 250_000,
  maxPeers: 4_000_000,
} as const;

export type { GCResult };

const EMPTY: SwarmCounts = Object.freeze({ complete: 0, incomplete: 0, downloaded: 0 });

/** Positions one subnet-preferring pick looks at, at most (so the cost stays O(numwant)-like). */
const SUBNET_WINDOW = 4096;

/**
 * Peers in memory.
 *
 * @example
 * ```ts
 * const store = new MemoryStore({ gcInterval: 180_000, peerLifetime: 1_800_000, clock: new CoarseClock() });
 * store.putLeecher(infoHash, peer);
 * store.scrapeSwarm(infoHash, 4); // { complete: 0, incomplete: 1, downloaded: 0 }
 * ```
 */
export class MemoryStore implements PeerStore {
  private readonly v4: FamilyStore;
  private readonly v6: FamilyStore;
  // One scratch key per family: a peer is written here once, then compared and
  // copied as bytes.
  private readonly key4 = new Uint8Array(LAYOUT_V4.key);
  private readonly key6 = new Uint8Array(LAYOUT_V6.key);
  private seederTotal = 0;
  private leecherTotal = 0;
  private stopped = false;
  private readonly gc: SweepSchedule;

  private snapshotTimer: ReturnType<typeof setInterval> | undefined;
  private snapshotting = false;

  private readonly subnetBits4: number;
  private readonly subnetBits6: number;

  constructor(private readonly options: MemoryStoreOptions) {
    const unit = stampUnit(options.peerLifetime / 1000, options.gcInterval / 1000);
    this.v4 = new FamilyStore(LAYOUT_V4, unit);
    this.v6 = new FamilyStore(LAYOUT_V6, unit);
    this.subnetBits4 = Math.min(32, Math.max(0, options.preferredIPv4SubnetBits ?? 0));
    this.subnetBits6 = Math.min(128, Math.max(0, options.preferredIPv6SubnetBits ?? 0));
    this.gc = new SweepSchedule(options.gcInterval, () => this.sweep(), { onResult: options.onGC });
    this.gc.start();
    if (options.snapshotPath) {
      this.loadSnapshot(options.snapshotPath);
      if (options.snapshotInterval) {
        this.snapshotTimer = setInterval(() => void this.snapshotNow(), options.snapshotInterval);
      }
    }
  }

  /**
   * Loads the snapshot at `path`, dropping peers last seen a peer lifetime ago or
   * earlier. A missing file is fine; an unreadable or corrupt one is reported and
   * skipped (the store starts empty).
   */
  private loadSnapshot(path: string): void {
    const log = this.options.log ?? (() => {});
    try {
      const bytes = readSnapshot(path);
      if (bytes === undefined) return;
      const now = this.options.clock.now();
      const cutoff = now - Math.floor(this.options.peerLifetime / 1000);
      const fams = [this.v4, this.v6];
      const decoded = decodeSnapshot(bytes, fams.map(snapshotStride));
      let peers = 0;
      decoded.forEach((swarms, i) => {
        const fam = fams[i];
        const { key } = fam.layout;
        const stride = snapshotStride(fam);
        for (const sw of swarms) {
          let s = -1;
          for (let pos = 0, at = 0; at < sw.records.length; pos++, at += stride) {
            const r = sw.records;
            const seen =
              (r[at + key] | (r[at + key + 1] << 8) | (r[at + key + 2] << 16) | (r[at + key + 3] << 24)) >>>
              0;
            if (seen <= cutoff) continue;
            if (s < 0) s = fam.swarmOrCreate(sw.infoHash);
            if (fam.find(s, r.subarray(at, at + key)) >= 0) continue;
            const seeder = pos < sw.seeders;
            fam.add(s, r.subarray(at, at + key), seeder, Math.min(seen, now));
            if (seeder) this.seederTotal++;
            else this.leecherTotal++;
            peers++;
          }
          if (s >= 0) fam.setDownloaded(s, sw.downloaded);
        }
      });
      log("info", "storage snapshot loaded", { path, swarms: this.v4.size + this.v6.size, peers });
    } catch (err) {
      this.v4.clear();
      this.v6.clear();
      this.seederTotal = 0;
      this.leecherTotal = 0;
      log("error", "storage snapshot is unreadable; starting empty", { path, error: (err as Error).message });
    }
  }

  /** Writes a snapshot now, off the event loop's disk wait; resolves when it is on disk. */
  async snapshotNow(): Promise<void> {
    const path = this.options.snapshotPath;
    if (path === undefined || path === "" || this.stopped || this.snapshotting) return;
    this.snapshotting = true;
    try {
      await writeSnapshot(
        path,
        encodeSnapshot([this.v4, this.v6], this.options.clock.now()),
        () => !this.stopped,
      );
    } catch (err) {
      this.options.log?.("error", "storage snapshot failed", { path, error: (err as Error).message });
    } finally {
      this.snapshotting = false;
    }
  }

  private family(peer: Peer): FamilyStore {
    return peer.ip.length === 4 ? this.v4 : this.v6;
  }

  /** Writes the peer's key into the family's scratch buffer. */
  private keyOf(peer: Peer): Uint8Array {
    const v4 = peer.ip.length === 4;
    const key = v4 ? this.key4 : this.key6;
    const entry = v4 ? LAYOUT_V4.entry : LAYOUT_V6.entry;
    // Byte loops: TypedArray#set costs more than the copy at these sizes.
    const { ip, id } = peer;
    for (let i = 0; i < entry - 2; i++) key[i] = ip[i];
    key[entry - 2] = peer.port >> 8;
    key[entry - 1] = peer.port & 0xff;
    for (let i = 0; i < 20; i++) key[entry + i] = id[i];
    return key;
  }

  /**
   * Whether an announce by `peer` may be stored: a peer already in the swarm always
   * is (a refresh adds nothing); a new one needs room under `maxPeers` and
   * `maxPeersPerSwarm`, and a new swarm room under `maxSwarms`. Returns true or
   * the client error to answer with.
   */
  admits(ih: InfoHash, peer: Peer): true | ClientError {
    this.assertRunning();
    const fam = this.family(peer);
    const s = fam.swarm(ih);
    const refused = this.refusal(fam, s);
    if (refused === undefined) return true;
    // Full: a peer already stored may still refresh (looked up only now, off the usual path).
    return s >= 0 && fam.find(s, this.keyOf(peer)) >= 0 ? true : refused;
  }

  /** Why a new peer cannot join swarm `s` (-1: a new swarm), or undefined when it can. */
  private refusal(fam: FamilyStore, s: number): ClientError | undefined {
    const o = this.options;
    if (this.seederTotal + this.leecherTotal >= (o.maxPeers ?? Infinity)) return ErrTrackerFull;
    if (s < 0) return this.v4.size + this.v6.size >= (o.maxSwarms ?? Infinity) ? ErrTrackerFull : undefined;
    return fam.count(s) >= Math.min(o.maxPeersPerSwarm ?? Infinity, MAX_SWARM_PEERS)
      ? ErrSwarmFull
      : undefined;
  }

  private put(ih: InfoHash, peer: Peer, seeder: boolean, completed: boolean): void {
    this.assertRunning();
    const fam = this.family(peer);
    const key = this.keyOf(peer);
    let s = fam.swarm(ih);
    let pos = s < 0 ? -1 : fam.find(s, key);
    // The hard bound: announces answered before the store filled up are dropped
    // here (the response path asked `admits` first, so this is rare).
    if (pos < 0 && this.refusal(fam, s) !== undefined) return;
    if (s < 0) {
      s = fam.swarmOrCreate(ih);
      pos = -1;
    }
    const now = this.options.clock.now();
    const wasSeeder = pos >= 0 && pos < fam.seeders(s);
    if (completed && !wasSeeder) fam.addDownloaded(s);
    if (pos >= 0 && wasSeeder === seeder) {
      fam.touch(s, pos, now);
      return;
    }
    if (pos >= 0) this.removePeer(fam, s, pos);
    fam.add(s, key, seeder, now);
    if (seeder) this.seederTotal++;
    else this.leecherTotal++;
  }

  private removePeer(fam: FamilyStore, s: number, pos: number): void {
    if (pos < fam.seeders(s)) this.seederTotal--;
    else this.leecherTotal--;
    fam.removeAt(s, pos);
  }

  private remove(ih: InfoHash, peer: Peer, seeder: boolean): boolean {
    this.assertRunning();
    const fam = this.family(peer);
    const s = fam.swarm(ih);
    if (s < 0) return false;
    const pos = fam.find(s, this.keyOf(peer));
    if (pos < 0 || (pos < fam.seeders(s)) !== seeder) return false;
    this.removePeer(fam, s, pos);
    if (fam.count(s) === 0) {
      fam.deleteSwarm(s);
      fam.shrink();
    }
    return true;
  }

  putSeeder(ih: InfoHash, peer: Peer): void {
    this.put(ih, peer, true, false);
  }

  putLeecher(ih: InfoHash, peer: Peer): void {
    this.put(ih, peer, false, false);
  }

  graduateLeecher(ih: InfoHash, peer: Peer): void {
    this.put(ih, peer, true, true);
  }

  deleteSeeder(ih: InfoHash, peer: Peer): boolean {
    return this.remove(ih, peer, true);
  }

  deleteLeecher(ih: InfoHash, peer: Peer): boolean {
    return this.remove(ih, peer, false);
  }

  announcePeers(ih: InfoHash, seeder: boolean, numWant: number, announcer: Peer, out: PeerList): number {
    this.assertRunning();
    const fam = this.family(announcer);
    const s = fam.swarm(ih);
    if (s < 0) return 0;
    const self = fam.find(s, this.keyOf(announcer));
    const seeders = fam.seeders(s);
    const count = fam.count(s);
    const bits = announcer.ip.length === 4 ? this.subnetBits4 : this.subnetBits6;
    if (bits > 0) return this.announceBySubnet(fam, s, seeder, numWant, self, announcer.ip, bits, out);
    if (seeder) return fam.pick(s, seeders, count, numWant, self, out);
    const fromSeeders = fam.pick(s, 0, seeders, numWant, self, out);
    return fromSeeders + fam.pick(s, seeders, count, numWant - fromSeeders, self, out);
  }

  /**
   * Subnet preference (chihaya's removed `memorybysubnet`): a seeder gets
   * same-subnet leechers, then other leechers; a leecher gets same-subnet seeders,
   * same-subnet leechers, other seeders, other leechers.
   */
  private announceBySubnet(
    fam: FamilyStore,
    s: number,
    seeder: boolean,
    numWant: number,
    self: number,
    ip: Uint8Array,
    bits: number,
    out: PeerList,
  ): number {
    const seeders = fam.seeders(s);
    const count = fam.count(s);
    const ranges = seeder ? [[seeders, count]] : [[0, seeders], [seeders, count]];
    let added = 0;
    for (const same of [true, false]) {
      for (const [from, to] of ranges) {
        added += fam.pickSubnet(s, from, to, numWant - added, self, out, ip, bits, same, SUBNET_WINDOW);
      }
    }
    return added;
  }

  scrapeSwarm(ih: InfoHash, family: AddressFamily): SwarmCounts {
    this.assertRunning();
    const fam = family === 4 ? this.v4 : this.v6;
    const s = fam.swarm(ih);
    if (s < 0) return EMPTY;
    const seeders = fam.seeders(s);
    return { complete: seeders, incomplete: fam.count(s) - seeders, downloaded: fam.downloaded(s) };
  }

  hasPeer(ih: InfoHash, peer: Peer): boolean {
    this.assertRunning();
    const fam = this.family(peer);
    const s = fam.swarm(ih);
    return s >= 0 && fam.find(s, this.keyOf(peer)) >= 0;
  }

  stats(): StoreStats {
    return { swarms: this.v4.size + this.v6.size, seeders: this.seederTotal, leechers: this.leecherTotal };
  }

  /**
   * Lists swarms in batches. Each family's index is walked from one of its empty
   * slots (a probe run never crosses an empty slot, so a deletion's backward shift
   * cannot move a visited swarm ahead of the cursor); if the table is resized
   * between batches, that family's walk ends early rather than repeat swarms.
   */
  async *swarms(family?: AddressFamily, batchSize = 1024): AsyncGenerator<SwarmSummary[]> {
    for (const [fam, f] of [[this.v4, 4], [this.v6, 6]] as const) {
      if (family !== undefined && family !== f) continue;
      const slots = fam.slots;
      let start = 0;
      while (fam.swarmAt(start) >= 0) start++;
      let batch: SwarmSummary[] = [];
      for (let i = 1; i <= slots && !this.stopped && fam.slots === slots; i++) {
        const s = fam.swarmAt((start + i) & (slots - 1));
        if (s < 0) continue;
        const seeders = fam.seeders(s);
        batch.push({
          infoHash: fam.infoHash(s),
          family: f,
          complete: seeders,
          incomplete: fam.count(s) - seeders,
          downloaded: fam.downloaded(s),
        });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
  }

  /** Bytes the packed tables hold, for metrics and the memory benchmark. */
  get bytes(): number {
    return this.v4.bytes + this.v6.bytes;
  }

  ready(): boolean {
    return !this.stopped;
  }

  /**
   * Removes every peer last seen at or before `now - peerLifetime`, and swarms left
   * empty, yielding to the event loop between slices. Concurrent calls share one
   * sweep.
   */
  collectGarbage(): Promise<GCResult> {
    return this.gc.run();
  }

  private async sweep(): Promise<Omit<GCResult, "durationMs">> {
    const now = this.options.clock.now();
    const cutoff = now - Math.floor(this.options.peerLifetime / 1000);
    const slice = this.options.gcSliceSize ?? 8192;
    let budget = slice;
    let peersRemoved = 0;
    let swarmsRemoved = 0;
    for (const fam of [this.v4, this.v6]) {
      // Announces between slices may delete swarms, which moves the last swarm
      // into the deleted one's number: one moved behind the cursor waits for the
      // next sweep, which is harmless.
      for (let s = 0; s < fam.size && !this.stopped;) {
        const slot = s;
        for (let pos = fam.count(s) - 1; pos >= 0; pos--) {
          // Going down, every record that removeAt moves has been looked at already.
          if (fam.seen(s, pos, now) <= cutoff) {
            this.removePeer(fam, s, pos);
            peersRemoved++;
          }
          if (--budget > 0) continue;
          // A large swarm yields mid-way too. While we wait, announces may move this
          // swarm to another number or delete it, and add or remove its peers: find it
          // again by infohash and carry on from the same position or the new end.
          budget = slice;
          const ih = fam.infoHash(s);
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (this.stopped) break;
          s = fam.swarm(ih);
          if (s < 0) break;
          pos = Math.min(pos, fam.count(s));
        }
        if (s < 0 || this.stopped) {
          s = slot;
          continue;
        }
        if (fam.count(s) === 0) {
          fam.deleteSwarm(s); // the last swarm moves into number s: look at it again
          swarmsRemoved++;
        } else {
          s++;
        }
        if (--budget <= 0) {
          budget = slice;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
      fam.shrink();
    }
    return { peersRemoved, swarmsRemoved };
  }

  private assertRunning(): void {
    if (this.stopped) throw new Error("attempted to interact with a stopped memory store");
  }

  stop(): void {
    if (this.stopped) return;
    clearInterval(this.snapshotTimer);
    const path = this.options.snapshotPath;
    if (path) {
      try {
        writeSnapshotSync(path, encodeSnapshot([this.v4, this.v6], this.options.clock.now()));
        this.options.log?.("info", "storage snapshot written", {
          path,
          peers: this.seederTotal + this.leecherTotal,
        });
      } catch (err) {
        this.options.log?.("error", "storage snapshot failed", { path, error: (err as Error).message });
      }
    }
    this.stopped = true;
    void this.gc.stop(); // a sweep under way sees `stopped` and ends at its next slice
    this.v4.clear();
    this.v6.clear();
    this.seederTotal = 0;
    this.leecherTotal = 0;
  }
}
