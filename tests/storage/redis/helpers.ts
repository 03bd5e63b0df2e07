/** Trackers on the Redis store, and small HTTP/UDP clients, for the Redis black-box tests. */
import { createSocket } from "node:dgram";
import { decode } from "../../../src/bittorrent/bencode.ts";
import type { Config } from "../../../src/config/types.ts";
import { listenUDP, serveHTTP } from "../../../src/frontend/bindings.ts";
import { silentLogger } from "../../../src/log.ts";
import { Tracker } from "../../../src/tracker.ts";
import { escapeBytes, id20 } from "../../helpers/fixtures.ts";
import { httpConfig, testConfig, udpConfig } from "../../helpers/tracker.ts";

/** A config with HTTP and UDP on ephemeral loopback ports and the Redis store. */
export function redisTrackerConfig(storage: Record<string, unknown>, privateKey = "shared key"): Config {
  return testConfig({
    http: httpConfig(),
    udp: udpConfig({ privateKey }),
    storage: { name: "redis", config: storage, where: "test" },
  });
}

/** Starts a tracker with the Deno runtime. */
export function startTracker(config: Config): Promise<Tracker> {
  return Tracker.start(config, { runtime: { serveHTTP, listenUDP }, log: silentLogger });
}

/** The HTTP base URL of a tracker. */
export function httpBase(t: Pick<Tracker, "address">): string {
  const a = t.address("http")!;
  return `http://${a.hostname}:${a.port}`;
}

/** One HTTP announce; the decoded reply (a `failure reason` is a string field). */
export async function httpAnnounce(
  t: Pick<Tracker, "address">,
  o: { ih: string; id: string; port: number; left?: number },
): Promise<{ failure?: string; ports: number[] }> {
  const url =
    `${httpBase(t)}/announce?info_hash=${escapeBytes(id20(o.ih))}&peer_id=${escapeBytes(id20(o.id))}` +
    `&port=${o.port}&left=${o.left ?? 10}&downloaded=0&uploaded=0&compact=1`;
  const res = await fetch(url);
  const body = decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
  const reason = body["failure reason"];
  if (reason !== undefined) return { failure: new TextDecoder().decode(reason as Uint8Array), ports: [] };
  const peers = body.peers as Uint8Array;
  const ports: number[] = [];
  for (let i = 0; i + 6 <= peers.length; i += 6) ports.push((peers[i + 4] << 8) | peers[i + 5]);
  return { ports };
}

/** A UDP client for one tracker address; each request waits up to 2 s for its reply. */
export class UDPClient {
  private readonly socket = createSocket("udp4");
  private tx = 1;

  private constructor(readonly port: number) {}

  static async open(port: number): Promise<UDPClient> {
    const c = new UDPClient(port);
    await new Promise<void>((resolve) => c.socket.bind(0, "127.0.0.1", resolve));
    return c;
  }

  /** Sends `packet` (its tx field at bytes 12..16 is set here) to `port` and returns the reply. */
  request(packet: Uint8Array, port = this.port): Promise<DataView> {
    const tx = this.tx++;
    new DataView(packet.buffer, packet.byteOffset).setUint32(12, tx);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off("message", onMessage);
        reject(new Error("no UDP reply within 2 s"));
      }, 2000);
      const onMessage = (msg: Uint8Array) => {
        const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
        if (msg.length < 8 || v.getUint32(4) !== tx) return;
        clearTimeout(timer);
        this.socket.off("message", onMessage);
        resolve(v);
      };
      this.socket.on("message", onMessage);
      this.socket.send(packet, port, "127.0.0.1");
    });
  }

  /** A connection ID from the tracker on `port`. */
  async connect(port = this.port): Promise<Uint8Array> {
    const p = new Uint8Array(16);
    p.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]);
    const r = await this.request(p, port);
    if (r.getUint32(0) !== 0) throw new Error(`connect answered action ${r.getUint32(0)}`);
    return new Uint8Array(r.buffer, r.byteOffset + 8, 8).slice();
  }

  /** An announce with `connectionID`; the action, and peers' ports or the error text. */
  async announce(
    connectionID: Uint8Array,
    o: { ih: string; id: string; port: number; left?: number },
    port = this.port,
  ): Promise<{ action: number; ports: number[]; message: string }> {
    const p = new Uint8Array(98);
    const v = new DataView(p.buffer);
    p.set(connectionID, 0);
    v.setUint32(8, 1);
    p.set(id20(o.ih), 16);
    p.set(id20(o.id), 36);
    v.setBigUint64(64, BigInt(o.left ?? 10));
    v.setUint32(80, 2); // started
    v.setInt32(92, -1);
    v.setUint16(96, o.port);
    const r = await this.request(p, port);
    const action = r.getUint32(0);
    const ports: number[] = [];
    let message = "";
    if (action === 1) { for (let i = 20; i + 6 <= r.byteLength; i += 6) ports.push(r.getUint16(i + 4)); }
    else message = new TextDecoder().decode(new Uint8Array(r.buffer, r.byteOffset + 8, r.byteLength - 8));
    return { action, ports, message };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Retries `fn` until it returns true (posthooks store peers after the reply is sent). */
export async function eventually(fn: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
