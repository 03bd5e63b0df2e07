/**
 * Stateless BEP 15 connection IDs, as chihaya makes them: 4 bytes of big-endian
 * Unix seconds, then the first 4 bytes of HMAC-SHA256(key, seconds ‖ client IP).
 * The tracker keeps no table of issued IDs, so a flood of connects costs no
 * memory, and every instance sharing the key accepts every other's IDs (several
 * trackers behind one address).
 *
 * @module
 */
import { allocBytes } from "../../bittorrent/bytes.ts";
import { HmacSha256 } from "./hmac.ts";

const MAC_CACHE_BITS = 12;
const MAC_CACHE_SLOTS = 1 << MAC_CACHE_BITS;

function word(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Bytes of a connection ID. */
export const CONNECTION_ID_SIZE = 8;

/** How IDs are minted and how long they are honoured. Durations in milliseconds. */
export interface ConnectionIDOptions {
  /** The HMAC key (`udp.private_key`); `""` is a valid, if useless, key. */
  key: string;
  /** How long after its timestamp an ID stays valid (BEP 15 asks for at least 2 minutes). */
  lifetime: number;
  /** How far in the future a timestamp may lie, for instances whose clocks disagree. */
  maxClockSkew: number;
}

/**
 * Mints and checks connection IDs bound to a client address. `ip` is 4 bytes for
 * IPv4 and 16 for IPv6; callers normalise IPv4-mapped addresses first, or an IPv4
 * client would get a different ID on a dual-stack socket.
 *
 * @example
 * ```ts
 * const ids = new ConnectionIDs({ key: "secret", lifetime: 120_000, maxClockSkew: 10_000 });
 * const id = ids.create(new Uint8Array([127, 0, 0, 1]), 1_700_000_000); // 6553f100cbd42512
 * ids.valid(id, new Uint8Array([127, 0, 0, 1]), 1_700_000_060); // true
 * ```
 */
export class ConnectionIDs {
  // The key absorbed once into inner/outer SHA-256 states: a MAC is two compressions
  // and no allocation (node:crypto's createHmac cost ~10 µs per packet under Deno).
  private readonly hmac: HmacSha256;
  private readonly lifetimeSeconds: number;
  private readonly skewSeconds: number;

  constructor(opts: ConnectionIDOptions) {
    this.hmac = new HmacSha256(new TextEncoder().encode(opts.key));
    this.lifetimeSeconds = Math.max(0, opts.lifetime) / 1000;
    this.skewSeconds = Math.max(0, opts.maxClockSkew) / 1000;
  }

  // Clients send every request of a minute or two with the same ID, so recent
  // MACs are remembered in a small direct-mapped table: [ts, ip words ×4] per slot.
  // A hit skips both SHA-256 compressions. Only (ts, ip) is looked up, never the
  // MAC, so hits and misses reveal nothing about the key; a flood of forged IDs
  // merely misses and evicts.
  private readonly recent = new Uint32Array(MAC_CACHE_SLOTS * 5);
  private readonly recentMAC = new Uint32Array(MAC_CACHE_SLOTS);
  private readonly recentSize = new Uint8Array(MAC_CACHE_SLOTS);

  /** The first 4 MAC bytes for timestamp `ts` and `ip`, as a big-endian uint32. */
  private mac(ts: number, ip: Uint8Array): number {
    const w0 = word(ip, 0);
    const v6 = ip.length === 16;
    const w1 = v6 ? word(ip, 4) : 0;
    const w2 = v6 ? word(ip, 8) : 0;
    const w3 = v6 ? word(ip, 12) : 0;
    const h = Math.imul(ts ^ w0 ^ Math.imul(w1 ^ w2 ^ w3, 0x85ebca6b), 0x9e3779b1) >>> (32 - MAC_CACHE_BITS);
    const k = h * 5;
    const r = this.recent;
    if (
      this.recentSize[h] === ip.length + 1 && r[k] === ts && r[k + 1] === w0 && r[k + 2] === w1 &&
      r[k + 3] === w2 &&
      r[k + 4] === w3
    ) {
      return this.recentMAC[h];
    }
    const mac = this.hmac.prefix32(ts, ip);
    r[k] = ts;
    r[k + 1] = w0;
    r[k + 2] = w1;
    r[k + 3] = w2;
    r[k + 4] = w3;
    this.recentSize[h] = ip.length + 1; // 0 marks an empty slot
    this.recentMAC[h] = mac;
    return mac;
  }

  /**
   * Writes the ID for `ip` at Unix second `now` into `out[at, at + 8)`, so a connect
   * reply is built without an intermediate array.
   *
   * @example
   * ```ts
   * const reply = new Uint8Array(16);
   * ids.write(ip, Math.floor(Date.now() / 1000), reply, 8);
   * ```
   */
  write(ip: Uint8Array, now: number, out: Uint8Array, at = 0): void {
    const ts = Math.floor(now) >>> 0;
    out[at] = ts >>> 24;
    out[at + 1] = ts >>> 16;
    out[at + 2] = ts >>> 8;
    out[at + 3] = ts;
    const mac = this.mac(ts, ip);
    out[at + 4] = mac >>> 24;
    out[at + 5] = mac >>> 16;
    out[at + 6] = mac >>> 8;
    out[at + 7] = mac;
  }

  /**
   * A new 8-byte ID for `ip` at Unix second `now`.
   *
   * @example
   * ```ts
   * ids.create(new Uint8Array(4), 0).length; // 8
   * ```
   */
  create(ip: Uint8Array, now: number): Uint8Array {
    // Per-request memory: a fresh ArrayBuffer would cost ~0.6 µs per connect.
    const out = allocBytes(CONNECTION_ID_SIZE);
    this.write(ip, now, out);
    return out;
  }

  /**
   * True when `id[at, at + 8)` was minted for `ip` no more than `lifetime` before
   * `now` and no more than `maxClockSkew` after it. The MAC is compared in constant
   * time so its bytes cannot be guessed one at a time from response timing.
   *
   * @example
   * ```ts
   * ids.valid(packet, sourceIP, now); // the ID is the first 8 bytes of a request
   * ```
   */
  valid(id: Uint8Array, ip: Uint8Array, now: number, at = 0): boolean {
    if (id.length < at + CONNECTION_ID_SIZE) return false;
    const ts = ((id[at] << 24) | (id[at + 1] << 16) | (id[at + 2] << 8) | id[at + 3]) >>> 0;
    // Time first: an expired ID costs no HMAC.
    if (now - ts > this.lifetimeSeconds || ts - now > this.skewSeconds) return false;
    // XOR-accumulate all four bytes, no early exit.
    const mac = this.mac(ts, ip);
    const diff = ((mac >>> 24) ^ id[at + 4]) | (((mac >>> 16) & 0xff) ^ id[at + 5]) |
      (((mac >>> 8) & 0xff) ^ id[at + 6]) | ((mac & 0xff) ^ id[at + 7]);
    return diff === 0;
  }
}
