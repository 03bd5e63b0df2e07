import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../../src/bittorrent/event.ts";
import { isClientError } from "../../src/bittorrent/errors.ts";
import { ManualClock } from "../../src/clock.ts";
import { silentLogger } from "../../src/log.ts";
import { Context } from "../../src/middleware/hook.ts";
import { Logic } from "../../src/middleware/logic.ts";
import { MemoryStore, type MemoryStoreOptions } from "../../src/storage/memory/store.ts";
import { ErrSwarmFull, ErrTrackerFull, storeDriver } from "../../src/storage/store.ts";
import "../../src/storage/memory/driver.ts";
import { MAX_SWARM_PEERS } from "../../src/storage/memory/family.ts";
import { announce } from "../middleware/helpers.ts";
import { id20, peer } from "../helpers/fixtures.ts";

function store(over: Partial<MemoryStoreOptions> = {}) {
  const clock = new ManualClock();
  return new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 60_000, clock, ...over });
}

const ih = (n: number) => {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

test("memory limits: max_swarms refuses new swarms, existing ones keep taking peers", () => {
  const s = store({ maxSwarms: 2 });
  s.putLeecher(ih(1), peer("a", "10.0.0.1", 1));
  s.putLeecher(ih(2), peer("b", "2001:db8::1", 1)); // both families count
  assert.equal(s.admits(ih(3), peer("c", "10.0.0.3", 1)), ErrTrackerFull);
  s.putLeecher(ih(3), peer("c", "10.0.0.3", 1)); // the hard bound, behind the answer
  assert.equal(s.stats().swarms, 2);
  assert.equal(s.admits(ih(1), peer("d", "10.0.0.4", 1)), true);
  s.putSeeder(ih(1), peer("d", "10.0.0.4", 1));
  assert.deepEqual(s.scrapeSwarm(ih(1), 4), { complete: 1, incomplete: 1, downloaded: 0 });
  // Once a swarm empties out, there is room again.
  assert.equal(s.deleteLeecher(ih(2), peer("b", "2001:db8::1", 1)), true);
  assert.equal(s.admits(ih(3), peer("c", "10.0.0.3", 1)), true);
  s.stop();
});

test("memory limits: max_peers_per_swarm and max_peers; stored peers may always refresh", () => {
  const s = store({ maxPeersPerSwarm: 2, maxPeers: 3 });
  s.putLeecher(ih(1), peer("a", "10.0.0.1", 1));
  s.putLeecher(ih(1), peer("b", "10.0.0.2", 1));
  assert.equal(s.admits(ih(1), peer("c", "10.0.0.3", 1)), ErrSwarmFull);
  s.putLeecher(ih(1), peer("c", "10.0.0.3", 1));
  assert.equal(s.scrapeSwarm(ih(1), 4).incomplete, 2);
  assert.equal(s.admits(ih(1), peer("a", "10.0.0.1", 1)), true);
  s.graduateLeecher(ih(1), peer("a", "10.0.0.1", 1)); // a refresh that changes role
  assert.deepEqual(s.scrapeSwarm(ih(1), 4), { complete: 1, incomplete: 1, downloaded: 1 });
  s.putLeecher(ih(2), peer("c", "10.0.0.3", 1));
  assert.equal(s.admits(ih(3), peer("d", "10.0.0.4", 1)), ErrTrackerFull);
  assert.equal(s.admits(ih(2), peer("d", "10.0.0.4", 1)), ErrTrackerFull);
  assert.equal(s.stats().leechers + s.stats().seeders, 3);
  s.stop();
});

test("memory limits: the driver reads the keys, with defaults", () => {
  const warnings: string[] = [];
  const driver = storeDriver("memory")!;
  const s = driver({ max_swarms: 1, max_peers_per_swarm: 5, max_peers: 7 }, {
    where: "test",
    warnings,
    log: () => {},
  }) as MemoryStore;
  s.putLeecher(ih(1), peer("a", "10.0.0.1", 1));
  assert.equal(s.admits(ih(2), peer("a", "10.0.0.1", 1)), ErrTrackerFull);
  assert.deepEqual(warnings, []);
  s.stop();
  const d = driver({}, { where: "test", warnings, log: () => {} }) as MemoryStore;
  assert.equal(d.admits(ih(2), peer("a", "10.0.0.1", 1)), true);
  d.stop();
  // A swarm's index keeps positions in 24 bits: a larger limit is refused at start, by name.
  assert.throws(
    () => driver({ max_peers_per_swarm: MAX_SWARM_PEERS + 1 }, { where: "test", warnings, log: () => {} }),
    /max_peers_per_swarm.*16777214/,
  );
  const most = driver({ max_peers_per_swarm: MAX_SWARM_PEERS }, { where: "test", warnings, log: () => {} });
  (most as MemoryStore).stop();
});

test("memory limits: a refused announce is answered with the client error, before anything is written", () => {
  const s = store({ maxSwarms: 1 });
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store: s,
    prehooks: [],
    posthooks: [],
    log: silentLogger,
  });
  const ok = announce({ infoHash: ih(1) });
  logic.afterAnnounce(new Context(), ok, logic.handleAnnounce(new Context(), ok) as never);
  assert.throws(
    () => logic.handleAnnounce(new Context(), announce({ infoHash: ih(2) })),
    (e) => e === ErrTrackerFull,
  );
  // A stopped event stores nothing, so it is never refused.
  assert.doesNotThrow(() =>
    logic.handleAnnounce(new Context(), announce({ infoHash: ih(2), event: Event.Stopped }))
  );
  s.stop();
});

