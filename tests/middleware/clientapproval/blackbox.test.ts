/** client approval end to end, over HTTP and UDP. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8 } from "../../frontend/udp/packets.ts";
import { hook, httpAnnounce, startBoth, UDPClient } from "../blackbox.ts";

const IH_OK = new Uint8Array(20).fill(0x11);

test("client approval: whitelist over HTTP and UDP", async () => {
  const t = await startBoth({ prehooks: [hook("client approval", { whitelist: ["qB4500", "TR3000"] })] });
  const udp = await UDPClient.open(t.udpPort);
  try {
    const ok = await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-qB4500-abcdefghijkl", port: 1001 });
    assert.equal(ok.failure, undefined);
    const no = await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-UT3500-abcdefghijkl", port: 1002 });
    assert.equal(no.failure, "unapproved client");
    const u1 = await udp.announce({
      infoHash: IH_OK,
      peerID: utf8.encode("-TR3000-abcdefghijkl"),
      port: 2001,
    });
    assert.equal(u1.action, 1);
    assert.deepEqual(u1.peers, ["127.0.0.1:1001"]);
    const u2 = await udp.announce({
      infoHash: IH_OK,
      peerID: utf8.encode("-TEST01-6wfG2wk6wWLc"),
      port: 2002,
    });
    assert.deepEqual([u2.action, u2.message], [3, "unapproved client"]);
    // Scrapes are not checked.
    assert.equal((await udp.scrape([IH_OK])).action, 2);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("client approval: blacklist over HTTP", async () => {
  const t = await startBoth({ prehooks: [hook("client approval", { blacklist: ["UT3500"] })] });
  try {
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-UT3500-abcdefghijkl", port: 1 })).failure,
      "unapproved client",
    );
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-qB4500-abcdefghijkl", port: 2 })).failure,
      undefined,
    );
  } finally {
    await t.stop();
  }
});

test("client approval: bad options stop the start", async () => {
  await assert.rejects(
    startBoth({ prehooks: [hook("client approval", { whitelist: ["qB4500"], blacklist: ["UT3500"] })] }),
    /using both whitelist and blacklist is invalid/,
  );
});
