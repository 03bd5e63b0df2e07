import { test } from "node:test";
import assert from "node:assert/strict";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import {
  deriveEntropy,
  intervalDelta,
  intn,
  readVarIntervalConfig,
  type VarIntervalConfig,
  varIntervalHook,
  xorshift128plus,
} from "../../../src/middleware/varinterval/varinterval.ts";
import "../../../src/middleware/drivers.ts";
import { announce, hookContext, hookOptions, response, text20 } from "../helpers.ts";

const ZERO = new Uint8Array(20);
const IH_1_20 = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const PID = text20("-TEST01-6wfG2wk6wWLc");

function cfg(p: number, max: number, min = false): VarIntervalConfig {
  return { modifyResponseProbability: p, maxIncreaseDelta: max, modifyMinInterval: min };
}

test("interval variation is registered under chihaya's name", () => {
  assert.ok(hookDriver("interval variation"));
});

test("chihaya's checkConfig vectors", () => {
  const check = (p: number, d: number, m = true) =>
    readVarIntervalConfig(
      { modify_response_probability: p, max_increase_delta: d, modify_min_interval: m },
      "p",
      [],
    );
  assert.deepEqual(check(0.5, 60), cfg(0.5, 60, true));
  assert.deepEqual(check(1.0, 60), cfg(1, 60, true));
  assert.throws(() => check(0.0, 60), /invalid modify_response_probability/);
  assert.throws(() => check(1.1, 60), /invalid modify_response_probability/);
  assert.throws(() => check(0.5, 0), /invalid max_increase_delta/);
  assert.throws(() => check(0.5, -10), /invalid max_increase_delta/);
});

test("option errors name the key, the reason and file:line", () => {
  const opts = hookOptions(`    - name: interval variation
      options:
        modify_response_probability: 0.2
        max_increase_delta: 1m
`);
  assert.throws(() => readVarIntervalConfig(opts, "x", []), {
    name: "ConfigError",
    message:
      `prehooks[0].options.max_increase_delta: invalid max_increase_delta: must be a whole number of ` +
      `seconds above 0 (e.g. 60), got "1m" (config.yaml:8)`,
  });
  assert.throws(() => readVarIntervalConfig({ max_increase_delta: 60 }, "p", []), {
    message:
      "p.modify_response_probability: invalid modify_response_probability: must be a number above 0 and " +
      "at most 1 (e.g. 0.2), got nothing",
  });
  assert.throws(
    () => readVarIntervalConfig({ modify_response_probability: "half", max_increase_delta: 60 }, "p", []),
    /got "half"/,
  );
  assert.throws(
    () => readVarIntervalConfig({ modify_response_probability: 0.5, max_increase_delta: 1.5 }, "p", []),
    /invalid max_increase_delta/,
  );
  assert.throws(
    () => readVarIntervalConfig({ modify_response_probability: 0.5 }, "p", []),
    /invalid max_increase_delta: .* got nothing/,
  );
  const warnings: string[] = [];
  readVarIntervalConfig(
    { modify_response_probability: 0.5, max_increase_delta: 5, modify_min_intervals: true },
    "p",
    warnings,
  );
  assert.deepEqual(warnings, [
    "unknown key p.modify_min_intervals is ignored; did you mean p.modify_min_interval?",
  ]);
});

test("vector: all-zero infohash and peer ID give p = 0 and delta 1 s, for any max", () => {
  assert.deepEqual(deriveEntropy(ZERO, ZERO), [0n, 0n]);
  assert.deepEqual(intn(0n, 0n, 1 << 24), [0, 0n, 0n]);
  for (const max of [1, 2, 60, 3600]) assert.equal(intervalDelta(ZERO, ZERO, cfg(0.5, max)), 1);
  // p = 0 is below any probability, however small.
  assert.equal(intervalDelta(ZERO, ZERO, cfg(1e-9, 60)), 1);
});

test("vector: infohash 01..14 with -TEST01-6wfG2wk6wWLc gives p ≈ 0.73319 and delta 41 s for max 60", () => {
  const [s0, s1] = deriveEntropy(IH_1_20, PID);
  const [v, n0, n1] = intn(s0, s1, 1 << 24);
  const p = v / (1 << 24);
  assert.ok(Math.abs(p - 0.73319) < 1e-5, `p = ${p}`);
  assert.equal(intn(n0, n1, 60)[0] + 1, 41);
  assert.equal(intervalDelta(IH_1_20, PID, cfg(0.8, 60)), 41);
  assert.equal(intervalDelta(IH_1_20, PID, cfg(1, 60)), 41, "probability 1 always modifies");
  assert.equal(intervalDelta(IH_1_20, PID, cfg(0.7, 60)), 0, "p ≈ 0.733 is not below 0.7");
  assert.equal(intervalDelta(IH_1_20, PID, cfg(0.73319, 60)), 0, "p is slightly above 0.73319");
});

