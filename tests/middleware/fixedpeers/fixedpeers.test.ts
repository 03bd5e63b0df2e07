import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIP, parseIP } from "../../../src/bittorrent/ip.ts";
import type { Peer } from "../../../src/bittorrent/peer.ts";
import { silentLogger } from "../../../src/log.ts";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import { Logic } from "../../../src/middleware/logic.ts";
import {
  fixedPeersHook,
  parseFixedPeer,
  readFixedPeersConfig,
} from "../../../src/middleware/fixedpeers/fixedpeers.ts";
import "../../../src/middleware/drivers.ts";
import { memoryStore, peer } from "../../helpers/fixtures.ts";
import { announce, hookContext, hookOptions, response } from "../helpers.ts";

const ZERO_ID = new Uint8Array(20);

function hookOf(entries: string[]) {
  return fixedPeersHook(readFixedPeersConfig({ fixed_peers: entries }, "prehooks[0].options", []));
}

const text = (p: Peer) => `${p.ip.length === 16 ? `[${formatIP(p.ip)}]` : formatIP(p.ip)}:${p.port}`;

test("fixed peers is registered under the LBRY fork's name", () => {
  assert.ok(hookDriver("fixed peers"));
});

test("the fork's TestAppendFixedPeer: two IPv4 peers, zero IDs, in order; the context unchanged", () => {
  const hook = hookOf(["8.8.8.8:4040", "1.1.1.1:111"]);
  const ctx = new Context();
  const resp = response();
  hook.handleAnnounce!(ctx, announce(), resp);
  assert.deepEqual(resp.ipv4Peers.toArray(), [
    { id: ZERO_ID, ip: new Uint8Array([8, 8, 8, 8]), port: 4040 },
    { id: ZERO_ID, ip: new Uint8Array([1, 1, 1, 1]), port: 111 },
  ]);
  assert.equal(resp.ipv6Peers.count, 0);
  assert.deepEqual(ctx, new Context());
});

test("each fixed peer counts as a seeder, added to what is there", () => {
  const hook = hookOf(["8.8.8.8:4040", "1.1.1.1:111", "[2001:db8::1]:6881"]);
  const resp = response();
  resp.complete = 3;
  resp.incomplete = 2;
  hook.handleAnnounce!(new Context(), announce(), resp);
  assert.equal(resp.complete, 5, "only the two IPv4 peers count for an IPv4 announcer");
  assert.equal(resp.incomplete, 2);
});

test("peers go to announcers of their own family only", () => {
  const hook = hookOf(["8.8.8.8:4040", "[2001:db8::1]:6881", "[::ffff:9.9.9.9]:99"]);
  const v4 = response();
  hook.handleAnnounce!(new Context(), announce(), v4);
  assert.deepEqual(v4.ipv4Peers.toArray().map(text), ["8.8.8.8:4040", "9.9.9.9:99"]);
  assert.equal(v4.ipv6Peers.count, 0);
  const v6 = response();
  hook.handleAnnounce!(new Context(), announce({ peer: peer("b", "2001:db8::99", 1) }), v6);
  assert.deepEqual(v6.ipv6Peers.toArray().map(text), ["[2001:db8::1]:6881"]);
  assert.equal(v6.ipv4Peers.count, 0);
  assert.equal(v6.complete, 1);
});

test("numwant is ignored, as in the fork", () => {
  const hook = hookOf(["8.8.8.8:1", "8.8.8.8:2", "8.8.8.8:3"]);
  const resp = response();
  hook.handleAnnounce!(new Context(), announce({ numWant: 1 }), resp);
  assert.equal(resp.ipv4Peers.count, 3);
});

test("scrapes are untouched", () => {
  assert.equal(hookOf(["8.8.8.8:1"]).handleScrape, undefined);
});

