/**
 * Interop tests with a BitTorrent tracker client nobody on this project wrote:
 * webtorrent's `bittorrent-tracker` Client, loaded from npm and run under Deno's
 * Node compatibility (its HTTP tracker uses `fetch`, its UDP tracker `node:dgram`).
 *
 * Two clients of one torrent announce to an in-process hayate on loopback. Each
 * advertises its own port, so the only way A can learn B's port (and B A's) is
 * through the tracker's reply. A lone announcer is answered with itself (chihaya
 * #231), hence the exact per-reply peer lists asserted below. Scrape counts come
 * through the same client.
 *
 * Why 11.0.2 and not 11.2.3: from 11.1.0 on, the package imports
 * `@thaunknown/simple-peer` 10, whose `webrtc-polyfill` loads the native
 * `node-datachannel` addon when `client.js` is evaluated (even for HTTP/UDP use).
 * Deno only loads Node-API addons from a local `node_modules` built with install
 * scripts, and that addon's install step downloads a prebuilt binary, so 11.1+
 * cannot even be imported here. 11.0.2 has the same HTTP (fetch) and UDP tracker
 * clients without the WebRTC addon.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import Client from "bittorrent-tracker";
import { httpConfig, startTracker, testConfig, udpConfig } from "../helpers/tracker.ts";

/** How long any one step may wait for the client to report (the whole test stays far under 30 s). */
const STEP_TIMEOUT = 5_000;

/** The parts of bittorrent-tracker's Client that these tests use. */
interface TrackerClient {
  start(opts?: Record<string, unknown>): void;
  update(opts?: Record<string, unknown>): void;
  stop(opts?: Record<string, unknown>): void;
  scrape(opts?: Record<string, unknown>): void;
  destroy(cb?: (err: unknown) => void): void;
  on(event: string, listener: (arg: never) => void): void;
}
type ClientCtor = new (opts: Record<string, unknown>) => TrackerClient;

/** One announce reply as the client saw it: its counts and the peers it emitted for it. */
interface Reply {
  complete?: number;
  incomplete?: number;
  peers: string[];
}

/** A scrape reply as the client emits it. */
interface ScrapeReply {
  infoHash: string;
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** Not valid UTF-8 as bytes, like most real infohashes. */
const INFO_HASH = "0123456789abcdef0123456789abcdef01234567";

/**
 * The infohash of a scrape reply as hex. bittorrent-tracker's HTTP client gets the
 * `files` keys from bencode 4, which turns a key that is not valid UTF-8 into hex
 * text, and then hex-encodes that text again (the UDP client reports its own
 * hash): undo the second encoding.
 */
function scrapedInfoHash(reported: string): string {
  if (reported.length !== 80) return reported;
  return String.fromCharCode(...(reported.match(/../g) ?? []).map((h) => parseInt(h, 16)));
}

/**
 * Wraps one real client and records what it reports. `waitFor` resolves once a
 * condition holds, re-checked after every event, and rejects on a client warning
 * or error (a failed request, a `failure reason`) or after {@link STEP_TIMEOUT}.
 */
class Peer {
  readonly client: TrackerClient;
  readonly replies: Reply[] = [];
  readonly scrapes: ScrapeReply[] = [];
  readonly problems: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly name: string, announce: string, readonly port: number, left: number) {
    // The package ships no types: give it the shape used here.
    const ClientClass = Client as unknown as ClientCtor;
    this.client = new ClientClass({
      infoHash: INFO_HASH,
      // 20 distinct bytes per client, as hex.
      peerId: Array.from(
        new TextEncoder().encode(`-HY0001-${name.padEnd(12, "x")}`),
        (b) => b.toString(16).padStart(2, "0"),
      ).join(""),
      announce: [announce],
      port,
      // webtorrent supplies `left` this way; hayate (like chihaya) requires it.
      getAnnounceOpts: () => ({ left }),
    });
    this.client.on("update", (data: { complete?: number; incomplete?: number }) => {
      this.replies.push({ complete: data.complete, incomplete: data.incomplete, peers: [] });
      this.notify();
    });
    // Emitted right after the reply's `update`, once per peer of that reply.
    this.client.on("peer", (addr: string) => {
      const last = this.replies.at(-1);
      if (last === undefined) this.problems.push(`peer ${addr} before any reply`);
      else last.peers.push(addr);
      this.notify();
    });
    this.client.on("scrape", (data: ScrapeReply) => {
      this.scrapes.push(data);
      this.notify();
    });
    const problem = (err: Error) => {
      this.problems.push(String(err?.message ?? err));
      this.notify();
    };
    this.client.on("warning", problem);
    this.client.on("error", problem);
  }

