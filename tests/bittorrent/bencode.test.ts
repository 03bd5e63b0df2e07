import { test } from "node:test";
import assert from "node:assert/strict";
import { BencodeError, BencodeWriter, decode, encode } from "../../src/bittorrent/bencode.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);
const text = (v: unknown) => td.decode(v as Uint8Array);

test("decode: chihaya's vectors", () => {
  assert.equal(decode(b("i42e")), 42);
  assert.equal(decode(b("i-42e")), -42);
  assert.equal(text(decode(b("7:example"))), "example");
  assert.deepEqual((decode(b("l3:one3:twoe")) as Uint8Array[]).map(text), ["one", "two"]);
  assert.deepEqual(decode(b("le")), []);
  const d = decode(b("d3:one2:aa3:two2:bbe")) as Record<string, Uint8Array>;
  assert.deepEqual(Object.keys(d), ["one", "two"]);
  assert.equal(text(d.one), "aa");
  assert.equal(text(d.two), "bb");
  assert.deepEqual({ ...(decode(b("de")) as object) }, {});
});

test("encode: chihaya's vectors, keys sorted", () => {
  assert.equal(text(encode(42)), "i42e");
  assert.equal(text(encode(-42)), "i-42e");
  assert.equal(text(encode(0)), "i0e");
  assert.equal(text(encode(18446744073709551615n)), "i18446744073709551615e");
  assert.equal(text(encode("example")), "7:example");
  assert.equal(text(encode(b("example"))), "7:example");
  assert.equal(text(encode(["one", "two"])), "l3:one3:twoe");
  assert.equal(text(encode([])), "le");
  assert.equal(text(encode({ two: "bb", one: "aa" })), "d3:one2:aa3:two2:bbe");
  assert.equal(text(encode({})), "de");
  assert.equal(text(encode([{ a: "b" }, { c: "d" }])), "ld1:a1:bed1:c1:dee");
  assert.equal(text(encode("héllo")), "6:héllo");
});

test("round trip keeps binary keys and values", () => {
  const raw = new Uint8Array([0, 255, 128, 10, 58]);
  const key = String.fromCharCode(...raw);
  const v = { k1: ["a", "b", "c"], k2: 42, k3: "val", k4: -42, [key]: raw };
  const back = decode(encode(v)) as Record<string, unknown>;
  assert.deepEqual((back.k1 as Uint8Array[]).map(text), ["a", "b", "c"]);
  assert.equal(back.k2, 42);
  assert.equal(text(back.k3), "val");
  assert.equal(back.k4, -42);
  assert.deepEqual(back[key], raw);
});

test("decode refuses malformed input with bencode errors", () => {
  const cases: [string, string][] = [
    ["", "bencode: short read"],
    ["i42", "bencode: short read"],
    ["ie", "bencode: empty integer field"],
    ["i-0e", "bencode: unknown input sequence"],
    ["i03e", "bencode: unknown input sequence"],
    ["5:abc", "bencode: short read"],
    ["x", "bencode: unknown input sequence"],
    ["di1ei2ee", "bencode: non-string map key"],
    ["l1:a", "bencode: short read"],
    ["i1ei2e", "bencode: unknown input sequence"],
    ["3x", "bencode: unknown input sequence"],
  ];
  for (const [input, msg] of cases) {
    assert.throws(
      () => decode(b(input)),
      (e: Error) => e instanceof BencodeError && e.message === msg,
      input,
    );
  }
  assert.throws(() => decode(b("l".repeat(10_000) + "e".repeat(10_000))), BencodeError);
  assert.throws(() => decode(b("i" + "9".repeat(100_000) + "e")), BencodeError);
});

test("BencodeWriter grows past its initial capacity", () => {
  const w = new BencodeWriter(1);
  w.list();
  for (let i = 0; i < 1000; i++) w.int(i * 1_000_003).bytes(new Uint8Array(i % 7));
  w.end();
  const back = decode(w.finish()) as unknown[];
  assert.equal(back.length, 2000);
  assert.equal(back[1998], 999 * 1_000_003);
});

test("integers encode as their decimal digits at every size, both signs", () => {
  const values = [
    0,
    1,
    9,
    10,
    99,
    100,
    12345,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    10 ** 15,
    2 ** 53 - 1,
    -1,
    -10,
    -(2 ** 31),
  ];
  for (const n of values) {
    assert.equal(new TextDecoder().decode(encode(n)), `i${n}e`, String(n));
  }
});
