/**
 * The PeerStore conformance suite: chihaya's storage scenario for IPv4 and IPv6,
 * plus the rules hayate adds (one role per peer, completed counts, peer selection
 * order, GC). Every store runs it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIP } from "../../src/bittorrent/ip.ts";
import { type Peer, peerEqual } from "../../src/bittorrent/peer.ts";
import { PeerList } from "../../src/bittorrent/request.ts";
import type { ManualClock } from "../../src/clock.ts";
import type { PeerStore } from "../../src/storage/store.ts";

const te = new TextEncoder();
const bytes20 = (s: string) => te.encode(s.padStart(20, "0").slice(-20));

/** A store under test with the clock it stamps peers with. Peer lifetime must be 30 minutes. */
export interface StoreUnderTest {
  store: PeerStore;
  clock: ManualClock;
  close(): Promise<void> | void;
}

function peer(id: string, ip: string, port: number): Peer {
  return { id: bytes20(id), ip: parseIP(ip)!, port };
}

async function announce(store: PeerStore, ih: Uint8Array, seeder: boolean, want: number, who: Peer) {
  const out = new PeerList(who.ip.length === 4 ? 4 : 6);
  const n = await store.announcePeers(ih, seeder, want, who, out);
  assert.equal(n, out.count);
  return out.toArray();
}

const has = (list: Peer[], p: Peer) => list.some((q) => peerEqual(p, q));

