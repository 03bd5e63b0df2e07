import { test } from "node:test";
import assert from "node:assert/strict";
import {
  escapeAt,
  KeySet,
  noParams,
  Params,
  parseUint,
  parseURLData,
  uintIn,
} from "../../src/bittorrent/params.ts";

const te = new TextEncoder();
const parse = (s: string) => parseURLData(te.encode(s));

/** Go's url.Values.Encode: sorted keys, QueryEscape (space as "+"). */
function goEncode(values: Record<string, string>): string {
  const esc = (s: string) =>
    Array.from(
      te.encode(s),
      (c) =>
        /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(c))
          ? String.fromCharCode(c)
          : c === 0x20
          ? "+"
          : "%" + c.toString(16).toUpperCase().padStart(2, "0"),
    ).join("");
  return Object.keys(values).sort().map((k) => `${esc(k)}=${esc(values[k])}`).join("&");
}

const base = { peer_id: "-TEST01-6wfG2wk6wWLc", port: "6881", downloaded: "1234", left: "4321" };
const withIP = { ...base, ip: "192.168.0.1" };
const c7 = { ...base, no_peer_id: "1" };
const c8 = { ...c7, compact: "0" };
const c9 = { ...c8, key: "peerKey" };
const c10 = { ...c9, trackerid: "trackerId" };
const valid: Record<string, string>[] = [
  {},
  base,
  withIP,
  { ...withIP, numwant: "28" },
  { ...withIP, event: "stopped" },
  { ...withIP, event: "started", numwant: "13" },
  c7,
  c8,
  c9,
  c10,
  { ...c10, peer_id: "%3Ckey%3A+0x90%3E" },
  { peer_id: "%3Ckey%3A+0x90%3E", compact: "1" },
  { peer_id: "", compact: "" },
];

test("ParseURLData: chihaya's valid vectors", () => {
  assert.deepEqual(parse("").toRecord(), {});
  for (const values of valid) {
    const p = parse("/announce?" + goEncode(values));
    assert.equal(p.path, "/announce");
    assert.deepEqual(p.toRecord(), values);
  }
});

test("ParseURLData: bad escapes and infohash lengths", () => {
  assert.throws(() => parse("/announce?info_hash=%0%a"), { message: "invalid query escape" });
  assert.throws(() => parse("/announce?a=%"), { message: "invalid query escape" });
  assert.throws(() => parse("/announce?a=%zz"), { message: "invalid query escape" });
  assert.throws(() => parse("/announce?info_hash=short"), { message: "provided invalid infohash" });
  assert.throws(() => parse("/announce?info_hash=" + "a".repeat(21)), {
    message: "provided invalid infohash",
  });
});

test("ParseURLData: must not panic on chihaya #334 inputs", () => {
  const a = parse("/annnounce?info_hash=-TEST01-6wfG2wk6wWLc&a");
  assert.equal(a.infoHashes.length, 1);
  assert.equal(a.string("a"), "");
  const b = parse("/annnounce?info_hash=-TEST01-6wfG2wk6wWLc&=b?");
  assert.equal(b.string(""), "b?");
});

test("ParseURLData: binary infohashes survive raw percent-decoding", () => {
  const ih = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 200) & 0xff);
  const escaped = Array.from(ih, (c) => "%" + c.toString(16).padStart(2, "0")).join("");
  const p = parse(`/announce?info_hash=${escaped}&info_hash=${"x".repeat(20)}`);
  assert.equal(p.infoHashes.length, 2);
  assert.deepEqual(p.infoHashes[0], ih);
  assert.deepEqual(p.infoHashes[1], te.encode("x".repeat(20)));
  assert.equal(p.has("info_hash"), false);
});

test("ParseURLData: ; separates, keys lower-cased, last value wins, + is a space", () => {
  const p = parse("/scrape?A=1;a=2&&b=x+y&Port=6881");
  assert.equal(p.string("a"), "2");
  assert.equal(p.string("b"), "x y");
  assert.equal(p.string("port"), "6881");
  assert.equal(p.has("missing"), false);
  assert.equal(p.bytes("missing"), undefined);
  // INFO_HASH is not an infohash (case-sensitive, as chihaya).
  const q = parse("/a?INFO_HASH=abc");
  assert.equal(q.infoHashes.length, 0);
  assert.equal(q.string("info_hash"), "abc");
});

test("parseUint: base-10 only, bounded, exact at 2^64 - 1", () => {
  assert.equal(parseUint(te.encode("0"), 10), 0);
  assert.equal(parseUint(te.encode("65535"), 0xffff), 65535);
  assert.equal(parseUint(te.encode("65536"), 0xffff), -1);
  assert.equal(parseUint(te.encode(""), 10), -1);
  assert.equal(parseUint(undefined, 10), -1);
  assert.equal(parseUint(te.encode("-1"), 10), -1);
  assert.equal(parseUint(te.encode("+1"), 10), -1);
  assert.equal(parseUint(te.encode("1e3"), 1e9), -1);
  assert.equal(parseUint(te.encode("18446744073709551615"), 18446744073709551615), 18446744073709551615);
  assert.equal(parseUint(te.encode("18446744073709551616"), 18446744073709551615), -1);
  assert.equal(parseUint(te.encode("99999999999999999999"), 18446744073709551615), -1);
  assert.equal(parseUint(te.encode("123456789012345678901"), 18446744073709551615), -1);
});

