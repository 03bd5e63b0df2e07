/**
 * A/B of the HTTP request path of two checkouts in one process, e.g. before and
 * after a change (`git worktree add --detach /tmp/before HEAD~1`):
 *
 *   deno run --allow-read --allow-env scripts/http_ab.ts /tmp/before .
 *
 * What one keep-alive announce or scrape costs on the JS thread once the bytes
 * are read: `takeHead`, then `HTTPFrontend.answer` into the connection's reply
 * frame (the parse, the hooks, the store and the reply's bytes), with no socket.
 * Each checkout's store is first filled by FILL announces (3M by default) from a
 * UDP-like pool of peers; then both take the same stream of wrk's requests
 * (`../shared/bench/httpload.lua`'s workload, heads as wrk writes them, 400k drawn
 * beforehand and taken in turn) in alternating blocks of 100k, so that the machine's drift lands on both. Prints
 * the median ns per request. Env: FILL, BLOCKS (16).
 *
 * @module
 */
import type { MemoryStore } from "../src/storage/memory/store.ts";

const dirs = Deno.args.map((d) => new URL(d.endsWith("/") ? d : d + "/", `file://${Deno.cwd()}/`).href);
if (dirs.length === 0) throw new Error("usage: http_ab.ts DIR [DIR…] (checkouts of hayate)");

let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const T = 10_000, P = 10_000;
const hashes = Array.from(
  { length: T },
  () => Uint8Array.from({ length: 20 }, () => Math.floor(rand() * 256)),
);
/** Pareto(2) folded onto [0, T), as udpload.c and httpload.lua pick torrents. */
const pick = () => Math.floor((Math.min(1 / Math.sqrt(1 - rand()), 101) - 1) / 100 * (T - 1));
// httpload.lua's escaping, which keeps unreserved bytes as they are (the parser's
// mixed path), where the other scripts' `esc` escapes every byte.
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const urlencode = (b: Uint8Array) =>
  Array.from(b, (c) => {
    const ch = String.fromCharCode(c);
    return UNRESERVED.test(ch) ? ch : "%" + c.toString(16).toUpperCase().padStart(2, "0");
  }).join("");
/** Whether peer `p` seeds torrent `t`: half the pairs, fixed per pair, as httpload.lua has it. */
const seeding = (p: number, t: number) => {
  const x = p * 0.6180339887498949 + t * 0.41421356237309503;
  return x - Math.floor(x) < 0.5;
};
const escHashes = hashes.map(urlencode);
const peerIDs = Array.from({ length: P }, () => {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode("-UL0001-"));
  for (let j = 8; j < 20; j++) id[j] = Math.floor(rand() * 256);
  return urlencode(id);
});

