/**
 * Cost of one connection-ID validation (the HMAC on every UDP announce and
 * scrape): the pure-TS HMAC-SHA256 in `src/frontend/udp/hmac.ts` against the
 * `node:crypto` createHmac path it replaced (same key, message and compare).
 *
 *   deno run --allow-all scripts/connection_id_bench.ts
 */
import { createHmac, createSecretKey, timingSafeEqual } from "node:crypto";
import { ConnectionIDs } from "../src/frontend/udp/connection_id.ts";

const KEY = "bench key";
const ids = new ConnectionIDs({ key: KEY, lifetime: 120_000, maxClockSkew: 10_000 });
const now = 1_700_000_000;
const v4 = new Uint8Array([10, 1, 2, 3]);
const v6 = new Uint8Array(16);
v6[0] = 0x20;
v6[15] = 1;

// The node:crypto implementation as it was before the pure-TS HMAC.
const key = createSecretKey(new TextEncoder().encode(KEY));
const message = new Uint8Array(20);
function validNodeCrypto(id: Uint8Array, ip: Uint8Array, ts: number): boolean {
  message[0] = ts >>> 24;
  message[1] = ts >>> 16;
  message[2] = ts >>> 8;
  message[3] = ts;
  message.set(ip, 4);
  const mac = createHmac("sha256", key).update(message.subarray(0, 4 + ip.length)).digest().subarray(0, 4);
  return timingSafeEqual(mac, id.subarray(4, 8));
}

function bench(name: string, ops: number, fn: () => boolean): void {
  let ok = 0;
  for (let i = 0; i < Math.min(ops, 20_000); i++) if (fn()) ok++;
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) if (fn()) ok++;
  const ms = performance.now() - t0;
  if (ok === 0) throw new Error(`${name}: never valid`);
  console.log(`${name.padEnd(48)} ${((ms * 1e6) / ops).toFixed(0).padStart(7)} ns/op`);
}

for (const [family, ip] of [["IPv4", v4], ["IPv6", v6]] as const) {
  const id = ids.create(ip, now);
  bench(`connection ID valid, ${family}, node:crypto`, 100_000, () => validNodeCrypto(id, ip, now));
  bench(`connection ID valid, ${family}, pure-TS HMAC`, 1_000_000, () => ids.valid(id, ip, now));
}
