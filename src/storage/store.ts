/**
 * The PeerStore contract, as chihaya's, plus completed counts. IPv4 and IPv6
 * swarms are separate; a peer is identified by ID, address and port; a peer is a
 * seeder or a leecher of a swarm, never both.
 *
 * @module
 */
import type { AddressFamily } from "../bittorrent/ip.ts";
import type { InfoHash, Peer } from "../bittorrent/peer.ts";
import type { PeerList } from "../bittorrent/request.ts";
import type { MaybePromise } from "../maybe.ts";
import { ClientError } from "../bittorrent/errors.ts";

/** A new peer for a swarm that holds `max_peers_per_swarm` already. */
export const ErrSwarmFull: ClientError = new ClientError("swarm limit reached");
/** A new peer when the store holds `max_peers`, or a new swarm when it holds `max_swarms`. */
export const ErrTrackerFull: ClientError = new ClientError("tracker is full");

/** Counts of one swarm. */
export interface SwarmCounts {
  complete: number;
  incomplete: number;
  /** Completed events seen (a peer counts once per swarm membership). */
  downloaded: number;
}

/** Totals over the whole store, for metrics. */
export interface StoreStats {
  swarms: number;
  seeders: number;
  leechers: number;
}

/** One swarm's counts, as a full scrape or the stats page lists them. */
export interface SwarmSummary extends SwarmCounts {
  infoHash: InfoHash;
  family: AddressFamily;
}

/** Where peers live. Every method may answer synchronously or with a promise. */
export interface PeerStore {
  /** Adds or refreshes a seeder; a leecher entry of the same peer is removed. */
  putSeeder(ih: InfoHash, peer: Peer): MaybePromise<void>;
  /** Adds or refreshes a leecher; a seeder entry of the same peer is removed. */
  putLeecher(ih: InfoHash, peer: Peer): MaybePromise<void>;
  /** A completed event: the peer becomes a seeder, and the swarm's downloaded count grows unless it was seeding already. */
  graduateLeecher(ih: InfoHash, peer: Peer): MaybePromise<void>;
  /** Removes a seeder; false when the swarm or the peer does not exist. */
  deleteSeeder(ih: InfoHash, peer: Peer): MaybePromise<boolean>;
  /** Removes a leecher; false when the swarm or the peer does not exist. */
  deleteLeecher(ih: InfoHash, peer: Peer): MaybePromise<boolean>;
  /**
   * Appends up to `numWant` peers of the announcer's family to `out` and returns
   * how many: a seeder gets leechers; a leecher gets seeders first, then leechers.
   * The announcer itself is never among them. A missing swarm gives 0.
   */
  announcePeers(
    ih: InfoHash,
    seeder: boolean,
    numWant: number,
    announcer: Peer,
    out: PeerList,
  ): MaybePromise<number>;
  /**
   * Optional: whether an announce by `peer` may be stored (memory limits). True,
   * or the ClientError to refuse it with ({@link ErrSwarmFull}, {@link ErrTrackerFull}).
   * The response hook asks before answering, because the storage write runs after
   * the response and could only log a refusal. A peer already stored is always
   * admitted. Stores without it admit everything.
   */
  admits?(ih: InfoHash, peer: Peer): MaybePromise<true | ClientError>;
  /** Counts of a swarm; a missing swarm gives zeros. */
  scrapeSwarm(ih: InfoHash, family: AddressFamily): MaybePromise<SwarmCounts>;
  /** True when the peer is in the swarm as seeder or leecher. */
  hasPeer(ih: InfoHash, peer: Peer): MaybePromise<boolean>;
  /** Totals, for gauges. */
  stats(): MaybePromise<StoreStats>;
  /**
   * Removes peers not seen for the configured peer lifetime, and empty swarms.
   * Stores also run it on their own every `gc_interval`.
   */
  collectGarbage(): Promise<{ peersRemoved: number; swarmsRemoved: number }>;
  /**
   * Optional: every swarm of `family` (both families when omitted), in batches of
   * at most `batchSize`, for full scrapes and the stats page. The walk is not a
   * snapshot: swarms created or removed meanwhile may be missed. Each batch is the
   * caller's to keep. Stores without it cannot serve a full scrape.
   */
  swarms?(family?: AddressFamily, batchSize?: number): AsyncIterable<SwarmSummary[]>;
  /**
   * Optional: connects a remote store before the tracker serves; rejects with a
   * clear message when it cannot. Idempotent.
   */
  open?(): Promise<void>;
  /** True when the store can serve (a remote store may be unreachable). */
  ready(): MaybePromise<boolean>;
  /** Stops background work and releases what the store holds. */
  stop(): MaybePromise<void>;
}

/** What a store driver gets besides its own `config` map. */
export interface StoreContext {
  /** `file:line` of the `storage:` block, for messages. */
  where: string;
  /** Validation warnings go here (unknown keys and the like). */
  warnings: string[];
  /** Called with the duration of each garbage-collection sweep, for metrics. */
  onGC?: (durationMs: number) => void;
  /** Logs a store event (GC results, faults). */
  log: (level: "info" | "debug" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

/** Builds a store from its `storage.config` map; throws ConfigError on bad options. */
export type StoreDriver = (config: Record<string, unknown>, ctx: StoreContext) => PeerStore;

const drivers = new Map<string, StoreDriver>();

/**
 * Registers a storage driver under the name used in `storage.name`.
 *
 * @example
 * ```ts
 * registerStore("memory", (config, ctx) => new MemoryStore(readMemoryConfig(config, ctx)));
 * ```
 */
export function registerStore(name: string, driver: StoreDriver): void {
  if (name === "" || drivers.has(name)) {
    throw new Error(`storage driver "${name}" registered twice or unnamed`);
  }
  drivers.set(name, driver);
}

/** The driver registered under `name`, or undefined. */
export function storeDriver(name: string): StoreDriver | undefined {
  return drivers.get(name);
}

/** Names of every registered store, sorted. */
export function storeNames(): string[] {
  return [...drivers.keys()].sort();
}
