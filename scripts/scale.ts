/**
 * Two properties of the memory store at scale: an announce into a 1M-peer swarm
 * against one into a 10-peer swarm, and the longest event-loop stall while GC
 * removes 1M expired peers.
 *
 *   deno run --allow-all scripts/scale.ts
 */
import { MemoryStore } from "../src/storage/memory/store.ts";
import { ManualClock } from "../src/clock.ts";
import { PeerList } from "../src/bittorrent/request.ts";
const clock = new ManualClock();
const store = new MemoryStore({
  gcInterval: 3_600_000,
  peerLifetime: 1_800_000,
  clock,
  maxPeers: 5e6,
  maxPeersPerSwarm: 2e6,
});
const small = new Uint8Array(20).fill(1), big = new Uint8Array(20).fill(2);
const mk = (i: number) => {
  const id = new Uint8Array(20);
  new DataView(id.buffer).setUint32(0, i);
  new DataView(id.buffer).setUint32(16, i * 7);
  return { id, ip: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), port: 1000 + (i % 60000) };
};
for (let i = 0; i < 10; i++) store.putLeecher(small, mk(i));
for (let i = 0; i < 1_000_000; i++) (i % 2 ? store.putSeeder : store.putLeecher).call(store, big, mk(i));
const ps = Array.from({ length: 4096 }, (_, i) => mk(2_000_000 + i));
const out = new PeerList(4, 64);
function cost(ih: Uint8Array) {
  for (let i = 0; i < 50000; i++) {
    out.count = 0;
    store.announcePeers(ih, false, 50, ps[i & 4095], out);
    store.putLeecher(ih, ps[i & 4095]);
  }
  const t0 = performance.now();
  for (let i = 0; i < 300000; i++) {
    out.count = 0;
    store.announcePeers(ih, false, 50, ps[i & 4095], out);
    store.putLeecher(ih, ps[i & 4095]);
  }
  return (performance.now() - t0) / 300000 * 1e6;
}
const a = cost(small), b = cost(big), a2 = cost(small), b2 = cost(big);
console.log(
  `announce+put: 10-peer swarm ${Math.min(a, a2).toFixed(0)} ns, 1M-peer swarm ${
    Math.min(b, b2).toFixed(0)
  } ns, ratio ${(Math.min(b, b2) / Math.min(a, a2)).toFixed(2)}`,
);
// GC of 1M expired peers: event-loop lag
clock.advance(3600);
let maxLag = 0, last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  maxLag = Math.max(maxLag, now - last - 1);
  last = now;
}, 1);
const t0 = performance.now();
const r = await store.collectGarbage();
clearInterval(timer);
console.log(
  `gc removed ${r.peersRemoved} peers in ${
    (performance.now() - t0).toFixed(0)
  } ms; longest event-loop stall ${maxLag.toFixed(1)} ms`,
);
store.stop();
