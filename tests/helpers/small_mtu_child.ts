/**
 * Run by ffi.test.ts inside a network namespace whose loopback MTU is 1200: an FFI
 * listener on the address in argv (127.0.0.1, or "" for dual-stack) answers 1400-byte
 * replies (from a batch, and from a promise) and a small one, and a node:dgram
 * client reports what came back, as JSON on stdout.
 */
import { createSocket } from "node:dgram";
import { listenUDPFFI } from "../../src/frontend/udp/ffi.ts";

const big = (tag: number) => new Uint8Array(1400).fill(tag);
const errors: string[] = [];
const l = await listenUDPFFI({
  hostname: Deno.args[0],
  port: 0,
  handler: (packet) => {
    if (packet[0] === 1) return big(1);
    if (packet[0] === 2) return Promise.resolve(big(2));
    return Uint8Array.from([packet[0]]);
  },
  onError: (err) => void errors.push(String(err)),
});
const c = createSocket("udp4");
await new Promise<void>((resolve) => c.bind(0, "127.0.0.1", resolve));
const got: Record<number, number> = {};
const done = new Promise<void>((resolve) => {
  const timer = setTimeout(resolve, 2000);
  c.on("message", (m: Uint8Array) => {
    got[m[0]] = m.length;
    if (Object.keys(got).length === 3) {
      clearTimeout(timer);
      resolve();
    }
  });
});
// One datagram each, sent together so the first and the third share a batch.
for (const tag of [1, 3, 2]) c.send(Uint8Array.from([tag]), l.port, "127.0.0.1");
await done;
c.close();
await l.close();
console.log(JSON.stringify({ got, errors }));
