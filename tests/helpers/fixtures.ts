/** Small builders shared by the tests. */
import { parseIP } from "../../src/bittorrent/ip.ts";
import type { Peer } from "../../src/bittorrent/peer.ts";
import { ManualClock } from "../../src/clock.ts";
import { MemoryStore } from "../../src/storage/memory/store.ts";
import { silentLogger } from "../../src/log.ts";
import { Logic } from "../../src/middleware/logic.ts";
import type { PeerStore } from "../../src/storage/store.ts";

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

/** chihaya's bittorrent/client_id_test.go: peer ID → client ID. */
export const CLIENT_ID_VECTORS: [string, string][] = [
  ["-AZ3034-6wfG2wk6wWLc", "AZ3034"],
  ["-AZ3042-6ozMq5q6Q3NX", "AZ3042"],
  ["-BS5820-oy4La2MWGEFj", "BS5820"],
  ["-AR6360-6oZyyMWoOOBe", "AR6360"],
  ["-AG2083-s1hiF8vGAAg0", "AG2083"],
  ["-AG3003-lEl2Mm4NEO4n", "AG3003"],
  ["-MR1100-00HS~T7*65rm", "MR1100"],
  ["-LK0140-ATIV~nbEQAMr", "LK0140"],
  ["-KT2210-347143496631", "KT2210"],
  ["-TR0960-6ep6svaa61r4", "TR0960"],
  ["-XX1150-dv220cotgj4d", "XX1150"],
  ["-AZ2504-192gwethivju", "AZ2504"],
  ["-KT4310-3L4UvarKuqIu", "KT4310"],
  ["-AZ2060-0xJQ02d4309O", "AZ2060"],
  ["-BD0300-2nkdf08Jd890", "BD0300"],
  ["-A~0010-a9mn9DFkj39J", "A~0010"],
  ["-UT2300-MNu93JKnm930", "UT2300"],
  ["-UT2300-KT4310KT4301", "UT2300"],
  ["T03A0----f089kjsdf6e", "T03A0-"],
  ["S58B-----nKl34GoNb75", "S58B--"],
  ["M4-4-0--9aa757Efd5Bl", "M4-4-0"],
  ["AZ2500BTeYUzyabAfo6U", "AZ2500"],
  ["exbc0JdSklm834kj9Udf", "exbc0J"],
  ["FUTB0L84j542mVc84jkd", "FUTB0L"],
  ["XBT054d-8602Jn83NnF9", "XBT054"],
  ["OP1011affbecbfabeefb", "OP1011"],
  ["-ML2.7.2-kgjjfkd9762", "ML2.7."],
  ["-BOWA0C-SDLFJWEIORNM", "BOWA0C"],
  ["Q1-0-0--dsn34DFn9083", "Q1-0-0"],
  ["Q1-10-0-Yoiumn39BDfO", "Q1-10-"],
  ["346------SDFknl33408", "346---"],
  ["QVOD0054ABFFEDCCDEDB", "QVOD00"],
];

/** The chain with no hooks on `store`: 30m / 15m intervals, silent log. */
export function bareLogic(store: PeerStore): Logic {
  return new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks: [],
    posthooks: [],
    log: silentLogger,
  });
}
