/** fixed peers end to end, over HTTP and UDP. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { httpConfig } from "../../helpers/tracker.ts";
import { hook, httpAnnounce, startBoth, UDPClient } from "../blackbox.ts";

const IH = new Uint8Array(20).fill(0x33);

test("fixed peers: appended to every announce of their family, counted as seeders", async () => {
  const t = await startBoth({
    http: httpConfig({ allowIPSpoofing: true }),
    prehooks: [hook("fixed peers", { fixed_peers: ["8.8.8.8:4040", "1.1.1.1:111", "[2001:db8::1]:6881"] })],
  });
  const udp = await UDPClient.open(t.udpPort);
  try {
    const first = await httpAnnounce(t.http, { infoHash: IH, peerID: "-qB4500-abcdefghijkl", port: 1001 });
    assert.deepEqual(
      first.peers,
      ["8.8.8.8:4040", "1.1.1.1:111", "127.0.0.1:1001"],
      "fixed peers, then self",
    );
    assert.deepEqual([first.complete, first.incomplete], [2, 1]);

    const u = await udp.announce({ infoHash: IH, port: 2001, left: 0 });
    assert.equal(u.action, 1);
    assert.deepEqual(u.peers, ["8.8.8.8:4040", "1.1.1.1:111", "127.0.0.1:1001"]);
    assert.deepEqual([u.seeders, u.leechers], [2, 1]);

    // An IPv6 announcer (spoofed over HTTP) gets the IPv6 fixed peer only.
    const v6 = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-qB4500-zzzzzzzzzzzz",
      port: 3001,
      ip: "2001:db8::99",
    });
    assert.deepEqual(v6.peers, ["[2001:db8::1]:6881", "[2001:db8::99]:3001"]);
    assert.deepEqual([v6.complete, v6.incomplete], [1, 1]);

    // numwant does not limit them.
    const few = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-qB4500-yyyyyyyyyyyy",
      port: 1002,
      extra: "&numwant=1",
    });
    assert.equal(few.peers.length, 3);
    assert.deepEqual(few.peers.slice(0, 2), ["8.8.8.8:4040", "1.1.1.1:111"]);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("fixed peers: an invalid entry stops the start with a message naming it", async () => {
  await assert.rejects(
    startBoth({ prehooks: [hook("fixed peers", { fixed_peers: ["8.8.8.8:4040", "2001:db8::1:6881"] })] }),
    {
      name: "ConfigError",
      message:
        `prehooks[0].options.fixed_peers[1]: invalid fixed peer "2001:db8::1:6881" looks like an IPv6 ` +
        `address without brackets; write ip:port for IPv4 (e.g. 203.0.113.10:4444) or [ipv6]:port for IPv6 ` +
        `(e.g. "[2001:db8::10]:4444")`,
    },
  );
});
