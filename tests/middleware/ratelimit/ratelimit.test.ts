import { test } from "node:test";
import assert from "node:assert/strict";
import { addressKey, parseIP } from "../../../src/bittorrent/ip.ts";
import { ManualClock } from "../../../src/clock.ts";
import { ConfigError } from "../../../src/config/options.ts";
import { HTTPFrontend } from "../../../src/frontend/http/frontend.ts";
import { ConnectionIDs } from "../../../src/frontend/udp/connection_id.ts";
import { UDPFrontend } from "../../../src/frontend/udp/frontend.ts";
import { silentLogger } from "../../../src/log.ts";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import { Logic } from "../../../src/middleware/logic.ts";
import {
  BucketTable,
  ErrRateLimited,
  RATE_LIMIT_DEFAULTS,
  rateLimitHook,
  readRateLimitConfig,
} from "../../../src/middleware/ratelimit/ratelimit.ts";
import "../../../src/middleware/drivers.ts";
import { MemoryStore } from "../../../src/storage/memory/store.ts";
import { escapeBytes, peer } from "../../helpers/fixtures.ts";
import { announcePacket, bytes20, readReply, scrapePacket } from "../../frontend/udp/packets.ts";
import { announce, hookContext, hookOptions, scrape } from "../helpers.ts";

test("rate limit: a bucket allows its burst, then its rate; refusals run into a debt, then drops", () => {
  const t = new BucketTable(2, 3, 10);
  const at0 = ["ok", "ok", "ok", "refuse", "refuse", "refuse", "drop", "drop"].map(() => t.take("a", 0));
  assert.deepEqual(at0, ["ok", "ok", "ok", "refuse", "refuse", "refuse", "drop", "drop"]);
  // Debt of 3: at 2 tokens/s, 1.5 s refills to 0, still no token.
  assert.equal(t.take("a", 1500), "refuse");
  assert.equal(t.take("a", 4000), "ok"); // -1 + 5 = 4 → capped at 3
  assert.equal(t.take("b", 0), "ok"); // another address has its own bucket
});

test("rate limit: error replies from a flooding address never outnumber its rate", () => {
  const t = new BucketTable(1, 5, 10);
  let answered = 0;
  for (let ms = 0; ms < 10_000; ms += 1) if (t.take("x", ms) !== "drop") answered++;
  // 5 at once, then about one per second (as allowed or as an error): 10,000 requests, ~15 replies.
  assert.ok(answered <= 5 + 5 + 11, `${answered} replies`);
});

test("rate limit: the table keeps at most max_tracked_addresses buckets, forgetting the oldest", () => {
  const t = new BucketTable(1, 1, 100);
  for (let i = 0; i < 10_000; i++) t.take(`k${i}`, 0);
  assert.equal(t.size, 100);
  assert.equal(t.take("k9999", 0), "refuse"); // recent: remembered
  assert.equal(t.take("k0", 0), "ok"); // forgotten: a fresh bucket
});

test("rate limit: IPv6 addresses share a bucket per /64, IPv4 per address", () => {
  assert.equal(addressKey(parseIP("2001:db8:1:2::1")!), addressKey(parseIP("2001:db8:1:2:ffff::9")!));
  assert.notEqual(addressKey(parseIP("2001:db8:1:2::1")!), addressKey(parseIP("2001:db8:1:3::1")!));
  assert.notEqual(addressKey(parseIP("10.0.0.1")!), addressKey(parseIP("10.0.0.2")!));
});

test("rate limit: options, defaults, per-protocol overrides, and errors with file:line", () => {
  assert.deepEqual(readRateLimitConfig({}, "p", []), {
    http: { announcesPerSecond: 5, scrapesPerSecond: 1, burst: 50 },
    udp: { announcesPerSecond: 5, scrapesPerSecond: 1, burst: 50 },
    maxTrackedAddresses: RATE_LIMIT_DEFAULTS.maxTrackedAddresses,
  });
  const cfg = readRateLimitConfig(
    hookOptions(
      "    - name: rate limit\n      options:\n        announces_per_second: 2\n        burst: 4\n        udp: {scrapes_per_second: 0}\n",
    ),
    "p",
    [],
  );
  assert.deepEqual(cfg.http, { announcesPerSecond: 2, scrapesPerSecond: 1, burst: 4 });
  assert.deepEqual(cfg.udp, { announcesPerSecond: 2, scrapesPerSecond: 0, burst: 4 });
  assert.throws(
    () =>
      readRateLimitConfig(
        hookOptions("    - name: rate limit\n      options:\n        announces_per_second: -1\n"),
        "p",
        [],
      ),
    (e) => e instanceof ConfigError && /announces_per_second.*\(config\.yaml:7\)/.test(e.message),
  );
  const warnings: string[] = [];
  readRateLimitConfig({ bursts: 1 }, "prehooks[0].options", warnings);
  assert.match(warnings.join("\n"), /bursts/);
  assert.ok(hookDriver("rate limit"));
  assert.ok(hookDriver("rate limit")!({}, hookContext()));
});

