/** LBRY announce mode and seeders_see_seeders end to end, over HTTP and UDP. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8 } from "../../frontend/udp/packets.ts";
import { hook, httpAnnounce, startBoth, UDPClient } from "../blackbox.ts";

const IH = new Uint8Array(20).fill(0x44);
const LB = (n: number) => utf8.encode(`LB-0.113.0-${String(n).padStart(9, "0")}`);

test("lbry_mode off: port 0 is invalid port over HTTP and UDP", async () => {
  const t = await startBoth();
  const udp = await UDPClient.open(t.udpPort);
  try {
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH, peerID: "-qB4500-abcdefghijkl", port: 0 })).failure,
      "invalid port",
    );
    const u = await udp.announce({ infoHash: IH, port: 0 });
    assert.deepEqual([u.action, u.message], [3, "invalid port"]);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("lbry_mode: port 0 and ports below 100 are answered but never stored", async () => {
  const t = await startBoth({ lbryMode: true });
  const udp = await UDPClient.open(t.udpPort);
  try {
    const anon = await httpAnnounce(t.http, { infoHash: IH, peerID: "-qB4500-aaaaaaaaaaaa", port: 0 });
    assert.equal(anon.failure, undefined);
    assert.deepEqual(anon.peers, ["127.0.0.1:0"], "alone: its own entry, port 0");
    const u0 = await udp.announce({ infoHash: IH, peerID: LB(1), port: 0, left: 0, event: 1 });
    assert.equal(u0.action, 1);
    assert.deepEqual(u0.peers, ["127.0.0.1:0"]);
    const u99 = await udp.announce({ infoHash: IH, peerID: LB(2), port: 99 });
    assert.deepEqual(u99.peers, ["127.0.0.1:99"]);

    // None of them was stored: a real peer finds nobody.
    const real = await udp.announce({ infoHash: IH, peerID: LB(3), port: 4444 });
    assert.deepEqual(real.peers, ["127.0.0.1:4444"]);
    assert.deepEqual([real.seeders, real.leechers], [0, 1]);
    // But it was: port 100 and up are stored, and anonymous announcers receive them.
    const again = await httpAnnounce(t.http, { infoHash: IH, peerID: "-qB4500-aaaaaaaaaaaa", port: 0 });
    assert.deepEqual(again.peers, ["127.0.0.1:4444"]);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("seeders_see_seeders: LBRY nodes (completed, left=0) see each other over UDP", async () => {
  const t = await startBoth({ lbryMode: true, seedersSeeSeeders: true });
  const udp = await UDPClient.open(t.udpPort);
  try {
    const a = await udp.announce({ infoHash: IH, peerID: LB(1), port: 5001, left: 0, event: 1 });
    assert.deepEqual(a.peers, ["127.0.0.1:5001"]);
    const b = await udp.announce({ infoHash: IH, peerID: LB(2), port: 5002, left: 0, event: 1 });
    assert.deepEqual(b.peers, ["127.0.0.1:5001"]);
    const c = await udp.announce({ infoHash: IH, peerID: LB(3), port: 5003, left: 0, event: 1 });
    assert.deepEqual(c.peers!.sort(), ["127.0.0.1:5001", "127.0.0.1:5002"]);
    assert.deepEqual([c.seeders, c.leechers], [2, 0]);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("without seeders_see_seeders, LBRY nodes only see themselves (chihaya's rule), plus fixed peers", async () => {
  const t = await startBoth({
    lbryMode: true,
    prehooks: [hook("fixed peers", { fixed_peers: ["203.0.113.10:4444"] })],
  });
  const udp = await UDPClient.open(t.udpPort);
  try {
    await udp.announce({ infoHash: IH, peerID: LB(1), port: 5001, left: 0, event: 1 });
    const b = await udp.announce({ infoHash: IH, peerID: LB(2), port: 5002, left: 0, event: 1 });
    assert.deepEqual(b.peers, ["203.0.113.10:4444", "127.0.0.1:5002"]);
    assert.deepEqual([b.seeders, b.leechers], [3, 0], "fixed peer + stored seeder + itself");
  } finally {
    await udp.close();
    await t.stop();
  }
});
