import { test } from "node:test";
import assert from "node:assert/strict";
import { Event, parseEvent } from "../../src/bittorrent/event.ts";
import { parseIP } from "../../src/bittorrent/ip.ts";
import { clientID, fromHex, peerEqual, peerToString, toHex } from "../../src/bittorrent/peer.ts";

const te = new TextEncoder();
const seq = Uint8Array.from({ length: 20 }, (_, i) => i + 1);

test("InfoHash and PeerID print as lowercase hex", () => {
  assert.equal(toHex(seq), "0102030405060708090a0b0c0d0e0f1011121314");
  assert.deepEqual(fromHex("0102030405060708090A0B0C0D0E0F1011121314"), seq);
  assert.equal(fromHex("0g"), null);
  assert.equal(fromHex("abc"), null);
});

test("Peer.String as chihaya", () => {
  assert.equal(
    peerToString({ id: seq, ip: parseIP("10.11.12.1")!, port: 1234 }),
    "0102030405060708090a0b0c0d0e0f1011121314@[10.11.12.1]:1234",
  );
  assert.equal(
    peerToString({ id: seq, ip: parseIP("2001:db8::ff00:42:8329")!, port: 1234 }),
    "0102030405060708090a0b0c0d0e0f1011121314@[2001:db8::ff00:42:8329]:1234",
  );
  const a = { id: seq, ip: parseIP("1.2.3.4")!, port: 1 };
  assert.equal(peerEqual(a, { ...a }), true);
  assert.equal(peerEqual(a, { ...a, port: 2 }), false);
});

test("clientID: chihaya's vectors", () => {
  const vectors: [string, string][] = [
    ["-AZ3034-6wfG2wk6wWLc", "AZ3034"],
    ["-AZ3042-6ozMq5q6Q3NX", "AZ3042"],
    ["-BS5820-oy4La2MWGEFj", "BS5820"],
    ["-AR6360-6oZyyMWoOOBe", "AR6360"],
    ["-AG2083-s1hiF8vGAAg0", "AG2083"],
    ["-AG3003-lEl2Mm4NEO4n", "AG3003"],
    ["-MR1100-00HS~T7*65rm", "MR1100"],
    ["-LK0140-ATIV~nbEQAMr", "LK0140"],
    ["-KT2210-347143496631", "KT2210"],
    ["-TR0960-6ep6svaa61r4", "TR0960"],
    ["-XX1150-dv220cotgj4d", "XX1150"],
    ["-AZ2504-192gwethivju", "AZ2504"],
    ["-KT4310-3L4UvarKuqIu", "KT4310"],
    ["-AZ2060-0xJQ02d4309O", "AZ2060"],
    ["-BD0300-2nkdf08Jd890", "BD0300"],
    ["-A~0010-a9mn9DFkj39J", "A~0010"],
    ["-UT2300-MNu93JKnm930", "UT2300"],
    ["-UT2300-KT4310KT4301", "UT2300"],
    ["T03A0----f089kjsdf6e", "T03A0-"],
    ["S58B-----nKl34GoNb75", "S58B--"],
    ["M4-4-0--9aa757Efd5Bl", "M4-4-0"],
    ["AZ2500BTeYUzyabAfo6U", "AZ2500"],
    ["exbc0JdSklm834kj9Udf", "exbc0J"],
    ["FUTB0L84j542mVc84jkd", "FUTB0L"],
    ["XBT054d-8602Jn83NnF9", "XBT054"],
    ["OP1011affbecbfabeefb", "OP1011"],
    ["-ML2.7.2-kgjjfkd9762", "ML2.7."],
    ["-BOWA0C-SDLFJWEIORNM", "BOWA0C"],
    ["Q1-0-0--dsn34DFn9083", "Q1-0-0"],
    ["Q1-10-0-Yoiumn39BDfO", "Q1-10-"],
    ["346------SDFknl33408", "346---"],
    ["QVOD0054ABFFEDCCDEDB", "QVOD00"],
  ];
  for (const [pid, want] of vectors) {
    assert.equal(new TextDecoder().decode(clientID(te.encode(pid))), want, pid);
  }
});

test("events parse case-insensitively", () => {
  assert.equal(parseEvent(""), Event.None);
  assert.equal(parseEvent("NONE"), Event.None);
  assert.equal(parseEvent("none"), Event.None);
  assert.equal(parseEvent("started"), Event.Started);
  assert.equal(parseEvent("Stopped"), Event.Stopped);
  assert.equal(parseEvent("completed"), Event.Completed);
  assert.throws(() => parseEvent("notAnEvent"), { message: "unknown event" });
  assert.throws(() => parseEvent("paused"), { message: "unknown event" });
});
