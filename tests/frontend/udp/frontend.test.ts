import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ClientError } from "../../../src/bittorrent/errors.ts";
import { parseIP } from "../../../src/bittorrent/ip.ts";
import { toHex } from "../../../src/bittorrent/peer.ts";
import type { AnnounceRequest } from "../../../src/bittorrent/request.ts";
import { ManualClock } from "../../../src/clock.ts";
import { ConnectionIDs } from "../../../src/frontend/udp/connection_id.ts";
import { UDPFrontend, UNVERIFIED_AMPLIFICATION } from "../../../src/frontend/udp/frontend.ts";
import { Logger, silentLogger } from "../../../src/log.ts";
import type { Hook } from "../../../src/middleware/hook.ts";
import { Logic } from "../../../src/middleware/logic.ts";
import { MemoryStore } from "../../../src/storage/memory/store.ts";
import {
  type AnnounceFields,
  announcePacket,
  bytes20,
  connectPacket,
  hex,
  readReply,
  scrapePacket,
  urlDataOption,
  utf8,
} from "./packets.ts";

const T0 = 1_700_000_000;
const V4 = parseIP("127.0.0.1")!;
const V6 = parseIP("2001:db8::1")!;
const MAPPED = hex("00000000000000000000ffff7f000001");
const stores: MemoryStore[] = [];
after(() => stores.forEach((s) => s.stop()));

function setup(opts: { prehooks?: Hook[]; allowIPSpoofing?: boolean; log?: Logger } = {}) {
  const clock = new ManualClock(T0);
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 1_800_000, clock: new ManualClock() });
  stores.push(store);
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks: opts.prehooks ?? [],
    posthooks: [],
    log: opts.log ?? silentLogger,
  });
  const udp = new UDPFrontend({
    privateKey: "secret",
    maxClockSkew: 10_000,
    connectionIDLifetime: 120_000,
    allowIPSpoofing: opts.allowIPSpoofing ?? false,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    logic,
    log: opts.log ?? silentLogger,
    clock,
  });
  /** Handles a packet that must be answered synchronously. */
  const send = (packet: Uint8Array, ip = V4): Uint8Array | null => {
    const reply = udp.handle(packet, ip, 40000);
    assert.ok(!(reply instanceof Promise), "the memory store path is synchronous");
    return reply;
  };
  const connect = (ip = V4): Uint8Array => readReply(send(connectPacket(), ip)!).connectionID!;
  const announce = (fields: AnnounceFields, ip = V4) => {
    const reply = send(announcePacket({ connectionID: connect(ip), ...fields }), ip);
    return readReply(reply!, ip.length === 16 ? 18 : 6);
  };
  return { udp, store, clock, send, connect, announce };
}

const errorOf = (reply: Uint8Array | null) => readReply(reply!).message;

describe("UDP frontend: connect", () => {
  it("answers a connect with an ID bound to the source", () => {
    const { send } = setup();
    const reply = send(connectPacket(0xdeadbeef))!;
    assert.equal(toHex(reply), "00000000deadbeef6553f100cbd42512");
    const v6 = readReply(send(connectPacket(), V6)!);
    assert.equal(toHex(v6.connectionID!), "6553f10008e2e6e7");
  });

  it("treats an IPv4-mapped source as IPv4", () => {
    const { send, announce } = setup();
    assert.equal(toHex(readReply(send(connectPacket(), MAPPED)!).connectionID!), "6553f100cbd42512");
    const reply = readReply(send(announcePacket({ connectionID: hex("6553f100cbd42512") }), MAPPED)!, 6);
    assert.deepEqual(reply.peers, ["127.0.0.1:6881"]);
    assert.equal(announce({}).peers?.length, 1);
  });

  it("drops packets under 16 bytes and connects without the magic", () => {
    const { send } = setup();
    for (let n = 0; n < 16; n++) assert.equal(send(connectPacket().subarray(0, n)), null);
    const wrong = connectPacket();
    wrong[7] ^= 1;
    assert.equal(send(wrong), null);
  });

  it("ignores bytes after a connect request", () => {
    const { send } = setup();
    assert.equal(send(Uint8Array.from([...connectPacket(), 1, 2, 3]))!.length, 16);
  });
});

