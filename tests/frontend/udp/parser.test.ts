import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Event } from "../../../src/bittorrent/event.ts";
import { parseIP } from "../../../src/bittorrent/ip.ts";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { PeerList } from "../../../src/bittorrent/request.ts";
import type { AnnounceResponse } from "../../../src/bittorrent/request.ts";
import {
  isConnectMagic,
  parseAnnounce,
  parseScrape,
  parseURLOptions,
  type UDPParseOptions,
} from "../../../src/frontend/udp/parser.ts";
import {
  MAX_ERROR_MESSAGE,
  MAX_SCRAPE_PER_REPLY,
  maxPeersPerReply,
  writeAnnounce,
  writeConnect,
  writeError,
  writeScrape,
} from "../../../src/frontend/udp/writer.ts";
import { announcePacket, bytes20, hex, readReply, scrapePacket, urlDataOption, utf8 } from "./packets.ts";

const opts: UDPParseOptions = {
  allowIPSpoofing: false,
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
};
const spoofing = { ...opts, allowIPSpoofing: true };
const v4 = parseIP("127.0.0.1")!;
const v6 = parseIP("2001:db8::1")!;
const conn = hex("6553f100cbd42512");

const WORKED_ANNOUNCE = hex(`6553f100cbd42512 00000001 deadbeef 0102030405060708090a0b0c0d0e0f1011121314
  2d5445535430312d3677664732776b3677574c63 00000000000004d2 00000000000010e1 0000000000000000
  00000002 00000000 11223344 ffffffff 1ae1`);

function clientErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
}

