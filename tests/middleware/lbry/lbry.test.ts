/**
 * LBRY announce mode (`lbry_mode`) and `seeders_see_seeders`, unit level: the
 * parsers, the built-in swarm and response hooks, and the config keys.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../../../src/bittorrent/event.ts";
import { formatIP } from "../../../src/bittorrent/ip.ts";
import { parseURLData } from "../../../src/bittorrent/params.ts";
import type { AnnounceRequest } from "../../../src/bittorrent/request.ts";
import type { Peer } from "../../../src/bittorrent/peer.ts";
import { loadConfig } from "../../../src/config/load.ts";
import { parseAnnounce as parseHTTP, type ParseOptions } from "../../../src/frontend/http/parser.ts";
import { parseAnnounce as parseUDP } from "../../../src/frontend/udp/parser.ts";
import { silentLogger } from "../../../src/log.ts";
import { Context } from "../../../src/middleware/hook.ts";
import { LBRY_MIN_STORED_PORT, Logic, type LogicOptions } from "../../../src/middleware/logic.ts";
import { escapeBytes, id20, memoryStore, peer } from "../../helpers/fixtures.ts";
import { announcePacket } from "../../frontend/udp/packets.ts";
import { announce } from "../helpers.ts";

const te = new TextEncoder();
const HTTP_OPTS: ParseOptions = {
  allowIPSpoofing: false,
  realIPHeader: "",
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 50,
};
const UDP_OPTS = { allowIPSpoofing: false, maxNumWant: 100, defaultNumWant: 50, maxScrapeInfoHashes: 50 };

const text = (p: Peer) => `${formatIP(p.ip)}:${p.port}`;

function httpAnnounce(port: number, allowZeroPort?: boolean) {
  const q = `info_hash=${
    escapeBytes(id20("ih"))
  }&peer_id=-TEST01-6wfG2wk6wWLc&port=${port}&left=0&downloaded=0&uploaded=0`;
  return parseHTTP(parseURLData(te.encode(`/announce?${q}`)), () => null, "10.0.0.1", {
    ...HTTP_OPTS,
    allowZeroPort,
  });
}

test("HTTP parser: port 0 is invalid port, unless allowZeroPort", () => {
  assert.throws(() => httpAnnounce(0), { message: "invalid port" });
  assert.throws(() => httpAnnounce(0, false), { message: "invalid port" });
  assert.equal(httpAnnounce(0, true).peer.port, 0);
  assert.equal(httpAnnounce(6881, true).peer.port, 6881);
});

test("UDP parser: port 0 is invalid port, unless allowZeroPort", () => {
  const packet = announcePacket({ port: 0 });
  const src = new Uint8Array([10, 0, 0, 1]);
  assert.throws(() => parseUDP(packet, src, UDP_OPTS), { message: "invalid port" });
  assert.equal(parseUDP(packet, src, { ...UDP_OPTS, allowZeroPort: true }).peer.port, 0);
});

function logic(over: Partial<LogicOptions> = {}) {
  const store = over.store ?? memoryStore().store;
  const l = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks: [],
    posthooks: [],
    log: silentLogger,
    ...over,
  });
  /** Announces, runs the posthooks, and returns the response. */
  const run = async (req: AnnounceRequest) => {
    const resp = await l.handleAnnounce(new Context(), req);
    l.afterAnnounce(new Context(), req, resp);
    return resp;
  };
  return { logic: l, store, run };
}

const ih = id20("lbry");
const req = (id: string, ip: string, port: number, over: Partial<AnnounceRequest> = {}) =>
  announce({ infoHash: ih, peer: peer(id, ip, port), params: parseURLData(new Uint8Array(0)), ...over });

test("lbry mode: a port below 100 is answered but never stored; 100 and above are", async () => {
  assert.equal(LBRY_MIN_STORED_PORT, 100);
  const { store, run } = logic({ lbryMode: true });
  for (const port of [0, 1, 99]) {
    const resp = await run(req(`p${port}`, "10.0.0.1", port, { left: 0, event: Event.Completed }));
    assert.deepEqual(resp.ipv4Peers.toArray().map(text), [`10.0.0.1:${port}`], "alone: itself, port and all");
    assert.equal(store.hasPeer(ih, peer(`p${port}`, "10.0.0.1", port)), false, `port ${port} stored`);
  }
  await run(req("p100", "10.0.0.2", 100));
  assert.equal(store.hasPeer(ih, peer("p100", "10.0.0.2", 100)), true);
  // A port-0 announcer still receives the stored peers.
  const resp = await run(req("p0", "10.0.0.1", 0, { left: 5 }));
  assert.deepEqual(resp.ipv4Peers.toArray().map(text), ["10.0.0.2:100"]);
  assert.equal(resp.incomplete, 1);
  store.stop();
});

test("lbry mode: even stopped from a low port changes nothing (as the fork)", async () => {
  // A port-50 peer stored while lbry mode was off, on the same store.
  const { store, run: runPlain } = logic();
  await runPlain(req("a", "10.0.0.1", 50));
  assert.equal(store.hasPeer(ih, peer("a", "10.0.0.1", 50)), true);
  const { run } = logic({ lbryMode: true, store });
  await run(req("a", "10.0.0.1", 50, { event: Event.Stopped }));
  assert.equal(store.hasPeer(ih, peer("a", "10.0.0.1", 50)), true, "the stopped event was not applied");
  store.stop();
});

