import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { parseIP } from "../../../src/bittorrent/ip.ts";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { CONNECTION_ID_SIZE, ConnectionIDs } from "../../../src/frontend/udp/connection_id.ts";

const ip = (s: string) => parseIP(s)!;
const ids = (key: string, maxClockSkew = 60_000, lifetime = 120_000) =>
  new ConnectionIDs({ key, lifetime, maxClockSkew });

describe("connection IDs", () => {
  it("match the issue's vectors", () => {
    assert.equal(toHex(ids("").create(ip("127.0.0.1"), 0)), "000000001de70a69");
    assert.equal(toHex(ids("secret").create(ip("127.0.0.1"), 1_700_000_000)), "6553f100cbd42512");
    assert.equal(toHex(ids("secret").create(ip("2001:db8::1"), 1_700_000_000)), "6553f10008e2e6e7");
  });

  it("hash the 16-byte form of an IPv6 address, not a mapped IPv4 one", () => {
    // What chihaya's unit test produces with net.ParseIP's 16-byte ::ffff:127.0.0.1.
    const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    assert.equal(toHex(ids("").create(mapped, 0)), "00000000c0417cfb");
  });

  // chihaya's golden table: (createdAt, now, ip, key, valid) with a 1-minute skew.
  const golden: [number, number, string, string, boolean][] = [
    [0, 1, "127.0.0.1", "", true],
    [0, 420420, "127.0.0.1", "", false],
    [0, 0, "[::]", "", true],
  ];
  for (const [createdAt, now, addr, key, valid] of golden) {
    it(`golden: created ${createdAt}, checked ${now}, ${addr} → ${valid}`, () => {
      const gen = ids(key);
      const id = gen.create(ip(addr), createdAt);
      assert.equal(id.length, CONNECTION_ID_SIZE);
      // The generator agrees with a direct HMAC of ts ‖ ip.
      const ts = new Uint8Array([createdAt >>> 24, createdAt >>> 16, createdAt >>> 8, createdAt]);
      const mac = createHmac("sha256", key).update(ts).update(ip(addr)).digest();
      assert.equal(toHex(id), toHex(ts) + toHex(mac.subarray(0, 4)));
      // A reused generator is deterministic.
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(gen.create(ip(addr), createdAt), id);
        assert.equal(gen.valid(id, ip(addr), now), valid);
      }
    });
  }

  it("MACs the timestamp alone for an empty address (chihaya's nil IP)", () => {
    const mac = createHmac("sha256", "").update(new Uint8Array(4)).digest();
    assert.equal(toHex(ids("").create(new Uint8Array(0), 0)), "00000000" + toHex(mac.subarray(0, 4)));
  });

  it("is valid from its time to time + lifetime", () => {
    const gen = ids("k", 0, 120_000);
    const id = gen.create(ip("10.0.0.1"), 1000);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 1000), true);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 1120), true);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 1121), false);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 999), false, "no skew allowed");
  });

  it("accepts a timestamp up to max_clock_skew in the future", () => {
    const gen = ids("k", 10_000);
    const id = gen.create(ip("10.0.0.1"), 1010);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 1000), true);
    assert.equal(gen.valid(id, ip("10.0.0.1"), 999), false);
  });

  it("is bound to the address and the key", () => {
    const gen = ids("k");
    const id = gen.create(ip("10.0.0.1"), 1000);
    assert.equal(gen.valid(id, ip("10.0.0.2"), 1000), false);
    assert.equal(ids("other").valid(id, ip("10.0.0.1"), 1000), false);
    assert.equal(ids("k").valid(id, ip("10.0.0.1"), 1000), true, "another instance with the same key");
  });

  it("rejects a flipped MAC bit and a short ID", () => {
    const gen = ids("k");
    const id = gen.create(ip("::1"), 1000);
    for (let bit = 32; bit < 64; bit++) {
      const forged = id.slice();
      forged[bit >> 3] ^= 1 << (bit & 7);
      assert.equal(gen.valid(forged, ip("::1"), 1000), false);
    }
    assert.equal(gen.valid(id.subarray(0, 7), ip("::1"), 1000), false);
  });

  it("reads the ID at an offset and writes into a reply", () => {
    const gen = ids("secret");
    const reply = new Uint8Array(16);
    gen.write(ip("127.0.0.1"), 1_700_000_000, reply, 8);
    assert.equal(toHex(reply.subarray(8)), "6553f100cbd42512");
    assert.equal(gen.valid(reply, ip("127.0.0.1"), 1_700_000_000, 8), true);
  });
});