test("rate limit: announces and scrapes have separate buckets, HTTP and UDP too; the source is the context's", () => {
  let now = 0;
  const hook = rateLimitHook(
    readRateLimitConfig({ burst: 1, announces_per_second: 1, scrapes_per_second: 1 }, "p", []),
    () => now,
  );
  const ctx = (protocol: "http" | "udp", source = "10.0.0.1") => {
    const c = new Context();
    c.protocol = protocol;
    c.source = parseIP(source)!;
    return c;
  };
  hook.handleAnnounce!(ctx("http"), announce(), undefined as never);
  assert.throws(
    () => hook.handleAnnounce!(ctx("http"), announce(), undefined as never),
    (e) => e === ErrRateLimited,
  );
  hook.handleScrape!(ctx("http"), scrape([bytes20()]), undefined as never);
  hook.handleAnnounce!(ctx("udp"), announce(), undefined as never);
  hook.handleAnnounce!(ctx("http", "10.0.0.2"), announce(), undefined as never);
  now = 1000; // the refusal cost a token: one second pays the debt only
  assert.throws(
    () => hook.handleAnnounce!(ctx("http"), announce(), undefined as never),
    (e) => e === ErrRateLimited,
  );
  now = 3000;
  hook.handleAnnounce!(ctx("http"), announce(), undefined as never);
  // Without a source in the context, the announce's peer address is used.
  const other = announce({ peer: peer("z", "10.9.9.9", 1) });
  hook.handleAnnounce!(new Context(), other, undefined as never);
  assert.throws(
    () => hook.handleAnnounce!(new Context(), other, undefined as never),
    (e) => e === ErrRateLimited,
  );
});

function logicWith(hookOpts: Record<string, unknown>) {
  const store = new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 1_800_000, clock: new ManualClock() });
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks: [rateLimitHook(readRateLimitConfig(hookOpts, "p", []), () => 0)],
    posthooks: [],
    log: silentLogger,
  });
  return { store, logic };
}

test("rate limit over UDP: error packets until the debt is full, then silence", () => {
  const { store, logic } = logicWith({ burst: 2, announces_per_second: 1, scrapes_per_second: 1 });
  const clock = new ManualClock(1_700_000_000);
  const udp = new UDPFrontend({
    privateKey: "k",
    maxClockSkew: 10_000,
    connectionIDLifetime: 120_000,
    allowIPSpoofing: true,
    maxNumWant: 100,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    logic,
    log: silentLogger,
    clock,
  });
  const ip = parseIP("10.0.0.9")!;
  const id = new ConnectionIDs({ key: "k", lifetime: 120_000, maxClockSkew: 10_000 }).create(ip, clock.now());
  const kinds: string[] = [];
  for (let i = 0; i < 6; i++) {
    // A spoofed IP field changes nothing: the bucket is the source's.
    const pkt = announcePacket({ connectionID: id, ip: parseIP(`10.1.1.${i + 1}`)!, peerID: bytes20(i) });
    const reply = udp.handle(pkt, ip, 1) as Uint8Array | null;
    kinds.push(
      reply === null ? "drop" : readReply(reply).action === 3 ? readReply(reply).message! : "announce",
    );
  }
  assert.deepEqual(kinds, ["announce", "announce", "rate limited", "rate limited", "drop", "drop"]);
  const s = udp.handle(scrapePacket(id, [bytes20()]), ip, 1) as Uint8Array;
  assert.equal(readReply(s).action, 2);
  store.stop();
});

test("rate limit over HTTP: `rate limited` as the failure reason, never dropped; per real address", async () => {
  const { store, logic } = logicWith({ burst: 1, announces_per_second: 1 });
  const http = new HTTPFrontend({
    allowIPSpoofing: true,
    realIPHeader: "",
    maxNumWant: 50,
    defaultNumWant: 50,
    maxScrapeInfoHashes: 50,
    announceRoutes: ["/announce"],
    scrapeRoutes: ["/scrape"],
    enableKeepalive: false,
    logic,
    log: silentLogger,
  });
  const get = async (q: string, remote = "10.0.0.1") => {
    const res = await http.fetch(new Request(`http://t/announce?${q}`), remote);
    return new TextDecoder().decode(await res.arrayBuffer());
  };
  const q = (i: number) =>
    `info_hash=${escapeBytes(bytes20())}&peer_id=${
      "p".repeat(19)
    }${i}&port=1&left=1&uploaded=0&downloaded=0&ip=10.5.5.${i}`;
  assert.match(await get(q(1)), /interval/);
  for (let i = 2; i < 6; i++) assert.equal(await get(q(i)), "d14:failure reason12:rate limitede");
  assert.match(await get(q(7), "10.0.0.2"), /interval/);
  store.stop();
});
