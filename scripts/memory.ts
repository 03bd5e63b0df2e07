/**
 * Bytes per peer of the memory store: fills it with 1M peers over 100k swarms
 * (IPv4 by default, `6` for IPv6) and prints the RSS growth per peer (settled, and
 * right after the fill) and the bytes the packed tables hold per peer.
 *
 *   deno run --v8-flags=--expose-gc scripts/memory.ts [4|6] [peers] [swarms]
 */
import { ManualClock } from "../src/clock.ts";
import { MemoryStore } from "../src/storage/memory/store.ts";

const family = Deno.args[0] === "6" ? 6 : 4;
const peers = Number(Deno.args[1] ?? 1_000_000);
const swarms = Number(Deno.args[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rss = () => Deno.memoryUsage().rss;

const store = new MemoryStore({
  gcInterval: 3_600_000,
  peerLifetime: 1_800_000,
  clock: new ManualClock(),
  maxPeers: peers,
  maxSwarms: swarms,
});
const ih = new Uint8Array(20);
const peer = { id: new Uint8Array(20), ip: new Uint8Array(family === 4 ? 4 : 16), port: 0 };
const ihView = new DataView(ih.buffer);
const idView = new DataView(peer.id.buffer);
const ipView = new DataView(peer.ip.buffer);
gc();
const before = rss();
for (let i = 0; i < peers; i++) {
  const s = i % swarms;
  ihView.setUint32(0, s * 2654435761);
  ihView.setUint32(8, s);
  idView.setUint32(0, i * 40503);
  idView.setUint32(12, i);
  ipView.setUint32(0, 0x0a000000 + i);
  peer.port = 1024 + (i % 60000);
  if (i % 2) store.putSeeder(ih, peer);
  else store.putLeecher(ih, peer);
}
gc();
const rightAfter = rss() - before;
// V8 hands the buffers a collection freed back to the C allocator from a
// background thread: settle, so that a slab outgrown during the fill (past 1M
// peers) is not counted twice. At 1M peers the two figures agree.
await new Promise((resolve) => setTimeout(resolve, 200));
gc();
await new Promise((resolve) => setTimeout(resolve, 200));
const grown = rss() - before;
const { swarms: n, seeders, leechers } = store.stats();
console.log(
  `IPv${family}: ${seeders + leechers} peers in ${n} swarms; RSS growth ${
    (grown / peers).toFixed(1)
  } B/peer ` +
    `(${(rightAfter / peers).toFixed(1)} right after the fill); packed tables ${
      (store.bytes / peers).toFixed(1)
    } B/peer`,
);
store.stop();
