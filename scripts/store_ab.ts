/**
 * A/B of the memory store of two checkouts in one process, e.g. before and after
 * a change (`git worktree add --detach /tmp/before HEAD~1`):
 *
 *   deno run --allow-read --allow-env scripts/store_ab.ts /tmp/before .
 *
 * Both stores are filled alike by a UDP-like pool of peers (FILL announces, 6M by
 * default), then take the same stream of HTTP-like announces from another pool (new
 * peers join, as in load.ts's HTTP runs) in alternating blocks of 200k, so that the
 * machine's drift lands on both. Prints the median ns per announce (admits,
 * announcePeers and the put) of the first 1M and of the rest. Env: FILL, BLOCKS (20).
 *
 * @module
 */
import type { PeerList } from "../src/bittorrent/request.ts";
import type { MemoryStore } from "../src/storage/memory/store.ts";

const dirs = Deno.args.map((d) => new URL(d.endsWith("/") ? d : d + "/", `file://${Deno.cwd()}/`).href);
if (dirs.length === 0) throw new Error("usage: store_ab.ts DIR [DIR…] (checkouts of hayate)");

let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const T = 10_000;
const hashes = Array.from({ length: T }, (_, i) => {
  const h = new Uint8Array(20);
  for (let j = 0; j < 20; j++) h[j] = (Math.imul(i + 1, 2654435761 + j * 97) >>> (j % 24)) & 255;
  return h;
});
type Peer = { id: Uint8Array; ip: Uint8Array; port: number };
const pool = (tag: number, portBase: number): Peer[] =>
  Array.from({ length: 10_000 }, (_, i) => {
    const id = new Uint8Array(20);
    for (let j = 0; j < 20; j++) id[j] = Math.floor(rand() * 256);
    id[0] = tag;
    return { id, ip: new Uint8Array([127, 0, 0, 1]), port: portBase + i };
  });
const udp = pool(1, 20000), http = pool(2, 1024);

type Announce = (peers: Peer[], r1: number, r2: number) => void;
interface System {
  dir: string;
  store: MemoryStore;
  announce: Announce;
  ns: number[];
}
const systems: System[] = [];
for (const dir of dirs) {
  const { PeerList } = await import(`${dir}src/bittorrent/request.ts`);
  const { ManualClock } = await import(`${dir}src/clock.ts`);
  const { MemoryStore } = await import(`${dir}src/storage/memory/store.ts`);
  const store: MemoryStore = new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 7_200_000,
    clock: new ManualClock(),
  });
  const out: PeerList = new PeerList(4, 64);
  out.keepIDs = false;
  // Each system gets its own copy of the announce loop body, so that the JIT's
  // feedback for one store class does not make the other's calls polymorphic.
  const announce = new Function(
    "store",
    "out",
    "hashes",
    "T",
    `return function announce(peers, r1, r2) {
      let p0 = 1 / Math.sqrt(1 - r1);
      if (p0 > 101) p0 = 101;
      const t = Math.floor((p0 - 1) / 100 * (T - 1));
      const p = Math.floor(r2 * peers.length);
      const x = p * 0.6180339887498949 + t * 0.41421356237309503;
      const seeder = (x - Math.floor(x)) < 0.5;
      const ih = hashes[t];
      const peer = peers[p];
      out.count = 0;
      if (store.admits(ih, peer) !== true) throw new Error("refused");
      store.announcePeers(ih, seeder, 50, peer, out);
      if (seeder) store.putSeeder(ih, peer);
      else store.putLeecher(ih, peer);
    }`,
  )(store, out, hashes, T) as Announce;
  systems.push({ dir, store, announce, ns: [] });
}

const BLOCK = 200_000;
const rs = new Float64Array(2 * BLOCK);
/** The same `n` announces for every system in turn (one random stream). */
function block(peers: Peer[], n: number, timed: boolean): void {
  for (let k = 0; k < n * 2; k++) rs[k] = rand();
  for (const sys of systems) {
    const t0 = performance.now();
    for (let k = 0; k < n; k++) sys.announce(peers, rs[2 * k], rs[2 * k + 1]);
    if (timed) sys.ns.push((performance.now() - t0) * 1e6 / n);
  }
}

const FILL = Number(Deno.env.get("FILL") ?? 6_000_000);
for (let k = 0; k < FILL; k += BLOCK) block(udp, BLOCK, false);
console.log("filled:", systems.map((s) => JSON.stringify(s.store.stats())).join(" "));
const BLOCKS = Number(Deno.env.get("BLOCKS") ?? 20);
for (let b = 0; b < BLOCKS; b++) block(http, BLOCK, true);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const s of systems) {
  const first = s.ns.slice(0, 5), rest = s.ns.slice(5);
  console.log(
    `${s.dir}: median ns/announce, first 1M ${median(first).toFixed(0)}, later ${
      rest.length > 0 ? median(rest).toFixed(0) : "-"
    }; blocks ${s.ns.map((x) => x.toFixed(0)).join(" ")}`,
  );
}
// The stores' collection timers would keep the process alive.
for (const s of systems) s.store.stop();
