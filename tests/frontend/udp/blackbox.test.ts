/**
 * The UDP tracker over real sockets: Tracker.start with the running runtime's
 * bindings, and node:dgram clients on 127.0.0.1 and ::1. Every case runs on both
 * transports: `deno` (the runtime's socket: Deno.listenDatagram, or node:dgram on
 * Bun) and `ffi` (recvmmsg/sendmmsg), the latter skipped with its reason where FFI
 * is unavailable (always on Bun).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseIP } from "../../../src/bittorrent/ip.ts";
import type { Config, UDPConfig } from "../../../src/config/types.ts";
import { listenUDP, selectUDPTransport, serveHTTP } from "../../../src/frontend/bindings.ts";
import { ConnectionIDs } from "../../../src/frontend/udp/connection_id.ts";
import type { ListenUDPOptions, UDPListener } from "../../../src/frontend/udp/deno.ts";
import { ffiUnavailable, listenUDPFFI } from "../../../src/frontend/udp/ffi.ts";
import { silentLogger } from "../../../src/log.ts";
import { Tracker } from "../../../src/tracker.ts";
import { udpConfig } from "../../helpers/tracker.ts";
import { UDPClient } from "../../helpers/udp_client.ts";
import { announcePacket, bytes20, connectPacket, hex, scrapePacket, urlDataOption } from "./packets.ts";

const KEY = "black box key";

type Transport = "deno" | "ffi";

function trackerConfig(transport: Transport, addr: string, udp: Partial<UDPConfig> = {}): Config {
  return {
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    metricsAddr: "",
    udp: udpConfig({ addr, privateKey: KEY, transport, ...udp }),
    storage: { name: "memory", config: {}, where: "test" },
    prehooks: [],
    posthooks: [],
  };
}

const start = (config: Config) =>
  Tracker.start(config, {
    runtime: { serveHTTP, listenUDP, selectUDP: selectUDPTransport },
    log: silentLogger,
  });

const ffiWhyNot = ffiUnavailable();
const transports: {
  transport: Transport;
  listen: (o: ListenUDPOptions) => Promise<UDPListener>;
  skip: string | false;
}[] = [
  { transport: "deno", listen: listenUDP, skip: false },
  {
    transport: "ffi",
    listen: listenUDPFFI,
    skip: ffiWhyNot === null ? false : `FFI transport unavailable: ${ffiWhyNot}`,
  },
];

function clientFamily(host: string): 4 | 6 {
  return host.includes(":") ? 6 : 4;
}

for (const { transport, listen, skip } of transports) {
  for (const host of ["127.0.0.1", "::1"]) {
    const family = clientFamily(host);
    const peerSize = family === 4 ? 6 : 18;
    const addr = family === 4 ? `${host}:0` : `[${host}]:0`;
    const self = (port: number) => (family === 4 ? `${host}:${port}` : `[${host}]:${port}`);

    describe(`UDP tracker (${transport}) on ${addr}`, { skip }, () => {
      let tracker: Tracker;
      let a: UDPClient;
      let b: UDPClient;
      before(async () => {
        tracker = await start(trackerConfig(transport, addr));
        const bound = tracker.address("udp")!;
        assert.equal(bound.hostname, host);
        assert.ok(bound.port > 0);
        a = await UDPClient.open(host, bound.port);
        b = await UDPClient.open(host, bound.port);
      });
      after(async () => {
        await a.close();
        await b.close();
        await tracker.stop();
      });

      it("connects with an ID any instance with the key accepts", async () => {
        const id = await a.connect();
        const now = new DataView(id.buffer).getUint32(0);
        assert.ok(Math.abs(now - Date.now() / 1000) < 5);
        const expected = new ConnectionIDs({ key: KEY, lifetime: 120_000, maxClockSkew: 0 }).create(
          parseIP(host)!,
          now,
        );
        assert.deepEqual(id, expected);
      });

      it("runs connect → announce → scrape", async () => {
        const ih = bytes20(0xa1);
        const r = await a.announce({ infoHash: ih, port: 1111, left: 10 }, peerSize);
        assert.equal(r.action, 1);
        assert.equal(r.interval, 1800);
        assert.deepEqual([r.seeders, r.leechers], [0, 1]);
        assert.deepEqual(r.peers, [self(1111)], "alone, the announcer sees itself");
        const s = await a.request(scrapePacket(await a.connect(), [ih, bytes20(0xa2)]));
        assert.deepEqual(s.files, [{ seeders: 0, completed: 0, leechers: 1 }, {
          seeders: 0,
          completed: 0,
          leechers: 0,
        }]);
      });

      it("lets two peers see each other", async () => {
        const ih = bytes20(0xb1);
        await a.announce({ infoHash: ih, peerID: bytes20(1), port: 2001, left: 10 }, peerSize);
        const rb = await b.announce({ infoHash: ih, peerID: bytes20(2), port: 2002, left: 0 }, peerSize);
        assert.deepEqual(rb.peers, [self(2001)]);
        const ra = await a.announce({ infoHash: ih, peerID: bytes20(1), port: 2001, left: 10 }, peerSize);
        assert.deepEqual(ra.peers, [self(2002)]);
        assert.deepEqual([ra.seeders, ra.leechers], [1, 1]);
        await b.announce({ infoHash: ih, peerID: bytes20(2), port: 2002, left: 0, event: 3 }, peerSize);
        const s = await a.request(scrapePacket(await a.connect(), [ih]));
        assert.deepEqual(s.files, [{ seeders: 0, completed: 0, leechers: 1 }]);
      });

      it("refuses expired and forged connection IDs", async () => {
        const ids = new ConnectionIDs({ key: KEY, lifetime: 120_000, maxClockSkew: 0 });
        const now = Math.floor(Date.now() / 1000);
        const ip = parseIP(host)!;
        const expired = ids.create(ip, now - 125);
        const future = ids.create(ip, now + 60);
        const forged = new ConnectionIDs({ key: "guess", lifetime: 120_000, maxClockSkew: 0 }).create(
          ip,
          now,
        );
        const flipped = (await a.connect()).map((v, i) => (i === 7 ? v ^ 0x80 : v));
        const otherAddress = ids.create(parseIP(family === 4 ? "127.0.0.2" : "::2")!, now);
        for (const id of [expired, future, forged, flipped, otherAddress]) {
          assert.equal((await a.request(announcePacket({ connectionID: id }))).message, "bad connection ID");
          assert.equal((await a.request(scrapePacket(id, [bytes20()]))).message, "bad connection ID");
        }
        const fresh = ids.create(ip, now - 100);
        assert.equal((await a.request(announcePacket({ connectionID: fresh }), peerSize)).action, 1);
      });

      it("answers every malformed packet class", async () => {
        const id = await a.connect();
        const cases: [Uint8Array, string][] = [
          [announcePacket({ connectionID: id }).subarray(0, 97), "malformed packet"],
          [announcePacket({ connectionID: id, action: 4 }).subarray(0, 109), "malformed packet"],
          [announcePacket({ connectionID: id, event: 7 }), "malformed event ID"],
          [announcePacket({ connectionID: id, port: 0 }), "invalid port"],
          [announcePacket({ connectionID: id, options: hex("02ff00") }), "malformed packet"],
          [announcePacket({ connectionID: id, options: hex("09") }), "unknown option type"],
          [announcePacket({ connectionID: id, options: urlDataOption("/?x=%g1") }), "invalid query escape"],
          [scrapePacket(id, []), "malformed packet"],
          [Uint8Array.from([...scrapePacket(id, [bytes20()]), 1, 2, 3]), "malformed packet"],
          [announcePacket({ connectionID: id, action: 3 }), "unknown action ID"],
          [announcePacket({ connectionID: id, action: 0x7fffffff }), "unknown action ID"],
        ];
        for (const [packet, message] of cases) {
          const r = await a.request(packet);
          assert.deepEqual([r.action, r.message], [3, message]);
        }
        // Dropped silently: under 16 bytes, and a connect without the protocol magic.
        for (let n = 0; n < 16; n += 5) await a.expectDropped(connectPacket().subarray(0, n));
        await a.expectDropped(
          Uint8Array.from([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x81, 0, 0, 0, 0, 1, 2, 3, 4]),
        );
      });

      it("truncates a datagram longer than the receive buffer", async () => {
        const id = await a.connect();
        const hashes = Array.from({ length: 110 }, (_, i) => bytes20(i));
        const r = await a.request(scrapePacket(id, hashes)); // 2216 bytes, read as 2048
        assert.equal(r.message, "malformed packet");
        const ok = await a.request(scrapePacket(id, hashes.slice(0, 101))); // 2036 bytes fits
        assert.equal(ok.files!.length, 50);
      });

      it("serves action 4 with action 4", async () => {
        const ih = bytes20(0xc1);
        await b.announce({ infoHash: ih, peerID: bytes20(5), port: 4005, left: 0 }, peerSize);
        const r = await a.announce({ action: 4, infoHash: ih, peerID: bytes20(6), port: 4006 }, peerSize);
        assert.equal(r.action, 4);
        assert.deepEqual(r.peers, [self(4005)]);
      });

      it("still answers correctly after a flood of random packets", { timeout: 20_000 }, async () => {
        const id = await a.connect();
        let seed = family;
        const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
        const started = Date.now();
        for (let batch = 0; batch < 10; batch++) {
          const sends: Promise<void>[] = [];
          for (let i = 0; i < 500; i++) {
            const packet = Uint8Array.from({ length: random() % 180 }, () => random() & 0xff);
            const kind = random() % 4;
            if (kind === 1 && packet.length >= 16) packet.set(hex("0000041727101980"));
            if (kind === 2 && packet.length >= 16) packet.set([...id, 0, 0, 0, random() % 5]);
            sends.push(b.send(packet));
          }
          await Promise.all(sends);
        }
        const ih = bytes20(0xd1);
        const r = await a.announce({ infoHash: ih, port: 5005, left: 10 }, peerSize);
        assert.deepEqual(r.peers, [self(5005)]);
        const s = await a.request(scrapePacket(await a.connect(), [ih]));
        assert.deepEqual(s.files, [{ seeders: 0, completed: 0, leechers: 1 }]);
        assert.ok(Date.now() - started < 10_000, "the flood is bounded");
        assert.ok(b.received.length > 0, "the flood was answered where due");
      });
    });
  }

  describe(`UDP tracker (${transport}) on all interfaces`, { skip }, () => {
    it("serves IPv4 clients on a dual-stack socket as IPv4", async () => {
      const tracker = await start(trackerConfig(transport, ":0"));
      const { hostname, port } = tracker.address("udp")!;
      assert.equal(hostname, "::");
      const v4 = await UDPClient.open("127.0.0.1", port);
      const v6 = await UDPClient.open("::1", port);
      try {
        const id = await v4.connect();
        const now = new DataView(id.buffer).getUint32(0);
        const ids = new ConnectionIDs({ key: KEY, lifetime: 120_000, maxClockSkew: 0 });
        assert.deepEqual(id, ids.create(parseIP("127.0.0.1")!, now), "bound to the 4-byte address");
        const r4 = await v4.announce({ port: 6004 }, 6);
        assert.deepEqual(r4.peers, ["127.0.0.1:6004"]);
        const r6 = await v6.announce({ port: 6006 }, 18);
        assert.deepEqual(r6.peers, ["[::1]:6006"], "the IPv4 peer stays in its own swarm");
      } finally {
        await v4.close();
        await v6.close();
        await tracker.stop();
      }
    });
  });

  describe(`UDP start and stop (${transport})`, { skip }, () => {
    it("stops right after starting (chihaya #437)", async () => {
      for (let i = 0; i < 20; i++) {
        const tracker = await start(trackerConfig(transport, "127.0.0.1:0"));
        await tracker.stop();
      }
      const l = await listen({ hostname: "::1", port: 0, handler: () => null, onError: () => {} });
      await Promise.all([l.close(), l.close()]);
      await l.close();
    });

    it("frees the port on stop and refuses a taken one", async () => {
      const first = await start(trackerConfig(transport, "127.0.0.1:0"));
      const { port } = first.address("udp")!;
      await assert.rejects(start(trackerConfig(transport, `127.0.0.1:${port}`)));
      await first.stop();
      const again = await start(trackerConfig(transport, `127.0.0.1:${port}`));
      assert.equal(again.address("udp")!.port, port);
      await again.stop();
    });

    it("keeps serving when the handler throws and sends asynchronous replies", async () => {
      const errors: unknown[] = [];
      let calls = 0;
      const l = await listen({
        hostname: "127.0.0.1",
        port: 0,
        handler: (packet) => {
          calls++;
          if (packet[0] === 1) throw new Error("handler bug");
          // Reply as a tracker would: tx (bytes 12..16 of the request) at bytes 4..8.
          const reply = new Uint8Array(8);
          reply[0] = packet[0];
          reply.set(packet.subarray(12, 16), 4);
          return packet[0] === 2 ? new Promise((r) => setTimeout(() => r(reply), 5)) : reply;
        },
        onError: (err) => errors.push(err),
      });
      const c = await UDPClient.open("127.0.0.1", l.port);
      try {
        await c.send(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]));
        const echo = (first: number) => {
          const p = new Uint8Array(16);
          p[0] = first;
          return c.raw(p);
        };
        assert.equal((await echo(2))[0], 2, "async reply");
        assert.equal((await echo(3))[0], 3, "sync reply");
        assert.equal(calls, 3);
        assert.equal(errors.length, 1);
      } finally {
        await c.close();
        await l.close();
      }
    });
  });
}
