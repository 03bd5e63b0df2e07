/**
 * The packed structures of one address family (src/storage/memory/family.ts) on
 * their own: the dense swarm table and its index, the slab allocator (free blocks
 * merged with their neighbours, blocks growing and shrinking in place), and the
 * 2-byte last-seen stamps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  FamilyStore,
  INDEX_FROM,
  type Layout,
  LAYOUT_V4,
  LAYOUT_V6,
  STAMP_WINDOW,
  stampUnit,
} from "../../src/storage/memory/family.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { PeerList } from "../../src/bittorrent/request.ts";

const ihOf = (n: number) => {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(0, n * 2654435761);
  new DataView(b.buffer).setUint32(16, n);
  return b;
};
const keyOf = (layout: Layout, n: number) => {
  const k = new Uint8Array(layout.key);
  new DataView(k.buffer).setUint32(0, n);
  new DataView(k.buffer).setUint32(layout.entry + 4, n * 40503);
  return k;
};

function checked(fam: FamilyStore): void {
  const problem = fam.audit();
  assert.equal(problem, undefined, problem);
}

for (const layout of [LAYOUT_V4, LAYOUT_V6]) {
  test(`family (${layout.stride}-byte records): random operations agree with a model, invariants hold`, () => {
    let seed = 99;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const fam = new FamilyStore(layout);
    const model = new Map<number, Map<number, boolean>>(); // swarm -> peer -> seeder
    for (let step = 0; step < 40_000; step++) {
      // A few swarms that grow past the index threshold and shrink again, many small ones.
      const big = rand(3) === 0;
      const sn = big ? rand(3) : 3 + rand(300);
      const pn = big ? rand(400) : rand(12);
      const key = keyOf(layout, pn);
      const m = model.get(sn) ?? new Map<number, boolean>();
      let s = fam.swarm(ihOf(sn));
      assert.equal(s >= 0, model.has(sn));
      const pos = s < 0 ? -1 : fam.find(s, key);
      assert.equal(pos >= 0, m.has(pn));
      // Big swarms lean towards growing for a while, then towards shrinking.
      const addBias = big ? ((step >> 12) % 2 === 0 ? 3 : 1) : 2;
      if (pos < 0 && rand(4) < addBias) {
        if (s < 0) s = fam.swarmOrCreate(ihOf(sn));
        const seeder = rand(2) === 0;
        fam.add(s, key, seeder, 1000 + step);
        m.set(pn, seeder);
        model.set(sn, m);
      } else if (pos >= 0) {
        assert.equal(pos < fam.seeders(s), m.get(pn));
        fam.removeAt(s, pos);
        m.delete(pn);
        if (m.size === 0) {
          fam.deleteSwarm(s);
          model.delete(sn);
        }
      }
      if (step % 1000 === 0) {
        checked(fam);
        if (step % 8000 === 0) fam.compact();
        checked(fam);
      }
    }
    checked(fam);
    assert.equal(fam.size, model.size);
    for (const [sn, m] of model) {
      const s = fam.swarm(ihOf(sn));
      assert.equal(fam.count(s), m.size);
      assert.equal(fam.seeders(s), [...m.values()].filter(Boolean).length);
      for (const [pn, seeder] of m) {
        const pos = fam.find(s, keyOf(layout, pn));
        assert.ok(pos >= 0);
        assert.equal(pos < fam.seeders(s), seeder);
      }
    }
  });
}

test("family: deleting a swarm gives its number to the last swarm; the index follows", () => {
  const fam = new FamilyStore(LAYOUT_V4);
  for (let n = 0; n < 100; n++) fam.add(fam.swarmOrCreate(ihOf(n)), keyOf(LAYOUT_V4, n), false, 1);
  assert.equal(fam.swarm(ihOf(99)), 99);
  fam.removeAt(fam.swarm(ihOf(10)), 0);
  fam.deleteSwarm(fam.swarm(ihOf(10)));
  assert.equal(fam.size, 99);
  assert.equal(fam.swarm(ihOf(10)), -1);
  assert.equal(fam.swarm(ihOf(99)), 10);
  assert.equal(fam.find(10, keyOf(LAYOUT_V4, 99)), 0);
  checked(fam);
  // Deleting the last swarm moves nothing.
  fam.removeAt(98, 0);
  fam.deleteSwarm(98);
  assert.equal(fam.swarm(ihOf(98)), -1);
  assert.equal(fam.swarm(ihOf(97)), 97);
  // Each swarm sits in exactly one index slot.
  const seen = new Set<number>();
  for (let p = 0; p < fam.slots; p++) if (fam.swarmAt(p) >= 0) seen.add(fam.swarmAt(p));
  assert.equal(seen.size, 98);
  checked(fam);
});

test("family: swarms growing in lockstep reuse their old blocks (few holes, no compaction)", () => {
  const fam = new FamilyStore(LAYOUT_V4);
  const swarms = 5000, peers = 10;
  let compactions = 0;
  const compact = fam.compact.bind(fam);
  fam.compact = () => {
    compactions++;
    compact();
  };
  for (let i = 0; i < swarms * peers; i++) {
    fam.add(fam.swarmOrCreate(ihOf(i % swarms)), keyOf(LAYOUT_V4, i), i % 2 === 0, 1);
  }
  checked(fam);
  assert.equal(compactions, 0);
  const live = swarms * peers * LAYOUT_V4.stride;
  const slab = fam.bytes - fam.size * 40 - fam.slots * 4;
  assert.ok(slab <= live * 1.02, `slab ${slab} B for ${live} B of records`);
});

test("family: a large swarm shrinks in place, and the freed tail merges with its neighbours", () => {
  const fam = new FamilyStore(LAYOUT_V6);
  const a = fam.swarmOrCreate(ihOf(1));
  for (let i = 0; i < 5000; i++) fam.add(a, keyOf(LAYOUT_V6, i), i % 3 === 0, 1);
  const b = fam.swarmOrCreate(ihOf(2)); // after a's block
  fam.add(b, keyOf(LAYOUT_V6, 1), true, 1);
  const grown = fam.bytes;
  for (let i = 0; i < 4990; i++) fam.removeAt(a, fam.find(a, keyOf(LAYOUT_V6, i)));
  checked(fam);
  assert.equal(fam.count(a), 10);
  assert.ok(INDEX_FROM < 5000);
  for (let i = 4990; i < 5000; i++) assert.ok(fam.find(a, keyOf(LAYOUT_V6, i)) >= 0);
  fam.removeAt(b, 0);
  fam.deleteSwarm(b);
  checked(fam);
  // With b gone, a's tail and b's block fold back into the top.
  assert.ok(fam.bytes < grown / 10, `${fam.bytes} of ${grown} bytes still held`);
});

test("family: a swarm shrinking from 20,000 peers to 40 finds every peer left at every step", () => {
  // Its index is rebuilt smaller only once it is far too large for the peers left
  // (so that no single removal rebuilds a large one); until then it keeps working.
  const fam = new FamilyStore(LAYOUT_V4);
  const a = fam.swarmOrCreate(ihOf(1));
  const n = 20_000;
  for (let i = 0; i < n; i++) fam.add(a, keyOf(LAYOUT_V4, i), i % 2 === 0, 1);
  const full = fam.bytes;
  for (let i = 0; i < n - 40; i++) {
    fam.removeAt(a, fam.find(a, keyOf(LAYOUT_V4, i)));
    const left = n - 1 - i;
    if (left % 1000 === 0 || left < 1100 && left % 37 === 0) {
      checked(fam);
      assert.equal(fam.count(a), left);
      assert.equal(fam.find(a, keyOf(LAYOUT_V4, i)), -1);
      for (let j = i + 1; j < n; j++) {
        assert.ok(fam.find(a, keyOf(LAYOUT_V4, j)) >= 0, `peer ${j} lost at ${left}`);
      }
    }
  }
  for (let i = n - 40; i < n; i++) assert.ok(fam.find(a, keyOf(LAYOUT_V4, i)) >= 0);
  assert.ok(fam.bytes < full / 20, `${fam.bytes} of ${full} bytes still held at 40 peers`);
});

test("last-seen stamps: exact across the 16-bit wrap with a 1-second unit", () => {
  const fam = new FamilyStore(LAYOUT_V4);
  const s = fam.swarmOrCreate(ihOf(1));
  const t0 = 65536 * 26000 - 5; // 5 s before the stamp wraps
  fam.add(s, keyOf(LAYOUT_V4, 1), false, t0);
  for (const later of [0, 4, 5, 6, 1800, 3600, STAMP_WINDOW - 1]) {
    assert.equal(fam.seen(s, 0, t0 + later), t0);
  }
  fam.touch(s, 0, t0 + 10);
  assert.equal(fam.seen(s, 0, t0 + 10), t0 + 10);
  assert.equal(fam.seen(s, 0, t0 + 4000), t0 + 10);
});

test("last-seen stamps: a stamp from the future (clock set back) reads as now", () => {
  const fam = new FamilyStore(LAYOUT_V6);
  const s = fam.swarmOrCreate(ihOf(1));
  fam.add(s, keyOf(LAYOUT_V6, 1), true, 2_000_000_000);
  assert.equal(fam.seen(s, 0, 2_000_000_000 - 1), 2_000_000_000 - 1);
  assert.equal(fam.seen(s, 0, 2_000_000_000 - 3000), 2_000_000_000 - 3000);
});

test("last-seen stamps: a coarse unit never reads earlier than the true time, at most a unit later", () => {
  const unit = stampUnit(30 * 86400, 3600); // a 30-day peer lifetime
  assert.ok(unit > 1);
  assert.ok(STAMP_WINDOW * unit >= 2 * (30 * 86400 + 3600));
  assert.equal(stampUnit(1800, 180), 1);
  assert.equal(stampUnit(Number.NaN, 180), 1);
  const fam = new FamilyStore(LAYOUT_V4, unit);
  const s = fam.swarmOrCreate(ihOf(1));
  for (let i = 0; i < 200; i++) {
    const t = 1_700_000_000 + i * 7919;
    if (i === 0) fam.add(s, keyOf(LAYOUT_V4, 1), false, t);
    else fam.touch(s, 0, t);
    for (const later of [0, 1, unit, 86400, 30 * 86400]) {
      const seen = fam.seen(s, 0, t + later);
      assert.ok(seen >= t && seen < t + unit && seen <= t + later, `t ${t} +${later}: ${seen}`);
    }
  }
});

test("memory store: the garbage collector works across the stamp wrap", async () => {
  const clock = new ManualClock(65536 * 26000 - 30);
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 60_000, clock });
  const ih = ihOf(7);
  const peer = (n: number) => ({
    id: new Uint8Array(20).fill(n),
    ip: new Uint8Array([10, 0, 0, n]),
    port: 1000 + n,
  });
  store.putLeecher(ih, peer(1));
  store.putSeeder(ih, peer(2));
  clock.advance(50); // past the wrap
  store.putLeecher(ih, peer(2)); // refreshed (and now a leecher)
  store.putSeeder(ih, peer(3));
  clock.advance(30); // peer 1 is 80 s old, peers 2 and 3 30 s
  assert.equal((await store.collectGarbage()).peersRemoved, 1);
  assert.equal(store.hasPeer(ih, peer(1)), false);
  assert.equal(store.hasPeer(ih, peer(2)), true);
  assert.deepEqual(store.scrapeSwarm(ih, 4), { complete: 1, incomplete: 1, downloaded: 0 });
  clock.advance(31);
  assert.equal((await store.collectGarbage()).peersRemoved, 2);
  assert.deepEqual(store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
  store.stop();
});

for (const layout of [LAYOUT_V4, LAYOUT_V6]) {
  test(`family (${layout.stride}-byte records): pick takes a wrapping run from a random start, without the announcer`, () => {
    const fam = new FamilyStore(layout);
    const s = fam.swarmOrCreate(ihOf(1));
    const size = 23; // past INDEX_FROM, so both lookups paths of the swarm are in play
    for (let n = 0; n < size; n++) fam.add(s, keyOf(layout, n), n % 3 === 0, 1000);
    const posOf = new Map<number, number>();
    for (let n = 0; n < size; n++) posOf.set(n, fam.find(s, keyOf(layout, n)));
    const byPos = new Map([...posOf].map(([n, pos]) => [pos, n]));
    const out = new PeerList(layout === LAYOUT_V4 ? 4 : 6);
    const ranges = [[0, fam.seeders(s)], [fam.seeders(s), size], [0, size], [5, 6]];
    for (const [from, to] of ranges) {
      for (const skip of [-1, from, to - 1, from + 2, to]) {
        for (const want of [1, 2, 3, to - from - 1, to - from, to - from + 4]) {
          for (let round = 0; round < 30; round++) {
            out.count = 0;
            const added = fam.pick(s, from, to, want, skip, out);
            const inRange = skip >= from && skip < to ? 1 : 0;
            assert.equal(added, Math.max(0, Math.min(want, to - from - inRange)));
            assert.equal(out.count, added);
            const got = out.toArray().map((p) => {
              const n = new DataView(p.ip.buffer, p.ip.byteOffset).getUint32(0);
              assert.deepEqual(p.id, keyOf(layout, n).subarray(layout.entry), "the id of the same record");
              return posOf.get(n)!;
            });
            assert.equal(new Set(got).size, got.length, "no record twice");
            // Consecutive positions (wrapping within [from, to)), the announcer stepped over.
            for (let k = 1; k < got.length; k++) {
              let next = got[k - 1] + 1 === to ? from : got[k - 1] + 1;
              if (next === skip) next = next + 1 === to ? from : next + 1;
              assert.equal(got[k], next);
            }
            for (const pos of got) assert.ok(pos >= from && pos < to && pos !== skip && byPos.has(pos));
          }
        }
      }
    }
  });
}
