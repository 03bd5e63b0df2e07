/**
 * `hayate e2e`: chihaya's end-to-end check against a running tracker. Per
 * protocol, with a random infohash: announce A (peer ID bytes 1..20, port 10001)
 * must see exactly one peer (itself); after the delay, announce B (peer ID 1..19
 * then 21, port 10002) must see exactly one peer, on port 10001. Messages are
 * chihaya's.
 *
 * @module
 */
import { decode } from "./bittorrent/bencode.ts";

/** Sends one UDP datagram to `host:port` and resolves with the reply; rejects on timeout. */
export type UDPExchange = (
  host: string,
  port: number,
  packet: Uint8Array,
  timeoutMs: number,
) => Promise<Uint8Array>;

/** What {@link runE2E} needs. */
export interface E2EOptions {
  /** Announce URL, e.g. `http://127.0.0.1:6969/announce`; empty skips HTTP. */
  httpAddr: string;
  /** `udp://host:port`; empty skips UDP. */
  udpAddr: string;
  delayMs: number;
  udp?: UDPExchange;
  /** Per-request timeout; default 5 s. */
  timeoutMs?: number;
  /** Progress lines. */
  report?: (protocol: "http" | "udp", msg: string) => void;
}

function peerID(last: number): Uint8Array {
  const id = new Uint8Array(20);
  for (let i = 0; i < 20; i++) id[i] = i + 1;
  id[19] = last;
  return id;
}

function escape(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += "%" + c.toString(16).padStart(2, "0");
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Peer {
  port: number;
}

function compactPeers(b: Uint8Array | undefined, size: number): Peer[] {
  const out: Peer[] = [];
  if (b === undefined) return out;
  for (let at = 0; at + size <= b.length; at += size) {
    out.push({ port: (b[at + size - 2] << 8) | b[at + size - 1] });
  }
  return out;
}

async function httpAnnounce(
  base: string,
  ih: Uint8Array,
  id: Uint8Array,
  port: number,
  ip: string,
  timeoutMs: number,
) {
  const q = `info_hash=${escape(ih)}&peer_id=${escape(id)}&port=${port}&uploaded=50&downloaded=50&left=100` +
    `&event=started&numwant=50&compact=1&ip=${ip}`;
  const url = base + (base.includes("?") ? "&" : "?") + q;
  const res = await fetch(url, {
    headers: { "user-agent": "chihaya-e2e" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`tracker replied HTTP ${res.status}`);
  const d = decode(body) as Record<string, unknown>;
  if (d["failure reason"] instanceof Uint8Array) {
    throw new Error(`tracker error: ${new TextDecoder().decode(d["failure reason"])}`);
  }
  const peers = d.peers;
  if (Array.isArray(peers)) {
    const six = compactPeers(d.peers6 as Uint8Array | undefined, 18);
    return [...peers.map((p) => ({ port: Number((p as Record<string, unknown>).port) })), ...six];
  }
  return [
    ...compactPeers(peers as Uint8Array | undefined, 6),
    ...compactPeers(d.peers6 as Uint8Array | undefined, 18),
  ];
}

function udpTarget(addr: string): { host: string; port: number } {
  const u = new URL(addr.includes("://") ? addr : `udp://${addr}`);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port);
  if (!host || !Number.isInteger(port) || port <= 0) {
    throw new Error(`bad --udpaddr ${addr}: want udp://host:port`);
  }
  return { host, port };
}

async function udpAnnounce(
  exchange: UDPExchange,
  target: { host: string; port: number },
  ih: Uint8Array,
  id: Uint8Array,
  port: number,
  ip: number[],
  timeoutMs: number,
): Promise<Peer[]> {
  const tx = (Math.random() * 2 ** 32) >>> 0;
  const connect = new Uint8Array(16);
  const cv = new DataView(connect.buffer);
  cv.setBigUint64(0, 0x41727101980n);
  cv.setUint32(8, 0);
  cv.setUint32(12, tx);
  const cr = await exchange(target.host, target.port, connect, timeoutMs);
  const crv = new DataView(cr.buffer, cr.byteOffset, cr.byteLength);
  if (cr.length < 16 || crv.getUint32(0) !== 0 || crv.getUint32(4) !== tx) {
    throw new Error(udpError(cr, "connect"));
  }
  const a = new Uint8Array(98);
  const av = new DataView(a.buffer);
  a.set(cr.subarray(8, 16), 0);
  av.setUint32(8, 1);
  av.setUint32(12, tx + 1);
  a.set(ih, 16);
  a.set(id, 36);
  av.setBigUint64(56, 50n); // downloaded
  av.setBigUint64(64, 100n); // left
  av.setBigUint64(72, 50n); // uploaded
  av.setUint32(80, 2); // started
  a.set(ip, 84);
  av.setUint32(88, tx); // key
  av.setInt32(92, 50); // numwant
  av.setUint16(96, port);
  const r = await exchange(target.host, target.port, a, timeoutMs);
  const rv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  if (r.length < 20 || rv.getUint32(0) !== 1) throw new Error(udpError(r, "announce"));
  const size = target.host.includes(":") ? 18 : 6;
  return compactPeers(r.subarray(20), size);
}

function udpError(reply: Uint8Array, what: string): string {
  if (reply.length >= 8 && reply[3] === 3) {
    return `tracker error: ${new TextDecoder().decode(reply.subarray(8)).replace(/\0$/, "")}`;
  }
  return `unexpected ${what} reply (${reply.length} bytes)`;
}

async function check(
  announce: (id: Uint8Array, port: number, last: number) => Promise<Peer[]>,
  delayMs: number,
): Promise<void> {
  const first = await announce(peerID(20), 10001, 1);
  if (first.length !== 1) throw new Error(`expected one peer, got ${first.length}`);
  await sleep(delayMs);
  const second = await announce(peerID(21), 10002, 2);
  if (second.length !== 1) throw new Error(`expected 1 peers, got ${second.length}`);
  if (second[0].port !== 10001) throw new Error(`expected port 10001, got ${second[0].port} `);
}

/**
 * Runs the checks; resolves with the failures (empty when every protocol passed).
 *
 * @example
 * ```ts
 * const failures = await runE2E({ httpAddr: "http://127.0.0.1:6969/announce", udpAddr: "", delayMs: 1000 });
 * ```
 */
export async function runE2E(opts: E2EOptions): Promise<{ protocol: "http" | "udp"; error: string }[]> {
  const timeout = opts.timeoutMs ?? 5000;
  const failures: { protocol: "http" | "udp"; error: string }[] = [];
  const run = async (protocol: "http" | "udp", body: () => Promise<void>) => {
    try {
      await body();
      opts.report?.(protocol, "passed");
    } catch (err) {
      failures.push({ protocol, error: (err as Error).message });
    }
  };
  if (opts.httpAddr !== "") {
    await run("http", () => {
      const ih = crypto.getRandomValues(new Uint8Array(20));
      return check(
        (id, port, n) => httpAnnounce(opts.httpAddr, ih, id, port, `50.10.12.${n}`, timeout),
        opts.delayMs,
      );
    });
  }
  if (opts.udpAddr !== "") {
    await run("udp", () => {
      const exchange = opts.udp;
      if (exchange === undefined) throw new Error("this runtime has no UDP client");
      const target = udpTarget(opts.udpAddr);
      const ih = crypto.getRandomValues(new Uint8Array(20));
      return check(
        (id, port, n) => udpAnnounce(exchange, target, ih, id, port, [50, 10, 12, n], timeout),
        opts.delayMs,
      );
    });
  }
  return failures;
}
