/**
 * The `rate limit` hook (hayate's own): token buckets per source address, one for
 * announces and one for scrapes, kept separately for HTTP and UDP. IPv6 clients
 * are counted per /64 (one subscriber usually holds a whole /64); IPv4 per address.
 *
 * ```yaml
 * prehooks:
 *   - name: rate limit
 *     options:
 *       announces_per_second: 5     # per address and protocol; 0 = announces not limited
 *       scrapes_per_second: 1       # 0 = scrapes not limited
 *       burst: 50                   # bucket size: requests allowed at once
 *       max_tracked_addresses: 100000
 *       udp: {announces_per_second: 2}   # optional per-protocol overrides (http: too)
 * ```
 *
 * Over the limit the request is refused with the client error `rate limited`.
 * Each refusal also costs a token, down to a debt of `burst`; past that debt a UDP
 * request gets no reply at all (`ctx.drop`), so error packets from one address
 * never outnumber its allowed rate and cannot be used for reflection. HTTP always
 * answers. Memory is bounded: at most `max_tracked_addresses` buckets per
 * protocol and action, the least recently seen one forgotten first (LRU).
 *
 * The address is the socket's (or `real_ip_header`'s), never a spoofed `ip`
 * parameter.
 *
 * @module
 */
import { ClientError } from "../../bittorrent/errors.ts";
import { addressKey } from "../../bittorrent/ip.ts";
import { OptionsReader } from "../../config/options.ts";
import { type Context, type Hook, type HookContext, registerHook } from "../hook.ts";

/** The client error of a refused request. */
export const ErrRateLimited: ClientError = new ClientError("rate limited");

/** Limits of one protocol; rates per second, 0 = not limited. */
export interface RateLimits {
  announcesPerSecond: number;
  scrapesPerSecond: number;
  burst: number;
}

/** The validated options. */
export interface RateLimitConfig {
  http: RateLimits;
  udp: RateLimits;
  maxTrackedAddresses: number;
}

/** Defaults: generous enough for a NAT full of clients that announce every 30 minutes. */
export const RATE_LIMIT_DEFAULTS = {
  announcesPerSecond: 5,
  scrapesPerSecond: 1,
  burst: 50,
  maxTrackedAddresses: 100_000,
} as const;

/**
 * Token buckets keyed by string, at most `max` of them (a Map in recency order:
 * touching a key moves it to the end, and the first key is the oldest).
 */
export class BucketTable {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly rate: number, readonly burst: number, readonly max: number) {}

  /**
   * Takes a token for `key` at `nowMs`: "ok", "refuse" (over the limit), or "drop"
   * (over the limit by more than `burst`).
   */
  take(key: string, nowMs: number): "ok" | "refuse" | "drop" {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.max) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: nowMs };
    } else {
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.at) / 1000) * this.rate);
      b.at = nowMs;
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return "ok";
    }
    if (b.tokens <= -this.burst) return "drop";
    b.tokens -= 1;
    return "refuse";
  }

  /** Buckets held. */
  get size(): number {
    return this.buckets.size;
  }
}

function readLimits(r: OptionsReader, base: RateLimits): RateLimits {
  const rate = (key: string, def: number) => r.float(key, def, { min: 0, max: 1e6 });
  return {
    announcesPerSecond: rate("announces_per_second", base.announcesPerSecond),
    scrapesPerSecond: rate("scrapes_per_second", base.scrapesPerSecond),
    burst: r.uint("burst", base.burst, { min: 1, max: 1e6 }),
  };
}

/**
 * Reads and validates the `options:` map.
 *
 * @example
 * ```ts
 * readRateLimitConfig({ announces_per_second: 2, udp: { burst: 5 } }, "prehooks[0].options", []);
 * ```
 */
export function readRateLimitConfig(options: unknown, where: string, warnings: string[]): RateLimitConfig {
  const r = new OptionsReader(options, where, warnings);
  const base = readLimits(r, RATE_LIMIT_DEFAULTS);
  const maxTrackedAddresses = r.uint("max_tracked_addresses", RATE_LIMIT_DEFAULTS.maxTrackedAddresses, {
    max: 10_000_000,
  });
  const per = (name: "http" | "udp") => {
    const c = r.child(name);
    if (c === undefined) return base;
    const limits = readLimits(c, base);
    c.finish();
    return limits;
  };
  const cfg = { http: per("http"), udp: per("udp"), maxTrackedAddresses };
  r.finish();
  return cfg;
}

/**
 * Builds the hook. `nowMs` is the clock (milliseconds; `performance.now` by default).
 *
 * @example
 * ```ts
 * const hook = rateLimitHook(readRateLimitConfig({}, "prehooks[0].options", []));
 * ```
 */
export function rateLimitHook(cfg: RateLimitConfig, nowMs: () => number = () => performance.now()): Hook & {
  tables: Record<string, BucketTable | undefined>;
} {
  const table = (rate: number, burst: number) =>
    rate > 0 ? new BucketTable(rate, burst, cfg.maxTrackedAddresses) : undefined;
  const tables: Record<string, BucketTable | undefined> = {
    "http announce": table(cfg.http.announcesPerSecond, cfg.http.burst),
    "http scrape": table(cfg.http.scrapesPerSecond, cfg.http.burst),
    "udp announce": table(cfg.udp.announcesPerSecond, cfg.udp.burst),
    "udp scrape": table(cfg.udp.scrapesPerSecond, cfg.udp.burst),
  };
  const check = (ctx: Context, action: "announce" | "scrape", fallback: Uint8Array | undefined) => {
    const t = tables[`${ctx.protocol ?? "http"} ${action}`];
    const ip = ctx.source ?? fallback;
    if (t === undefined || ip === undefined) return;
    const verdict = t.take(addressKey(ip), nowMs());
    if (verdict === "ok") return;
    if (verdict === "drop") ctx.drop = true;
    throw ErrRateLimited;
  };
  return {
    tables,
    handleAnnounce(ctx, req) {
      check(ctx, "announce", req.peer.ip);
    },
    handleScrape(ctx) {
      check(ctx, "scrape", undefined);
    },
  };
}

/** The driver registered as `rate limit`. */
export function newRateLimitHook(options: Record<string, unknown>, ctx: HookContext): Hook {
  return rateLimitHook(readRateLimitConfig(options, ctx.where, ctx.warnings));
}

registerHook("rate limit", newRateLimitHook);