/** One of wrk's requests, as httpload.lua draws it. */
function request(): string {
  let path: string;
  if (rand() < 0.9) {
    const t = pick(), p = Math.floor(rand() * P);
    const seeder = seeding(p, t);
    const first = rand() < 0.1;
    const left = seeder ? 0 : 1 + Math.floor(rand() * 1073741824);
    path = `/announce?info_hash=${escHashes[t]}&peer_id=${peerIDs[p]}&port=${1024 + p}&uploaded=0` +
      `&downloaded=${seeder ? 1048576 : 0}&left=${left}&compact=1&numwant=50` +
      (first ? (seeder ? "&event=completed" : "&event=started") : "");
  } else {
    const n = 1 + Math.floor(rand() * 10);
    const seen = new Set<number>();
    while (seen.size < n) seen.add(pick());
    path = "/scrape?" + [...seen].map((t) => `info_hash=${escHashes[t]}`).join("&");
  }
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:6969\r\n\r\n`;
}

type Answer = (buf: Uint8Array) => Uint8Array;
interface System {
  dir: string;
  store: MemoryStore;
  answer: Answer;
  ns: number[];
}
const systems: System[] = [];
const remote = new Uint8Array([127, 0, 0, 1]);
// Every checkout's store is filled by the same announces: the fill starts from one seed.
const fillSeed = seed;
for (const dir of dirs) {
  const { ManualClock } = await import(`${dir}src/clock.ts`);
  const { MemoryStore } = await import(`${dir}src/storage/memory/store.ts`);
  const { bareLogic } = await import(`${dir}tests/helpers/fixtures.ts`);
  const { silentLogger } = await import(`${dir}src/log.ts`);
  const { HTTPFrontend } = await import(`${dir}src/frontend/http/frontend.ts`);
  const { ReplyFrame } = await import(`${dir}src/frontend/http/server.ts`);
  const { RequestHead, ResponseHeads, takeHead } = await import(`${dir}src/frontend/http/wire.ts`);
  const store: MemoryStore = new MemoryStore({
    gcInterval: 3_600_000,
    peerLifetime: 7_200_000,
    clock: new ManualClock(),
  });
  seed = fillSeed;
  for (let k = 0; k < Number(Deno.env.get("FILL") ?? 3_000_000); k++) {
    const t = pick(), p = Math.floor(rand() * P);
    // A torrent's hash serves as the UDP peer's id: any 20 bytes, one per peer.
    const peer = { id: hashes[p % T], ip: remote, port: 20000 + p };
    if (seeding(p, t)) store.putSeeder(hashes[t], peer);
    else store.putLeecher(hashes[t], peer);
  }
  const logic = bareLogic(store);
  const http = new HTTPFrontend({
    allowIPSpoofing: false,
    realIPHeader: "",
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    enableKeepalive: true,
    logic,
    log: silentLogger,
  });
  const head = new RequestHead();
  const frame = new ReplyFrame(new ResponseHeads());
  // Each system gets its own copy of the loop body, so that the JIT's feedback for
  // one checkout's classes does not make the other's calls polymorphic.
  const answer = new Function(
    "takeHead",
    "http",
    "head",
    "frame",
    "remote",
    `return function answer(buf) {
      if (takeHead(buf, 0, 0, buf.length, head) !== buf.length) throw new Error("not one whole head");
      frame.framed = undefined;
      const r = http.answer(head, remote, frame);
      if (!(r instanceof Uint8Array)) throw new Error("not a 200 reply");
      return r;
    }`,
  )(takeHead, http, head, frame, remote) as Answer;
  systems.push({ dir, store, answer, ns: [] });
}
console.log("filled:", systems.map((s) => JSON.stringify(s.store.stats())).join(" "));

const BLOCK = 100_000;
const BLOCKS = Number(Deno.env.get("BLOCKS") ?? 16);
// Drawn once, before the clock (as httpload_predrawn.lua does), into one buffer:
// made per block, they would keep the garbage collector busy while it runs.
const te = new TextEncoder();
const drawn = Array.from({ length: 4 * BLOCK }, () => te.encode(request()));
const all = new Uint8Array(drawn.reduce((n, h) => n + h.length, 0));
const heads: Uint8Array[] = [];
for (let at = 0, k = 0; k < drawn.length; at += drawn[k++].length) {
  all.set(drawn[k], at);
  heads.push(all.subarray(at, at + drawn[k].length));
}
drawn.length = 0;
// Every system answers the first requests with tracker replies, not errors.
const latin1 = new TextDecoder("latin1");
for (const sys of systems) {
  for (let k = 0; k < 2000; k++) {
    const reply = latin1.decode(sys.answer(heads[k]));
    if (reply.includes("failure reason") || !/d(5:files|8:complete)/.test(reply)) {
      throw new Error(`${sys.dir}: not an announce or scrape reply: ${reply.slice(0, 200)}`);
    }
  }
}
for (let b = 0; b < BLOCKS + 2; b++) {
  const from = (b % 4) * BLOCK;
  for (const sys of systems) {
    const t0 = performance.now();
    for (let k = from; k < from + BLOCK; k++) sys.answer(heads[k]);
    // The first two blocks warm the JIT and let the HTTP peers join.
    if (b >= 2) sys.ns.push((performance.now() - t0) * 1e6 / BLOCK);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const s of systems) {
  console.log(
    `${s.dir}: median ns/request ${median(s.ns).toFixed(0)}; blocks ${
      s.ns.map((x) => x.toFixed(0)).join(" ")
    }`,
  );
}
// The stores' collection timers would keep the process alive.
for (const s of systems) s.store.stop();