describe("UDP announce parsing", () => {
  it("reads the worked 98-byte vector", () => {
    assert.equal(WORKED_ANNOUNCE.length, 98);
    assert.deepEqual(announcePacket(), WORKED_ANNOUNCE, "the test builder agrees with the vector");
    const req = parseAnnounce(WORKED_ANNOUNCE, v4, opts);
    assert.equal(toHex(req.infoHash), "0102030405060708090a0b0c0d0e0f1011121314");
    assert.equal(new TextDecoder().decode(req.peer.id), "-TEST01-6wfG2wk6wWLc");
    assert.deepEqual(req.peer.ip, v4);
    assert.equal(req.peer.port, 6881);
    assert.equal(req.downloaded, 1234);
    assert.equal(req.left, 4321);
    assert.equal(req.uploaded, 0);
    assert.equal(req.event, Event.Started);
    assert.equal(req.eventProvided, true);
    assert.equal(req.numWant, 50, "-1 means default_numwant");
    assert.equal(req.numWantProvided, false);
    assert.equal(req.ipProvided, false);
    assert.equal(req.compact, true);
    assert.deepEqual(req.params.toRecord(), {});
    assert.equal(req.params.path, "");
  });

  it("reads the worked vector with BEP 41 URL data appended", () => {
    const packet = Uint8Array.from([...WORKED_ANNOUNCE, ...hex("0205"), ...utf8.encode("/?a=b"), 0]);
    assert.deepEqual(parseAnnounce(packet, v4, opts).params.toRecord(), { a: "b" });
  });

  it("copies what it keeps, so the receive buffer can be reused", () => {
    const packet = announcePacket();
    const req = parseAnnounce(packet, v4, opts);
    packet.fill(0xee);
    assert.equal(toHex(req.infoHash), toHex(bytes20()));
    assert.equal(req.peer.id[0], 0x2d);
  });

  it("reads full 64-bit counters", () => {
    const req = parseAnnounce(
      announcePacket({ left: 2 ** 40 + 7, downloaded: 2 ** 33, uploaded: 5 }),
      v4,
      opts,
    );
    assert.equal(req.left, 2 ** 40 + 7);
    assert.equal(req.downloaded, 2 ** 33);
    assert.equal(req.uploaded, 5);
  });

  it("needs 98 bytes for action 1 and 110 for action 4", () => {
    assert.equal(
      clientErrorOf(() => parseAnnounce(WORKED_ANNOUNCE.subarray(0, 97), v4, opts)),
      "malformed packet",
    );
    const a4 = announcePacket({ action: 4 });
    assert.equal(a4.length, 110);
    assert.equal(clientErrorOf(() => parseAnnounce(a4.subarray(0, 109), v6, opts)), "malformed packet");
    assert.equal(parseAnnounce(a4, v6, opts).peer.port, 6881);
  });

  it("maps event ids 0..3 and refuses the rest", () => {
    const expected = [Event.None, Event.Completed, Event.Started, Event.Stopped];
    expected.forEach((e, id) =>
      assert.equal(parseAnnounce(announcePacket({ event: id }), v4, opts).event, e)
    );
    for (const id of [4, 5, 0x100, 0xffffffff]) {
      assert.equal(
        clientErrorOf(() => parseAnnounce(announcePacket({ event: id }), v4, opts)),
        "malformed event ID",
      );
    }
  });

  it("takes -1 as default_numwant and clamps to max_numwant", () => {
    const want = (numWant: number, o = opts, ip = v4) => parseAnnounce(announcePacket({ numWant }), ip, o);
    assert.equal(want(-1).numWant, 50);
    assert.equal(want(-7).numWant, 50, "any negative value means default");
    assert.equal(want(0).numWant, 0);
    assert.equal(want(0).numWantProvided, true);
    assert.equal(want(30).numWant, 30);
    assert.equal(want(1000).numWant, 100);
    const big = { ...opts, maxNumWant: 5000, defaultNumWant: 4000 };
    assert.equal(want(5000, big).numWant, maxPeersPerReply(4), "capped to what fits one IPv4 reply");
    assert.equal(want(-1, big).numWant, maxPeersPerReply(4));
    assert.equal(want(5000, big, v6).numWant, maxPeersPerReply(6), "capped to what fits one IPv6 reply");
  });

  it("refuses port 0", () => {
    assert.equal(clientErrorOf(() => parseAnnounce(announcePacket({ port: 0 }), v4, opts)), "invalid port");
  });

  it("ignores the IP field unless spoofing is allowed", () => {
    const req = parseAnnounce(announcePacket({ ip: parseIP("10.1.2.3")! }), v4, opts);
    assert.deepEqual(req.peer.ip, v4);
    assert.equal(req.ipProvided, false);
  });

  it("with spoofing, a non-zero IP of the client's family replaces the source", () => {
    const spoofed = parseAnnounce(announcePacket({ ip: parseIP("10.1.2.3")! }), v4, spoofing);
    assert.deepEqual(spoofed.peer.ip, parseIP("10.1.2.3"));
    assert.equal(spoofed.ipProvided, true);

    const zero = parseAnnounce(announcePacket({ ip: new Uint8Array(4) }), v4, spoofing);
    assert.deepEqual(zero.peer.ip, v4, "0.0.0.0 means the source address (BEP 15)");
    assert.equal(zero.ipProvided, false);

    const v6Client = parseAnnounce(announcePacket({ ip: parseIP("10.1.2.3")! }), v6, spoofing);
    assert.deepEqual(v6Client.peer.ip, v6, "an IPv4 field never overwrites part of an IPv6 source");

    const other = parseIP("2001:db8::99")!;
    const a4 = parseAnnounce(announcePacket({ action: 4, ip: other }), v6, spoofing);
    assert.deepEqual(a4.peer.ip, other);
    const a4zero = parseAnnounce(announcePacket({ action: 4 }), v6, spoofing);
    assert.deepEqual(a4zero.peer.ip, v6);

    const mapped = hex("00000000000000000000ffff0a010203");
    const a4v4 = parseAnnounce(announcePacket({ action: 4, ip: mapped }), v4, spoofing);
    assert.deepEqual(a4v4.peer.ip, parseIP("10.1.2.3"), "an IPv4-mapped field counts as IPv4");
    const a4v4other = parseAnnounce(announcePacket({ action: 4, ip: other }), v4, spoofing);
    assert.deepEqual(a4v4other.peer.ip, v4, "an IPv6 field does not change an IPv4 client's family");
  });

  it("refuses a spoofed address no peer can be reached at", () => {
    for (const ip of ["224.0.0.1", "255.255.255.255"]) {
      assert.equal(
        clientErrorOf(() => parseAnnounce(announcePacket({ ip: parseIP(ip)! }), v4, spoofing)),
        "invalid IP",
      );
    }
  });
});

