/**
 * The Redis PeerStore: several tracker instances share one swarm view. The key
 * layout is chihaya's, so a chihaya cluster can switch over with its swarms:
 *
 * | key (AF = `IPv4` or `IPv6`, `<ih>` = 40 lowercase hex) | type | holds |
 * |---|---|---|
 * | `AF_S_<ih>`, `AF_L_<ih>` | hash | seeders, leechers: field = peerID(20) ‖ port(2, BE) ‖ ip(4 or 16), value = mtime in Unix ns |
 * | `AF` | hash | swarm index for GC: field = `AF_S_<ih>` or `AF_L_<ih>`, value = mtime |
 * | `AF_S_count`, `AF_L_count` | string | seeders, leechers in all swarms |
 * | `AF_infohash_count` | string | swarms with seeders (chihaya's meaning) |
 * | `AF_D_<ih>` | string | hayate: completed events of the swarm (scrape `downloaded`) |
 * | `AF_swarm_count` | string | hayate: swarms with any peer (`stats().swarms`) |
 *
 * Every key takes `key_prefix` in front (default none). Updates are Lua scripts
 * (atomic, one round trip, auto-pipelined); reads of peers use HRANDFIELD, so an
 * announce costs O(numwant), not O(swarm) as chihaya's HKEYS did.
 *
 * Faults: no offline queue and no command retries, so while Redis is away calls
 * fail at once (and in-flight ones within the read timeout) and requests answer
 * `internal server error`; the client reconnects by itself.
 *
 * @module
 */
import { type GCResult, SweepSchedule } from "../gc.ts";
import { Buffer } from "node:buffer";
import { Redis, type RedisOptions } from "ioredis";
import type { AddressFamily } from "../../bittorrent/ip.ts";
import { type InfoHash, type Peer, toHex } from "../../bittorrent/peer.ts";
import type { PeerList } from "../../bittorrent/request.ts";
import type { Clock } from "../../clock.ts";
import type { PeerStore, StoreStats, SwarmCounts } from "../store.ts";
import { ANNOUNCE, COUNT_SWARMS, DELETE, GC, HAS_PEER, PUT, SCRAPE, SWARM_KEYS } from "./scripts.ts";
import { type Broker, parseBroker } from "./url.ts";

/** Settings of the Redis store; durations in milliseconds. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://…`. */
  broker: string;
  readTimeout: number;
  writeTimeout: number;
  connectTimeout: number;
  gcInterval: number;
  peerLifetime: number;
  /** Put in front of every key; "" gives chihaya's layout. */
  keyPrefix?: string;
  clock: Clock;
  /** Store events: connection lost and back, GC results, stop. */
  log?: (level: "info" | "debug" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** Called after each GC sweep. */
  onGC?: (result: GCResult) => void;
  /** Infohashes handled per GC batch (one pipelined round trip each). */
  gcBatch?: number;
}

export type { GCResult };

type Script = (...args: (string | Buffer | number)[]) => Promise<unknown>;

interface Scripts {
  hayatePut: Script;
  hayateDelete: Script;
  hayateGC: Script;
  hayateAnnounceBuffer: Script;
  hayateScrape: Script;
  hayateHasPeer: Script;
  hayateCountSwarms: Script;
}

const FAMILIES = ["IPv4", "IPv6"] as const;
type FamilyName = typeof FAMILIES[number];

/**
 * Peers in Redis.
 *
 * @example
 * ```ts
 * const store = new RedisStore({
 *   broker: "redis://127.0.0.1:6379/0", readTimeout: 15_000, writeTimeout: 15_000, connectTimeout: 15_000,
 *   gcInterval: 180_000, peerLifetime: 1_800_000, clock: new CoarseClock(),
 * });
 * await store.open(); // throws when Redis cannot be reached
 * await store.putLeecher(infoHash, peer);
 * ```
 */