test("locate finds many keys in one pass: the last value wins, absent keys are -1, agreeing with the one-key lookups", () => {
  const keys = new KeySet(["port", "left", "peer_id", "numwant", "event", "none"]);
  const at = new Int32Array(keys.names.length);
  const p = parse(
    "/announce?Port=1&left=5&peer_id=abc&port=6881&numwant=&leftover=9&even=1&info_hash=" + "a".repeat(20),
  );
  p.locate(keys, at);
  assert.equal(p.uintAt(at[0], 0xffff), 6881, "the last port, matched case-insensitively");
  assert.equal(p.uintAt(at[1], 100), 5, "left, not leftover");
  assert.deepEqual(p.bytesAt(at[2]), te.encode("abc"));
  assert.deepEqual(p.bytesAt(at[3]), new Uint8Array(0), "present with an empty value");
  assert.equal(p.uintAt(at[3], 100), -1);
  assert.equal(at[4], -1, "even is not event");
  assert.equal(at[5], -1);
  assert.equal(p.bytesAt(at[5]), undefined);
  for (const [k, name] of keys.names.entries()) {
    assert.equal(at[k] >= 0, p.has(name), name);
    assert.deepEqual(p.bytesAt(at[k]), p.bytes(name), name);
  }
  // A reused scratch is cleared: nothing from the request before.
  noParams().locate(keys, at);
  assert.deepEqual([...at], [-1, -1, -1, -1, -1, -1]);
});

test("percent escapes decode anywhere in keys and values, and a broken one is refused wherever it stands", () => {
  assert.deepEqual(parse("/?%41%62c=%00%ff%2B+x&k%3Dy=1").toRecord(), { abc: "\u0000\ufffd+ x", "k=y": "1" });
  assert.deepEqual([...parse("/?v=%00%ff%80").bytes("v")!], [0x00, 0xff, 0x80]);
  for (const bad of ["/?a=%", "/?a=%4", "/?a=%g1", "/?a=%1g", "/?a=x%%41", "/?%zz=1", "/?a=1&b=%2"]) {
    assert.throws(() => parse(bad), (e: Error) => e.message === "invalid query escape", bad);
  }
});

test("Params.deferred parses its copy only when read, and then reads as parseURLData's", () => {
  const queries = [
    "?Info_Hash=x&info_hash=%01%02%03%04%05%06%07%08%09%10%11%12%13%14%15%16%17%18%19%20&a=1;a=2&b+c=d+e&flag",
    "?",
    "?info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb&jwt=x.y.z",
  ];
  const keys = new KeySet(["a", "jwt", "flag"]);
  for (const q of queries) {
    const raw = te.encode(q);
    const eager = parseURLData(raw, 0, raw.length, "/announce");
    for (const read of ["infoHashes", "string", "has", "locate", "toRecord"]) {
      const p = Params.deferred(raw.slice(), "/announce");
      const at = new Int32Array(3), want = new Int32Array(3);
      if (read === "infoHashes") assert.deepEqual(p.infoHashes, eager.infoHashes);
      if (read === "string") assert.equal(p.string("a"), eager.string("a"));
      if (read === "has") assert.equal(p.has("flag"), eager.has("flag"));
      if (read === "locate") {
        p.locate(keys, at);
        eager.locate(keys, want);
        assert.deepEqual([...at].map((e) => p.bytesAt(e)), [...want].map((e) => eager.bytesAt(e)));
      }
      assert.deepEqual(p.toRecord(), eager.toRecord(), `after reading ${read} first`);
      assert.deepEqual(p.infoHashes, eager.infoHashes);
      assert.equal(p.path, "/announce");
    }
  }
});

test("escapeAt and uintIn read in place what the parser decodes", () => {
  const b = te.encode("x%4a%4G%4=123&%0");
  assert.equal(escapeAt(b, 1, b.length), 0x4a);
  assert.equal(escapeAt(b, 4, b.length), -1, "not hex");
  assert.equal(escapeAt(b, 7, b.length), -1, "not hex");
  assert.equal(escapeAt(b, 14, b.length), -1, "cut short by the end");
  assert.equal(escapeAt(b, 1, 4), 0x4a, "the digits just fit");
  assert.equal(escapeAt(b, 1, 3), -1, "cut short by `to`");
  assert.equal(uintIn(b, 10, 13, 1000), 123);
  assert.equal(uintIn(b, 10, 13, 100), -1, "above max");
  assert.equal(uintIn(b, 10, 14, 1000), -1, "not a digit");
  assert.equal(uintIn(b, 10, 10, 1000), -1, "empty");
  const keys = new KeySet(["port", "peer_id", "left"]);
  const k = te.encode("xportleftpeer_idport_");
  assert.equal(keys.indexOf(k, 1, 5), 0);
  assert.equal(keys.indexOf(k, 5, 9), 2);
  assert.equal(keys.indexOf(k, 9, 16), 1);
  assert.equal(keys.indexOf(k, 16, 21), -1);
  assert.equal(keys.indexOf(k, 0, 4), -1);
});