describe("BEP 41 options", () => {
  // chihaya's handleOptionalParameters table.
  const cases: [string, Uint8Array, Record<string, string> | string][] = [
    ['02 05 "/?a=b"', Uint8Array.from([2, 5, ...utf8.encode("/?a=b")]), { a: "b" }],
    ["02 00", hex("0200"), {}],
    ["02 01", hex("0201"), "malformed packet"],
    ["02", hex("02"), "malformed packet"],
    ['02 08 "/c/d?a=b"', Uint8Array.from([2, 8, ...utf8.encode("/c/d?a=b")]), { a: "b" }],
    ['02 02 "/?" 02 03 "a=b"', Uint8Array.from([2, 2, ...utf8.encode("/?"), 2, 3, ...utf8.encode("a=b")]), {
      a: "b",
    }],
    ['02 09 "/?a=b%20c"', Uint8Array.from([2, 9, ...utf8.encode("/?a=b%20c")]), { a: "b c" }],
  ];
  for (const [name, options, expected] of cases) {
    it(name, () => {
      if (typeof expected === "string") {
        assert.equal(clientErrorOf(() => parseURLOptions(options, 0)), expected);
      } else {
        assert.deepEqual(parseURLOptions(options, 0).toRecord(), expected);
      }
    });
  }

  it("treats no options as empty URL data", () => {
    const p = parseURLOptions(new Uint8Array(0), 0);
    assert.deepEqual(p.toRecord(), {});
    assert.equal(p.path, "");
  });

  it("skips NOPs, stops at EndOfOptions and ignores what follows", () => {
    const options = Uint8Array.from([
      1,
      1,
      2,
      4,
      ...utf8.encode("/?x="),
      1,
      2,
      1,
      ...utf8.encode("1"),
      0,
      0xff,
      0xff,
    ]);
    assert.deepEqual(parseURLOptions(options, 0).toRecord(), { x: "1" });
  });

  it("refuses an unknown option type", () => {
    assert.equal(clientErrorOf(() => parseURLOptions(hex("0303616263"), 0)), "unknown option type");
  });

  it("hands a passkey path, long URL data and escape errors to the URL data parser", () => {
    const long = "/announce/0123456789abcdef?jwt=" + "x".repeat(400);
    const p = parseURLOptions(urlDataOption(long), 0);
    assert.equal(p.path, "/announce/0123456789abcdef");
    assert.equal(p.string("jwt"), "x".repeat(400));
    assert.equal(clientErrorOf(() => parseURLOptions(urlDataOption("/?a=%0"), 0)), "invalid query escape");
    assert.equal(
      clientErrorOf(() => parseURLOptions(urlDataOption("/?info_hash=short"), 0)),
      "provided invalid infohash",
    );
  });

  it("reads options after the 16-byte IP field of action 4", () => {
    const packet = announcePacket({ action: 4, options: urlDataOption("/?k=v") });
    assert.deepEqual(parseAnnounce(packet, v6, opts).params.toRecord(), { k: "v" });
  });
});

describe("UDP scrape parsing", () => {
  it("needs at least one whole infohash", () => {
    assert.equal(clientErrorOf(() => parseScrape(scrapePacket(conn, []), v4, opts)), "malformed packet");
    const one = scrapePacket(conn, [bytes20()]);
    assert.equal(clientErrorOf(() => parseScrape(one.subarray(0, 35), v4, opts)), "malformed packet");
    assert.equal(
      clientErrorOf(() => parseScrape(Uint8Array.from([...one, 1]), v4, opts)),
      "malformed packet",
    );
    assert.equal(parseScrape(one, v4, opts).infoHashes.length, 1);
    const two = parseScrape(scrapePacket(conn, [bytes20(1), bytes20(2)]), v6, opts);
    assert.deepEqual(two.infoHashes, [bytes20(1), bytes20(2)]);
    assert.equal(two.family, 6);
  });

  it("truncates to max_scrape_infohashes and to one reply", () => {
    const hashes = Array.from({ length: 130 }, (_, i) => bytes20(i));
    assert.equal(parseScrape(scrapePacket(conn, hashes), v4, opts).infoHashes.length, 50);
    const many = { ...opts, maxScrapeInfoHashes: 1000 };
    assert.equal(parseScrape(scrapePacket(conn, hashes), v4, many).infoHashes.length, MAX_SCRAPE_PER_REPLY);
  });
});

