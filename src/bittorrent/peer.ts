/**
 * The domain's identities: InfoHash and PeerID are 20 raw bytes; a Peer is a peer
 * ID at an address and port. A peer is identified by all three together.
 *
 * @module
 */
import { formatIP } from "./ip.ts";

/** 20 raw bytes identifying a torrent (a v1 SHA-1, or a truncated v2 hash). */
export type InfoHash = Uint8Array;
/** 20 raw bytes a client picks for itself. */
export type PeerID = Uint8Array;

/** A client in a swarm. `ip` holds 4 (IPv4) or 16 (IPv6) bytes. */
export interface Peer {
  id: PeerID;
  ip: Uint8Array;
  port: number;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lowercase hex of raw bytes, as chihaya prints InfoHashes and PeerIDs.
 *
 * @example
 * ```ts
 * toHex(new Uint8Array([1, 171])); // "01ab"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** Decodes hex (either case) into bytes, or returns null when it is not hex. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** `"<hex id>@[<ip>]:<port>"`, chihaya's Peer.String. */
export function peerToString(p: Peer): string {
  return `${toHex(p.id)}@[${formatIP(p.ip)}]:${p.port}`;
}

/** Byte equality of two arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when two peers share ID, address and port. */
export function peerEqual(a: Peer, b: Peer): boolean {
  return a.port === b.port && bytesEqual(a.ip, b.ip) && bytesEqual(a.id, b.id);
}

/**
 * The 6-byte client ID of a peer ID: `peer_id[1:7]` for Azureus-style IDs that start
 * with `-`, else `peer_id[0:6]`.
 *
 * @example
 * ```ts
 * clientID(new TextEncoder().encode("-AZ3034-6wfG2wk6wWLc")); // bytes of "AZ3034"
 * ```
 */
export function clientID(peerID: PeerID): Uint8Array {
  return peerID[0] === 0x2d ? peerID.subarray(1, 7) : peerID.subarray(0, 6);
}