test("xorshift128+: one step by hand, with 64-bit wrap-around", () => {
  const M = (1n << 64n) - 1n;
  const [out, a, b] = xorshift128plus(M, 1n);
  assert.equal(out, 0n, "2^64 − 1 + 1 wraps to 0");
  assert.equal(a, 1n);
  const t = (M ^ (M << 23n)) & M;
  assert.equal(b, t ^ 1n ^ (t >> 18n) ^ (1n >> 5n));
  // The seeds are sums of two big-endian halves, wrapping too.
  const ff = new Uint8Array(20).fill(0xff);
  assert.deepEqual(deriveEntropy(ff, ZERO), [M - 1n, 0n]);
});

test("chihaya's xorshift test: 10,000 Intn(10) draws all lie in [0, 10)", () => {
  let s0 = 12345n;
  let s1 = 67890n;
  for (let i = 0; i < 10_000; i++) {
    let v: number;
    [v, s0, s1] = intn(s0, s1, 10);
    assert.ok(v >= 0 && v < 10, `draw ${i} = ${v}`);
  }
});

test("chihaya's HandleAnnounce test: {1.0, 10, true} on an empty request and a zero response", () => {
  const hook = varIntervalHook(cfg(1, 10, true));
  const resp = { ...response(), interval: 0, minInterval: 0 };
  hook.handleAnnounce!(
    new Context(),
    announce({ infoHash: ZERO, peer: { id: ZERO, ip: new Uint8Array(4), port: 0 } }),
    resp,
  );
  assert.ok(resp.interval > 0);
  assert.ok(resp.minInterval > 0);
});

test("the hook adds the delta to interval, and to min interval only with modify_min_interval", () => {
  const req = announce({ infoHash: IH_1_20, peer: { id: PID, ip: new Uint8Array([1, 2, 3, 4]), port: 1 } });
  const a = response();
  varIntervalHook(cfg(1, 60, false)).handleAnnounce!(new Context(), req, a);
  assert.deepEqual([a.interval, a.minInterval], [1800 + 41, 900]);
  const b = response();
  varIntervalHook(cfg(1, 60, true)).handleAnnounce!(new Context(), req, b);
  assert.deepEqual([b.interval, b.minInterval], [1800 + 41, 900 + 41]);
  const c = response();
  varIntervalHook(cfg(0.5, 60, true)).handleAnnounce!(new Context(), req, c);
  assert.deepEqual([c.interval, c.minInterval], [1800, 900], "p ≈ 0.733 ≥ 0.5: unchanged");
});

test("deterministic per (infohash, peer ID); spread across peers", () => {
  const c = cfg(0.5, 60);
  const seen = new Set<number>();
  let modified = 0;
  // Peer IDs as clients make them: a prefix, then random bytes (a fixed LCG here).
  let x = 1;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 400; i++) {
    const pid = text20("-qB4500-000000000000");
    for (let j = 8; j < 20; j++) pid[j] = rand();
    const d = intervalDelta(IH_1_20, pid, c);
    assert.equal(intervalDelta(IH_1_20, pid, c), d, "a re-announce gets the same answer");
    assert.ok(d >= 0 && d <= 60);
    if (d > 0) modified++;
    seen.add(d);
  }
  assert.ok(modified > 120 && modified < 280, `about half modified, got ${modified}/400`);
  assert.ok(seen.size > 30, `deltas spread over 1..60, got ${seen.size} distinct`);
  // As in chihaya, only the first 16 bytes of each seed their half of the state.
  assert.equal(
    intervalDelta(IH_1_20, text20("-TEST01-6wfG2wk6XXXX"), cfg(1, 60)),
    intervalDelta(IH_1_20, PID, cfg(1, 60)),
  );
});

test("the registered driver reads the options", async () => {
  const ctx = hookContext();
  const hook = await hookDriver("interval variation")!(
    { modify_response_probability: 1, max_increase_delta: 60 },
    ctx,
  );
  const resp = response();
  hook.handleAnnounce!(
    new Context(),
    announce({ infoHash: IH_1_20, peer: { id: PID, ip: new Uint8Array(4).fill(9), port: 1 } }),
    resp,
  );
  assert.equal(resp.interval, 1841);
  assert.deepEqual(ctx.warnings, []);
});
