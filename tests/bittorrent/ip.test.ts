import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIP, isUsableIP, normalizeIP, parseIP } from "../../src/bittorrent/ip.ts";

test("parseIP: IPv4", () => {
  assert.deepEqual(parseIP("127.0.0.1"), new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(parseIP("255.255.255.255"), new Uint8Array([255, 255, 255, 255]));
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1..2.3",
      "a.b.c.d",
      " 1.2.3.4",
      "1.2.3.4 ",
    ]
  ) {
    assert.equal(parseIP(bad), null, bad);
  }
});

test("parseIP: IPv6, brackets, mapped IPv4 normalised", () => {
  assert.equal(formatIP(parseIP("2001:db8::1")!), "2001:db8::1");
  assert.equal(formatIP(parseIP("[::1]")!), "::1");
  assert.equal(parseIP("::")!.length, 16);
  assert.equal(formatIP(parseIP("fe80:0:0:0:0:0:0:1")!), "fe80::1");
  assert.equal(formatIP(parseIP("1:2:3:4:5:6:7:8")!), "1:2:3:4:5:6:7:8");
  assert.equal(formatIP(parseIP("2001:DB8::FF00:42:8329")!), "2001:db8::ff00:42:8329");
  assert.deepEqual(parseIP("::ffff:127.0.0.1"), new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(parseIP("::ffff:7f00:1"), new Uint8Array([127, 0, 0, 1]));
  for (
    const bad of [
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      "g::1",
      "1:2:3:4:5:6:7",
      ":1::",
      "1::2:",
      "fe80::1%eth0",
    ]
  ) {
    assert.equal(parseIP(bad), null, bad);
  }
});

test("formatIP picks the longest zero run (RFC 5952)", () => {
  assert.equal(formatIP(parseIP("1:0:0:2:0:0:0:3")!), "1:0:0:2::3");
  assert.equal(formatIP(parseIP("1:0:2:3:4:5:6:7")!), "1:0:2:3:4:5:6:7");
  assert.equal(formatIP(new Uint8Array([10, 11, 12, 1])), "10.11.12.1");
});

test("normalizeIP and isUsableIP", () => {
  const mapped = new Uint8Array(16);
  mapped[10] = mapped[11] = 0xff;
  mapped.set([1, 2, 3, 4], 12);
  assert.deepEqual(normalizeIP(mapped), new Uint8Array([1, 2, 3, 4]));
  assert.equal(isUsableIP(parseIP("0.0.0.0")!), false);
  assert.equal(isUsableIP(parseIP("224.0.0.1")!), false);
  assert.equal(isUsableIP(parseIP("255.255.255.255")!), false);
  assert.equal(isUsableIP(parseIP("::")!), false);
  assert.equal(isUsableIP(parseIP("ff02::1")!), false);
  assert.equal(isUsableIP(parseIP("1.1.1.1")!), true);
  assert.equal(isUsableIP(parseIP("::1")!), true);
});
