/**
 * Announces per second through the Redis store, bounded to about 10 s:
 *
 * 1. in-process: what one announce costs the store (scrapeSwarm + announcePeers,
 *    then putLeecher/putSeeder), with 64 announces in flight;
 * 2. HTTP: real announces with `fetch` against a tracker on Redis, 64 in flight.
 *
 * Starts its own `redis-server` on a free loopback port (no persistence) unless
 * `--url redis://…` is given.
 *
 *   deno run --allow-all scripts/redis_bench.ts [--url redis://127.0.0.1:6379/0] [--seconds 4]
 */
import { createServer } from "node:net";
import { PeerList } from "../src/bittorrent/request.ts";
import { CoarseClock } from "../src/clock.ts";
import { serveHTTP } from "../src/frontend/http/deno.ts";
import { silentLogger } from "../src/log.ts";
import { RedisStore } from "../src/storage/redis/store.ts";
import { Tracker } from "../src/tracker.ts";

const args = Deno.args;
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(flag("--seconds") ?? 4);
const CONCURRENCY = 64;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let child: Deno.ChildProcess | undefined;
let url = flag("--url");
if (url === undefined) {
  const port = await freePort();
  try {
    child = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch {
    console.error("redis-server is not installed: apt-get install redis-server (or pass --url)");
    Deno.exit(1);
  }
  url = `redis://127.0.0.1:${port}/0`;
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

const te = new TextEncoder();
const hashes = Array.from({ length: 1000 }, (_, i) => {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, i * 2654435761);
  new DataView(h.buffer).setUint32(16, i);
  return h;
});
const peerIDs = Array.from({ length: 10_000 }, (_, i) => te.encode(`-HY0001-${String(i).padStart(12, "0")}`));
const peerAt = (i: number) => ({
  id: peerIDs[i % peerIDs.length],
  ip: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
  port: 1024 + (i % 50000),
});

/** Runs `fn` with `CONCURRENCY` loops for `seconds`; returns operations per second. */
async function run(name: string, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      await fn(next++);
      done++;
    }
  }));
  const rate = done / ((performance.now() - t0) / 1000);
  console.log(`${name.padEnd(56)} ${rate.toFixed(0).padStart(8)} announces/s (${done} in ${seconds} s)`);
  return rate;
}

const clock = new CoarseClock();
const store = new RedisStore({
  broker: url,
  readTimeout: 5000,
  writeTimeout: 5000,
  connectTimeout: 5000,
  gcInterval: 3_600_000,
  peerLifetime: 1_800_000,
  keyPrefix: "bench:",
  clock,
});
await store.open();
await store.redis.flushdb();
// Warm swarms: 10 peers in each of 1000 swarms.
await Promise.all(Array.from({ length: 10_000 }, (_, i) => store.putLeecher(hashes[i % 1000], peerAt(i))));

console.log(`Redis store, ${CONCURRENCY} in flight, 1000 swarms, one redis-server on loopback`);
await run("in-process: scrape + announcePeers(50) + put", async (i) => {
  const ih = hashes[i % hashes.length];
  const p = peerAt(i);
  const seeder = i % 4 === 0;
  await Promise.all([store.scrapeSwarm(ih, 4), store.announcePeers(ih, seeder, 50, p, new PeerList(4))]);
  await (seeder ? store.putSeeder(ih, p) : store.putLeecher(ih, p));
});

const tracker = await Tracker.start({
  announceInterval: 1_800_000,
  minAnnounceInterval: 900_000,
  metricsAddr: "",
  http: {
    addr: "127.0.0.1:0",
    httpsAddr: "",
    tlsCertPath: "",
    tlsKeyPath: "",
    readTimeout: 5000,
    writeTimeout: 5000,
    idleTimeout: 30_000,
    enableKeepalive: true,
    enableRequestTiming: false,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    allowIPSpoofing: true,
    realIPHeader: "",
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
  } as NonNullable<Parameters<typeof Tracker.start>[0]["http"]>,
  storage: { name: "redis", config: { redis_broker: url, key_prefix: "bench:" }, where: "bench" },
  prehooks: [],
  posthooks: [],
}, { runtime: { serveHTTP }, log: silentLogger });
const addr = tracker.address("http")!;
const esc = (b: Uint8Array) => Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");
const urls = Array.from({ length: 10_000 }, (_, i) => {
  const p = peerAt(i);
  return `http://${addr.hostname}:${addr.port}/announce?info_hash=${esc(hashes[i % 1000])}` +
    `&peer_id=${esc(p.id)}&port=${p.port}&ip=${p.ip.join(".")}&uploaded=0&downloaded=0` +
    `&left=${i % 4 === 0 ? 0 : 1000}&compact=1&numwant=50`;
});
await run("HTTP: fetch announces against a tracker on Redis", async (i) => {
  const res = await fetch(urls[i % urls.length]);
  await res.arrayBuffer();
});

await tracker.stop();
await store.stop();
clock.stop();
if (child !== undefined) {
  child.kill("SIGKILL");
  await child.status;
}