describe("UDP frontend: connection IDs", () => {
  it("answers bad connection ID before anything else, for every action", () => {
    const { send } = setup();
    const forged = hex("6553f100cbd42513");
    for (const action of [1, 2, 3, 4, 5, 0xffffffff]) {
      const packet = announcePacket({ connectionID: forged, action, tx: 77 });
      assert.deepEqual(readReply(send(packet)!), { action: 3, tx: 77, message: "bad connection ID" });
      // A bare header with a bad ID: still bad connection ID, not malformed packet.
      assert.equal(errorOf(send(packet.subarray(0, 16))), "bad connection ID");
    }
  });

  it("honours an ID for its lifetime, then refuses it", () => {
    const { send, clock } = setup();
    const id = readReply(send(connectPacket())!).connectionID!;
    clock.advance(120);
    assert.equal(readReply(send(announcePacket({ connectionID: id }))!).action, 1);
    clock.advance(1);
    assert.equal(errorOf(send(announcePacket({ connectionID: id }))), "bad connection ID");
  });

  it("accepts an ID from another instance with the same key, up to the clock skew ahead", () => {
    const { send } = setup();
    const other = new ConnectionIDs({ key: "secret", lifetime: 120_000, maxClockSkew: 0 });
    assert.equal(readReply(send(announcePacket({ connectionID: other.create(V4, T0 + 10) }))!).action, 1);
    assert.equal(
      errorOf(send(announcePacket({ connectionID: other.create(V4, T0 + 11) }))),
      "bad connection ID",
    );
    const otherKey = new ConnectionIDs({ key: "not the key", lifetime: 120_000, maxClockSkew: 0 });
    assert.equal(
      errorOf(send(announcePacket({ connectionID: otherKey.create(V4, T0) }))),
      "bad connection ID",
    );
  });

  it("binds the ID to the address it was issued to", () => {
    const { send, connect } = setup();
    const id = connect(V4);
    assert.equal(
      errorOf(send(announcePacket({ connectionID: id }), parseIP("127.0.0.2")!)),
      "bad connection ID",
    );
    assert.equal(errorOf(send(announcePacket({ connectionID: id }), V6)), "bad connection ID");
  });
});

