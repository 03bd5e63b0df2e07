/**
 * The Deno binding of the UDP frontend: one `Deno.listenDatagram` socket and a
 * receive loop that hands each datagram to a packet handler and sends its reply.
 *
 * One loop with one reused 2048-byte buffer: without a buffer Deno allocates
 * 64 KiB per datagram, and concurrent receive loops measured no faster. A reply
 * that the handler produces synchronously (the memory store) is sent before the
 * next receive; an asynchronous one is sent when ready while receiving goes on.
 *
 * @module
 */
import { parseIP } from "../../bittorrent/ip.ts";
import type { MaybePromise } from "../../maybe.ts";

/**
 * Datagrams are read into this many bytes; longer ones are truncated silently by
 * the kernel (chihaya reads into 2048 bytes too; BEP 15 requests are far smaller).
 */
export const RECEIVE_BUFFER_SIZE = 2048;

/** A bound UDP socket. */
export interface UDPListener {
  /** The bound address as the OS reports it (`::` for dual stack). */
  hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Stops receiving, waits for replies still being built, closes the socket. Idempotent. */
  close(): Promise<void>;
}

/** Where to listen and what answers packets. */
export interface ListenUDPOptions {
  /**
   * An IPv4 or IPv6 literal (brackets allowed). `""` means every interface: IPv6
   * and IPv4 on one dual-stack `::` socket, or IPv4 alone where the host has no IPv6.
   */
  hostname: string;
  port: number;
  /**
   * Answers one datagram from `ip` (4 bytes for IPv4 senders, including those that
   * reach a dual-stack socket as `::ffff:a.b.c.d`; 16 for IPv6). `packet` is a view
   * of the receive buffer, overwritten by the next datagram: a handler that answers
   * later must copy what it keeps. Null means send nothing.
   *
   * A transport may pass `room`: the memory the reply will be sent from, at least
   * 1472 bytes. A handler may build a reply it returns synchronously in it (and
   * return a view of it) to spare the transport a copy; it must not keep it.
   */
  handler: (
    packet: Uint8Array,
    ip: Uint8Array,
    port: number,
    room?: Uint8Array,
  ) => MaybePromise<Uint8Array | null>;
  /**
   * Asked after a full batch by a transport that can take the next one at once on
   * this thread (FFI): true lets it, for up to 1 ms before it goes back to the
   * event loop; false or absent, it goes back after every batch. The tracker says
   * true once its HTTP frontend has served nothing for 100 ms, so UDP takes the
   * thread only when HTTP does not need it.
   */
  drainWhile?: () => boolean;
  /** Socket and handler failures; the loop carries on after each. */
  onError: (err: unknown) => void;
}

function bind(hostname: string, port: number): Deno.DatagramConn {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (host !== "") return Deno.listenDatagram({ transport: "udp", hostname: host, port });
  try {
    return Deno.listenDatagram({ transport: "udp", hostname: "::", port });
  } catch (err) {
    // A taken port is taken for IPv4 too; anything else means no IPv6 here.
    if (err instanceof Deno.errors.AddrInUse) throw err;
    return Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
  }
}

/** The sender's address as 4 or 16 bytes; a zone (`fe80::1%eth0`) is dropped. */
function senderIP(hostname: string): Uint8Array | null {
  const zone = hostname.indexOf("%");
  return parseIP(zone < 0 ? hostname : hostname.slice(0, zone));
}

/**
 * Binds a UDP socket and serves it until `close()`. Resolves once bound, so a port
 * of 0 is reported as the real port, and closing right after start is safe
 * (chihaya #437).
 *
 * @example
 * ```ts
 * const udp = new UDPFrontend({ ...config.udp, logic, log });
 * const l = await listenUDP({
 *   hostname: "::",
 *   port: 6969,
 *   handler: (packet, ip, port) => udp.handle(packet, ip, port),
 *   onError: (err) => log.error("udp socket error", { error: err }),
 * });
 * await l.close();
 * ```
 */
export function listenUDP(opts: ListenUDPOptions): Promise<UDPListener> {
  let conn: Deno.DatagramConn;
  try {
    conn = bind(opts.hostname, opts.port);
  } catch (err) {
    return Promise.reject(err);
  }
  const local = conn.addr as Deno.NetAddr;
  const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
  const pending = new Set<Promise<void>>();
  let closing = false;

  const report = (err: unknown) => {
    try {
      opts.onError(err);
    } catch {
      // The loop must survive a throwing error callback too.
    }
  };

  const send = async (reply: Uint8Array | null, to: Deno.NetAddr): Promise<void> => {
    if (reply === null || reply.length === 0) return;
    try {
      await conn.send(reply, to);
    } catch (err) {
      // A send to an unreachable (perhaps forged) address says nothing about the socket.
      if (!closing) report(err);
    }
  };

  const serve = async () => {
    let failures = 0;
    while (!closing) {
      let packet: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [data, addr] = await conn.receive(buffer);
        packet = data;
        from = addr as Deno.NetAddr;
        failures = 0;
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) break;
        report(err);
        // A persistent error must not spin the event loop; back off up to 100 ms.
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, 2 ** failures++)));
        continue;
      }
      if (closing) break;
      const ip = senderIP(from.hostname);
      if (ip === null) continue;
      let reply: MaybePromise<Uint8Array | null>;
      try {
        reply = opts.handler(packet, ip, from.port);
      } catch (err) {
        report(err);
        continue;
      }
      if (reply instanceof Promise) {
        const done: Promise<void> = reply.then((r) => send(r, from), report).finally(() =>
          pending.delete(done)
        );
        pending.add(done);
      } else {
        await send(reply, from);
      }
    }
  };

  const loop = serve();
  let closed: Promise<void> | undefined;
  return Promise.resolve({
    hostname: local.hostname,
    port: local.port,
    close() {
      closed ??= (async () => {
        closing = true;
        // Replies still being built get their chance to go out before the socket shuts.
        while (pending.size > 0) await Promise.allSettled([...pending]);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
        await loop;
      })();
      return closed;
    },
  });
}
