/** Builders shared by the middleware tests: requests, responses, option maps with lines, a log sink. */
import { Event } from "../../src/bittorrent/event.ts";
import { parseURLData } from "../../src/bittorrent/params.ts";
import {
  type AnnounceRequest,
  type AnnounceResponse,
  PeerList,
  type ScrapeRequest,
  type ScrapeResponse,
} from "../../src/bittorrent/request.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { HookContext } from "../../src/middleware/hook.ts";
import { peer } from "../helpers/fixtures.ts";

const te = new TextEncoder();

/** An announce from 10.0.0.1:6881 with a 20-byte peer ID; `query` becomes its params. */
export function announce(over: Partial<AnnounceRequest> = {}, query = ""): AnnounceRequest {
  return {
    infoHash: new Uint8Array(20),
    peer: peer("a", "10.0.0.1", 6881),
    event: Event.Started,
    eventProvided: true,
    numWant: 50,
    numWantProvided: false,
    ipProvided: false,
    compact: true,
    noPeerID: false,
    left: 100,
    downloaded: 0,
    uploaded: 0,
    params: parseURLData(te.encode(`/announce?${query}`)),
    ...over,
  };
}

/** A scrape of `infoHashes` from IPv4; `query` becomes its params. */
export function scrape(infoHashes: Uint8Array[], query = ""): ScrapeRequest {
  return { infoHashes, family: 4, params: parseURLData(te.encode(`/scrape?${query}`)) };
}

/** An empty announce response with 1800 s / 900 s intervals. */
export function response(): AnnounceResponse {
  return {
    compact: true,
    complete: 0,
    incomplete: 0,
    interval: 1800,
    minInterval: 900,
    ipv4Peers: new PeerList(4),
    ipv6Peers: new PeerList(6),
  };
}

/** An empty scrape response. */
export function scrapeResponse(): ScrapeResponse {
  return { files: [] };
}

/**
 * The `options:` map of the first prehook of a config whose hook entry is `yaml`
 * (indented by four spaces under `prehooks:`), tagged with lines of `config.yaml`.
 * The hook starts on line 5: `- name:` is line 5 and `options:` line 6.
 */
export function hookOptions(yaml: string): Record<string, unknown> {
  const text = `chihaya:\n  announce_interval: 30m\n  storage: {name: memory}\n  prehooks:\n${yaml}`;
  return loadConfig(text, { path: "config.yaml" }).config.prehooks[0].options;
}

/** Log lines a hook wrote. */
export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A HookContext that records warnings and log lines. */
export function hookContext(where = "prehooks[0].options"): HookContext & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    where,
    warnings: [],
    lines,
    log: (level, msg, fields) => void lines.push({ level, msg, fields }),
  };
}

/** 20 bytes from hex. */
export function hash(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!.map((b) => Number.parseInt(b, 16)));
}

/** 20 bytes of text. */
export function text20(s: string): Uint8Array {
  const b = te.encode(s);
  if (b.length !== 20) throw new Error(`${s} is not 20 bytes`);
  return b;
}