describe("UDP frontend: announce", () => {
  it("answers the worked vector with the worked 26-byte reply", () => {
    const { send } = setup();
    const reply = send(announcePacket())!;
    assert.equal(toHex(reply), "00000001deadbeef0000070800000001000000007f0000011ae1");
  });

  it("stores the peer before handle() returns", () => {
    const { announce, store } = setup();
    announce({});
    assert.equal(
      store.hasPeer(bytes20(), { id: utf8.encode("-TEST01-6wfG2wk6wWLc"), ip: V4, port: 6881 }),
      true,
    );
  });

  it("lets two peers see each other", () => {
    const { announce } = setup();
    const leecher = { peerID: bytes20(0x41), port: 1111, left: 100 };
    const seeder = { peerID: bytes20(0x42), port: 2222, left: 0 };
    announce(leecher);
    const s = announce(seeder);
    assert.deepEqual(s.peers, ["127.0.0.1:1111"]);
    // Storage is written after the reply (chihaya's order), so the seeder counts only the leecher.
    assert.deepEqual([s.seeders, s.leechers], [0, 1]);
    const l = announce(leecher);
    assert.deepEqual(l.peers, ["127.0.0.1:2222"]);
  });

  it("keeps IPv4 and IPv6 swarms apart and writes 18-byte peers for IPv6", () => {
    const { announce } = setup();
    announce({ peerID: bytes20(1), port: 1111 }, V4);
    announce({ peerID: bytes20(2), port: 2222, left: 0 }, parseIP("2001:db8::2")!);
    const r = announce({ peerID: bytes20(3), port: 3333 }, V6);
    assert.equal(r.action, 1);
    assert.deepEqual(r.peers, ["[2001:db8::2]:2222"]);
  });

  it("answers action 4 with action 4, with the peers of the client's family", () => {
    const { announce } = setup();
    announce({ peerID: bytes20(2), port: 2222, left: 0 }, parseIP("2001:db8::2")!);
    const v6 = announce({ action: 4, peerID: bytes20(3), port: 3333 }, V6);
    assert.equal(v6.action, 4);
    assert.deepEqual(v6.peers, ["[2001:db8::2]:2222"]);
    const v4 = announce({ action: 4, port: 4444 }, V4);
    assert.equal(v4.action, 4);
    assert.deepEqual(v4.peers, ["127.0.0.1:4444"], "an IPv4 client gets 6-byte peers");
  });

  it("stops and completes by event id", () => {
    const { announce, connect, send } = setup();
    const peer = { peerID: bytes20(9), port: 9999 };
    const scrape = () => readReply(send(scrapePacket(connect(), [bytes20()]))!).files![0];
    announce({ peerID: bytes20(8), port: 8888, event: 2, left: 10 }); // keeps the swarm alive throughout
    announce({ ...peer, event: 2, left: 10 });
    assert.deepEqual(scrape(), { seeders: 0, completed: 0, leechers: 2 });
    announce({ ...peer, event: 1, left: 0 });
    assert.deepEqual(scrape(), { seeders: 1, completed: 1, leechers: 1 });
    announce({ ...peer, event: 3, left: 0 });
    assert.deepEqual(scrape(), { seeders: 0, completed: 1, leechers: 1 });
    announce({ ...peer, event: 0, left: 10 });
    assert.deepEqual(scrape(), { seeders: 0, completed: 1, leechers: 2 });
  });

  it("gives default_numwant for -1 and clamps to max_numwant", () => {
    const { announce, store } = setup();
    for (let i = 0; i < 150; i++) {
      store.putSeeder(bytes20(), {
        id: bytes20(i),
        ip: Uint8Array.from([10, 0, i >> 8, i & 255]),
        port: 1000 + i,
      });
    }
    assert.equal(announce({ numWant: -1 }).peers!.length, 50);
    assert.equal(announce({ numWant: 7 }).peers!.length, 7);
    assert.equal(announce({ numWant: 1000 }).peers!.length, 100);
    // chihaya #231: with no peers wanted, the announcer sees itself.
    assert.deepEqual(announce({ numWant: 0 }).peers, ["127.0.0.1:6881"]);
  });

  it("answers each malformed announce with its error", () => {
    const { send, connect } = setup();
    const id = connect();
    const cases: [Uint8Array, string][] = [
      [announcePacket({ connectionID: id }).subarray(0, 97), "malformed packet"],
      [announcePacket({ connectionID: id, action: 4 }).subarray(0, 109), "malformed packet"],
      [announcePacket({ connectionID: id, event: 4 }), "malformed event ID"],
      [announcePacket({ connectionID: id, port: 0 }), "invalid port"],
      [announcePacket({ connectionID: id, options: hex("0203") }), "malformed packet"],
      [announcePacket({ connectionID: id, options: hex("7f00") }), "unknown option type"],
      [announcePacket({ connectionID: id, options: urlDataOption("/?a=%zz") }), "invalid query escape"],
      [
        announcePacket({ connectionID: id, options: urlDataOption("/?info_hash=x") }),
        "provided invalid infohash",
      ],
      [announcePacket({ connectionID: id, action: 3 }), "unknown action ID"],
      [announcePacket({ connectionID: id, action: 5 }), "unknown action ID"],
    ];
    for (const [packet, message] of cases) {
      assert.deepEqual(readReply(send(packet)!), { action: 3, tx: 0xdeadbeef, message });
    }
  });

  it("uses the IP field only with spoofing allowed, and 0 means the source", () => {
    const { announce, store } = setup({ allowIPSpoofing: true });
    announce({ peerID: bytes20(1), port: 1111, ip: parseIP("10.9.8.7")! });
    assert.equal(store.hasPeer(bytes20(), { id: bytes20(1), ip: parseIP("10.9.8.7")!, port: 1111 }), true);
    announce({ peerID: bytes20(2), port: 2222 });
    assert.equal(store.hasPeer(bytes20(), { id: bytes20(2), ip: V4, port: 2222 }), true);

    const strict = setup();
    strict.announce({ peerID: bytes20(1), port: 1111, ip: parseIP("10.9.8.7")! });
    assert.equal(strict.store.hasPeer(bytes20(), { id: bytes20(1), ip: V4, port: 1111 }), true);
  });

  it("hands BEP 41 URL data to hooks", () => {
    let seen: AnnounceRequest | undefined;
    const { announce } = setup({ prehooks: [{ handleAnnounce: (_ctx, req) => void (seen = req) }] });
    announce({ options: urlDataOption("/announce/passkey123?jwt=a.b.c") });
    assert.equal(seen?.params.path, "/announce/passkey123");
    assert.equal(seen?.params.string("jwt"), "a.b.c");
  });
});

