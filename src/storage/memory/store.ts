/**
 * The in-process PeerStore: swarms of packed records (see {@link Swarm}) in one map
 * per address family, a coarse clock for last-seen stamps, and a garbage collector
 * that sweeps in slices so it never holds the event loop for long.
 *
 * @module
 */
import type { AddressFamily } from "../../bittorrent/ip.ts";
import type { InfoHash, Peer } from "../../bittorrent/peer.ts";
import type { PeerList } from "../../bittorrent/request.ts";
import type { Clock } from "../../clock.ts";
import type { PeerStore, StoreStats, SwarmCounts } from "../store.ts";
import { LAYOUT_V4, LAYOUT_V6, Swarm } from "./swarm.ts";

/** Settings of the memory store; durations in milliseconds. */
export interface MemoryStoreOptions {
  gcInterval: number;
  peerLifetime: number;
  clock: Clock;
  /** Records scanned per GC slice before yielding to the event loop. */
  gcSliceSize?: number;
  /** Called after each sweep with its duration and what it removed. */
  onGC?: (result: GCResult) => void;
}

/** What one garbage-collection sweep did. */
export interface GCResult {
  durationMs: number;
  peersRemoved: number;
  swarmsRemoved: number;
}

const EMPTY: SwarmCounts = Object.freeze({ complete: 0, incomplete: 0, downloaded: 0 });

function swarmKey(ih: InfoHash): string {
  return String.fromCharCode.apply(null, ih as unknown as number[]);
}

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
  private readonly v4 = new Map<string, Swarm>();
  private readonly v6 = new Map<string, Swarm>();
  // One scratch key per family: a peer is written here once, then compared and
  // copied as bytes.
  private readonly key4 = new Uint8Array(LAYOUT_V4.key);
  private readonly key6 = new Uint8Array(LAYOUT_V6.key);
  private seederTotal = 0;
  private leecherTotal = 0;
  private gcTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private sweeping: Promise<GCResult> | undefined;

  constructor(private readonly options: MemoryStoreOptions) {
    this.scheduleGC();
  }

  private swarms(family: AddressFamily): Map<string, Swarm> {
    return family === 4 ? this.v4 : this.v6;
  }

  /** Writes the peer's key into the family's scratch buffer. */
  private keyOf(peer: Peer): Uint8Array {
    const v4 = peer.ip.length === 4;
    const key = v4 ? this.key4 : this.key6;
    const entry = v4 ? LAYOUT_V4.entry : LAYOUT_V6.entry;
    key.set(peer.ip, 0);
    key[entry - 2] = peer.port >> 8;
    key[entry - 1] = peer.port & 0xff;
    key.set(peer.id, entry);
    return key;
  }

  private swarmOf(ih: InfoHash, peer: Peer, create: boolean): Swarm | undefined {
    const v4 = peer.ip.length === 4;
    const map = v4 ? this.v4 : this.v6;
    const k = swarmKey(ih);
    let swarm = map.get(k);
    if (swarm === undefined && create) {
      swarm = new Swarm(v4 ? LAYOUT_V4 : LAYOUT_V6);
      map.set(k, swarm);
    }
    return swarm;
  }

  private put(ih: InfoHash, peer: Peer, seeder: boolean, completed: boolean): void {
    this.assertRunning();
    const swarm = this.swarmOf(ih, peer, true)!;
    const key = this.keyOf(peer);
    const now = this.options.clock.now();
    const slot = swarm.find(key);
    const wasSeeder = slot >= 0 && slot < swarm.seeders;
    if (slot >= 0 && wasSeeder === seeder) {
      swarm.touch(slot, now);
      return;
    }
    if (slot >= 0) this.removeSlot(swarm, slot);
    swarm.add(key, 0, seeder, now);
    if (seeder) this.seederTotal++;
    else this.leecherTotal++;
    if (completed && !wasSeeder) swarm.downloaded++;
  }

  private removeSlot(swarm: Swarm, slot: number): void {
    if (slot < swarm.seeders) this.seederTotal--;
    else this.leecherTotal--;
    swarm.removeAt(slot);
  }

  private remove(ih: InfoHash, peer: Peer, seeder: boolean): boolean {
    this.assertRunning();
    const swarm = this.swarmOf(ih, peer, false);
    if (swarm === undefined) return false;
    const slot = swarm.find(this.keyOf(peer));
    if (slot < 0 || (slot < swarm.seeders) !== seeder) return false;
    this.removeSlot(swarm, slot);
    if (swarm.count === 0) this.swarms(peer.ip.length === 4 ? 4 : 6).delete(swarmKey(ih));
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
    const swarm = this.swarmOf(ih, announcer, false);
    if (swarm === undefined) return 0;
    const self = swarm.find(this.keyOf(announcer));
    if (seeder) return swarm.pick(swarm.seeders, swarm.count, numWant, self, out);
    const fromSeeders = swarm.pick(0, swarm.seeders, numWant, self, out);
    return fromSeeders + swarm.pick(swarm.seeders, swarm.count, numWant - fromSeeders, self, out);
  }

  scrapeSwarm(ih: InfoHash, family: AddressFamily): SwarmCounts {
    this.assertRunning();
    const swarm = this.swarms(family).get(swarmKey(ih));
    if (swarm === undefined) return EMPTY;
    return { complete: swarm.seeders, incomplete: swarm.leechers, downloaded: swarm.downloaded };
  }

  hasPeer(ih: InfoHash, peer: Peer): boolean {
    this.assertRunning();
    const swarm = this.swarmOf(ih, peer, false);
    return swarm !== undefined && swarm.find(this.keyOf(peer)) >= 0;
  }

  stats(): StoreStats {
    return { swarms: this.v4.size + this.v6.size, seeders: this.seederTotal, leechers: this.leecherTotal };
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
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweep(): Promise<GCResult> {
    const started = performance.now();
    const cutoff = this.options.clock.now() - Math.floor(this.options.peerLifetime / 1000);
    const slice = this.options.gcSliceSize ?? 8192;
    let budget = slice;
    let peersRemoved = 0;
    let swarmsRemoved = 0;
    for (const map of [this.v4, this.v6]) {
      // Map iterators stay valid across deletions and insertions made while we yield.
      for (const [k, swarm] of map) {
        if (this.stopped) break;
        const scanned = swarm.count;
        for (let slot = swarm.count - 1; slot >= 0; slot--) {
          // Going down, every record that removeAt moves has been looked at already.
          if (swarm.seen(slot) <= cutoff) {
            this.removeSlot(swarm, slot);
            peersRemoved++;
          }
        }
        if (swarm.count === 0) {
          map.delete(k);
          swarmsRemoved++;
        }
        budget -= scanned + 1;
        if (budget <= 0) {
          budget = slice;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
    }
    const result = { durationMs: performance.now() - started, peersRemoved, swarmsRemoved };
    this.options.onGC?.(result);
    return result;
  }

  private scheduleGC(): void {
    if (this.stopped) return;
    this.gcTimer = setTimeout(() => {
      this.collectGarbage().finally(() => this.scheduleGC());
    }, this.options.gcInterval);
  }

  private assertRunning(): void {
    if (this.stopped) throw new Error("attempted to interact with a stopped memory store");
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.gcTimer);
    this.v4.clear();
    this.v6.clear();
    this.seederTotal = 0;
    this.leecherTotal = 0;
  }
}
