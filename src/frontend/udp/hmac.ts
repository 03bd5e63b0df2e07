/**
 * HMAC-SHA256 in plain TypeScript, cut down to what a BEP 15 connection ID needs:
 * the first 4 bytes of HMAC(key, message) for a message of at most 55 bytes
 * (4 bytes of seconds ‖ a 4- or 16-byte address).
 *
 * `node:crypto`'s `createHmac` costs ~8–10 µs per call under Deno (an object, a
 * digest buffer and a trip into Rust each time). Here the key is absorbed once: the
 * SHA-256 states after the `key ⊕ ipad` and `key ⊕ opad` blocks are kept, so a MAC
 * is exactly two compressions (one inner block holding the whole padded message,
 * one outer block holding the padded inner digest) on preallocated words, with no
 * allocation per call.
 *
 * @module
 */

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K = Int32Array.from([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const IV = Int32Array.from([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

/**
 * One SHA-256 compression: `out = state + compress(state, block)`, where `w` holds
 * the block's 16 big-endian words in `w[0..16)` and is used as the 64-word message
 * schedule. `out` may be `state`. Words are held as int32 (`| 0`), V8's fastest
 * integer representation; the bits are those of the uint32 arithmetic of the spec.
 */
function compress(state: Int32Array, w: Int32Array, out: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = (state[0] + a) | 0;
  out[1] = (state[1] + b) | 0;
  out[2] = (state[2] + c) | 0;
  out[3] = (state[3] + d) | 0;
  out[4] = (state[4] + e) | 0;
  out[5] = (state[5] + f) | 0;
  out[6] = (state[6] + g) | 0;
  out[7] = (state[7] + h) | 0;
}

/** Loads `bytes[at, at + 64)` (zero past the end) into `w[0..16)` as big-endian words. */
function loadBlock(bytes: Uint8Array, at: number, w: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const k = at + i * 4 + j;
      v = (v << 8) | (k < bytes.length ? bytes[k] : 0);
    }
    w[i] = v;
  }
}

/**
 * SHA-256 of `data`, for key preparation only (keys longer than a block are hashed
 * first, RFC 2104 §2). Allocates; not for the per-packet path.
 *
 * @example
 * ```ts
 * sha256(new TextEncoder().encode("abc")); // ba7816bf…f20015ad
 * ```
 */
export function sha256(data: Uint8Array): Uint8Array {
  const bitLength = data.length * 8;
  const blocks = Math.ceil((data.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const state = IV.slice();
  const w = new Int32Array(64);
  for (let b = 0; b < blocks; b++) {
    loadBlock(padded, b * 64, w);
    compress(state, w, state);
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setInt32(i * 4, state[i]);
  return out;
}

/** The longest message {@link HmacSha256.prefix32} takes: one block minus padding. */
export const MAX_SHORT_MESSAGE = 55;

/**
 * HMAC-SHA256 under one fixed key, for short messages. Not reentrant across
 * threads (scratch words are shared), which JS's single thread makes moot.
 *
 * @example
 * ```ts
 * const mac = new HmacSha256(new TextEncoder().encode("secret"));
 * const first4 = mac.prefix32(1_700_000_000, new Uint8Array([127, 0, 0, 1])); // 0xcbd42512
 * ```
 */
export class HmacSha256 {
  // States after absorbing key ⊕ ipad and key ⊕ opad.
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  // Scratch: the message schedule and the inner digest.
  private readonly w = new Int32Array(64);
  private readonly digest = new Int32Array(8);

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? sha256(key) : key;
    const block = new Uint8Array(64);
    for (const [pad, state] of [[0x36, this.inner], [0x5c, this.outer]] as const) {
      for (let i = 0; i < 64; i++) block[i] = (i < k.length ? k[i] : 0) ^ pad;
      loadBlock(block, 0, this.w);
      compress(IV, this.w, state);
    }
  }

  /**
   * The first 4 bytes, as a big-endian uint32, of HMAC(key, be32(word) ‖ tail):
   * a connection ID's MAC for timestamp `word` and address `tail`. `tail` holds at
   * most {@link MAX_SHORT_MESSAGE} − 4 bytes. No allocation.
   */
  prefix32(word: number, tail: Uint8Array): number {
    const n = tail.length;
    if (n > MAX_SHORT_MESSAGE - 4) throw new RangeError(`HMAC message too long: ${n + 4} bytes`);
    const w = this.w;
    // Inner block: word ‖ tail ‖ 0x80 ‖ zeros ‖ bit length of (ipad block + message).
    w[0] = word | 0;
    for (let i = 1; i < 16; i++) w[i] = 0;
    for (let i = 0; i < n; i++) w[1 + (i >> 2)] |= tail[i] << (24 - ((i & 3) << 3));
    w[1 + (n >> 2)] |= 0x80 << (24 - ((n & 3) << 3));
    w[15] = (64 + 4 + n) * 8;
    compress(this.inner, w, this.digest);
    // Outer block: the 32-byte inner digest ‖ 0x80 ‖ zeros ‖ bit length 768.
    const d = this.digest;
    for (let i = 0; i < 8; i++) w[i] = d[i];
    w[8] = 0x80000000 | 0;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = (64 + 32) * 8;
    compress(this.outer, w, d);
    return d[0] >>> 0;
  }

  /** The whole 32-byte HMAC of `be32(word) ‖ tail` (tests and debugging; allocates). */
  full(word: number, tail: Uint8Array): Uint8Array {
    this.prefix32(word, tail);
    const out = new Uint8Array(32);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) view.setInt32(i * 4, this.digest[i]);
    return out;
  }
}
