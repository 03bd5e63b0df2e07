/**
 * The `fixed peers` hook (from LBRY's fork of chihaya, `middleware/fixedpeer`):
 * appends a configured list of peers to every announce response and counts each
 * of them as a seeder.
 *
 * ```yaml
 * prehooks:
 *   - name: fixed peers
 *     options:
 *       fixed_peers:
 *         - 203.0.113.10:4444
 *         - "[2001:db8::10]:4444"
 * ```
 *
 * Differences from the fork, which only understands IPv4 and panics on a bad
 * entry: IPv6 entries are written `[ipv6]:port`; a bad entry fails the start with
 * a message naming it; a peer is given only to announcers of its own address
 * family (the fork put IPv4 peers in the IPv4 list of IPv6 announcers too, where
 * UDP clients never saw them, yet still counted them). As in the fork, the peers
 * get an all-zero peer ID, come before the stored peers, are added whatever
 * `numwant` says, and scrapes are untouched. List the hook under `prehooks`: it
 * must run before the response is built.
 *
 * @module
 */
import { familyOf, isUsableIP, parseIP } from "../../bittorrent/ip.ts";
import type { Peer } from "../../bittorrent/peer.ts";
import { OptionsReader } from "../../config/options.ts";
import { type Hook, type HookContext, registerHook } from "../hook.ts";
import { listItemError } from "../list_item.ts";

/** The validated options: the peers, in config order. */
export interface FixedPeersConfig {
  peers: Peer[];
}

/**
 * Parses `ip:port` or `[ipv6]:port` into a peer with an all-zero ID; returns the
 * reason as a string when the entry is not valid.
 *
 * @example
 * ```ts
 * parseFixedPeer("8.8.8.8:4040"); // { id: 20 zero bytes, ip: [8, 8, 8, 8], port: 4040 }
 * parseFixedPeer("8.8.8.8"); // "\"8.8.8.8\" has no port; write ip:port, ..."
 * ```
 */
export function parseFixedPeer(entry: string): Peer | string {
  const text = entry.trim();
  const shape = `write ip:port for IPv4 (e.g. 203.0.113.10:4444) or [ipv6]:port for IPv6 ` +
    `(e.g. "[2001:db8::10]:4444")`;
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) return `${JSON.stringify(entry)} has no closing "]"; ${shape}`;
    if (text[end + 1] !== ":") return `${JSON.stringify(entry)} has no port after "]"; ${shape}`;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return `${JSON.stringify(entry)} has no port; ${shape}`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) {
      return `${JSON.stringify(entry)} looks like an IPv6 address without brackets; ${shape}`;
    }
  }
  const ip = parseIP(host);
  if (ip === null) return `${JSON.stringify(entry)}: ${JSON.stringify(host)} is not an IP address; ${shape}`;
  if (!isUsableIP(ip)) {
    return `${JSON.stringify(entry)}: ${host} is not an address peers can connect to (unspecified, ` +
      `multicast or broadcast)`;
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return `${JSON.stringify(entry)}: the port must be a whole number from 1 to 65535, got ${
      JSON.stringify(portText)
    }`;
  }
  return { id: new Uint8Array(20), ip, port: Number(portText) };
}

/**
 * Reads and validates the `options:` map; a bad entry throws a ConfigError naming
 * it, its index and its line.
 *
 * @example
 * ```ts
 * readFixedPeersConfig({ fixed_peers: ["8.8.8.8:4040", "1.1.1.1:111"] }, "prehooks[0].options", []);
 * ```
 */
export function readFixedPeersConfig(options: unknown, where: string, warnings: string[]): FixedPeersConfig {
  const r = new OptionsReader(options, where, warnings);
  const entries = r.stringList("fixed_peers", []);
  r.finish();
  const peers = entries.map((entry, i) => {
    const p = parseFixedPeer(entry);
    if (typeof p === "string") throw listItemError(r, "fixed_peers", i, `invalid fixed peer ${p}`);
    return p;
  });
  if (peers.length === 0) r.warn("fixed_peers", "is empty, so the fixed peers hook adds nothing");
  if (r.path.startsWith("posthooks")) {
    r.warn(
      undefined,
      "fixed peers runs after the response was sent when listed under posthooks, so it adds nothing; " +
        "move it to prehooks",
    );
  }
  return { peers };
}

/**
 * Builds the hook from validated options.
 *
 * @example
 * ```ts
 * const hook = fixedPeersHook({ peers: [parseFixedPeer("8.8.8.8:4040") as Peer] });
 * ```
 */
export function fixedPeersHook(cfg: FixedPeersConfig): Hook {
  const v4 = cfg.peers.filter((p) => familyOf(p.ip) === 4);
  const v6 = cfg.peers.filter((p) => familyOf(p.ip) === 6);
  return {
    handleAnnounce(_ctx, req, resp) {
      const v6Announcer = familyOf(req.peer.ip) === 6;
      const peers = v6Announcer ? v6 : v4;
      const list = v6Announcer ? resp.ipv6Peers : resp.ipv4Peers;
      for (const p of peers) list.push(p);
      resp.complete += peers.length;
    },
  };
}

/** The driver registered as `fixed peers`. */
export function newFixedPeersHook(options: Record<string, unknown>, ctx: HookContext): Hook {
  return fixedPeersHook(readFixedPeersConfig(options, ctx.where, ctx.warnings));
}

registerHook("fixed peers", newFixedPeersHook);
