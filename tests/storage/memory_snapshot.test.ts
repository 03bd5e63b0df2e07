import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PeerList } from "../../src/bittorrent/request.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { storeDriver } from "../../src/storage/store.ts";
import "../../src/storage/memory/driver.ts";
import { id20 } from "../helpers/fixtures.ts";
import type { Peer } from "../../src/bittorrent/peer.ts";

const dir = mkdtempSync(join(tmpdir(), "hayate-snapshot-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function open(path: string, clock: ManualClock, lines: string[] = []) {
  return new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 1_800_000,
    clock,
    snapshotPath: path,
    log: (level, msg, f) => void lines.push(`${level}: ${msg} ${JSON.stringify(f)}`),
  });
}

const ih = (n: number) => {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(16, n);
  return b;
};

function peers(n: number): Peer[] {
  return Array.from({ length: n }, (_, i) => ({
    id: id20(`p${i}`),
    ip: i % 5 === 0
      ? Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, i >> 8, i & 255])
      : Uint8Array.from([10, 0, i >> 8, i & 255]),
    port: 1000 + (i % 50_000),
  }));
}

test("snapshot: 10k peers survive a restart, roles, counts and all", () => {
  const path = join(dir, "swarms.snap");
  const clock = new ManualClock();
  const a = open(path, clock);
  const all = peers(10_000);
  all.forEach((p, i) => {
    if (i % 3 === 0) a.graduateLeecher(ih(i % 100), p);
    else a.putLeecher(ih(i % 100), p);
  });
  const before = a.stats();
  const scrapes = Array.from({ length: 100 }, (_, i) => [a.scrapeSwarm(ih(i), 4), a.scrapeSwarm(ih(i), 6)]);
  a.stop();
  const lines: string[] = [];
  const b = open(path, clock, lines);
  assert.deepEqual(b.stats(), before);
  assert.deepEqual(
    Array.from({ length: 100 }, (_, i) => [b.scrapeSwarm(ih(i), 4), b.scrapeSwarm(ih(i), 6)]),
    scrapes,
  );
  for (const [i, p] of all.entries()) assert.ok(b.hasPeer(ih(i % 100), p), `peer ${i}`);
  // The same peers come back in replies.
  const out = new PeerList(4);
  out.keepIDs = true;
  b.announcePeers(ih(1), false, 1000, all[1], out);
  const expected = all.filter((p, i) => i % 100 === 1 && p.ip.length === 4).length - 1;
  assert.equal(out.count, expected);
  assert.match(lines.join("\n"), /snapshot loaded.*"peers":10000/);
  b.stop();
});

test("snapshot: peers older than peer_lifetime are dropped at load", () => {
  const path = join(dir, "old.snap");
  const clock = new ManualClock();
  const a = open(path, clock);
  const [old, fresh] = peers(2);
  a.putLeecher(ih(1), old);
  a.putLeecher(ih(2), old);
  clock.advance(1000);
  a.putSeeder(ih(1), fresh);
  a.stop();
  clock.advance(1800 - 500);
  const b = open(path, clock);
  assert.deepEqual(b.scrapeSwarm(ih(1), 4), { complete: 1, incomplete: 0, downloaded: 0 });
  assert.equal(b.stats().swarms, 1); // swarm 2 had only the old peer
  b.stop();
});

test("snapshot: a corrupt or truncated file is reported and skipped; start succeeds", () => {
  const path = join(dir, "bad.snap");
  const clock = new ManualClock();
  const a = open(path, clock);
  for (const p of peers(100)) a.putLeecher(ih(7), p);
  a.stop();
  const good = readFileSync(path);
  const variants = [
    good.subarray(0, good.length - 1), // truncated
    Uint8Array.from(good, (b, i) => (i === 40 ? b ^ 1 : b)), // a flipped bit
    new TextEncoder().encode("not a snapshot at all, not even close to one"),
    new Uint8Array(0),
  ];
  for (const bytes of variants) {
    writeFileSync(path, bytes);
    const lines: string[] = [];
    const b = open(path, clock, lines);
    assert.deepEqual(b.stats(), { swarms: 0, seeders: 0, leechers: 0 });
    assert.match(lines.join("\n"), /error: storage snapshot is unreadable/);
    b.putLeecher(ih(1), peers(1)[0]);
    b.stop(); // and writes a good one again
  }
  const c = open(path, clock);
  assert.equal(c.stats().leechers, 1);
  c.stop();
});

test("snapshot: the driver reads snapshot_path and snapshot_interval; periodic snapshots are written", async () => {
  const path = join(dir, "periodic.snap");
  const warnings: string[] = [];
  const s = storeDriver("memory")!({ snapshot_path: path, snapshot_interval: "20ms" }, {
    where: "test",
    warnings,
    log: () => {},
  }) as MemoryStore;
  assert.deepEqual(warnings, []);
  s.putLeecher(ih(1), peers(1)[0]);
  await new Promise((r) => setTimeout(r, 80));
  const copy = new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 1_800_000,
    clock: { now: () => Math.floor(Date.now() / 1000) },
    snapshotPath: path,
  });
  assert.equal(copy.stats().leechers, 1);
  // A copy must not overwrite the file at stop with an old view: stop it first.
  copy.stop();
  s.stop();
});
