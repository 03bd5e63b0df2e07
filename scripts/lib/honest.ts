/**
 * Honest swarms for the load scripts (flood.ts, soak.ts): a few fixed peers that
 * announce over UDP and HTTP while the tracker is under attack, each reply checked.
 *
 * @module
 */
import { decode } from "../../src/bittorrent/bencode.ts";
import type { UDPClient } from "../../tests/helpers/udp_client.ts";
import { HOST, sleep } from "./proc.ts";

/** A fixed peer of an honest swarm, and the peers its replies must list. */
export interface HonestPeer {
  label: string;
  infoHash: Uint8Array;
  peerID: Uint8Array;
  proto: "udp" | "http";
  seeder: boolean;
  port: number;
  /** "127.0.0.1:port" of the peers its replies must list, sorted. */
  expected: string[];
}

interface Answer {
  peers: string[];
  complete: number;
  incomplete: number;
  error?: string;
}

/** Honest swarms per run. */
export const HONEST_SWARMS = 3;
const utf8 = new TextEncoder();

/**
 * 3 swarms of 4 peers (a seeder and a leecher over UDP, the same over HTTP), named
 * after `tag` so that two scripts never share swarms.
 */
export function honestPeers(tag: string): HonestPeer[] {
  const all: HonestPeer[] = [];
  for (let s = 0; s < HONEST_SWARMS; s++) {
    const infoHash = utf8.encode(`${tag}-honest-swarm-${s}`.padEnd(20, "-").slice(0, 20));
    for (
      const [k, proto, seeder] of [[0, "udp", true], [1, "udp", false], [2, "http", true], [
        3,
        "http",
        false,
      ]] as const
    ) {
      all.push({
        label: `swarm ${s} ${proto} ${seeder ? "seeder" : "leecher"}`,
        infoHash,
        peerID: utf8.encode(`-FL0001-honest-${s}-${k}-`.padEnd(20, "x").slice(0, 20)),
        proto,
        seeder,
        port: 40000 + s * 10 + k,
        expected: [],
      });
    }
  }
  for (const p of all) {
    p.expected = all
      .filter((o) => o.infoHash === p.infoHash && o !== p && (!p.seeder || !o.seeder))
      .map((o) => `${HOST}:${o.port}`)
      .sort();
  }
  return all;
}

const esc = (b: Uint8Array) => Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");

async function announceHTTP(httpPort: number, p: HonestPeer, event: string): Promise<Answer> {
  const url = `http://${HOST}:${httpPort}/announce?info_hash=${esc(p.infoHash)}&peer_id=${
    esc(p.peerID)
  }&port=${p.port}&uploaded=0&downloaded=0&left=${p.seeder ? 0 : 1000}&compact=1&numwant=50${
    event ? `&event=${event}` : ""
  }`;
  const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
  const d = decode(new Uint8Array(await r.arrayBuffer())) as Record<string, unknown>;
  if (d["failure reason"] instanceof Uint8Array) {
    return { peers: [], complete: 0, incomplete: 0, error: new TextDecoder().decode(d["failure reason"]) };
  }
  const raw = d.peers instanceof Uint8Array ? d.peers : new Uint8Array(0);
  const peers: string[] = [];
  for (let at = 0; at + 6 <= raw.length; at += 6) {
    peers.push(`${raw[at]}.${raw[at + 1]}.${raw[at + 2]}.${raw[at + 3]}:${(raw[at + 4] << 8) | raw[at + 5]}`);
  }
  return { peers, complete: Number(d.complete), incomplete: Number(d.incomplete) };
}

async function announceUDP(client: UDPClient, p: HonestPeer, event: number): Promise<Answer> {
  const r = await client.announce({
    infoHash: p.infoHash,
    peerID: p.peerID,
    port: p.port,
    left: p.seeder ? 0 : 1000,
    downloaded: 0,
    event,
    numWant: 50,
  });
  if (r.action === 3) return { peers: [], complete: 0, incomplete: 0, error: r.message };
  return { peers: r.peers ?? [], complete: r.seeders ?? -1, incomplete: r.leechers ?? -1 };
}

/**
 * Announces every honest peer each round and checks the reply: exactly the expected
 * peers (addresses and ports), 2 seeders and 2 leechers, no error.
 */
export class Honest {
  pass = 0;
  fail = 0;
  rounds = 0;
  maxMs = 0;
  readonly failures: string[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly peers: HonestPeer[],
    private readonly client: UDPClient,
    private readonly httpPort: number,
  ) {}

  private announce(p: HonestPeer, started: boolean): Promise<Answer> {
    return p.proto === "udp"
      ? announceUDP(this.client, p, started ? 2 : 0)
      : announceHTTP(this.httpPort, p, started ? "started" : "");
  }

  /** Every peer announces `started` once; the first of a swarm gets itself back, so nothing is checked. */
  async join(): Promise<void> {
    for (const p of this.peers) await this.announce(p, true);
  }

  /** One announce per peer, each checked. */
  async round(): Promise<void> {
    this.rounds++;
    await Promise.all(this.peers.map(async (p) => {
      const t0 = performance.now();
      let why = "";
      try {
        const a = await this.announce(p, false);
        const got = [...a.peers].sort();
        if (a.error !== undefined) why = `error "${a.error}"`;
        else if (got.join(",") !== p.expected.join(",")) {
          why = `peers [${got.join(", ")}], expected [${p.expected.join(", ")}]`;
        } else if (a.complete !== 2 || a.incomplete !== 2) {
          why = `complete ${a.complete} incomplete ${a.incomplete}, expected 2 and 2`;
        }
      } catch (err) {
        why = (err as Error).message;
      }
      this.maxMs = Math.max(this.maxMs, performance.now() - t0);
      if (why === "") this.pass++;
      else {
        this.fail++;
        if (this.failures.length < 20) this.failures.push(`round ${this.rounds}, ${p.label}: ${why}`);
      }
    }));
  }

  start(everyMs: number): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const t0 = Date.now();
        await this.round();
        await sleep(Math.max(0, everyMs - (Date.now() - t0)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