test("without lbry mode, low ports are stored as chihaya does", async () => {
  const { store, run } = logic();
  await run(req("a", "10.0.0.1", 50));
  assert.equal(store.hasPeer(ih, peer("a", "10.0.0.1", 50)), true);
  store.stop();
});

test("chihaya's rule by default: a seeder among seeders sees only itself", async () => {
  const { store, run } = logic();
  await run(req("s1", "10.0.0.1", 1001, { left: 0 }));
  await run(req("s2", "10.0.0.2", 1002, { left: 0 }));
  const resp = await run(req("s3", "10.0.0.3", 1003, { left: 0 }));
  assert.deepEqual(resp.ipv4Peers.toArray().map(text), ["10.0.0.3:1003"]);
  assert.equal(resp.complete, 3);
  store.stop();
});

test("seeders_see_seeders: a seeder that finds no leechers gets the other seeders", async () => {
  const { store, run } = logic({ seedersSeeSeeders: true });
  const first = await run(req("s1", "10.0.0.1", 1001, { left: 0 }));
  assert.deepEqual(first.ipv4Peers.toArray().map(text), ["10.0.0.1:1001"], "alone: itself");
  assert.equal(first.complete, 1);
  await run(req("s2", "10.0.0.2", 1002, { left: 0 }));
  const third = await run(req("s3", "10.0.0.3", 1003, { left: 0 }));
  assert.deepEqual(third.ipv4Peers.toArray().map(text).sort(), ["10.0.0.1:1001", "10.0.0.2:1002"]);
  assert.deepEqual([third.complete, third.incomplete], [2, 0]);
  // numwant still limits them.
  const one = await run(req("s3", "10.0.0.3", 1003, { left: 0, numWant: 1 }));
  assert.equal(one.ipv4Peers.count, 1);
  // Once there is a leecher, seeders get leechers only, as usual.
  await run(req("l1", "10.0.0.9", 1009, { left: 10 }));
  const withLeecher = await run(req("s3", "10.0.0.3", 1003, { left: 0 }));
  assert.deepEqual(withLeecher.ipv4Peers.toArray().map(text), ["10.0.0.9:1009"]);
  // Leechers are unaffected: seeders first, then leechers.
  const leecher = await run(req("l2", "10.0.0.8", 1008, { left: 10 }));
  assert.equal(leecher.ipv4Peers.count, 4);
  store.stop();
});

test("seeders_see_seeders with numwant 0 still answers with the announcer alone", async () => {
  const { store, run } = logic({ seedersSeeSeeders: true });
  await run(req("s1", "10.0.0.1", 1001, { left: 0 }));
  const resp = await run(req("s2", "10.0.0.2", 1002, { left: 0, numWant: 0 }));
  assert.deepEqual(resp.ipv4Peers.toArray().map(text), ["10.0.0.2:1002"]);
  store.stop();
});

test("LBRY's SDK pattern: completed announces with left=0 on a shared blob, both options on", async () => {
  const { store, run } = logic({ lbryMode: true, seedersSeeSeeders: true });
  await run(req("LB-1", "10.0.0.1", 4444, { left: 0, event: Event.Completed }));
  const b = await run(req("LB-2", "10.0.0.2", 4444, { left: 0, event: Event.Completed }));
  assert.deepEqual(b.ipv4Peers.toArray().map(text), ["10.0.0.1:4444"]);
  // An anonymous (port 0) node sees the seeders but is never handed out.
  const anon = await run(req("LB-3", "10.0.0.3", 0, { left: 0, event: Event.Completed }));
  assert.equal(anon.ipv4Peers.count, 2);
  const c = await run(req("LB-4", "10.0.0.4", 4444, { left: 0, event: Event.Completed }));
  assert.deepEqual(c.ipv4Peers.toArray().map(text).sort(), ["10.0.0.1:4444", "10.0.0.2:4444"]);
  store.stop();
});

test("config: lbry_mode and seeders_see_seeders default to false and read booleans", () => {
  const base = "chihaya:\n  announce_interval: 30m\n  storage: {name: memory}\n";
  const off = loadConfig(base, { path: "c.yaml" });
  assert.equal(off.config.lbryMode, false);
  assert.equal(off.config.seedersSeeSeeders, false);
  const on = loadConfig(base + "  lbry_mode: true\n  seeders_see_seeders: yes\n", { path: "c.yaml" });
  assert.deepEqual(on.warnings, []);
  assert.equal(on.config.lbryMode, true);
  assert.equal(on.config.seedersSeeSeeders, true);
  assert.throws(() => loadConfig(base + `  lbry_mode: "on"\n`, { path: "c.yaml" }), {
    name: "ConfigError",
    message: `lbry_mode: expected true or false, got "on" (a quoted string) (c.yaml:4)`,
  });
  const typo = loadConfig(base + "  lbry_mod: true\n", { path: "c.yaml" });
  assert.deepEqual(typo.warnings, ["unknown key lbry_mod (c.yaml:4) is ignored; did you mean lbry_mode?"]);
});