export class RedisStore implements PeerStore {
  /** The client; exposed for tests and tools that inspect the layout. */
  readonly redis: Redis;
  private readonly scripts: Scripts;
  private readonly broker: Broker;
  private readonly prefix: string;
  private opening: Promise<void> | undefined;
  private stopped = false;
  private connectedOnce = false;
  private down = false;
  private lastError = "";
  private readonly gc: SweepSchedule;

  constructor(private readonly options: RedisStoreOptions) {
    this.gc = new SweepSchedule(options.gcInterval, () => this.sweep(), {
      onResult: options.onGC,
      onError: (err) => this.log("error", "storage gc failed", { error: (err as Error).message }),
    });
    this.broker = parseBroker(options.broker);
    this.prefix = options.keyPrefix ?? "";
    const b = this.broker;
    const redisOptions: RedisOptions = {
      host: b.host,
      port: b.port,
      db: b.db,
      username: b.username,
      password: b.password,
      tls: b.tls ? { servername: b.host } : undefined,
      lazyConnect: true,
      connectTimeout: options.connectTimeout,
      // A read deadline: the socket is dropped (and rebuilt) when a reply is this late.
      socketTimeout: options.readTimeout,
      // The whole command: written, then answered.
      commandTimeout: options.readTimeout + options.writeTimeout,
      // Fail at once while disconnected instead of queueing without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
      // RESP2: what every Redis-compatible server and proxy speaks.
      protocol: 2,
      connectionName: "hayate",
      retryStrategy: (times) => Math.min(100 * times, 1000),
      scripts: {
        hayatePut: { lua: PUT, numberOfKeys: SWARM_KEYS },
        hayateDelete: { lua: DELETE, numberOfKeys: SWARM_KEYS },
        hayateGC: { lua: GC, numberOfKeys: SWARM_KEYS },
        hayateAnnounce: { lua: ANNOUNCE, numberOfKeys: 2, readOnly: true },
        hayateScrape: { lua: SCRAPE, numberOfKeys: 3, readOnly: true },
        hayateHasPeer: { lua: HAS_PEER, numberOfKeys: 2, readOnly: true },
        hayateCountSwarms: { lua: COUNT_SWARMS, numberOfKeys: 2 },
      },
    };
    this.redis = new Redis(redisOptions);
    this.scripts = this.redis as unknown as Scripts;
    this.redis.on("error", (err: Error) => {
      this.lastError = err.message;
    });
    this.redis.on("ready", () => {
      if (this.down) this.log("info", "redis connection restored", { redis: this.broker.redacted });
      this.down = false;
      this.connectedOnce = true;
      this.lastError = "";
    });
    this.redis.on("close", () => {
      if (!this.connectedOnce || this.down || this.stopped) return;
      this.down = true;
      this.log("error", "redis connection lost; requests fail until it is back", {
        redis: this.broker.redacted,
        error: this.lastError || "connection closed",
      });
    });
  }

