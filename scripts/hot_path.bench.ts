/**
 * `deno bench` micro-benchmarks of the request path: parsers, encoders, the
 * connection-ID MAC, store operations, and the HTTP and UDP handlers end to end
 * (in-process, no sockets; scripts/load.ts measures over sockets).
 *
 *   deno bench --allow-all scripts/
 */
import { HmacSha256 } from "../src/frontend/udp/hmac.ts";
import { encode } from "../src/bittorrent/bencode.ts";
import { parseURLData } from "../src/bittorrent/params.ts";
import { PeerList } from "../src/bittorrent/request.ts";
import { ManualClock } from "../src/clock.ts";
import { HTTPFrontend } from "../src/frontend/http/frontend.ts";
import { parseAnnounce } from "../src/frontend/http/parser.ts";
import { ReplyFrame } from "../src/frontend/http/server.ts";
import { RequestHead, ResponseHeads, takeHead } from "../src/frontend/http/wire.ts";
import { writeAnnounce as writeHTTPAnnounce } from "../src/frontend/http/writer.ts";
import { ConnectionIDs } from "../src/frontend/udp/connection_id.ts";
import { UDPFrontend } from "../src/frontend/udp/frontend.ts";
import { silentLogger } from "../src/log.ts";
import { bareLogic } from "../tests/helpers/fixtures.ts";
import { MemoryStore } from "../src/storage/memory/store.ts";

const te = new TextEncoder();
const esc = (b: Uint8Array) => Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");
// The load generator's shape: 10k torrents with a Pareto-like skew, 10k peers.
let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const hashes = Array.from({ length: 10_000 }, (_, i) => {
  const h = new Uint8Array(20);
  new DataView(h.buffer).setUint32(0, i * 2654435761);
  new DataView(h.buffer).setUint32(16, i);
  return h;
});
const torrent = () => hashes[Math.floor(hashes.length * rand() ** 2)];
const peers = Array.from({ length: 10_000 }, (_, i) => ({
  id: te.encode(`-HY0001-${String(i).padStart(12, "0")}`),
  ip: new Uint8Array([10, 0, (i >> 8) & 255, i & 255]),
  port: 1024 + i,
}));
const queries = Array.from({ length: 4096 }, (_, i) => {
  const p = peers[i % peers.length];
  return `/announce?info_hash=${esc(torrent())}&peer_id=${esc(p.id)}&port=${p.port}&uploaded=0&downloaded=0` +
    `&left=${i % 2 ? 0 : 1000}&compact=1&numwant=50`;
});
const queryBytes = queries.map((q) => te.encode(q));
const parseOpts = {
  allowIPSpoofing: false,
  realIPHeader: "",
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
};

let i = 0;
Deno.bench("params: parseURLData of an announce", { group: "parse" }, () => {
  parseURLData(queryBytes[i++ & 4095]);
});
Deno.bench("http: parseURLData + parseAnnounce", { group: "parse" }, () => {
  parseAnnounce(parseURLData(queryBytes[i++ & 4095]), () => null, "10.0.0.1", parseOpts);
});

const resp = {
  compact: true,
  complete: 30,
  incomplete: 20,
  interval: 1800,
  minInterval: 900,
  ipv4Peers: new PeerList(4),
  ipv6Peers: new PeerList(6),
};
for (let k = 0; k < 50; k++) resp.ipv4Peers.push(peers[k]);
Deno.bench("http: writeAnnounce, 50 compact peers", { group: "encode" }, () => {
  writeHTTPAnnounce(resp, false);
});
Deno.bench("bencode: encode a scrape-like dict", { group: "encode" }, () => {
  encode({ files: { [String.fromCharCode(...hashes[0])]: { complete: 1, downloaded: 2, incomplete: 3 } } });
});

const ids = new ConnectionIDs({ key: "bench key", lifetime: 120_000, maxClockSkew: 10_000 });
const now = 1_700_000_000;
const id = ids.create(peers[0].ip, now);
Deno.bench("udp: connection ID check (recent MAC cached)", { group: "mac" }, () => {
  ids.valid(id, peers[0].ip, now);
});
const hmac = new HmacSha256(te.encode("bench key"));
Deno.bench("udp: HMAC-SHA256 prefix of ts ‖ IPv4 (uncached)", { group: "mac" }, () => {
  hmac.prefix32(i++, peers[0].ip);
});

const clock = new ManualClock();
const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 1_800_000, clock });
for (let k = 0; k < 200_000; k++) {
  const p = peers[k % peers.length];
  const ih = torrent();
  if (k % 2) store.putSeeder(ih, { ...p, port: 1024 + (k % 50_000) });
  else store.putLeecher(ih, { ...p, port: 1024 + (k % 50_000) });
}
const out = new PeerList(4, 64);
Deno.bench("store: announcePeers(50), skewed swarms", { group: "store" }, () => {
  out.count = 0;
  store.announcePeers(torrent(), false, 50, peers[i++ % peers.length], out);
});
Deno.bench("store: putLeecher (mostly refreshes)", { group: "store" }, () => {
  store.putLeecher(torrent(), peers[i++ % peers.length]);
});
Deno.bench("store: scrapeSwarm", { group: "store" }, () => {
  store.scrapeSwarm(torrent(), 4);
});

const logic = bareLogic(store);
const http = new HTTPFrontend({
  ...parseOpts,
  announceRoutes: ["/announce"],
  scrapeRoutes: ["/scrape"],
  enableKeepalive: true,
  logic,
  log: silentLogger,
});
const requests = queries.map((q) => new Request(`http://127.0.0.1:6969${q}`));
// What wrk sends, as hayate's own server sees it: the head's bytes.
const heads = queries.map((q) => te.encode(`GET ${q} HTTP/1.1\r\nHost: 127.0.0.1:6969\r\n\r\n`));
const head = new RequestHead();
// As the server does it: the compact reply is written whole into the frame, head and all.
const frame = new ReplyFrame(new ResponseHeads());
Deno.bench("http: takeHead + HTTPFrontend.answer into a ReplyFrame, announce", { group: "handler" }, () => {
  const buf = heads[i++ & 4095];
  takeHead(buf, 0, 0, buf.length, head);
  frame.framed = undefined;
  if (http.answer(head, "10.0.0.1", frame) !== frame.framed) {
    throw new Error("the reply was not framed in place");
  }
});
Deno.bench("http: HTTPFrontend.fetch, announce (Request given)", { group: "handler" }, () => {
  http.fetch(requests[i++ & 4095], "10.0.0.1");
});

const udp = new UDPFrontend({
  allowIPSpoofing: false,
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
  privateKey: "bench key",
  maxClockSkew: 10_000,
  connectionIDLifetime: 120_000,
  logic,
  log: silentLogger,
});
const source = new Uint8Array([127, 0, 0, 1]);
const connect = new Uint8Array(16);
connect.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]);
const connectionID = (udp.handle(connect, source, 1) as Uint8Array).slice(8, 16);
const packets = Array.from({ length: 4096 }, (_, k) => {
  const p = new Uint8Array(98);
  const v = new DataView(p.buffer);
  const who = peers[k % peers.length];
  p.set(connectionID, 0);
  v.setUint32(8, 1);
  v.setUint32(12, k);
  p.set(torrent(), 16);
  p.set(who.id, 36);
  v.setUint32(68, k % 2 ? 0 : 1000);
  v.setUint32(80, 2);
  v.setInt32(92, 50);
  v.setUint16(96, who.port);
  return p;
});
Deno.bench("udp: UDPFrontend.handle, announce", { group: "handler" }, () => {
  udp.handle(packets[i++ & 4095], source, 6881);
});
