/**
 * Small byte arrays for the request path, carved out of shared chunks. In Deno 2.9
 * every `new Uint8Array(n)` (and `slice()`) allocates its own ArrayBuffer, which
 * costs about 0.6 µs; a view of an existing buffer costs about 0.02 µs. Requests
 * need a handful of short arrays (a copied infohash, an address, a reply), so they
 * take views of a 64 KiB chunk and a fresh chunk is made when one runs out. A view
 * keeps its whole chunk alive, so these are for per-request data only: whatever is
 * kept for long (the store) copies the bytes into its own arrays.
 *
 * @module
 */

const CHUNK = 64 * 1024;
/** Larger requests get an array of their own. */
const LARGEST = 4096;

let chunk = new Uint8Array(CHUNK);
let used = 0;

/**
 * `n` zeroed bytes, as a view (its `byteOffset` is usually not 0).
 *
 * @example
 * ```ts
 * const reply = allocBytes(26); // an announce reply with one peer
 * ```
 */
export function allocBytes(n: number): Uint8Array {
  if (n > LARGEST) return new Uint8Array(n);
  if (used + n > CHUNK) {
    chunk = new Uint8Array(CHUNK);
    used = 0;
  }
  const view = chunk.subarray(used, used + n);
  used = (used + n + 7) & ~7; // 8-byte aligned starts, for DataView users
  return view;
}

/**
 * A copy of `src[from, to)` in {@link allocBytes} memory.
 *
 * @example
 * ```ts
 * const infoHash = copyBytes(packet, 16, 36);
 * ```
 */
export function copyBytes(src: Uint8Array, from = 0, to = src.length): Uint8Array {
  const out = allocBytes(to - from);
  // A byte loop for an address or an infohash; a native copy pays from a few dozen bytes on.
  if (to - from > 32) out.set(src.subarray(from, to));
  else for (let i = from; i < to; i++) out[i - from] = src[i];
  return out;
}
