import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { LAYOUT_V4, Swarm } from "../../src/storage/memory/swarm.ts";
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

test("swarm: random operations agree with a simple model (index and ranges)", () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const swarm = new Swarm(LAYOUT_V4);
  const model = new Map<number, boolean>(); // key id -> seeder
  const key = (id: number) => {
    const k = new Uint8Array(LAYOUT_V4.key);
    k.set([10, (id >> 8) & 0xff, id & 0xff, 1, 0x1a, 0xe1]);
    k[6] = id & 0xff;
    k[25] = id >> 8;
    return k;
  };
  for (let step = 0; step < 20_000; step++) {
    const id = rand(300);
    const k = key(id);
    const slot = swarm.find(k);
    assert.equal(slot >= 0, model.has(id), `step ${step}: presence of ${id}`);
    if (slot >= 0) assert.equal(slot < swarm.seeders, model.get(id));
    if (rand(3) === 0 && slot >= 0) {
      swarm.removeAt(slot);
      model.delete(id);
    } else if (slot < 0) {
      const seeder = rand(2) === 0;
      swarm.add(k, 0, seeder, step);
      model.set(id, seeder);
    }
    assert.equal(swarm.count, model.size);
    assert.equal(swarm.seeders, [...model.values()].filter((s) => s).length);
  }
  for (const [id, seeder] of model) {
    const slot = swarm.find(key(id));
    assert.ok(slot >= 0);
    assert.equal(slot < swarm.seeders, seeder);
  }
  const out = new PeerList(4);
  assert.equal(swarm.pick(0, swarm.count, 1_000_000, -1, out), swarm.count);
});
