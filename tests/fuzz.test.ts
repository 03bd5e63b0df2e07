/**
 * A short fixed-seed slice of `deno task fuzz`: every target, a few thousand
 * inputs each, no failures. Crashes the fuzzer found are kept as regression tests
 * next to the code they hit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { allTargets, fuzz, mutate, Rng } from "../scripts/fuzz.ts";

const COUNTS: Record<string, number> = { config: 1500, jwt: 2000 };

const targets = await allTargets();

for (const t of targets) {
  test(`fuzz: ${t.name} survives a fixed-seed slice`, async () => {
    const r = await fuzz(t, { seed: 20240601, count: COUNTS[t.name] ?? 4000, timeBoundMs: 1000 });
    const shown = r.failures.map((f) =>
      `${Array.from(f.input, (b) => b.toString(16).padStart(2, "0")).join("")}: ${f.error}`
    );
    assert.deepEqual(shown, []);
    assert.equal(r.inputs, COUNTS[t.name] ?? 4000);
  });
}

test("fuzz: the same seed gives the same inputs", () => {
  const t = targets[0];
  const run = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => Array.from(mutate(rng, t.corpus[0], t)).join(","));
  };
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
});

test("fuzz: a target that throws something undocumented is reported", async () => {
  const r = await fuzz({
    name: "broken",
    corpus: [new Uint8Array([1])],
    tokens: [],
    maxLength: 8,
    run(input) {
      if (input.length > 2) throw new TypeError("boom");
    },
  }, { seed: 1, count: 500 });
  assert.ok(r.failures.length > 0);
  assert.ok(r.failures[0].error instanceof TypeError);
});

test("fuzz: an input that hangs is reported", async () => {
  const r = await fuzz({
    name: "slow",
    corpus: [new Uint8Array([1])],
    tokens: [],
    maxLength: 8,
    run: () => new Promise<void>(() => {}),
  }, { seed: 1, count: 1, timeBoundMs: 20 });
  assert.match(String(r.failures[0]?.error), /hang/);
});

test("fuzz: stop the targets", async () => {
  for (const t of targets) await t.stop?.();
});
