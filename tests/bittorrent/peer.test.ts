import { test } from "node:test";
import assert from "node:assert/strict";
import { Event, parseEvent } from "../../src/bittorrent/event.ts";
import { parseIP } from "../../src/bittorrent/ip.ts";
import { clientID, fromHex, peerEqual, peerToString, toHex } from "../../src/bittorrent/peer.ts";
import { CLIENT_ID_VECTORS } from "../helpers/fixtures.ts";

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
  for (const [pid, want] of CLIENT_ID_VECTORS) {
    assert.equal(new TextDecoder().decode(clientID(te.encode(pid))), want, pid);
  }
});

test("events parse case-insensitively", () => {
  assert.equal(parseEvent(te.encode("")), Event.None);
  assert.equal(parseEvent(te.encode("NONE")), Event.None);
  assert.equal(parseEvent(te.encode("none")), Event.None);
  assert.equal(parseEvent(te.encode("started")), Event.Started);
  assert.equal(parseEvent(te.encode("Stopped")), Event.Stopped);
  assert.equal(parseEvent(te.encode("completed")), Event.Completed);
  assert.throws(() => parseEvent(te.encode("notAnEvent")), { message: "unknown event" });
  assert.throws(() => parseEvent(te.encode("paused")), { message: "unknown event" });
  // Bytes are compared, not text: only ASCII capitals fold, and a byte 0x20 away from a letter is no letter.
  for (const odd of ["startedx", "starte", "\u015btarted", "st\u00c1rted", "STARTE\u00c4"]) {
    assert.throws(() => parseEvent(te.encode(odd)), { message: "unknown event" }, odd);
  }
  assert.throws(() => parseEvent(Uint8Array.of(0xd3, ...te.encode("tarted"))), { message: "unknown event" });
  assert.throws(() => parseEvent(Uint8Array.of(0x13, ...te.encode("tarted"))), { message: "unknown event" });
});
