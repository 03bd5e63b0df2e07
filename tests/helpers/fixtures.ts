/** Small builders shared by the tests. */
import { parseIP } from "../../src/bittorrent/ip.ts";
import type { Peer } from "../../src/bittorrent/peer.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";

const te = new TextEncoder();

/** 20 bytes from text, left-padded with "0". */
export function id20(s: string): Uint8Array {
  return te.encode(s.padStart(20, "0").slice(-20));
}

/** A peer from text parts. */
export function peer(id: string, ip: string, port: number): Peer {
  return { id: id20(id), ip: parseIP(ip)!, port };
}

/** A memory store on a manual clock; call `store.stop()` when done. */
export function memoryStore(): { store: MemoryStore; clock: ManualClock } {
  const clock = new ManualClock();
  return { store: new MemoryStore({ gcInterval: 3_600_000, peerLifetime: 30 * 60_000, clock }), clock };
}

/** Percent-escapes every byte, the way clients send binary infohashes. */
export function escapeBytes(b: Uint8Array): string {
  return Array.from(b, (c) => "%" + c.toString(16).padStart(2, "0")).join("");
}
