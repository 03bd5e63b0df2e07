import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { PeerList } from "../../src/bittorrent/request.ts";
import { peerStoreConformance } from "./conformance.ts";

peerStoreConformance("memory", () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 30 * 60_000, clock, gcSliceSize: 2 });
  return { store, clock, close: () => store.stop() };
});

test("memory: a stopped store refuses use", () => {
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 60_000, clock: new ManualClock() });
  store.stop();
  assert.throws(() => store.scrapeSwarm(new Uint8Array(20), 4), /stopped memory store/);
  assert.equal(store.ready(), false);
});

test("memory: the GC timer runs by itself", async () => {
  const clock = new ManualClock();
  let sweeps = 0;
  const store = new MemoryStore({ gcInterval: 5, peerLifetime: 60_000, clock, onGC: () => sweeps++ });
  store.putLeecher(new Uint8Array(20), { id: new Uint8Array(20), ip: new Uint8Array([1, 2, 3, 4]), port: 1 });
  clock.advance(61);
  await new Promise((r) => setTimeout(r, 60));
  store.stop();
  assert.ok(sweeps >= 2, `expected repeated sweeps, got ${sweeps}`);
  assert.equal(store.stats().leechers, 0);
});

test("memory: random operations agree with a simple model (swarm table, blocks, indexes)", () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const clock = new ManualClock();
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 60_000, clock });
  const model = new Map<string, Map<number, boolean>>(); // swarm -> peer -> seeder
  const ihOf = (n: number) =>
    Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? n : i === 19 ? n >> 8 : 7));
  const peerOf = (n: number) => ({
    id: Uint8Array.from({ length: 20 }, (_, i) => (i === 5 ? n & 0xff : i === 6 ? n >> 8 : 1)),
    ip: n % 5 === 0
      ? Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n & 0xff : 0x20))
      : new Uint8Array([10, 0, n >> 8, n & 0xff]),
    port: 1000 + (n % 7),
  });
  // A few large swarms (indexes, block classes growing and shrinking) and many small ones
  // (table growth, deletions with backward shift).
  for (let step = 0; step < 60_000; step++) {
    const swarmN = rand(4) === 0 ? rand(3) : 3 + rand(400);
    const peerN = swarmN < 3 ? rand(600) : rand(6);
    const ih = ihOf(swarmN);
    const p = peerOf(peerN);
    const fam = p.ip.length === 4 ? 4 : 6;
    const mk = `${fam}/${swarmN}`;
    const m = model.get(mk) ?? new Map<number, boolean>();
    const op = rand(10);
    if (op < 3) {
      const found = m.has(peerN) && m.get(peerN) === true;
      assert.equal(store.deleteSeeder(ih, p), found, `step ${step}`);
      if (found) m.delete(peerN);
    } else if (op < 5) {
      const found = m.has(peerN) && m.get(peerN) === false;
      assert.equal(store.deleteLeecher(ih, p), found, `step ${step}`);
      if (found) m.delete(peerN);
    } else {
      const seeder = op < 7;
      if (seeder) store.putSeeder(ih, p);
      else store.putLeecher(ih, p);
      m.set(peerN, seeder);
    }
    if (m.size === 0) model.delete(mk);
    else model.set(mk, m);
    const counts = store.scrapeSwarm(ih, fam);
    const seeders = [...m.values()].filter((x) => x).length;
    assert.equal(counts.complete, seeders, `step ${step}: seeders of ${mk}`);
    assert.equal(counts.incomplete, m.size - seeders, `step ${step}: leechers of ${mk}`);
    assert.equal(store.hasPeer(ih, p), m.has(peerN));
  }
  // Shrink the large swarms to a tenth: blocks move to smaller classes, indexes are rebuilt or dropped.
  for (const [mk, m] of model) {
    const [, n] = mk.split("/").map(Number);
    if (n >= 3) continue;
    let i = 0;
    for (const [peerN, seeder] of m) {
      if (i++ % 10 === 0) continue;
      assert.equal(
        seeder ? store.deleteSeeder(ihOf(n), peerOf(peerN)) : store.deleteLeecher(ihOf(n), peerOf(peerN)),
        true,
      );
      m.delete(peerN);
    }
  }
  // Every peer of every swarm is still found, and peer lists hold exactly the members.
  let total = 0;
  for (const [mk, m] of model) {
    const [fam, n] = mk.split("/").map(Number);
    for (const peerN of m.keys()) assert.equal(store.hasPeer(ihOf(n), peerOf(peerN)), true);
    const outsider = {
      id: new Uint8Array(20),
      ip: fam === 4 ? new Uint8Array([1, 1, 1, 1]) : new Uint8Array(16).fill(1),
      port: 1,
    };
    const out = new PeerList(fam as 4 | 6);
    assert.equal(store.announcePeers(ihOf(n), false, 100_000, outsider, out), m.size);
    total += m.size;
  }
  assert.equal(store.stats().seeders + store.stats().leechers, total);
  assert.equal(store.stats().swarms, model.size);
  clock.advance(61);
  return store.collectGarbage().then((res) => {
    assert.equal(res.peersRemoved, total);
    assert.deepEqual(store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
    store.stop();
  });
});

test("memory: GC yields inside a large swarm, and announces made meanwhile stay correct", async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 60_000, clock, gcSliceSize: 500 });
  const ih = new Uint8Array(20).fill(9);
  const peerOf = (i: number) => ({
    id: Uint8Array.from({ length: 20 }, (_, k) => (k < 4 ? (i >> (k * 8)) & 255 : 3)),
    ip: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
    port: 1000 + (i % 50_000),
  });
  const OLD = 50_000;
  for (let i = 0; i < OLD; i++) (i % 2 ? store.putSeeder : store.putLeecher).call(store, ih, peerOf(i));
  clock.advance(61);
  // While the sweep yields: fresh peers arrive, and some old ones refresh or stop.
  let fresh = 0;
  let longest = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    for (let k = 0; k < 50; k++) store.putLeecher(ih, peerOf(OLD + fresh++));
    store.putSeeder(ih, peerOf(fresh)); // refreshed: must survive
    store.deleteLeecher(ih, peerOf(fresh * 2 + 1));
  }, 0);
  const res = await store.collectGarbage();
  clearInterval(timer);
  assert.ok(fresh > 0, "announces ran while the sweep yielded");
  for (let i = 0; i < fresh; i++) assert.equal(store.hasPeer(ih, peerOf(OLD + i)), true, `fresh peer ${i}`);
  const { seeders, leechers } = store.stats();
  assert.ok(seeders + leechers >= fresh);
  assert.ok(res.peersRemoved > 0 && res.peersRemoved <= OLD);
  assert.ok(longest < 100, `the event loop was held ${longest.toFixed(0)} ms`);
  // Whatever was not refreshed is gone after a second sweep at a later time.
  clock.advance(61);
  await store.collectGarbage();
  assert.deepEqual(store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
  store.stop();
});