  private log(level: "info" | "debug" | "error", msg: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, msg, fields);
  }

  /**
   * Connects and checks the server (a store chihaya wrote gets its swarm counter
   * here); throws a clear error when Redis cannot be reached within the connect
   * timeout. Concurrent and repeated calls share one attempt.
   */
  open(): Promise<void> {
    this.opening ??= this.connect();
    return this.opening;
  }

  private async connect(): Promise<void> {
    const timeout = this.options.connectTimeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.redis.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
        }),
      ]);
      for (const af of FAMILIES) {
        const n = await this.scripts.hayateCountSwarms(
          this.prefix + af,
          this.prefix + af + "_swarm_count",
          this.prefix + af + "_S_",
          this.prefix + af + "_L_",
        );
        if (typeof n === "number" && n >= 0) {
          this.log("info", "redis store: counted existing swarms", { family: af, swarms: n });
        }
      }
    } catch (err) {
      const reason = this.lastError || (err as Error).message;
      this.redis.disconnect();
      throw new Error(`redis: cannot connect to ${this.broker.redacted}: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
    this.log("info", "redis store connected", {
      redis: this.broker.redacted,
      keyPrefix: this.prefix,
    });
    this.gc.start();
  }

  private keys(af: FamilyName, hex: string): string[] {
    const p = this.prefix + af;
    return [
      `${p}_S_${hex}`,
      `${p}_L_${hex}`,
      p,
      `${p}_S_count`,
      `${p}_L_count`,
      `${p}_infohash_count`,
      `${p}_swarm_count`,
      `${p}_D_${hex}`,
    ];
  }

  private guard(): void {
    if (this.stopped) throw new Error("attempted to interact with a stopped redis store");
  }

  /** Turns a client error into one that says Redis is the trouble (never with the password). */
  private fail(err: unknown): never {
    throw new Error(`redis ${this.broker.host}:${this.broker.port}: ${(err as Error).message}`);
  }

  private run<T>(p: Promise<unknown>, map: (v: unknown) => T): Promise<T> {
    return p.then(map, (err) => this.fail(err));
  }

  private put(ih: InfoHash, peer: Peer, mode: "S" | "L" | "G"): Promise<void> {
    this.guard();
    const t = `${this.options.clock.now()}000000000`;
    return this.run(
      this.scripts.hayatePut(...this.keys(familyName(peer), toHex(ih)), peerKey(peer), t, mode),
      () => undefined,
    );
  }

  putSeeder(ih: InfoHash, peer: Peer): Promise<void> {
    return this.put(ih, peer, "S");
  }

  putLeecher(ih: InfoHash, peer: Peer): Promise<void> {
    return this.put(ih, peer, "L");
  }

  graduateLeecher(ih: InfoHash, peer: Peer): Promise<void> {
    return this.put(ih, peer, "G");
  }

  private remove(ih: InfoHash, peer: Peer, role: "S" | "L"): Promise<boolean> {
    this.guard();
    return this.run(
      this.scripts.hayateDelete(...this.keys(familyName(peer), toHex(ih)), peerKey(peer), role),
      (n) => n === 1,
    );
  }

  deleteSeeder(ih: InfoHash, peer: Peer): Promise<boolean> {
    return this.remove(ih, peer, "S");
  }

  deleteLeecher(ih: InfoHash, peer: Peer): Promise<boolean> {
    return this.remove(ih, peer, "L");
  }

  announcePeers(
    ih: InfoHash,
    seeder: boolean,
    numWant: number,
    announcer: Peer,
    out: PeerList,
  ): Promise<number> {
    this.guard();
    if (numWant <= 0) return Promise.resolve(0);
    const p = this.prefix + familyName(announcer);
    const hex = toHex(ih);
    const ipLen = announcer.ip.length;
    return this.run(
      this.scripts.hayateAnnounceBuffer(
        `${p}_S_${hex}`,
        `${p}_L_${hex}`,
        seeder ? "1" : "0",
        numWant,
        peerKey(announcer),
      ),
      (reply) => {
        let n = 0;
        for (const f of reply as Buffer[]) {
          // Foreign fields of another length are skipped rather than misread.
          if (f.length !== 22 + ipLen) continue;
          out.push({ id: f.subarray(0, 20), port: (f[20] << 8) | f[21], ip: f.subarray(22) });
          n++;
        }
        return n;
      },
    );
  }

  scrapeSwarm(ih: InfoHash, family: AddressFamily): Promise<SwarmCounts> {
    this.guard();
    const p = this.prefix + (family === 4 ? "IPv4" : "IPv6");
    const hex = toHex(ih);
    return this.run(
      this.scripts.hayateScrape(`${p}_S_${hex}`, `${p}_L_${hex}`, `${p}_D_${hex}`),
      (reply) => {
        const [complete, incomplete, downloaded] = reply as number[];
        return { complete, incomplete, downloaded };
      },
    );
  }

  hasPeer(ih: InfoHash, peer: Peer): Promise<boolean> {
    this.guard();
    const p = this.prefix + familyName(peer);
    const hex = toHex(ih);
    return this.run(
      this.scripts.hayateHasPeer(`${p}_S_${hex}`, `${p}_L_${hex}`, peerKey(peer)),
      (n) => n === 1,
    );
  }

  stats(): Promise<StoreStats> {
    this.guard();
    const keys: string[] = [];
    for (const af of FAMILIES) {
      const p = this.prefix + af;
      keys.push(`${p}_swarm_count`, `${p}_S_count`, `${p}_L_count`);
    }
    return this.run(this.redis.mget(...keys), (reply) => {
      const v = (reply as (string | null)[]).map((s) => Math.max(0, Number(s ?? 0) || 0));
      return { swarms: v[0] + v[3], seeders: v[1] + v[4], leechers: v[2] + v[5] };
    });
  }

  /** True while connected and not stopped. */
  ready(): boolean {
    return !this.stopped && this.redis.status === "ready";
  }

  /**
   * Removes peers last seen at or before `now - peerLifetime`, and swarms left
   * empty: the index is walked with HSCAN, each swarm cleaned by one atomic
   * script, so instances sweeping at once do not double-count. Concurrent calls
   * in one instance share a sweep.
   */
  collectGarbage(): Promise<GCResult> {
    return this.gc.run();
  }

  private async sweep(): Promise<Omit<GCResult, "durationMs">> {
    this.guard();
    const cutoffS = this.options.clock.now() - Math.floor(this.options.peerLifetime / 1000);
    const cutoff = `${cutoffS}000000000`;
    const batch = this.options.gcBatch ?? 500;
    let peersRemoved = 0;
    let swarmsRemoved = 0;
    for (const af of FAMILIES) {
      const index = this.prefix + af;
      const sPrefix = `${index}_S_`;
      const lPrefix = `${index}_L_`;
      let cursor = "0";
      do {
        const [next, flat] = await this.redis.hscan(index, cursor, "COUNT", batch).catch((e) => this.fail(e));
        cursor = next;
        const hexes = new Set<string>();
        for (let i = 0; i < flat.length; i += 2) {
          const field = flat[i];
          const hex = field.slice(-40);
          if (
            (field.startsWith(sPrefix) || field.startsWith(lPrefix)) && field.length === sPrefix.length + 40
          ) {
            hexes.add(hex);
          }
        }
        const results = await Promise.all(
          [...hexes].map((hex) => this.scripts.hayateGC(...this.keys(af, hex), cutoff)),
        ).catch((e) => this.fail(e));
        for (const r of results) {
          const [peers, gone] = r as number[];
          peersRemoved += peers;
          swarmsRemoved += gone;
        }
      } while (cursor !== "0" && !this.stopped);
    }
    return { peersRemoved, swarmsRemoved };
  }

  /** Stops the GC and closes the connection; the data stays in Redis. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.gc.stop();
    if (this.connectedOnce) {
      this.log(
        "info",
        `hayate does not clear data in redis when exiting. hayate keys have prefix '${this.prefix}IPv{4,6}_'.`,
      );
    }
    if (this.redis.status === "ready") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.redis.quit().catch(() => {}),
        new Promise((r) => (timer = setTimeout(r, 1000))),
      ]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
  }
}

function familyName(peer: Peer): FamilyName {
  return peer.ip.length === 4 ? "IPv4" : "IPv6";
}

/** chihaya's binary peer key: peerID(20) ‖ port(2, big-endian) ‖ ip(4 or 16). */
export function peerKey(peer: Peer): Buffer {
  const b = Buffer.allocUnsafe(22 + peer.ip.length);
  b.set(peer.id, 0);
  b[20] = peer.port >> 8;
  b[21] = peer.port & 0xff;
  b.set(peer.ip, 22);
  return b;
}
