/** torrent approval end to end, over HTTP and UDP. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { hook, httpAnnounce, httpScrape, startBoth, UDPClient } from "../blackbox.ts";

const IH_OK = new Uint8Array(20).fill(0x11);
const IH_NO = new Uint8Array(20).fill(0x22);

test("torrent approval: inline whitelist over HTTP and UDP; scrapes unfiltered by default", async () => {
  const t = await startBoth({ prehooks: [hook("torrent approval", { whitelist: [toHex(IH_OK)] })] });
  const udp = await UDPClient.open(t.udpPort);
  try {
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-qB4500-abcdefghijkl", port: 1 })).failure,
      undefined,
    );
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_NO, peerID: "-qB4500-abcdefghijkl", port: 1 })).failure,
      "unapproved torrent",
    );
    assert.equal((await udp.announce({ infoHash: IH_OK, port: 2 })).action, 1);
    const no = await udp.announce({ infoHash: IH_NO, port: 2 });
    assert.deepEqual([no.action, no.message], [3, "unapproved torrent"]);
    assert.equal((await httpScrape(t.http, [IH_NO])).failure, undefined);
    assert.equal((await udp.scrape([IH_NO])).action, 2);
  } finally {
    await udp.close();
    await t.stop();
  }
});

test("torrent approval: a blacklist file is re-read without a restart; check_scrape filters scrapes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hayate-ta-bb-"));
  const file = join(dir, "blocked.txt");
  await writeFile(file, `# blocked torrents\n${toHex(IH_NO)}\n`);
  const t = await startBoth({
    prehooks: [
      hook("torrent approval", {
        file,
        file_list: "blacklist",
        file_check_interval: "50ms",
        check_scrape: true,
      }),
    ],
  });
  const udp = await UDPClient.open(t.udpPort);
  try {
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_NO, peerID: "-qB4500-abcdefghijkl", port: 1 })).failure,
      "unapproved torrent",
    );
    assert.equal(
      (await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-qB4500-abcdefghijkl", port: 1 })).failure,
      undefined,
    );
    assert.equal((await httpScrape(t.http, [IH_OK, IH_NO])).failure, "unapproved torrent");
    assert.deepEqual((await udp.scrape([IH_NO])).message, "unapproved torrent");

    await writeFile(join(dir, "next"), `${toHex(IH_OK).toUpperCase()}\n`);
    await rename(join(dir, "next"), file);
    const deadline = Date.now() + 3000;
    let failure: string | undefined;
    while (Date.now() < deadline) {
      failure =
        (await httpAnnounce(t.http, { infoHash: IH_OK, peerID: "-qB4500-abcdefghijkl", port: 1 })).failure;
      if (failure !== undefined) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(failure, "unapproved torrent", "the new file blocks IH_OK");
    const udpNow = await udp.announce({ infoHash: IH_NO, port: 2 });
    assert.equal(udpNow.action, 1, "and no longer blocks IH_NO");
  } finally {
    await udp.close();
    await t.stop();
    await rm(dir, { recursive: true });
  }
});

test("torrent approval: a missing file stops the start, naming the key", async () => {
  await assert.rejects(
    startBoth({ prehooks: [hook("torrent approval", { file: "/nonexistent/hayate/approved.txt" })] }),
    /^ConfigError: prehooks\[0\]\.options\.file: cannot load \/nonexistent\/hayate\/approved\.txt: /,
  );
});
