/** Subnet preference in the memory store, and over HTTP with spoofed addresses. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "../../src/bittorrent/bencode.ts";
import { formatIP } from "../../src/bittorrent/ip.ts";
import { PeerList } from "../../src/bittorrent/request.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { escapeBytes, id20, peer } from "../helpers/fixtures.ts";
import { httpConfig, startTracker, testConfig } from "../helpers/tracker.ts";
import { startBoth, UDPClient, udpConfig } from "../middleware/blackbox.ts";

function store(bits4: number, bits6 = 0) {
  return new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 1_800_000,
    clock: new ManualClock(),
    preferredIPv4SubnetBits: bits4,
    preferredIPv6SubnetBits: bits6,
  });
}

const ih = id20("subnet");
const ips = (out: PeerList) => out.toArray().map((p) => formatIP(p.ip));
const rack = (ip: string) => ip.startsWith("10.1.");

test("subnet preference: a leecher gets same-subnet seeders, same-subnet leechers, other seeders, other leechers", () => {
  const s = store(16);
  for (let i = 1; i <= 5; i++) {
    s.putSeeder(ih, peer(`s-in${i}`, `10.1.0.${i}`, 1000 + i));
    s.putSeeder(ih, peer(`s-out${i}`, `10.2.0.${i}`, 2000 + i));
    s.putLeecher(ih, peer(`l-in${i}`, `10.1.1.${i}`, 3000 + i));
    s.putLeecher(ih, peer(`l-out${i}`, `10.2.1.${i}`, 4000 + i));
  }
  const out = new PeerList(4);
  const me = peer("me", "10.1.9.9", 9999);
  assert.equal(s.announcePeers(ih, false, 100, me, out), 20);
  const got = ips(out);
  const kind = (ip: string) =>
    (rack(ip) ? "in" : "out") + (ip.split(".")[2] === "0" ? "-seeder" : "-leecher");
  assert.deepEqual(got.map(kind), [
    ...Array(5).fill("in-seeder"),
    ...Array(5).fill("in-leecher"),
    ...Array(5).fill("out-seeder"),
    ...Array(5).fill("out-leecher"),
  ]);
  // With numwant 7 only the rack is answered.
  const few = new PeerList(4);
  s.announcePeers(ih, false, 7, me, few);
  assert.ok(ips(few).every(rack));
  // A seeder gets same-subnet leechers first, and no seeders.
  const seederOut = new PeerList(4);
  assert.equal(s.announcePeers(ih, true, 100, peer("s-in1", "10.1.0.1", 1001), seederOut), 10);
  assert.deepEqual(ips(seederOut).map(kind), [
    ...Array(5).fill("in-leecher"),
    ...Array(5).fill("out-leecher"),
  ]);
  s.stop();
});

test("subnet preference: mask bits that do not fall on a byte boundary, and IPv6", () => {
  const s = store(20, 64);
  s.putSeeder(ih, peer("a", "10.1.15.1", 1)); // 10.1.0000 1111: inside 10.1.0.0/20
  s.putSeeder(ih, peer("b", "10.1.16.1", 2)); // 10.1.0001 0000: outside
  const out = new PeerList(4);
  s.announcePeers(ih, false, 10, peer("me", "10.1.0.200", 3), out);
  assert.deepEqual(ips(out), ["10.1.15.1", "10.1.16.1"]);
  s.putSeeder(ih, peer("c", "2001:db8:0:2::1", 4));
  s.putSeeder(ih, peer("d", "2001:db8:0:1::5", 5));
  const out6 = new PeerList(6);
  s.announcePeers(ih, false, 10, peer("me6", "2001:db8:0:1::9", 6), out6);
  assert.deepEqual(ips(out6), ["2001:db8:0:1::5", "2001:db8:0:2::1"]);
  s.stop();
});

test("subnet preference over HTTP with spoofed addresses (storage option)", async () => {
  const t = await startTracker(testConfig({
    http: httpConfig({ allowIPSpoofing: true }),
    storage: { name: "memory", config: { preferred_ipv4_subnet_mask_bits_set: 24 }, where: "test" },
  }));
  try {
    const announce = async (id: string, ip: string, left: number) => {
      const q = `info_hash=${escapeBytes(ih)}&peer_id=${escapeBytes(id20(id))}&port=6881&left=${left}` +
        `&downloaded=0&uploaded=0&compact=0&ip=${ip}`;
      const res = await fetch(`${t.url()}/announce?${q}`);
      const body = decode(new Uint8Array(await res.arrayBuffer())) as { peers: { ip: Uint8Array }[] };
      return body.peers.map((p) => new TextDecoder().decode(p.ip));
    };
    await announce("far1", "192.0.2.1", 0);
    await announce("far2", "192.0.2.2", 0);
    await announce("near", "198.51.100.7", 0);
    await announce("far3", "192.0.2.3", 0);
    const got = await announce("me", "198.51.100.200", 100);
    assert.equal(got[0], "198.51.100.7", `the same /24 first: ${got}`);
    assert.equal(got.length, 4);
  } finally {
    await t.stop();
  }
});

test("subnet preference: cost of an announce with it on and off", () => {
  const time = (bits: number) => {
    const s = store(bits);
    for (let i = 0; i < 2000; i++) {
      s.putLeecher(ih, peer(`p${i}`, `10.${i % 4}.${(i >> 8) & 255}.${i & 255}`, 1000 + i));
    }
    const out = new PeerList(4);
    const me = peer("me", "10.1.200.1", 1);
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) {
      out.count = 0;
      s.announcePeers(ih, false, 50, me, out);
    }
    s.stop();
    return (performance.now() - t0) / 20_000 * 1e6;
  };
  const off = time(0);
  const on = time(16);
  console.log(
    `announcePeers(50) in a 2000-peer swarm: ${off.toFixed(0)} ns off, ${
      on.toFixed(0)
    } ns with a /16 preference`,
  );
  assert.ok(on < 100_000, "a preferring announce stays bounded");
});

test("subnet preference over UDP with spoofed addresses", async () => {
  const t = await startBoth({
    udp: udpConfig({ allowIPSpoofing: true }),
    storage: { name: "memory", config: { preferred_ipv4_subnet_mask_bits_set: 24 }, where: "test" },
  });
  const client = await UDPClient.open(t.udpPort);
  try {
    const announce = (id: string, ip: number[], left: number) =>
      client.announce({
        infoHash: ih,
        peerID: id20(id),
        ip: new Uint8Array(ip),
        left,
        port: 6881,
        numWant: 50,
      });
    await announce("far1", [192, 0, 2, 1], 0);
    await announce("far2", [192, 0, 2, 2], 0);
    await announce("near", [198, 51, 100, 7], 0);
    await announce("far3", [192, 0, 2, 3], 0);
    const r = await announce("me", [198, 51, 100, 200], 100);
    assert.equal(r.peers?.[0], "198.51.100.7:6881", `the same /24 first: ${r.peers}`);
    assert.equal(r.peers?.length, 4);
  } finally {
    await client.close();
    await t.stop();
  }
});