  /** This client's address as the other one should learn it. */
  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  waitFor(what: string, cond: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const state = () => JSON.stringify({ replies: this.replies, scrapes: this.scrapes });
      const check = () => {
        if (this.problems.length > 0) {
          done(new Error(`${this.name}: client reported ${this.problems.join("; ")} waiting for ${what}`));
        } else if (cond()) done();
      };
      const timer = setTimeout(
        () =>
          done(
            new Error(`${this.name}: timed out after ${STEP_TIMEOUT} ms waiting for ${what}; saw ${state()}`),
          ),
        STEP_TIMEOUT,
      );
      this.waiters.add(check);
      check();
    });
  }

  /** Destroys the client: clears its re-announce interval, aborts or awaits what is in flight. */
  destroy(): Promise<void> {
    return new Promise((resolve) => this.client.destroy(() => resolve()));
  }
}

/**
 * The scenario, the same for every protocol: A (leecher) and B (seeder) announce
 * through their own client and each learns the other's port only from hayate.
 */
async function twoPeersLearnEachOther(announce: string): Promise<void> {
  const a = new Peer("a", announce, 50001, 1000);
  const b = new Peer("b", announce, 50002, 0);
  try {
    a.client.start();
    await a.waitFor("A's first reply", () => a.replies.length >= 1);
    assert.ok(!a.replies[0].peers.includes(b.addr), "B has not announced yet");
    assert.equal(a.replies[0].incomplete, 1, "A alone, as a leecher");
    assert.equal(a.replies[0].complete, 0);

    b.client.start();
    await b.waitFor("B to learn A", () => b.replies.length >= 1);
    assert.deepEqual(b.replies[0].peers, [a.addr], "B's reply names A and only A");
    // The counts of a reply are the swarm's before the announcer joins (as chihaya's).
    assert.equal(b.replies[0].incomplete, 1, "A counted as leecher");

    a.client.update();
    await a.waitFor("A to learn B", () => a.replies.length >= 2);
    assert.deepEqual(a.replies[1].peers, [b.addr], "A's reply names B and only B");
    assert.equal(a.replies[1].complete, 1);
    assert.equal(a.replies[1].incomplete, 1);

    a.client.scrape();
    await a.waitFor("A's scrape", () => a.scrapes.length >= 1);
    assert.equal(scrapedInfoHash(a.scrapes[0].infoHash), INFO_HASH);
    assert.deepEqual(
      { complete: a.scrapes[0].complete, incomplete: a.scrapes[0].incomplete },
      { complete: 1, incomplete: 1 },
    );

    // B leaves: the tracker drops it and A's scrape says so.
    b.client.stop();
    await b.waitFor("B's stopped reply", () => b.replies.length >= 2);
    a.client.scrape();
    await a.waitFor("A's second scrape", () => a.scrapes.length >= 2);
    assert.deepEqual(
      { complete: a.scrapes[1].complete, incomplete: a.scrapes[1].incomplete },
      { complete: 0, incomplete: 1 },
      "B's stopped announce removed it",
    );
  } finally {
    await Promise.all([a.destroy(), b.destroy()]);
  }
}

test("interop http: two bittorrent-tracker clients learn each other only through hayate", async () => {
  const t = await startTracker(testConfig({ http: httpConfig() }));
  try {
    await twoPeersLearnEachOther(`${t.url()}/announce`);
  } finally {
    await t.stop();
  }
});

test("interop udp: two bittorrent-tracker clients learn each other only through hayate", async () => {
  const t = await startTracker(testConfig({ udp: udpConfig() }));
  try {
    const a = t.tracker.address("udp");
    assert.ok(a, "the tracker bound a udp frontend");
    await twoPeersLearnEachOther(`udp://${a.hostname}:${a.port}`);
  } finally {
    await t.stop();
  }
});
