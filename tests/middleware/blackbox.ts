/**
 * Black-box helpers for the middleware tests: a tracker with HTTP and UDP on
 * 127.0.0.1, an HTTP announce/scrape client, and the shared UDP client.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decode } from "../../src/bittorrent/bencode.ts";
import { formatIP } from "../../src/bittorrent/ip.ts";
import type { Config, HookConfig, UDPConfig } from "../../src/config/types.ts";
import { listenUDP, serveHTTP } from "../../src/frontend/bindings.ts";
import { silentLogger } from "../../src/log.ts";
import { Tracker } from "../../src/tracker.ts";
import { escapeBytes } from "../helpers/fixtures.ts";
import { httpConfig, testConfig, udpConfig as baseUDPConfig } from "../helpers/tracker.ts";

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

export { UDPClient } from "../helpers/udp_client.ts";
