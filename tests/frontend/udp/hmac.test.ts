import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { HmacSha256, MAX_SHORT_MESSAGE, sha256 } from "../../../src/frontend/udp/hmac.ts";

const be32 = (v: number) => new Uint8Array([v >>> 24, v >>> 16, v >>> 8, v]);
const nodeHmac = (key: Uint8Array, msg: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(msg).digest());

describe("pure-TS HMAC-SHA256", () => {
  it("matches the FIPS 180-4 SHA-256 vectors and node:crypto at every padding boundary", () => {
    const te = new TextEncoder();
    assert.equal(
      toHex(sha256(te.encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.equal(
      toHex(sha256(new Uint8Array(0))),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    for (let n = 0; n < 300; n++) {
      const data = new Uint8Array(randomBytes(n));
      assert.equal(toHex(sha256(data)), createHash("sha256").update(data).digest("hex"), `length ${n}`);
    }
  });

  it("matches RFC 4231 test case 2", () => {
    const te = new TextEncoder();
    const mac = new HmacSha256(te.encode("Jefe"));
    const msg = te.encode("what do ya want for nothing?");
    const word = new DataView(msg.buffer).getUint32(0);
    assert.equal(
      toHex(mac.full(word, msg.subarray(4))),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it("matches node:crypto on random keys and messages", () => {
    for (let round = 0; round < 3000; round++) {
      // Keys around and past the 64-byte block (longer keys are hashed first).
      const key = new Uint8Array(randomBytes(round % 3 === 0 ? round % 200 : round % 70));
      const mac = new HmacSha256(key);
      for (let j = 0; j < 4; j++) {
        const n = [0, 4, 16, (round + j) % (MAX_SHORT_MESSAGE - 3)][j];
        const tail = new Uint8Array(randomBytes(n));
        const word = randomBytes(4).readUInt32BE(0);
        const expected = nodeHmac(key, Uint8Array.from([...be32(word), ...tail]));
        assert.equal(toHex(mac.full(word, tail)), toHex(expected), `key ${key.length}, tail ${n}`);
        assert.equal(mac.prefix32(word, tail), new DataView(expected.buffer).getUint32(0));
      }
    }
  });

  it("is deterministic when reused and refuses a message that needs two blocks", () => {
    const mac = new HmacSha256(new Uint8Array([1, 2, 3]));
    const ip = new Uint8Array([127, 0, 0, 1]);
    const first = mac.prefix32(1_700_000_000, ip);
    mac.prefix32(5, new Uint8Array(16).fill(0xff));
    assert.equal(mac.prefix32(1_700_000_000, ip), first);
    assert.throws(() => mac.prefix32(0, new Uint8Array(MAX_SHORT_MESSAGE - 3)), RangeError);
  });
});
