/**
 * Hostile traffic against a tracker on the loopback, in its own process so that
 * the script measuring the tracker (soak.ts) keeps a quiet event loop: half random
 * garbage datagrams, half well-formed BEP 15 announces for random infohashes under
 * a valid connection ID (a flood of new swarms), plus a junk HTTP request every
 * 10 ms. Prints `hostile: sent N datagrams, M http` every 10 s and when stopped.
 *
 * ```sh
 * deno run --allow-net scripts/hostile.ts --udp-port 6969 --http-port 6969 --rate 20000
 * ```
 *
 * @module
 */
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";

const flags = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    "udp-port": { type: "string" },
    "http-port": { type: "string" },
    rate: { type: "string", default: "20000" },
  },
  strict: true,
}).values;
const HOST = flags.host;
const UDP_PORT = Number(flags["udp-port"]);
const HTTP_PORT = Number(flags["http-port"]);
const RATE = Number(flags.rate);
if (!(UDP_PORT > 0) || !(HTTP_PORT > 0)) {
  console.error("hostile.ts: give --udp-port and --http-port");
  Deno.exit(2);
}

const sock = createSocket("udp4");
await new Promise<void>((resolve) => sock.bind(0, HOST, () => resolve()));
let connectionID = new Uint8Array(8);
sock.on("message", (msg: Uint8Array) => {
  if (msg.length === 16 && msg[3] === 0) connectionID = msg.slice(8, 16);
});
const connect = () => {
  const p = new Uint8Array(16);
  p.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 9, 9, 9, 9]);
  sock.send(p, UDP_PORT, HOST);
};
connect();
setInterval(connect, 30_000);

const junk = [
  "/announce?%zz",
  "/announce?info_hash=%ff",
  "/scrape?info_hash=short",
  "/nope",
  "/announce?" + "a=".repeat(3000),
];
let sent = 0;
let http = 0;
// Datagrams in flight that the socket has not taken yet: above a second's worth
// the tick skips sending, so a slow socket cannot grow this process's memory.
let queued = 0;
const done = () => queued--;
setInterval(() => {
  for (let k = 0; k < RATE / 100 && queued < RATE; k++) {
    const garbage = k % 2 === 0;
    const p = new Uint8Array(garbage ? 1 + Math.floor(Math.random() * 200) : 98);
    crypto.getRandomValues(p);
    if (!garbage) {
      p.set(connectionID, 0);
      p.set([0, 0, 0, 1], 8); // action announce
      p.set([0, 0, 0, 2], 80); // event started
      p.set([0xff, 0xff, 0xff, 0xff], 92); // num_want -1
      p[96] = 0x1a;
      p[97] = 0xe1;
    }
    queued++;
    sock.send(p, UDP_PORT, HOST, done);
    sent++;
  }
  const path = junk[Math.floor(Math.random() * junk.length)];
  fetch(`http://${HOST}:${HTTP_PORT}${path}`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.body?.cancel(), () => {})
    .finally(() => http++);
}, 10);

const report = () => console.log(`hostile: sent ${sent} datagrams, ${http} http`);
setInterval(report, 10_000);
Deno.addSignalListener("SIGTERM", () => {
  report();
  Deno.exit(0);
});
