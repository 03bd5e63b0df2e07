/**
 * Swarm snapshots of the memory store: every swarm and its peer records, written
 * atomically (a temporary file, then a rename) with a SHA-256 checksum, and read
 * back at start.
 *
 * Layout: `HYTSNAP1` ‖ body ‖ sha256(body). The body is, for IPv4 then IPv6: a
 * u32 swarm count, then per swarm its infohash (20 bytes), seeders, count and
 * downloaded (u32 each) and `count` records (ip ‖ port ‖ peer id ‖ last-seen Unix
 * seconds as u32: the store's own records carry a coarser 2-byte stamp), seeders
 * first. Numbers are little-endian.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import type { FamilyStore } from "./family.ts";

const MAGIC = new TextEncoder().encode("HYTSNAP1");
const DIGEST = 32;

/** A snapshot that cannot be read: truncated, corrupt, or not a snapshot. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** Bytes of a snapshot record of `fam`: its key and a u32 last-seen time. */
export function snapshotStride(fam: FamilyStore): number {
  return fam.layout.key + 4;
}

/** Encodes both families into snapshot bytes, reading last-seen stamps against `now` (seconds). */
export function encodeSnapshot(families: FamilyStore[], now: number): Uint8Array {
  let size = MAGIC.length + DIGEST;
  for (const fam of families) {
    size += 4;
    for (let s = 0; s < fam.size; s++) size += 32 + fam.count(s) * snapshotStride(fam);
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(MAGIC);
  let at = MAGIC.length;
  for (const fam of families) {
    dv.setUint32(at, fam.size, true);
    at += 4;
    for (let s = 0; s < fam.size; s++) {
      out.set(fam.infoHash(s), at);
      dv.setUint32(at + 20, fam.seeders(s), true);
      dv.setUint32(at + 24, fam.count(s), true);
      dv.setUint32(at + 28, fam.downloaded(s), true);
      at += 32;
      for (let pos = 0; pos < fam.count(s); pos++) {
        out.set(fam.peerKey(s, pos), at);
        dv.setUint32(at + fam.layout.key, fam.seen(s, pos, now), true);
        at += snapshotStride(fam);
      }
    }
  }
  out.set(createHash("sha256").update(out.subarray(MAGIC.length, at)).digest(), at);
  return out;
}

/** One swarm read back from a snapshot. */
export interface SnapshotSwarm {
  infoHash: Uint8Array;
  seeders: number;
  downloaded: number;
  /** `count` records of `stride` bytes, seeders first. */
  records: Uint8Array;
}

/**
 * Checks and decodes snapshot bytes into swarms per family (`strides` gives each
 * family's record size). Throws SnapshotError on anything malformed.
 */
export function decodeSnapshot(bytes: Uint8Array, strides: number[]): SnapshotSwarm[][] {
  if (bytes.length < MAGIC.length + DIGEST || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new SnapshotError("not a hayate snapshot (bad magic or too short)");
  }
  const end = bytes.length - DIGEST;
  const digest = createHash("sha256").update(bytes.subarray(MAGIC.length, end)).digest();
  if (!digest.every((b, i) => b === bytes[end + i])) {
    throw new SnapshotError("checksum mismatch (corrupt or truncated)");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = MAGIC.length;
  const need = (n: number) => {
    if (at + n > end) throw new SnapshotError("truncated snapshot body");
  };
  return strides.map((stride) => {
    need(4);
    const swarms = dv.getUint32(at, true);
    at += 4;
    const out: SnapshotSwarm[] = [];
    for (let i = 0; i < swarms; i++) {
      need(32);
      const infoHash = bytes.slice(at, at + 20);
      const seeders = dv.getUint32(at + 20, true);
      const count = dv.getUint32(at + 24, true);
      const downloaded = dv.getUint32(at + 28, true);
      at += 32;
      if (seeders > count) throw new SnapshotError("a swarm with more seeders than peers");
      need(count * stride);
      out.push({ infoHash, seeders, downloaded, records: bytes.subarray(at, at + count * stride) });
      at += count * stride;
    }
    return out;
  });
}

/** Writes `bytes` to `path` atomically: a temporary file beside it, then a rename. */
export function writeSnapshotSync(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Like {@link writeSnapshotSync}, without blocking the event loop on the disk. */
export async function writeSnapshot(path: string, bytes: Uint8Array, commit: () => boolean): Promise<void> {
  const tmp = `${path}.tmp-periodic`;
  await writeFile(tmp, bytes);
  // A final snapshot written meanwhile (at stop) is newer: keep it.
  if (commit()) renameSync(tmp, path);
}

/** The snapshot's bytes, or undefined when there is no file. */
export function readSnapshot(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw err;
  }
}
