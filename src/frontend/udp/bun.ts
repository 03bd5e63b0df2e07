/**
 * The Bun binding of the UDP frontend: one `node:dgram` socket, with the same
 * options and listener as the Deno binding (`deno.ts`). Bun's own
 * `Bun.udpSocket` is faster but starves timers under load and cannot share a
 * port, so the tracker uses Bun's `node:dgram`.
 *
 * `udp.transport` on Bun: `auto` and `deno` (the runtime's own socket) serve
 * through `node:dgram`; `ffi` is refused at startup, since the batched
 * `recvmmsg`/`sendmmsg` transport needs Deno's FFI (`bun:ffi` has no thread-pool
 * calls, so a blocking receive would stall the event loop).
 *
 * @module
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { parseIP } from "../../bittorrent/ip.ts";
import type { UDPTransport } from "../../config/types.ts";
import type { MaybePromise } from "../../maybe.ts";
import type { UDPTransportChoice } from "../../tracker.ts";
import { type ListenUDPOptions, RECEIVE_BUFFER_SIZE, type UDPListener } from "./deno.ts";

/** The sender's address as 4 or 16 bytes; a zone (`fe80::1%eth0`) is dropped. */
function senderIP(address: string): Uint8Array | null {
  const zone = address.indexOf("%");
  return parseIP(zone < 0 ? address : address.slice(0, zone));
}

/** Binds one socket; rejects with the bind error (`code` EADDRINUSE for a taken port). */
function bindOne(type: "udp4" | "udp6", address: string, port: number): Promise<Socket> {
  const sock = createSocket(type === "udp6" ? { type, ipv6Only: false } : { type });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      try {
        sock.close();
      } catch {
        // Never bound.
      }
      reject(err);
    };
    sock.once("error", fail);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off("error", fail);
      resolve(sock);
    });
  });
}

async function bind(hostname: string, port: number): Promise<Socket> {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (host !== "") return await bindOne(host.includes(":") ? "udp6" : "udp4", host, port);
  try {
    return await bindOne("udp6", "::", port);
  } catch (err) {
    // A taken port is taken for IPv4 too; anything else means no IPv6 here.
    if ((err as { code?: string }).code === "EADDRINUSE") throw err;
    return await bindOne("udp4", "0.0.0.0", port);
  }
}

/**
 * Binds a UDP socket and serves it until `close()`. Resolves once bound, so a port
 * of 0 is reported as the real port.
 *
 * @example
 * ```ts
 * const l = await listenUDP({ hostname: "127.0.0.1", port: 0, handler, onError: console.error });
 * await l.close();
 * ```
 */
export async function listenUDP(opts: ListenUDPOptions): Promise<UDPListener> {
  const sock = await bind(opts.hostname, opts.port);
  const local = sock.address();
  const pending = new Set<Promise<void>>();
  // Stopping: new datagrams are ignored; closing: the socket is being shut.
  let stopping = false;
  let closing = false;

  const report = (err: unknown) => {
    if (closing) return;
    try {
      opts.onError(err);
    } catch {
      // A throwing error callback must not take the socket down.
    }
  };

  const send = (reply: Uint8Array | null, to: RemoteInfo): void => {
    if (reply === null || reply.length === 0 || closing) return;
    try {
      // A send to an unreachable (perhaps forged) address says nothing about the socket.
      sock.send(reply, to.port, to.address, (err) => err && report(err));
    } catch (err) {
      report(err);
    }
  };

  sock.on("error", report);
  sock.on("message", (datagram: Uint8Array, from: RemoteInfo) => {
    if (stopping) return;
    // node:dgram hands over the whole datagram; cut it where the Deno binding's buffer
    // (and chihaya's) would, so both runtimes parse the same bytes.
    const packet = datagram.length > RECEIVE_BUFFER_SIZE
      ? datagram.subarray(0, RECEIVE_BUFFER_SIZE)
      : datagram;
    const ip = senderIP(from.address);
    if (ip === null) return;
    let reply: MaybePromise<Uint8Array | null>;
    try {
      reply = opts.handler(packet, ip, from.port);
    } catch (err) {
      report(err);
      return;
    }
    if (reply instanceof Promise) {
      const done: Promise<void> = reply.then((r) => send(r, from), report).finally(() =>
        pending.delete(done)
      );
      pending.add(done);
    } else {
      send(reply, from);
    }
  });

  let closed: Promise<void> | undefined;
  return {
    hostname: local.address,
    port: local.port,
    close() {
      closed ??= (async () => {
        stopping = true;
        // Replies still being built get their chance to go out before the socket shuts.
        while (pending.size > 0) await Promise.allSettled([...pending]);
        closing = true;
        await new Promise<void>((resolve) => {
          try {
            sock.close(() => resolve());
          } catch {
            resolve(); // Already closed.
          }
        });
      })();
      return closed;
    },
  };
}

/**
 * The transport that serves `requested` on Bun, and why; throws for `ffi`.
 *
 * @example
 * ```ts
 * selectUDPTransport("auto").transport; // "dgram"
 * ```
 */
export function selectUDPTransport(requested: UDPTransport): UDPTransportChoice {
  switch (requested) {
    case "ffi":
      throw new Error(
        "udp.transport is ffi, but the FFI transport needs Deno (Deno.dlopen); on Bun UDP runs on node:dgram: " +
          "set udp.transport: auto (or deno), or run hayate with Deno",
      );
    case "deno":
      return {
        transport: "dgram",
        reason: "udp.transport is deno: the runtime's socket, node:dgram on Bun",
        listen: listenUDP,
      };
    default:
      return {
        transport: "dgram",
        reason: "auto: node:dgram on Bun (the FFI transport needs Deno)",
        listen: listenUDP,
      };
  }
}