/** Registers the suite under `name`. */
export function peerStoreConformance(
  name: string,
  open: () => Promise<StoreUnderTest> | StoreUnderTest,
): void {
  const cases = [
    {
      family: 4 as const,
      ih: bytes20("1"),
      p: peer("1", "1.1.1.1", 1),
      helper: peer("99999999999999999994", "99.99.99.99", 9994),
    },
    {
      family: 6 as const,
      ih: bytes20("2"),
      p: peer("2", "abab::1", 2),
      helper: peer("99999999999999999996", "fc00::1", 9996),
    },
  ];
  for (const { family, ih, p, helper } of cases) {
    test(`${name}: chihaya's storage scenario (IPv${family})`, async () => {
      const t = await open();
      const s = t.store;
      try {
        assert.equal(await s.deleteLeecher(ih, p), false);
        assert.equal(await s.deleteSeeder(ih, p), false);
        assert.deepEqual(await announce(s, ih, false, 50, helper), []);
        assert.deepEqual({ ...(await s.scrapeSwarm(ih, family)) }, {
          complete: 0,
          incomplete: 0,
          downloaded: 0,
        });

        await s.putLeecher(ih, helper);
        assert.equal(await s.deleteSeeder(ih, helper), false);

        await s.putLeecher(ih, p);
        assert.ok(has(await announce(s, ih, true, 50, helper), p));
        assert.ok(has(await announce(s, ih, false, 50, helper), p));
        let sc = await s.scrapeSwarm(ih, family);
        assert.equal(sc.incomplete, 2);
        assert.equal(sc.complete, 0);
        assert.equal(await s.deleteLeecher(ih, p), true);
        assert.ok(!has(await announce(s, ih, true, 50, helper), p));

        await s.putSeeder(ih, p);
        assert.ok(has(await announce(s, ih, false, 50, helper), p));
        sc = await s.scrapeSwarm(ih, family);
        assert.equal(sc.incomplete, 1);
        assert.equal(sc.complete, 1);
        assert.equal(await s.deleteSeeder(ih, p), true);
        assert.ok(!has(await announce(s, ih, false, 50, helper), p));

        await s.putLeecher(ih, p);
        await s.graduateLeecher(ih, p);
        assert.ok(has(await announce(s, ih, false, 50, helper), p));
        assert.equal(await s.deleteLeecher(ih, p), false);
        assert.ok(has(await announce(s, ih, false, 50, helper), p));

        assert.equal(await s.deleteLeecher(ih, helper), true);
        assert.equal(await s.deleteLeecher(ih, helper), false);
        assert.equal(await s.deleteSeeder(ih, p), true);
        assert.equal(await s.deleteSeeder(ih, p), false);
      } finally {
        await t.close();
      }
    });
  }

  test(`${name}: IPv4 and IPv6 swarms of one infohash are separate`, async () => {
    const t = await open();
    try {
      const ih = bytes20("af");
      await t.store.putSeeder(ih, peer("a", "10.0.0.1", 1000));
      await t.store.putLeecher(ih, peer("b", "2001:db8::2", 2000));
      assert.deepEqual({ ...(await t.store.scrapeSwarm(ih, 4)) }, {
        complete: 1,
        incomplete: 0,
        downloaded: 0,
      });
      assert.deepEqual({ ...(await t.store.scrapeSwarm(ih, 6)) }, {
        complete: 0,
        incomplete: 1,
        downloaded: 0,
      });
      const v6 = await announce(t.store, ih, false, 50, peer("c", "2001:db8::3", 3000));
      assert.equal(v6.length, 1);
      assert.equal(v6[0].ip.length, 16);
    } finally {
      await t.close();
    }
  });

  test(`${name}: a peer is identified by id, address and port, and holds one role`, async () => {
    const t = await open();
    const s = t.store;
    try {
      const ih = bytes20("roles");
      const a = peer("a", "10.0.0.1", 1000);
      await s.putLeecher(ih, a);
      await s.putLeecher(ih, { ...a, port: 1001 });
      await s.putLeecher(ih, { ...a, ip: parseIP("10.0.0.2")! });
      await s.putLeecher(ih, a);
      assert.equal((await s.scrapeSwarm(ih, 4)).incomplete, 3);
      await s.putSeeder(ih, a); // left reached 0 without "completed"
      let sc = await s.scrapeSwarm(ih, 4);
      assert.equal(sc.complete, 1);
      assert.equal(sc.incomplete, 2);
      await s.putLeecher(ih, a);
      sc = await s.scrapeSwarm(ih, 4);
      assert.equal(sc.complete, 0);
      assert.equal(sc.incomplete, 3);
      assert.equal(await s.hasPeer(ih, a), true);
      assert.equal(await s.hasPeer(ih, { ...a, port: 9 }), false);
      assert.deepEqual(await s.stats(), { swarms: 1, seeders: 0, leechers: 3 });
    } finally {
      await t.close();
    }
  });

  test(`${name}: completed counts once per peer that finishes`, async () => {
    const t = await open();
    const s = t.store;
    try {
      const ih = bytes20("done");
      const a = peer("a", "10.0.0.1", 1000);
      const b = peer("b", "10.0.0.2", 1000);
      await s.putLeecher(ih, a);
      await s.graduateLeecher(ih, a);
      await s.graduateLeecher(ih, a); // a repeated "completed" is not a second download
      await s.graduateLeecher(ih, b); // completed without a prior leecher entry still counts
      const sc = await s.scrapeSwarm(ih, 4);
      assert.deepEqual({ ...sc }, { complete: 2, incomplete: 0, downloaded: 2 });
    } finally {
      await t.close();
    }
  });

  test(`${name}: selection: seeders get leechers, leechers get seeders first, never themselves, at most numwant`, async () => {
    const t = await open();
    const s = t.store;
    try {
      const ih = bytes20("select");
      const seeders = Array.from({ length: 30 }, (_, i) => peer(`s${i}`, `10.1.0.${i + 1}`, 6000 + i));
      const leechers = Array.from({ length: 40 }, (_, i) => peer(`l${i}`, `10.2.0.${i + 1}`, 7000 + i));
      for (const p of seeders) await s.putSeeder(ih, p);
      for (const p of leechers) await s.putLeecher(ih, p);

      const toSeeder = await announce(s, ih, true, 100, seeders[0]);
      assert.equal(toSeeder.length, 40);
      assert.ok(toSeeder.every((p) => has(leechers, p)));

      const toLeecher = await announce(s, ih, false, 50, leechers[0]);
      assert.equal(toLeecher.length, 50);
      assert.ok(toLeecher.slice(0, 30).every((p) => has(seeders, p)), "seeders come first");
      assert.ok(!has(toLeecher, leechers[0]), "never the announcer");
      assert.equal(new Set(toLeecher.map((p) => p.port)).size, 50, "no duplicates");

      const all = await announce(s, ih, false, 1000, leechers[5]);
      assert.equal(all.length, 69);
      assert.ok(!has(all, leechers[5]));

      assert.equal((await announce(s, ih, false, 0, leechers[0])).length, 0);
      assert.equal((await announce(s, ih, false, 7, peer("new", "10.9.9.9", 1))).length, 7);
    } finally {
      await t.close();
    }
  });

  test(`${name}: garbage collection removes peers older than the lifetime and empty swarms`, async () => {
    const t = await open();
    const s = t.store;
    try {
      const old = bytes20("old");
      const mixed = bytes20("mixed");
      await s.putLeecher(old, peer("a", "10.0.0.1", 1));
      await s.putSeeder(mixed, peer("b", "10.0.0.2", 2));
      await s.putLeecher(mixed, peer("c", "2001:db8::c", 3));
      t.clock.advance(20 * 60);
      await s.putLeecher(mixed, peer("d", "10.0.0.4", 4));
      await s.putLeecher(mixed, peer("b", "10.0.0.2", 2)); // refreshed, and now a leecher
      t.clock.advance(11 * 60); // 31 min after the first announces, 11 after the second
      const res = await s.collectGarbage();
      assert.equal(res.peersRemoved, 2);
      assert.equal(res.swarmsRemoved, 2); // `old` (v4) and `mixed` (v6)
      assert.deepEqual({ ...(await s.scrapeSwarm(mixed, 4)) }, { complete: 0, incomplete: 2, downloaded: 0 });
      assert.deepEqual({ ...(await s.scrapeSwarm(mixed, 6)) }, { complete: 0, incomplete: 0, downloaded: 0 });
      assert.deepEqual(await s.stats(), { swarms: 1, seeders: 0, leechers: 2 });
      t.clock.advance(30 * 60);
      await s.collectGarbage();
      assert.deepEqual(await s.stats(), { swarms: 0, seeders: 0, leechers: 0 });
    } finally {
      await t.close();
    }
  });
}
