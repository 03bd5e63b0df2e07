/**
 * The Redis store against a real redis-server on a free loopback port: the
 * shared PeerStore conformance suite, chihaya's key layout, GC shared by two
 * instances, and broker URL parsing.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { parseIP } from "../../../src/bittorrent/ip.ts";
import { PeerList } from "../../../src/bittorrent/request.ts";
import { ManualClock } from "../../../src/clock.ts";
import { RedisStore, type RedisStoreOptions } from "../../../src/storage/redis/store.ts";
import { parseBroker, redactBroker } from "../../../src/storage/redis/url.ts";
import { peerStoreConformance } from "../conformance.ts";
import { RedisServer, redisSkip } from "./server.ts";

const server = redisSkip === false ? await RedisServer.start() : undefined;
after(() => server?.stop());

let seq = 0;
function open(over: Partial<RedisStoreOptions> = {}) {
  const clock = over.clock as ManualClock | undefined ?? new ManualClock();
  const store = new RedisStore({
    broker: server!.url,
    readTimeout: 2000,
    writeTimeout: 2000,
    connectTimeout: 2000,
    gcInterval: 3_600_000,
    peerLifetime: 30 * 60_000,
    keyPrefix: `t${++seq}:`,
    ...over,
    clock,
  });
  return { store, clock };
}

if (server !== undefined) {
  peerStoreConformance("redis", async () => {
    const { store, clock } = open();
    await store.open();
    return { store, clock, close: () => store.stop() };
  });
} else {
  test("redis: PeerStore conformance", { skip: redisSkip }, () => {});
}

const te = new TextEncoder();
const ih = te.encode("aaaaaaaaaaaaaaaaaaaa");
const ihHex = Buffer.from(ih).toString("hex");
const peerA = { id: te.encode("-qB4650-aaaaaaaaaaaa"), ip: parseIP("10.0.0.1")!, port: 6881 };
const peerB = { id: te.encode("-qB4650-bbbbbbbbbbbb"), ip: parseIP("2001:db8::2")!, port: 51413 };

test("redis: chihaya's key layout (no prefix), with hayate's completed and swarm counters", {
  skip: redisSkip,
}, async () => {
  const { store, clock } = open({ keyPrefix: "", broker: server!.url.replace(/\/0$/, "/3") });
  await store.open();
  const r = store.redis;
  try {
    await r.flushdb();
    await store.putLeecher(ih, peerA);
    await store.graduateLeecher(ih, peerA);
    await store.putLeecher(ih, peerB);
    const keys = (await r.keys("*")).sort();
    assert.deepEqual(keys, [
      "IPv4",
      `IPv4_D_${ihHex}`,
      "IPv4_L_count",
      `IPv4_S_${ihHex}`,
      "IPv4_S_count",
      "IPv4_infohash_count",
      "IPv4_swarm_count",
      "IPv6",
      `IPv6_L_${ihHex}`,
      "IPv6_L_count",
      "IPv6_swarm_count",
    ]);
    // field = peerID(20) ‖ port(2, BE) ‖ ip; value = mtime in ns.
    const field = Buffer.concat([
      Buffer.from(peerA.id),
      Buffer.from([0x1a, 0xe1]),
      Buffer.from([10, 0, 0, 1]),
    ]);
    assert.deepEqual(await r.hkeysBuffer(`IPv4_S_${ihHex}`), [field]);
    assert.deepEqual(await r.hvals(`IPv4_S_${ihHex}`), [`${clock.now()}000000000`]);
    assert.equal(await r.hlen(`IPv4_L_${ihHex}`), 0); // graduated: the leecher entry is gone
    assert.equal(await r.hexists(`IPv4_S_${ihHex}`, field), 1);
    const v6field = Buffer.concat([Buffer.from(peerB.id), Buffer.from([0xc8, 0xd5]), Buffer.from(peerB.ip)]);
    assert.equal(await r.hexists(`IPv6_L_${ihHex}`, v6field), 1);
    assert.deepEqual(await r.hgetall("IPv4"), { [`IPv4_S_${ihHex}`]: `${clock.now()}000000000` });
    assert.deepEqual(await r.hkeys("IPv6"), [`IPv6_L_${ihHex}`]);
    assert.deepEqual(
      await r.mget(
        "IPv4_S_count",
        "IPv4_L_count",
        "IPv4_infohash_count",
        `IPv4_D_${ihHex}`,
        "IPv4_swarm_count",
      ),
      ["1", "0", "1", "1", "1"],
    );
    // Counters appear when first touched, as chihaya's INCR makes them.
    assert.deepEqual(await r.mget("IPv6_S_count", "IPv6_L_count", "IPv6_infohash_count"), [null, "1", null]);
  } finally {
    await r.flushdb();
    await store.stop();
  }
});

test("redis: swarms written by chihaya are read, counted and collected", { skip: redisSkip }, async () => {
  const { store, clock } = open({ keyPrefix: "", broker: server!.url.replace(/\/0$/, "/4") });
  const seed = new RedisStore({
    broker: server!.url.replace(/\/0$/, "/4"),
    readTimeout: 2000,
    writeTimeout: 2000,
    connectTimeout: 2000,
    gcInterval: 3_600_000,
    peerLifetime: 60_000,
    clock,
  });
  await seed.open();
  const r = seed.redis;
  try {
    await r.flushdb();
    // What chihaya's PutSeeder leaves: MULTI; HSET S pk t; HSET IPv4 S t; EXEC; INCR counters.
    const pk = Buffer.concat([Buffer.from(peerA.id), Buffer.from([0x1a, 0xe1]), Buffer.from([10, 0, 0, 1])]);
    const t = `${clock.now()}123456789`;
    await r.multi().hset(`IPv4_S_${ihHex}`, pk, t).hset("IPv4", `IPv4_S_${ihHex}`, t).exec();
    await r.incr("IPv4_S_count");
    await r.incr("IPv4_infohash_count");
    await store.open(); // counts the swarm chihaya left
    assert.deepEqual(await store.stats(), { swarms: 1, seeders: 1, leechers: 0 });
    const out = new PeerList(4);
    assert.equal(await store.announcePeers(ih, false, 50, { ...peerA, port: 1 }, out), 1);
    assert.deepEqual(out.toArray()[0].port, 6881);
    assert.deepEqual({ ...(await store.scrapeSwarm(ih, 4)) }, { complete: 1, incomplete: 0, downloaded: 0 });
    clock.advance(31 * 60);
    const res = await store.collectGarbage();
    assert.equal(res.peersRemoved, 1);
    assert.equal(res.swarmsRemoved, 1);
    assert.deepEqual(await store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
    assert.equal(await r.exists("IPv4", `IPv4_S_${ihHex}`), 0);
    assert.deepEqual(await r.mget("IPv4_S_count", "IPv4_infohash_count"), ["0", "0"]);
  } finally {
    await r.flushdb();
    await seed.stop();
    await store.stop();
  }
});

test(
  "redis: two instances collecting garbage at once remove each peer once",
  { skip: redisSkip },
  async () => {
    const clock = new ManualClock();
    const a = open({ clock, gcBatch: 7 });
    const prefix = `t${seq}:`;
    const b = open({ clock, keyPrefix: prefix, gcBatch: 5 });
    await a.store.open();
    await b.store.open();
    try {
      for (let i = 0; i < 60; i++) {
        const h = te.encode(`swarm${String(i).padStart(15, "0")}`);
        for (let j = 0; j < 5; j++) {
          const p = {
            id: te.encode(`peer${String(j).padStart(16, "0")}`),
            ip: new Uint8Array([10, 0, i, j]),
            port: 1000 + j,
          };
          await (j % 2 === 0 ? a.store.putSeeder(h, p) : b.store.putLeecher(h, p));
        }
      }
      assert.deepEqual(await b.store.stats(), { swarms: 60, seeders: 180, leechers: 120 });
      clock.advance(31 * 60);
      const [ra, rb] = await Promise.all([a.store.collectGarbage(), b.store.collectGarbage()]);
      assert.equal(ra.peersRemoved + rb.peersRemoved, 300);
      assert.equal(ra.swarmsRemoved + rb.swarmsRemoved, 60);
      assert.deepEqual(await a.store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
      const left = (await a.store.redis.keys(`${prefix}*`)).sort();
      assert.ok(left.every((k) => k.endsWith("_count")), `only counters remain: ${left.join(", ")}`);
      assert.ok((await a.store.redis.mget(...left)).every((v) => v === "0"));
    } finally {
      await a.store.stop();
      await b.store.stop();
    }
  },
);

test("redis: the announcer is never handed back to itself (chihaya's bug)", { skip: redisSkip }, async () => {
  const { store } = open();
  await store.open();
  try {
    await store.putLeecher(ih, peerA);
    const out = new PeerList(4);
    assert.equal(await store.announcePeers(ih, false, 50, peerA, out), 0);
    assert.equal(await store.announcePeers(ih, true, 50, peerA, out), 0);
  } finally {
    await store.stop();
  }
});

test("redis: broker URLs, chihaya's lone password, TLS, and redaction", () => {
  assert.deepEqual(parseBroker("redis://127.0.0.1:6379/0"), {
    host: "127.0.0.1",
    port: 6379,
    db: 0,
    username: undefined,
    password: undefined,
    tls: false,
    redacted: "redis://127.0.0.1:6379/0",
  });
  const acl = parseBroker("rediss://app:s%3Acret@cache.example:6380/2");
  assert.equal(acl.username, "app");
  assert.equal(acl.password, "s:cret");
  assert.equal(acl.tls, true);
  assert.equal(acl.db, 2);
  assert.equal(acl.redacted, "rediss://app:***@cache.example:6380/2");
  const lone = parseBroker("redis://myRedis@127.0.0.1:6379/0");
  assert.equal(lone.username, undefined);
  assert.equal(lone.password, "myRedis");
  assert.equal(lone.redacted, "redis://***@127.0.0.1:6379/0");
  assert.equal(parseBroker("redis://:pw@[::1]").host, "::1");
  assert.equal(parseBroker("redis://:pw@[::1]").port, 6379);
  assert.throws(() => parseBroker("http://u:topsecret@h:1/0"), (e: Error) => {
    assert.match(e.message, /no redis scheme found/);
    assert.doesNotMatch(e.message, /topsecret/);
    return true;
  });
  assert.throws(
    () => parseBroker("redis://u:topsecret@h:99999/0"),
    (e: Error) => !e.message.includes("topsecret"),
  );
  assert.throws(() => parseBroker("redis://h:1/x"), /bad database number/);
  assert.equal(redactBroker("redis://@h:1/0"), "redis://@h:1/0");
});