describe("UDP frontend: scrape", () => {
  it("counts swarms in request order, of the client's family", () => {
    const { send, connect, store } = setup();
    store.putSeeder(bytes20(1), { id: bytes20(1), ip: V4, port: 1 });
    store.putLeecher(bytes20(1), { id: bytes20(2), ip: V4, port: 2 });
    store.putLeecher(bytes20(2), { id: bytes20(3), ip: V4, port: 3 });
    store.putSeeder(bytes20(2), { id: bytes20(4), ip: V6, port: 4 });
    const reply = readReply(send(scrapePacket(connect(), [bytes20(2), bytes20(1), bytes20(3)], 5))!);
    assert.deepEqual(reply, {
      action: 2,
      tx: 5,
      files: [
        { seeders: 0, completed: 0, leechers: 1 },
        { seeders: 1, completed: 0, leechers: 1 },
        { seeders: 0, completed: 0, leechers: 0 },
      ],
    });
    const v6 = readReply(send(scrapePacket(connect(V6), [bytes20(2)]), V6)!);
    assert.deepEqual(v6.files, [{ seeders: 1, completed: 0, leechers: 0 }]);
  });

  it("refuses an empty or ragged scrape and truncates a long one", () => {
    const { send, connect } = setup();
    const id = connect();
    assert.equal(errorOf(send(scrapePacket(id, []))), "malformed packet");
    assert.equal(errorOf(send(Uint8Array.from([...scrapePacket(id, [bytes20()]), 0]))), "malformed packet");
    const hashes = Array.from({ length: 74 }, (_, i) => bytes20(i));
    assert.equal(readReply(send(scrapePacket(id, hashes))!).files!.length, 50);
  });
});

describe("UDP frontend: hooks and failures", () => {
  it("sends a hook's client error", () => {
    const deny: Hook = {
      handleAnnounce() {
        throw new ClientError("unapproved torrent");
      },
    };
    const { announce } = setup({ prehooks: [deny] });
    assert.equal(announce({}).message, "unapproved torrent");
  });

  it("shows internal failures only as internal error, and logs them", () => {
    const lines: string[] = [];
    const log = new Logger({ sink: (l) => lines.push(l) });
    const broken: Hook = {
      handleAnnounce() {
        throw new Error("redis password is hunter2");
      },
      handleScrape() {
        throw new TypeError("boom");
      },
    };
    const { send, connect } = setup({ prehooks: [broken], log });
    const reply = send(announcePacket({ connectionID: connect() }))!;
    assert.equal(errorOf(reply), "internal error");
    assert.ok(!new TextDecoder().decode(reply).includes("hunter2"));
    assert.equal(errorOf(send(scrapePacket(connect(), [bytes20()]))), "internal error");
    assert.ok(lines.some((l) => l.includes("hunter2")), "the cause is logged");
  });

  it("waits for asynchronous hooks and never rejects", async () => {
    const later: Hook = { handleAnnounce: () => new Promise((r) => setTimeout(r, 1)) };
    const { udp, connect } = setup({ prehooks: [later] });
    const pending = udp.handle(announcePacket({ connectionID: connect() }), V4, 1);
    assert.ok(pending instanceof Promise);
    assert.equal(toHex((await pending)!), "00000001deadbeef0000070800000001000000007f0000011ae1");

    const failing: Hook = {
      handleAnnounce: () => Promise.reject(new ClientError("slow no")),
      handleScrape: () => Promise.reject(new Error("secret")),
    };
    const f = setup({ prehooks: [failing] });
    assert.equal(
      errorOf(await f.udp.handle(announcePacket({ connectionID: f.connect() }), V4, 1)),
      "slow no",
    );
    assert.equal(
      errorOf(await f.udp.handle(scrapePacket(f.connect(), [bytes20()]), V4, 1)),
      "internal error",
    );
  });

  it("reads the packet only during the call", async () => {
    const later: Hook = { handleAnnounce: () => new Promise((r) => setTimeout(r, 1)) };
    const { udp, connect, store } = setup({ prehooks: [later] });
    const packet = announcePacket({ connectionID: connect(), tx: 0x01020304 });
    const pending = udp.handle(packet, V4, 1);
    packet.fill(0xaa); // the next datagram lands in the same receive buffer
    const reply = readReply((await pending)!);
    assert.equal(reply.tx, 0x01020304);
    assert.deepEqual(reply.peers, ["127.0.0.1:6881"]);
    assert.equal(
      store.hasPeer(bytes20(), { id: utf8.encode("-TEST01-6wfG2wk6wWLc"), ip: V4, port: 6881 }),
      true,
    );
  });
});