describe("UDP replies", () => {
  function response(peers: string[], family: 4 | 6 = 4): AnnounceResponse {
    const list = new PeerList(family);
    for (const p of peers) {
      const colon = p.lastIndexOf(":");
      list.push({ id: bytes20(), ip: parseIP(p.slice(0, colon))!, port: Number(p.slice(colon + 1)) });
    }
    return {
      compact: true,
      complete: 0,
      incomplete: 1,
      interval: 1800,
      minInterval: 900,
      ipv4Peers: family === 4 ? list : new PeerList(4),
      ipv6Peers: family === 6 ? list : new PeerList(6),
    };
  }

  it("writes the worked 26-byte announce reply", () => {
    const reply = writeAnnounce(1, 0xdeadbeef, response(["127.0.0.1:6881"]), 4);
    assert.equal(toHex(reply), "00000001deadbeef0000070800000001000000007f0000011ae1");
  });

  it("writes 18-byte peers for IPv6 and echoes action 4", () => {
    const reply = writeAnnounce(4, 1, response(["[2001:db8::1]:6881"], 6), 6);
    assert.equal(reply.length, 20 + 18);
    assert.deepEqual(readReply(reply, 18), {
      action: 4,
      tx: 1,
      interval: 1800,
      leechers: 1,
      seeders: 0,
      peers: ["[2001:db8::1]:6881"],
    });
  });

  it("caps peer lists to one 1500-byte-MTU datagram", () => {
    assert.equal(maxPeersPerReply(4), 242);
    assert.equal(maxPeersPerReply(6), 79);
    const many4 = response(Array.from({ length: 300 }, (_, i) => `10.0.${i >> 8}.${i & 255}:1`));
    assert.equal(writeAnnounce(1, 0, many4, 4).length, 20 + 6 * 242);
    assert.ok(20 + 6 * 242 <= 1500 - 20 - 8);
    const many6 = response(Array.from({ length: 100 }, (_, i) => `[2001:db8::${i + 1}]:1`), 6);
    assert.equal(writeAnnounce(1, 0, many6, 6).length, 20 + 18 * 79);
    assert.ok(20 + 18 * 79 <= 1500 - 40 - 8);
  });

  it("writes connect, scrape and error replies", () => {
    assert.equal(toHex(writeConnect(0xdeadbeef, conn)), "00000000deadbeef6553f100cbd42512");
    const scrape = writeScrape(0xdeadbeef, {
      files: [{ infoHash: bytes20(), complete: 1, downloaded: 3, incomplete: 2 }],
    });
    assert.equal(toHex(scrape), "00000002deadbeef000000010000000300000002");
    assert.equal(
      toHex(writeError(0xdeadbeef, "bad connection ID")),
      "00000003deadbeef" + toHex(utf8.encode("bad connection ID")) + "00",
    );
  });

  it("builds each reply in a dirty room byte for byte as in fresh memory, or elsewhere when it does not fit", () => {
    const scrape = { files: [{ infoHash: bytes20(), complete: 1, downloaded: 3, incomplete: 2 }] };
    const writers: [string, (room?: Uint8Array) => Uint8Array][] = [
      ["connect", (room) => writeConnect(0xdeadbeef, conn, room)],
      ["announce", (room) => writeAnnounce(1, 7, response(["127.0.0.1:6881", "10.0.0.2:1"]), 4, room)],
      ["scrape", (room) => writeScrape(9, scrape, room)],
      ["error", (room) => writeError(3, "bad connection ID", room)],
    ];
    for (const [what, write] of writers) {
      const fresh = write();
      const room = new Uint8Array(64).fill(0xff);
      const built = write(room);
      assert.equal(built.buffer, room.buffer, `${what}: built in the room`);
      assert.equal(built.byteOffset, 0, what);
      assert.equal(toHex(built), toHex(fresh), what);
      const small = new Uint8Array(fresh.length - 1);
      const elsewhere = write(small);
      assert.notEqual(elsewhere.buffer, small.buffer, `${what}: too small a room is left alone`);
      assert.equal(toHex(elsewhere), toHex(fresh), what);
    }
  });

  it("cuts a long error message at a character boundary", () => {
    const reply = writeError(7, "é".repeat(500));
    assert.ok(reply.length <= 8 + MAX_ERROR_MESSAGE + 1);
    const message = readReply(reply).message!;
    assert.equal(message, "é".repeat(message.length), "no broken UTF-8 sequence");
    assert.equal(message.length, Math.floor(MAX_ERROR_MESSAGE / 2));
  });

  it("recognises the connect magic", () => {
    assert.equal(isConnectMagic(hex("000004172710198000000000deadbeef")), true);
    assert.equal(isConnectMagic(hex("000004172710198100000000deadbeef")), false);
  });
});