test("memory limits: a flood of random infohashes stays under the bound; an honest swarm keeps its peers", () => {
  // 200k announces in-process here; `scripts/load.ts`-style runs over the network
  // with 5M take minutes and belong in the soak script.
  const maxSwarms = 20_000;
  const maxPeers = 25_000;
  const s = store({ maxSwarms, maxPeers, maxPeersPerSwarm: 1000 });
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store: s,
    prehooks: [],
    posthooks: [],
    log: silentLogger,
  });
  const honest = new Uint8Array(20).fill(0xaa);
  const honestPeers = Array.from({ length: 30 }, (_, i) => peer(`honest${i}`, `10.1.0.${i + 1}`, 6881));
  const send = (req: ReturnType<typeof announce>) => {
    const ctx = new Context();
    const resp = logic.handleAnnounce(ctx, req) as Exclude<
      ReturnType<Logic["handleAnnounce"]>,
      Promise<unknown>
    >;
    const got = { complete: resp.complete, incomplete: resp.incomplete, peers: resp.ipv4Peers.count };
    logic.afterAnnounce(ctx, req, resp);
    return got;
  };
  for (const p of honestPeers) send(announce({ infoHash: honest, peer: p, left: 0 }));
  let seed = 99;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  let refused = 0;
  let leech = 0;
  for (let i = 0; i < 200_000; i++) {
    const junk = new Uint8Array(20);
    const dv = new DataView(junk.buffer);
    for (let j = 0; j < 5; j++) dv.setUint32(j * 4, rand());
    try {
      send(
        announce({
          infoHash: junk,
          peer: {
            id: id20(`f${i}`),
            ip: new Uint8Array([172, 16, i >> 8 & 255, i & 255]),
            port: 1 + (i % 60000),
          },
        }),
      );
    } catch (err) {
      assert.ok(isClientError(err));
      assert.equal(err, ErrTrackerFull);
      refused++;
    }
    if (i % 10_000 === 0) {
      // An honest leecher joins during the flood and is given the seeders.
      const p = peer(`leech${leech++}`, `10.2.0.${leech}`, 6881);
      const got = send(announce({ infoHash: honest, peer: p, left: 100, numWant: 50 }));
      assert.equal(got.complete, 30);
      assert.equal(got.peers, 30 + Math.min(leech - 1, 20));
      const st = s.stats();
      assert.ok(st.swarms <= maxSwarms, `${st.swarms} swarms`);
      assert.ok(st.seeders + st.leechers <= maxPeers);
    }
  }
  const st = s.stats();
  assert.equal(st.swarms, maxSwarms);
  assert.equal(refused, 200_000 - (maxSwarms - 1));
  assert.deepEqual(s.scrapeSwarm(honest, 4), { complete: 30, incomplete: leech, downloaded: 0 });
  s.stop();
});
