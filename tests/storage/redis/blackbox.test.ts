/**
 * Two hayate processes on different ports share one Redis (and one UDP
 * `private_key`): a peer announced to A is returned by B, over HTTP and UDP, and
 * a UDP connection ID from A is accepted by B.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { RedisServer, redisSkip } from "./server.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, startCLI } from "../../helpers/cli.ts";
import { eventually, httpAnnounce, UDPClient } from "./helpers.ts";

const server = redisSkip === false ? await RedisServer.start() : undefined;
after(() => server?.stop());

/** One hayate process on `storage` (its own `deno run main.ts`), on ephemeral loopback ports. */
async function startProcess(
  dir: string,
  name: string,
  storage: { redis_broker: string; key_prefix: string },
) {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `chihaya:
  announce_interval: 30m
  http:
    addr: "127.0.0.1:0"
    announce_routes: ["/announce"]
    scrape_routes: ["/scrape"]
  udp:
    addr: "127.0.0.1:0"
    private_key: "one key for the cluster"
    transport: deno
  storage:
    name: redis
    config:
      redis_broker: "${storage.redis_broker}"
      key_prefix: "${storage.key_prefix}"
`,
  );
  const running = await startCLI(path, [], true);
  const ports = { http: running.port, udp: running.udpPort! };
  return {
    address: (protocol: "http" | "https" | "udp") =>
      protocol === "https" ? undefined : { protocol, hostname: "127.0.0.1", port: ports[protocol] },
    async stop() {
      const done = exited(running.child);
      process.kill(running.child.pid!, "SIGTERM");
      assert.equal(await done, 0, running.logs.join(""));
    },
  };
}

/** Two tracker processes on one Redis and one UDP key. */
async function pair() {
  const dir = mkdtempSync(join(tmpdir(), "hayate-redis-pair-"));
  const storage = { redis_broker: server!.url, key_prefix: `bb${Math.random().toString(36).slice(2)}:` };
  const [a, b] = await Promise.all([startProcess(dir, "a", storage), startProcess(dir, "b", storage)]);
  assert.notEqual(a.address("http")!.port, b.address("http")!.port);
  assert.notEqual(a.address("udp")!.port, b.address("udp")!.port);
  return {
    a,
    b,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
