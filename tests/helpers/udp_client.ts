/** The UDP client the black-box tests speak BEP 15 with. */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { toHex } from "../../src/bittorrent/peer.ts";
import {
  type AnnounceFields,
  announcePacket,
  connectPacket,
  readReply,
  type Reply,
  scrapePacket,
} from "../frontend/udp/packets.ts";

/**
 * A BEP 15 test client on loopback: matches replies to requests by transaction ID
 * and retransmits like a real client.
 */
export class UDPClient {
  /** Every datagram received, in order. */
  readonly received: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private nextTx = 1;

  private constructor(private readonly socket: Socket, readonly host: string, readonly port: number) {
    socket.on("message", (msg) => {
      this.received.push(new Uint8Array(msg));
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** A socket on the loopback address of `host`'s family, talking to `host:port`. */
  static open(host: string, port: number): Promise<UDPClient>;
  /** A socket on 127.0.0.1 talking to the tracker's `port` there. */
  static open(port: number): Promise<UDPClient>;
  static open(a: string | number, b?: number): Promise<UDPClient> {
    const host = typeof a === "string" ? a : "127.0.0.1";
    const port = typeof a === "number" ? a : b!;
    const v6 = host.includes(":");
    const socket = createSocket(v6 ? "udp6" : "udp4");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, v6 ? "::1" : "127.0.0.1", () => resolve(new UDPClient(socket, host, port)));
    });
  }

  tx(): number {
    return (this.nextTx++ * 0x9e3779b1) >>> 0;
  }

  send(packet: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(packet, this.port, this.host, (err) => (err ? reject(err) : resolve()))
    );
  }

  /** The first datagram at or after index `from` whose tx is `tx`, within `ms`. */
  private async waitFor(tx: number, from: number, ms: number): Promise<Uint8Array | null> {
    const deadline = Date.now() + ms;
    for (let i = from;; i++) {
      while (i >= this.received.length) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
          this.waiters.push(resolve);
        });
        clearTimeout(timer);
      }
      const r = this.received[i];
      if (r.length >= 8 && new DataView(r.buffer, r.byteOffset).getUint32(4) === tx) return r;
    }
  }

  /** Sends `packet` with a fresh tx and returns the reply's bytes; retransmits like a client. */
  async raw(packet: Uint8Array): Promise<Uint8Array> {
    const tx = this.tx();
    new DataView(packet.buffer, packet.byteOffset).setUint32(12, tx);
    for (let attempt = 0; attempt < 3; attempt++) {
      const from = this.received.length;
      await this.send(packet);
      const reply = await this.waitFor(tx, from, 1000);
      if (reply !== null) return reply;
    }
    throw new Error("no reply");
  }

  async request(packet: Uint8Array, peerSize = 6): Promise<Reply> {
    return readReply(await this.raw(packet), peerSize);
  }

  async connect(): Promise<Uint8Array> {
    const r = await this.request(connectPacket());
    assert.equal(r.action, 0);
    return r.connectionID!;
  }

  async announce(fields: AnnounceFields, peerSize = 6): Promise<Reply> {
    return this.request(announcePacket({ connectionID: await this.connect(), ...fields }), peerSize);
  }

  /** Asserts `packet` gets no reply: a connect sent after it is answered first. */
  async expectDropped(packet: Uint8Array): Promise<void> {
    const from = this.received.length;
    await this.send(packet);
    await this.connect();
    const replies = this.received.slice(from);
    assert.equal(replies.length, 1, `dropped packet ${toHex(packet.subarray(0, 16))} was answered`);
  }

  async scrape(hashes: Uint8Array[], peerSize = 6): Promise<Reply> {
    return this.request(scrapePacket(await this.connect(), hashes), peerSize);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
