/**
 * Bencode (BEP 3): a writer that emits straight into bytes for the hot reply path,
 * a generic encoder built on it (dictionary keys sorted, as BEP 3 requires) and a
 * bounded decoder.
 *
 * @module
 */
import { allocBytes } from "./bytes.ts";

const utf8 = new TextEncoder();

/** A bencode value: integers, byte strings (text is encoded as UTF-8), lists, dictionaries. */
export type BencodeValue =
  | number
  | bigint
  | string
  | Uint8Array
  | BencodeValue[]
  | { [key: string]: BencodeValue };

/**
 * Writes bencode tokens into a growing byte buffer. The caller is responsible for
 * emitting dictionary keys in sorted order.
 *
 * @example
 * ```ts
 * const w = new BencodeWriter();
 * w.dict().key("interval").int(1800).end();
 * w.finish(); // "d8:intervali1800ee"
 * ```
 */
export class BencodeWriter {
  private buf: Uint8Array;
  private at = 0;

  constructor(capacity = 256) {
    this.buf = allocBytes(capacity);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = allocBytes(Math.max(this.buf.length * 2, this.at + n));
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
  }

  private ascii(n: number): void {
    // Integer digits without building a string.
    if (n < 0) {
      this.buf[this.at++] = 0x2d;
      n = -n;
    }
    if (n < 10) {
      this.buf[this.at++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let pos = this.at + digits;
    this.at = pos;
    if (n < 0x80000000) {
      // Small integers (counts, intervals, ports): integer division.
      for (let v = n | 0; v > 0; v = (v / 10) | 0) this.buf[--pos] = 0x30 + (v % 10);
      return;
    }
    for (let v = n; v >= 1; v = Math.floor(v / 10)) this.buf[--pos] = 0x30 + (v % 10);
  }

  /** `i<n>e`. `n` must be an integer. */
  int(n: number | bigint): this {
    if (typeof n === "bigint") return this.raw(utf8.encode(`i${n}e`));
    this.room(24);
    this.buf[this.at++] = 0x69;
    this.ascii(Math.trunc(n));
    this.buf[this.at++] = 0x65;
    return this;
  }

  /** `<len>:<bytes>`. */
  bytes(b: Uint8Array): this {
    this.room(b.length + 22);
    this.ascii(b.length);
    this.buf[this.at++] = 0x3a;
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  /** A byte string from ASCII text (keys), without an encoder call. */
  key(s: string): this {
    this.room(s.length * 3 + 22);
    if (highestCharCode(s) < 0x80) {
      this.ascii(s.length);
      this.buf[this.at++] = 0x3a;
      for (let i = 0; i < s.length; i++) this.buf[this.at++] = s.charCodeAt(i);
      return this;
    }
    return this.bytes(utf8.encode(s));
  }

  /** Opens a dictionary; close it with {@link end}. */
  dict(): this {
    this.room(1);
    this.buf[this.at++] = 0x64;
    return this;
  }

  /** Opens a list; close it with {@link end}. */
  list(): this {
    this.room(1);
    this.buf[this.at++] = 0x6c;
    return this;
  }

  /** Closes the innermost dictionary or list. */
  end(): this {
    this.room(1);
    this.buf[this.at++] = 0x65;
    return this;
  }

  /** Appends pre-encoded bytes. */
  raw(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  /** Everything written so far (a copy-free view). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

function highestCharCode(s: string): number {
  let max = 0;
  for (let i = 0; i < s.length; i++) max = Math.max(max, s.charCodeAt(i));
  return max;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function write(w: BencodeValue, out: BencodeWriter): void {
  if (typeof w === "number" || typeof w === "bigint") out.int(w);
  else if (typeof w === "string") out.bytes(utf8.encode(w));
  else if (w instanceof Uint8Array) out.bytes(w);
  else if (Array.isArray(w)) {
    out.list();
    for (const item of w) write(item, out);
    out.end();
  } else {
    // Keys hold raw bytes as latin1 (as the decoder returns them) unless they need UTF-8.
    const keys = Object.keys(w).map((k) => ({
      k,
      b: highestCharCode(k) < 0x100 ? latin1Bytes(k) : utf8.encode(k),
    }));
    keys.sort((x, y) => compareBytes(x.b, y.b));
    out.dict();
    for (const { k, b } of keys) {
      out.bytes(b);
      write(w[k], out);
    }
    out.end();
  }
}

/**
 * Encodes a value; dictionary keys come out in byte order (BEP 3). Object keys are
 * taken as latin1 when every character fits a byte, so raw binary keys (such as
 * infohashes from {@link decode}) round-trip.
 *
 * @example
 * ```ts
 * new TextDecoder().decode(encode({ two: "bb", one: "aa" })); // "d3:one2:aa3:two2:bbe"
 * ```
 */
export function encode(value: BencodeValue): Uint8Array {
  const w = new BencodeWriter();
  write(value, w);
  return w.finish();
}

/** Raised for input that is not bencode; the message names the problem. */
export class BencodeError extends Error {
  override name = "BencodeError";
}

const MAX_DEPTH = 64;

/**
 * Decodes one bencode value. Byte strings decode to Uint8Array; dictionary keys to
 * latin1 strings (lossless for binary keys); integers to numbers, or bigint beyond
 * 2^53. Nesting deeper than 64 levels is refused rather than overflowing the stack.
 *
 * @example
 * ```ts
 * decode(new TextEncoder().encode("l3:one3:twoe")); // [bytes "one", bytes "two"]
 * ```
 */
export function decode(input: Uint8Array): BencodeValue {
  let at = 0;
  const fail = (msg: string): never => {
    throw new BencodeError(`bencode: ${msg}`);
  };
  const length = (): number => {
    let n = 0;
    const start = at;
    while (at < input.length && input[at] >= 0x30 && input[at] <= 0x39) {
      n = n * 10 + input[at++] - 0x30;
    }
    if (at === start || at >= input.length) fail("short read");
    if (input[at] !== 0x3a) fail("unknown input sequence");
    at++;
    if (at + n > input.length) fail("short read");
    return n;
  };
  const value = (depth: number): BencodeValue => {
    if (depth > MAX_DEPTH) fail("nesting too deep");
    if (at >= input.length) fail("short read");
    const c = input[at];
    if (c === 0x69) {
      const end = input.indexOf(0x65, at + 1);
      if (end < 0) fail("short read");
      if (end - at > 32) fail("unknown input sequence");
      const text = String.fromCharCode(...input.subarray(at + 1, end));
      if (text.length === 0) fail("empty integer field");
      if (!/^(0|-?[1-9][0-9]*)$/.test(text)) fail("unknown input sequence");
      at = end + 1;
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    if (c >= 0x30 && c <= 0x39) {
      const n = length();
      const s = input.slice(at, at + n);
      at += n;
      return s;
    }
    if (c === 0x6c) {
      at++;
      const list: BencodeValue[] = [];
      while (at < input.length && input[at] !== 0x65) list.push(value(depth + 1));
      if (at >= input.length) fail("short read");
      at++;
      return list;
    }
    if (c === 0x64) {
      at++;
      const dict: { [key: string]: BencodeValue } = Object.create(null);
      while (at < input.length && input[at] !== 0x65) {
        if (input[at] < 0x30 || input[at] > 0x39) fail("non-string map key");
        const n = length();
        let key = "";
        for (let i = 0; i < n; i++) key += String.fromCharCode(input[at + i]);
        at += n;
        dict[key] = value(depth + 1);
      }
      if (at >= input.length) fail("short read");
      at++;
      return dict;
    }
    return fail("unknown input sequence");
  };
  const result = value(0);
  if (at !== input.length) fail("unknown input sequence");
  return result;
}
