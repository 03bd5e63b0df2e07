/**
 * Micro-benchmarks of the announce path, in-process: query parsing, the memory
 * store, and the whole HTTP handler. Prints operations per second and the cost of
 * one operation. Socket-level load (wrk, udpload) lives beside it in later scripts.
 *
 *   deno task bench
 */
import { parseURLData } from "../src/bittorrent/params.ts";
import { PeerList } from "../src/bittorrent/request.ts";
import { ManualClock } from "../src/clock.ts";
import { HTTPFrontend } from "../src/frontend/http/frontend.ts";
import { parseAnnounce } from "../src/frontend/http/parser.ts";
import { silentLogger } from "../src/log.ts";
import { Logic } from "../src/middleware/logic.ts";
import { MemoryStore } from "../src/storage/memory/store.ts";

function bench(name: string, ops: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(ops, 50_000); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) fn(i);
  const ms = performance.now() - t0;
  const perOp = (ms * 1e6) / ops;
  console.log(
    `${name.padEnd(48)} ${(ops / (ms / 1000)).toFixed(0).padStart(10)} ops/s ${
      perOp.toFixed(0).padStart(7)
    } ns/op`,
  );
}

const te = new TextEncoder();
const esc = (b: Uint8Array) => Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");
const hashes = Array.from({ length: 10_000 }, (_, i) => {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, i * 2654435761);
  new DataView(h.buffer).setUint32(16, i);
  return h;
});
const peerIDs = Array.from({ length: 10_000 }, (_, i) => te.encode(`-HY0001-${String(i).padStart(12, "0")}`));
const query = (i: number) =>
  `/announce?info_hash=${esc(hashes[i % hashes.length])}&peer_id=${esc(peerIDs[i % peerIDs.length])}` +
  `&port=${1024 + (i % 50000)}&uploaded=0&downloaded=0&left=${i % 2 ? 0 : 1000}&compact=1&numwant=50`;
const queries = Array.from({ length: 10_000 }, (_, i) => te.encode(query(i)));
const opts = {
  allowIPSpoofing: false,
  realIPHeader: "",
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
};

bench("parseURLData + parseAnnounce", 300_000, (i) => {
  parseAnnounce(parseURLData(queries[i % queries.length]), () => null, "10.0.0.1", opts);
});

const clock = new ManualClock();
const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 1_800_000, clock });
const peerAt = (i: number) => ({
  id: peerIDs[i % peerIDs.length],
  ip: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
  port: 1024 + (i % 50000),
});
const small = hashes[0];
for (let i = 0; i < 10; i++) store.putLeecher(small, peerAt(i));
const big = hashes[1];
const bigPeers = 200_000;
for (let i = 0; i < bigPeers; i++) (i % 2 ? store.putSeeder : store.putLeecher).call(store, big, peerAt(i));
const out = new PeerList(4, 64);
bench("store: announcePeers(50), 10-peer swarm", 1_000_000, (i) => {
  out.count = 0;
  store.announcePeers(small, false, 50, peerAt(i), out);
});
bench(`store: announcePeers(50), ${bigPeers / 1000}k-peer swarm`, 1_000_000, (i) => {
  out.count = 0;
  store.announcePeers(big, false, 50, peerAt(i), out);
});
bench(`store: putLeecher (refresh), ${bigPeers / 1000}k-peer swarm`, 1_000_000, (i) => {
  store.putLeecher(big, peerAt((i * 2) % bigPeers));
});
bench("store: putLeecher over 10k swarms", 1_000_000, (i) => {
  store.putLeecher(hashes[i % hashes.length], peerAt(i % 100_000));
});

const logic = new Logic({
  announceInterval: 1_800_000,
  minAnnounceInterval: 900_000,
  store,
  prehooks: [],
  posthooks: [],
  log: silentLogger,
});
const http = new HTTPFrontend({
  ...opts,
  announceRoutes: ["/announce"],
  scrapeRoutes: ["/scrape"],
  enableKeepalive: true,
  logic,
  log: silentLogger,
});
const requests = Array.from({ length: 10_000 }, (_, i) => `http://127.0.0.1:6969${query(i)}`);
bench("HTTPFrontend.fetch (Request → Response)", 200_000, (i) => {
  http.fetch(new Request(requests[i % requests.length]), "10.0.0.1");
});
console.log(`store after the run: ${JSON.stringify(store.stats())}`);
store.stop();
