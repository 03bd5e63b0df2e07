/**
 * Redis faults: down at start (a clear error within the connect timeout, no
 * password in it), lost while serving (requests fail fast with `internal server
 * error`, ready() is false, nothing crashes), and back (service recovers alone).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { freePort, RedisServer, redisSkip } from "./server.ts";
import { eventually, httpAnnounce, redisTrackerConfig, startTracker, UDPClient } from "./helpers.ts";

const server = redisSkip === false ? await RedisServer.start() : undefined;
after(() => server?.stop());

test("redis faults: no redis at start gives a clear error at once, without the password", async () => {
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(
    startTracker(redisTrackerConfig({
      redis_broker: `redis://app:hunter2@127.0.0.1:${port}/0`,
      redis_connect_timeout: "3s",
    })),
    (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`cannot connect to redis://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`),
      );
      assert.match(err.message, /ECONNREFUSED/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
});

test("redis faults: a server that never answers fails start within the connect timeout", async () => {
  const sockets: Socket[] = [];
  const mute = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", r));
  const port = (mute.address() as { port: number }).port;
  const started = Date.now();
  try {
    await assert.rejects(
      startTracker(redisTrackerConfig({
        redis_broker: `redis://127.0.0.1:${port}/0`,
        redis_connect_timeout: "500ms",
      })),
      /cannot connect to redis:\/\/127\.0\.0\.1:\d+\/0/,
    );
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 2500, `failed after ${took} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => mute.close(r));
  }
});

test("redis faults: lost while serving, requests fail fast; back, service recovers", {
  skip: redisSkip,
}, async () => {
  const tracker = await startTracker(redisTrackerConfig({
    redis_broker: server!.url,
    key_prefix: "faults:",
    redis_read_timeout: "2s",
    redis_write_timeout: "2s",
    redis_connect_timeout: "2s",
  }));
  const udp = await UDPClient.open(tracker.address("udp")!.port);
  try {
    assert.equal(await tracker.store.ready(), true);
    assert.equal((await httpAnnounce(tracker, { ih: "f", id: "a", port: 1001 })).failure, undefined);
    await eventually(async () =>
      (await httpAnnounce(tracker, { ih: "f", id: "b", port: 1002 })).ports.includes(1001)
    );

    await server!.stop();
    await eventually(async () => (await tracker.store.ready()) === false);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await httpAnnounce(tracker, { ih: "f", id: "c", port: 1003 });
      assert.equal(r.failure, "internal server error");
      assert.ok(Date.now() - t0 < 500, `HTTP failure took ${Date.now() - t0} ms`);
    }
    const cid = await udp.connect(); // connection IDs need no store
    const u = await udp.announce(cid, { ih: "f", id: "d", port: 1004 });
    assert.equal(u.action, 3);
    assert.equal(u.message.replace(/\0$/, ""), "internal error"); // the UDP frontend's wording
    await assert.rejects(Promise.resolve(tracker.store.stats()), /redis 127\.0\.0\.1/);

    await server!.start(); // same port, empty (no persistence)
    await eventually(async () => (await tracker.store.ready()) === true, 5000);
    assert.equal((await httpAnnounce(tracker, { ih: "f", id: "a", port: 1001 })).failure, undefined);
    await eventually(async () =>
      (await httpAnnounce(tracker, { ih: "f", id: "b", port: 1002 })).ports.includes(1001)
    );
    const u2 = await udp.announce(await udp.connect(), { ih: "f", id: "d", port: 1004 });
    assert.equal(u2.action, 1);
  } finally {
    await udp.close();
    await tracker.stop();
  }
});
