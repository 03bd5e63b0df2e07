/**
 * Two hayate trackers on different ports share one Redis (and one UDP
 * `private_key`): a peer announced to A is returned by B, over HTTP and UDP, and
 * a UDP connection ID from A is accepted by B.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { RedisServer, redisSkip } from "./server.ts";
import { eventually, httpAnnounce, redisTrackerConfig, startTracker, UDPClient } from "./helpers.ts";

const server = redisSkip === false ? await RedisServer.start() : undefined;
after(() => server?.stop());

async function pair() {
  const storage = { redis_broker: server!.url, key_prefix: `bb${Math.random().toString(36).slice(2)}:` };
  const a = await startTracker(redisTrackerConfig(storage, "one key for the cluster"));
  const b = await startTracker(redisTrackerConfig(storage, "one key for the cluster"));
  assert.notEqual(a.address("http")!.port, b.address("http")!.port);
  assert.notEqual(a.address("udp")!.port, b.address("udp")!.port);
  return { a, b, stop: () => Promise.all([a.stop(), b.stop()]) };
}

test("redis black box: a peer announced to A over HTTP is returned by B", { skip: redisSkip }, async () => {
  const { a, b, stop } = await pair();
  try {
    // (an announcer alone in its swarm is echoed back to itself, as chihaya does)
    assert.equal((await httpAnnounce(a, { ih: "http swarm", id: "from-a", port: 2001 })).failure, undefined);
    await eventually(async () =>
      (await httpAnnounce(b, { ih: "http swarm", id: "from-b", port: 2002 })).ports.includes(2001)
    );
    // and back: A sees B's peer
    await eventually(async () =>
      (await httpAnnounce(a, { ih: "http swarm", id: "from-a", port: 2001 })).ports.includes(2002)
    );
  } finally {
    await stop();
  }
});

test("redis black box: over UDP, B returns A's peer and accepts A's connection ID", {
  skip: redisSkip,
}, async () => {
  const { a, b, stop } = await pair();
  const client = await UDPClient.open(a.address("udp")!.port);
  const portB = b.address("udp")!.port;
  try {
    const fromA = await client.announce(await client.connect(), { ih: "udp swarm", id: "udp-a", port: 3001 });
    assert.equal(fromA.action, 1);
    const cidFromA = await client.connect();
    await eventually(async () => {
      const r = await client.announce(cidFromA, { ih: "udp swarm", id: "udp-b", port: 3002 }, portB);
      assert.equal(r.action, 1, `B refused A's connection ID: ${r.message}`);
      return r.ports.includes(3001);
    });
  } finally {
    await client.close();
    await stop();
  }
});