test("through the chain: fixed peers first, then store peers; alone, fixed peers + self", async () => {
  const { store } = memoryStore();
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks: [hookOf(["8.8.8.8:4040"])],
    posthooks: [],
    log: silentLogger,
  });
  const a = announce({ peer: peer("a", "10.0.0.1", 1001), left: 0 });
  const first = await logic.handleAnnounce(new Context(), a);
  assert.deepEqual(first.ipv4Peers.toArray().map(text), ["8.8.8.8:4040", "10.0.0.1:1001"]);
  assert.deepEqual([first.complete, first.incomplete], [2, 0]);
  logic.afterAnnounce(new Context(), a, first);
  const b = announce({ peer: peer("b", "10.0.0.2", 1002), left: 10 });
  const second = await logic.handleAnnounce(new Context(), b);
  assert.deepEqual(second.ipv4Peers.toArray().map(text), ["8.8.8.8:4040", "10.0.0.1:1001"]);
  assert.deepEqual([second.complete, second.incomplete], [2, 0]);
  store.stop();
});

test("parseFixedPeer: accepted shapes", () => {
  assert.deepEqual(parseFixedPeer("8.8.8.8:4040"), { id: ZERO_ID, ip: parseIP("8.8.8.8"), port: 4040 });
  assert.deepEqual(parseFixedPeer(" [2001:db8::1]:65535 "), {
    id: ZERO_ID,
    ip: parseIP("2001:db8::1"),
    port: 65535,
  });
  assert.deepEqual(parseFixedPeer("[::ffff:1.2.3.4]:1"), {
    id: ZERO_ID,
    ip: new Uint8Array([1, 2, 3, 4]),
    port: 1,
  });
});

test("parseFixedPeer: each bad shape says what is wrong and what to write", () => {
  const bad: [string, RegExp][] = [
    ["8.8.8.8", /"8.8.8.8" has no port; write ip:port for IPv4/],
    ["2001:db8::1:80", /looks like an IPv6 address without brackets; .*\[ipv6\]:port/],
    ["[2001:db8::1:80", /has no closing "\]"/],
    ["[2001:db8::1]", /has no port after "\]"/],
    ["example.com:80", /"example.com" is not an IP address/],
    ["8.8.8.8:0", /the port must be a whole number from 1 to 65535, got "0"/],
    ["8.8.8.8:65536", /got "65536"/],
    ["8.8.8.8:-1", /got "-1"/],
    ["8.8.8.8:http", /got "http"/],
    ["8.8.8.8:", /got ""/],
    ["0.0.0.0:80", /0.0.0.0 is not an address peers can connect to/],
    ["[::]:80", /:: is not an address peers can connect to/],
  ];
  for (const [entry, reason] of bad) {
    const r = parseFixedPeer(entry);
    assert.equal(typeof r, "string", entry);
    assert.match(r as string, reason, entry);
  }
});

test("an invalid entry fails at start with a message naming it, its index and its line", () => {
  const opts = hookOptions(`    - name: fixed peers
      options:
        fixed_peers:
          - 8.8.8.8:4040
          - 1.1.1.1
`);
  assert.throws(() => readFixedPeersConfig(opts, "x", []), {
    name: "ConfigError",
    message:
      `prehooks[0].options.fixed_peers[1]: invalid fixed peer "1.1.1.1" has no port; write ip:port for ` +
      `IPv4 (e.g. 203.0.113.10:4444) or [ipv6]:port for IPv6 (e.g. "[2001:db8::10]:4444") (config.yaml:9)`,
  });
  assert.throws(
    () => readFixedPeersConfig({ fixed_peers: "8.8.8.8:1" }, "p", []),
    /p.fixed_peers: expected a list/,
  );
});

test("warnings: an empty list; the hook listed as a posthook", () => {
  const w1: string[] = [];
  readFixedPeersConfig({}, "prehooks[0].options", w1);
  assert.deepEqual(w1, ["prehooks[0].options.fixed_peers: is empty, so the fixed peers hook adds nothing"]);
  const w2: string[] = [];
  readFixedPeersConfig({ fixed_peers: ["8.8.8.8:1"] }, "posthooks[1].options", w2);
  assert.deepEqual(w2, [
    "posthooks[1].options: fixed peers runs after the response was sent when listed under posthooks, so it " +
    "adds nothing; move it to prehooks",
  ]);
});

test("the registered driver reads the options", async () => {
  const ctx = hookContext();
  const hook = await hookDriver("fixed peers")!({ fixed_peers: ["8.8.8.8:4040"] }, ctx);
  const resp = response();
  hook.handleAnnounce!(new Context(), announce(), resp);
  assert.equal(resp.ipv4Peers.count, 1);
  assert.deepEqual(ctx.warnings, []);
});
