/**
 * The `interval variation` hook (chihaya's `middleware/varinterval`): adds a
 * random number of seconds to the `interval` (and optionally `min interval`) of
 * a share of announce responses, which spreads re-announces over time.
 *
 * The randomness is chihaya's: a XORShift128+ generator seeded from the request,
 * `s0 = BE64(ih[0:8]) + BE64(ih[8:16])` and `s1 = BE64(pid[0:8]) + BE64(pid[8:16])`
 * (wrapping at 2^64), so the same (infohash, peer ID) always gets the same answer
 * and a client's re-announces stay on one schedule.
 *
 * ```yaml
 * prehooks:
 *   - name: interval variation
 *     options:
 *       modify_response_probability: 0.2   # in (0, 1]
 *       max_increase_delta: 60             # whole seconds, > 0
 *       modify_min_interval: true
 * ```
 *
 * @module
 */
import type { AnnounceRequest, AnnounceResponse } from "../../bittorrent/request.ts";
import { OptionsReader } from "../../config/options.ts";
import { type Hook, type HookContext, registerHook } from "../hook.ts";

/** The validated options. */
export interface VarIntervalConfig {
  /** Share of responses modified, in (0, 1]; compared as a float32 as in chihaya. */
  modifyResponseProbability: number;
  /** Largest increase in whole seconds (the increase is 1..max). */
  maxIncreaseDelta: number;
  modifyMinInterval: boolean;
}

/** chihaya's `ErrInvalidModifyResponseProbability` text. */
export const INVALID_PROBABILITY = "invalid modify_response_probability";
/** chihaya's `ErrInvalidMaxIncreaseDelta` text. */
export const INVALID_MAX_DELTA = "invalid max_increase_delta";

/**
 * Reads and validates the `options:` map. Errors name chihaya's reasons:
 * `invalid modify_response_probability` (outside (0, 1], or missing) and
 * `invalid max_increase_delta` (≤ 0, not whole, or missing).
 *
 * @example
 * ```ts
 * readVarIntervalConfig({ modify_response_probability: 0.2, max_increase_delta: 60 }, "prehooks[0].options", []);
 * ```
 */
export function readVarIntervalConfig(
  options: unknown,
  where: string,
  warnings: string[],
): VarIntervalConfig {
  const r = new OptionsReader(options, where, warnings);
  const probability = r.raw("modify_response_probability");
  const delta = r.raw("max_increase_delta");
  const modifyMinInterval = r.bool("modify_min_interval", false);
  r.finish();
  const p = probability ?? 0;
  if (typeof p !== "number" || !(p > 0 && p <= 1)) {
    throw r.error(
      "modify_response_probability",
      `${INVALID_PROBABILITY}: must be a number above 0 and at most 1 (e.g. 0.2), got ${
        probability === undefined ? "nothing" : JSON.stringify(probability)
      }`,
    );
  }
  const d = delta ?? 0;
  if (typeof d !== "number" || !Number.isInteger(d) || d <= 0 || d > 2 ** 31 - 1) {
    throw r.error(
      "max_increase_delta",
      `${INVALID_MAX_DELTA}: must be a whole number of seconds above 0 (e.g. 60), got ${
        delta === undefined ? "nothing" : JSON.stringify(delta)
      }`,
    );
  }
  return { modifyResponseProbability: p, maxIncreaseDelta: d, modifyMinInterval };
}

const M64 = (1n << 64n) - 1n;

function be64(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(b[at + i] ?? 0);
  return v;
}

/**
 * chihaya's `random.DeriveEntropyFromRequest`: the two 64-bit seeds of a request.
 * Missing bytes (a short, hand-built request) read as zeros.
 */
export function deriveEntropy(infoHash: Uint8Array, peerID: Uint8Array): [bigint, bigint] {
  return [(be64(infoHash, 0) + be64(infoHash, 8)) & M64, (be64(peerID, 0) + be64(peerID, 8)) & M64];
}

/**
 * One XORShift128+ step (chihaya's `random.GenerateAndAdvance`): the output
 * `s0 + s1` and the next state.
 */
export function xorshift128plus(s0: bigint, s1: bigint): [bigint, bigint, bigint] {
  const out = (s0 + s1) & M64;
  const t = (s0 ^ (s0 << 23n)) & M64;
  const next1 = t ^ s1 ^ (t >> 18n) ^ (s1 >> 5n);
  return [out, s1, next1];
}

/**
 * chihaya's `random.Intn`: `abs(int64(v)) % n` and the next state. As in Go, the
 * one value whose absolute value overflows (−2^63) stays negative.
 */
export function intn(s0: bigint, s1: bigint, n: number): [number, bigint, bigint] {
  const [v, a, b] = xorshift128plus(s0, s1);
  let r = BigInt.asIntN(64, v);
  if (r < 0n) r = BigInt.asIntN(64, -r);
  return [Number(r % BigInt(n)), a, b];
}

/**
 * The increase in seconds for one request, or 0 when it is not modified: the
 * first draw gives `p = Intn(2^24) / 2^24`; when `p < probability` (or the
 * probability is 1) a second draw gives `Intn(max) + 1`.
 *
 * @example
 * ```ts
 * intervalDelta(new Uint8Array(20), new Uint8Array(20), { modifyResponseProbability: 0.5, maxIncreaseDelta: 60, modifyMinInterval: false }); // 1
 * ```
 */
export function intervalDelta(infoHash: Uint8Array, peerID: Uint8Array, cfg: VarIntervalConfig): number {
  const [s0, s1] = deriveEntropy(infoHash, peerID);
  const [v, n0, n1] = intn(s0, s1, 1 << 24);
  const p = Math.fround(v / (1 << 24));
  const prob = Math.fround(cfg.modifyResponseProbability);
  if (prob !== 1 && !(p < prob)) return 0;
  return intn(n0, n1, cfg.maxIncreaseDelta)[0] + 1;
}

/**
 * Builds the hook from validated options.
 *
 * @example
 * ```ts
 * const hook = varIntervalHook({ modifyResponseProbability: 1, maxIncreaseDelta: 10, modifyMinInterval: true });
 * ```
 */
export function varIntervalHook(cfg: VarIntervalConfig): Hook {
  return {
    handleAnnounce(_ctx, req: AnnounceRequest, resp: AnnounceResponse) {
      const delta = intervalDelta(req.infoHash, req.peer.id, cfg);
      if (delta <= 0) return;
      resp.interval += delta;
      if (cfg.modifyMinInterval) resp.minInterval += delta;
    },
  };
}

/** The driver registered as `interval variation`. */
export function newVarIntervalHook(options: Record<string, unknown>, ctx: HookContext): Hook {
  return varIntervalHook(readVarIntervalConfig(options, ctx.where, ctx.warnings));
}

registerHook("interval variation", newVarIntervalHook);
