/**
 * Builders for BEP 15 packets and a reader for replies, shared by the UDP tests.
 *
 * @module
 */
import { formatIP } from "../../../src/bittorrent/ip.ts";
import { fromHex } from "../../../src/bittorrent/peer.ts";

/** Bytes from hex; whitespace is ignored. */
export function hex(s: string): Uint8Array {
  const b = fromHex(s.replace(/\s+/g, ""));
  if (b === null) throw new Error(`not hex: ${s}`);
  return b;
}

export const utf8 = new TextEncoder();
export const CONNECT_MAGIC = hex("0000041727101980");

/** A 20-byte value filled with `byte` (or 1..20 when omitted). */
export function bytes20(byte?: number): Uint8Array {
  return Uint8Array.from({ length: 20 }, (_, i) => byte ?? i + 1);
}

function u32(out: DataView, at: number, v: number): void {
  out.setUint32(at, v >>> 0);
}

/** A connect request. */
export function connectPacket(tx = 0xdeadbeef): Uint8Array {
  const out = new Uint8Array(16);
  out.set(CONNECT_MAGIC);
  u32(new DataView(out.buffer), 12, tx);
  return out;
}

/** Fields of an announce; defaults give the worked vector of the reference. */
export interface AnnounceFields {
  connectionID?: Uint8Array;
  action?: number;
  tx?: number;
  infoHash?: Uint8Array;
  peerID?: Uint8Array;
  downloaded?: number;
  left?: number;
  uploaded?: number;
  event?: number;
  /** 4 bytes for action 1, 16 for action 4 (zeros by default). */
  ip?: Uint8Array;
  key?: number;
  numWant?: number;
  port?: number;
  options?: Uint8Array;
}

/** An action 1 (or 4) announce. */
export function announcePacket(f: AnnounceFields = {}): Uint8Array {
  const action = f.action ?? 1;
  const ip = f.ip ?? new Uint8Array(action === 4 ? 16 : 4);
  const options = f.options ?? new Uint8Array(0);
  const out = new Uint8Array(94 + ip.length + options.length);
  const v = new DataView(out.buffer);
  out.set(f.connectionID ?? hex("6553f100cbd42512"));
  u32(v, 8, action);
  u32(v, 12, f.tx ?? 0xdeadbeef);
  out.set(f.infoHash ?? bytes20(), 16);
  out.set(f.peerID ?? utf8.encode("-TEST01-6wfG2wk6wWLc"), 36);
  v.setBigUint64(56, BigInt(f.downloaded ?? 1234));
  v.setBigUint64(64, BigInt(f.left ?? 4321));
  v.setBigUint64(72, BigInt(f.uploaded ?? 0));
  u32(v, 80, f.event ?? 2);
  out.set(ip, 84);
  const at = 84 + ip.length;
  u32(v, at, f.key ?? 0x11223344);
  u32(v, at + 4, f.numWant ?? -1);
  v.setUint16(at + 8, f.port ?? 6881);
  out.set(options, at + 10);
  return out;
}

/** A scrape request for `hashes`. */
export function scrapePacket(connectionID: Uint8Array, hashes: Uint8Array[], tx = 0xdeadbeef): Uint8Array {
  const out = new Uint8Array(16 + hashes.length * 20);
  out.set(connectionID);
  u32(new DataView(out.buffer), 8, 2);
  u32(new DataView(out.buffer), 12, tx);
  hashes.forEach((h, i) => out.set(h, 16 + i * 20));
  return out;
}

/** BEP 41 URL data options (split into chunks of at most 255 bytes), then EndOfOptions. */
export function urlDataOption(text: string): Uint8Array {
  const data = utf8.encode(text);
  const parts: number[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    parts.push(2, chunk.length, ...chunk);
  }
  return Uint8Array.from([...parts, 0]);
}

/** A decoded reply. */
export interface Reply {
  action: number;
  tx: number;
  /** action 0 */
  connectionID?: Uint8Array;
  /** action 1/4 */
  interval?: number;
  leechers?: number;
  seeders?: number;
  /** action 1/4: "1.2.3.4:port" or "[::1]:port" */
  peers?: string[];
  /** action 2 */
  files?: { seeders: number; completed: number; leechers: number }[];
  /** action 3, without the trailing NUL */
  message?: string;
}

function peerText(b: Uint8Array, size: number): string {
  const ip = formatIP(b.subarray(0, size - 2));
  const port = (b[size - 2] << 8) | b[size - 1];
  return size === 6 ? `${ip}:${port}` : `[${ip}]:${port}`;
}

/** Decodes a reply; `peerSize` is 6 for an IPv4 client, 18 for IPv6. */
export function readReply(b: Uint8Array, peerSize = 6): Reply {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const action = v.getUint32(0);
  const tx = v.getUint32(4);
  switch (action) {
    case 0:
      return { action, tx, connectionID: b.slice(8, 16) };
    case 1:
    case 4: {
      const peers: string[] = [];
      for (let at = 20; at + peerSize <= b.length; at += peerSize) {
        peers.push(peerText(b.subarray(at, at + peerSize), peerSize));
      }
      if ((b.length - 20) % peerSize !== 0) throw new Error(`announce reply of ${b.length} bytes`);
      return {
        action,
        tx,
        interval: v.getUint32(8),
        leechers: v.getUint32(12),
        seeders: v.getUint32(16),
        peers,
      };
    }
    case 2: {
      const files = [];
      for (let at = 8; at + 12 <= b.length; at += 12) {
        files.push({
          seeders: v.getUint32(at),
          completed: v.getUint32(at + 4),
          leechers: v.getUint32(at + 8),
        });
      }
      return { action, tx, files };
    }
    case 3:
      if (b[b.length - 1] !== 0) throw new Error("error reply without NUL");
      return { action, tx, message: new TextDecoder().decode(b.subarray(8, b.length - 1)) };
  }
  throw new Error(`unknown reply action ${action}`);
}