describe("UDP frontend: replies built in the transport's room", () => {
  it("builds a synchronous reply in the room, and never a later one", async () => {
    const { udp, connect } = setup();
    const room = new Uint8Array(2048).fill(0xee);
    const reply = udp.handle(announcePacket({ connectionID: connect() }), V4, 1, room);
    assert.ok(reply instanceof Uint8Array);
    assert.equal(reply.buffer, room.buffer);
    assert.equal(toHex(reply), "00000001deadbeef0000070800000001000000007f0000011ae1");
    const error = udp.handle(announcePacket({ connectionID: new Uint8Array(8) }), V4, 1, room);
    assert.ok(error instanceof Uint8Array);
    assert.equal(error.buffer, room.buffer);
    assert.equal(errorOf(error), "bad connection ID");

    // Answered after the call: the transport has reused its room by then.
    const later: Hook = {
      handleAnnounce: () => new Promise((r) => setTimeout(r, 1)),
      handleScrape: () => Promise.reject(new ClientError("slow no")),
    };
    const a = setup({ prehooks: [later] });
    const pending = a.udp.handle(announcePacket({ connectionID: a.connect() }), V4, 1, room);
    assert.ok(pending instanceof Promise);
    room.fill(0xee);
    const answered = (await pending)!;
    assert.notEqual(answered.buffer, room.buffer);
    assert.equal(toHex(answered), "00000001deadbeef0000070800000001000000007f0000011ae1");
    const refused = a.udp.handle(scrapePacket(a.connect(), [bytes20()]), V4, 1, room);
    room.fill(0xee);
    const failed = (await refused)!;
    assert.notEqual(failed.buffer, room.buffer);
    assert.equal(errorOf(failed), "slow no");
  });
});

describe("UDP frontend: amplification", () => {
  it(`never answers an unverified packet with more than ${UNVERIFIED_AMPLIFICATION}x its size`, () => {
    const { send } = setup();
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 5000; i++) {
      const packet = Uint8Array.from({ length: random() % 200 }, () => random() & 0xff);
      if (i % 3 === 0 && packet.length >= 16) packet.set(hex("0000041727101980"));
      if (i % 5 === 0 && packet.length >= 12) packet.set([0, 0, 0, random() % 6], 8);
      const reply = send(packet);
      if (reply === null) continue;
      assert.ok(
        reply.length <= packet.length * UNVERIFIED_AMPLIFICATION,
        `${reply.length} for ${packet.length}`,
      );
      const r = readReply(reply);
      assert.ok(r.action === 0 || r.message === "bad connection ID");
    }
  });

  it("sends peer lists only for a valid ID, within one datagram", () => {
    const { send, store, connect } = setup();
    for (let i = 0; i < 300; i++) {
      store.putSeeder(bytes20(), {
        id: bytes20(i),
        ip: Uint8Array.from([10, 1, i >> 8, i & 255]),
        port: 1 + i,
      });
    }
    const forged = send(announcePacket({ numWant: 100 }).map((b, i) => (i === 7 ? b ^ 1 : b)));
    assert.equal(forged!.length, 26);
    const real = send(announcePacket({ connectionID: connect(), numWant: 100 }))!;
    assert.equal(real.length, 20 + 6 * 100);
    assert.ok(real.length <= 1472);
  });

  it("survives random packets that carry a valid ID", () => {
    const { send, connect } = setup();
    const id = connect();
    let seed = 99;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 3000; i++) {
      const packet = Uint8Array.from({ length: 16 + (random() % 160) }, () => random() & 0xff);
      packet.set(id);
      const action = random() % 6;
      packet.set([0, 0, 0, action], 8);
      const reply = send(packet);
      if (action === 0) {
        assert.equal(reply, null, "a connect without the magic is dropped");
        continue;
      }
      assert.ok(reply !== null && reply.length <= 1472);
      const r = readReply(reply, 6);
      if (r.action === 3) assert.notEqual(r.message, "internal error", "garbage is a client error");
    }
    assert.equal(readReply(send(announcePacket({ connectionID: id }))!).action, 1);
  });
});
