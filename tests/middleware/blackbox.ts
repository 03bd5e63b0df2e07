/**
 * Black-box helpers for the middleware tests: a tracker with HTTP and UDP on
 * 127.0.0.1, an HTTP announce/scrape client and a small UDP client.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { decode } from "../../src/bittorrent/bencode.ts";
import { formatIP } from "../../src/bittorrent/ip.ts";
import type { Config, HookConfig, UDPConfig } from "../../src/config/types.ts";
import { listenUDP, serveHTTP } from "../../src/frontend/bindings.ts";
import { silentLogger } from "../../src/log.ts";
import { Tracker } from "../../src/tracker.ts";
import { escapeBytes } from "../helpers/fixtures.ts";
import { httpConfig, testConfig, udpConfig as baseUDPConfig } from "../helpers/tracker.ts";
import {
  type AnnounceFields,
  announcePacket,
  connectPacket,
  readReply,
  type Reply,
  scrapePacket,
} from "../frontend/udp/packets.ts";

/** The `udp:` block the tests use. */
export function udpConfig(over: Partial<UDPConfig> = {}): UDPConfig {
  return baseUDPConfig({ privateKey: "middleware black box", ...over });
}

/** A hook entry as the loader would produce it. */
export function hook(name: string, options: Record<string, unknown>): HookConfig {
  return { name, options, where: "test" };
}

/** A running tracker with HTTP and UDP frontends on 127.0.0.1. */
export interface Running {
  tracker: Tracker;
  http: string;
  udpPort: number;
  stop(): Promise<void>;
}

/** Starts HTTP + UDP with `over` merged into the test config. */
export async function startBoth(over: Partial<Config> = {}): Promise<Running> {
  const config = testConfig({ http: httpConfig(), udp: udpConfig(), ...over });
  const tracker = await Tracker.start(config, { runtime: { serveHTTP, listenUDP }, log: silentLogger });
  const h = tracker.address("http")!;
  return {
    tracker,
    http: `http://${h.hostname}:${h.port}`,
    udpPort: tracker.address("udp")!.port,
    stop: () => tracker.stop(),
  };
}

type Dict = Record<string, unknown>;

/** What an HTTP announce answered: the failure reason, or the peers and counts. */
export interface HTTPAnswer {
  failure?: string;
  peers: string[];
  complete?: number;
  incomplete?: number;
  interval?: number;
  body: Dict;
}

function compactPeers(b: unknown, size: number): string[] {
  const bytes = (b as Uint8Array | undefined) ?? new Uint8Array(0);
  const out: string[] = [];
  for (let i = 0; i + size <= bytes.length; i += size) {
    const ip = formatIP(bytes.subarray(i, i + size - 2));
    const port = (bytes[i + size - 2] << 8) | bytes[i + size - 1];
    out.push(size === 6 ? `${ip}:${port}` : `[${ip}]:${port}`);
  }
  return out;
}

/** Fields of an HTTP announce. */
export interface HTTPAnnounce {
  infoHash: Uint8Array;
  peerID: string;
  port: number;
  left?: number;
  event?: string;
  /** Extra query text, e.g. `&jwt=...`. */
  extra?: string;
  /** With spoofing allowed in the config: the announced address. */
  ip?: string;
}

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

/** A compact HTTP announce. */
export async function httpAnnounce(base: string, a: HTTPAnnounce): Promise<HTTPAnswer> {
  const query = `info_hash=${escapeBytes(a.infoHash)}&peer_id=${encodeURIComponent(a.peerID)}` +
    `&port=${a.port}&left=${a.left ?? 10}&downloaded=0&uploaded=0&compact=1` +
    (a.event ? `&event=${a.event}` : "") + (a.ip ? `&ip=${a.ip}` : "") + (a.extra ?? "");
  const res = await fetch(`${base}/announce?${query}`);
  assert.equal(res.status, 200);
  const body = decode(new Uint8Array(await res.arrayBuffer())) as Dict;
  if (body["failure reason"] !== undefined) {
    return { failure: latin1(body["failure reason"] as Uint8Array), peers: [], body };
  }
  return {
    peers: [...compactPeers(body.peers, 6), ...compactPeers(body.peers6, 18)],
    complete: body.complete as number,
    incomplete: body.incomplete as number,
    interval: body.interval as number,
    body,
  };
}

/** An HTTP scrape: the failure reason, or the files dict keyed by latin1 infohash. */
export async function httpScrape(
  base: string,
  hashes: Uint8Array[],
  extra = "",
): Promise<{ failure?: string; files?: Dict }> {
  const res = await fetch(
    `${base}/scrape?${hashes.map((h) => `info_hash=${escapeBytes(h)}`).join("&")}${extra}`,
  );
  const body = decode(new Uint8Array(await res.arrayBuffer())) as Dict;
  if (body["failure reason"] !== undefined) return { failure: latin1(body["failure reason"] as Uint8Array) };
  return { files: body.files as Dict };
}

/** A UDP client on 127.0.0.1 that matches replies by transaction ID and retransmits. */
export class UDPClient {
  private readonly received: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private nextTx = 1;

  private constructor(private readonly socket: Socket, private readonly port: number) {
    socket.on("message", (msg) => {
      this.received.push(new Uint8Array(msg));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Opens a socket on 127.0.0.1 talking to the tracker's `port`. */
  static open(port: number): Promise<UDPClient> {
    const socket = createSocket("udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => resolve(new UDPClient(socket, port)));
    });
  }

  private async waitFor(tx: number, from: number, ms: number): Promise<Uint8Array | null> {
    const deadline = Date.now() + ms;
    for (let i = from;; i++) {
      while (i >= this.received.length) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
          this.waiters.push(resolve);
        });
        clearTimeout(timer);
      }
      const r = this.received[i];
      if (r.length >= 8 && new DataView(r.buffer, r.byteOffset).getUint32(4) === tx) return r;
    }
  }

  /** Sends `packet` with a fresh transaction ID and decodes the reply. */
  async request(packet: Uint8Array): Promise<Reply> {
    const tx = (this.nextTx++ * 0x9e3779b1) >>> 0;
    new DataView(packet.buffer, packet.byteOffset).setUint32(12, tx);
    for (let attempt = 0; attempt < 3; attempt++) {
      const from = this.received.length;
      await new Promise<void>((resolve, reject) =>
        this.socket.send(packet, this.port, "127.0.0.1", (err) => (err ? reject(err) : resolve()))
      );
      const reply = await this.waitFor(tx, from, 1000);
      if (reply !== null) return readReply(reply);
    }
    throw new Error("no reply");
  }

  async connect(): Promise<Uint8Array> {
    const r = await this.request(connectPacket());
    assert.equal(r.action, 0);
    return r.connectionID!;
  }

  /** An announce (action 1); error replies come back with `message` set. */
  async announce(fields: AnnounceFields): Promise<Reply> {
    return this.request(announcePacket({ connectionID: await this.connect(), ...fields }));
  }

  async scrape(hashes: Uint8Array[]): Promise<Reply> {
    return this.request(scrapePacket(await this.connect(), hashes));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
