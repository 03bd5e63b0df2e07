/**
 * A batched UDP transport for Linux (glibc, x86_64 and aarch64): libc's
 * `recvmmsg`/`sendmmsg` called through `Deno.dlopen("libc.so.6")`, serving the same
 * packet handler as {@link listenUDP} (`deno.ts`) with the same options and
 * listener shape. Needs `--allow-ffi` (the `start` task grants it).
 *
 * How it is driven (measured in /work/shared/reference/runtime-notes.md; the other
 * integrations tried starve `Deno.serve`):
 * - a *blocking* socket with a 100 ms `SO_RCVTIMEO`;
 * - `recvmmsg(fd, msgs, 64, MSG_WAITFORONE)` declared `nonblocking: true`, so it
 *   runs on Deno's blocking thread pool and returns a promise: the event loop (HTTP,
 *   timers) stays free while the kernel waits for the first datagram, and the call
 *   returns as soon as one is there with whatever else is queued, up to 64;
 * - the batch is handed to the handler one datagram at a time on the JS thread,
 *   with the next free send slot as the room to build its reply in; the replies
 *   produced synchronously (copied into the slot if built elsewhere) leave in one
 *   synchronous `sendmmsg(…, MSG_DONTWAIT)`; replies that come later
 *   (an asynchronous hook or store) go out one by one with `sendto` when ready;
 * - after a full batch, while `drainWhile()` says nothing else needs the thread,
 *   the next batches are taken at once with a synchronous `recvmmsg(…,
 *   MSG_DONTWAIT)`, for up to 1 ms, saving the thread pool's round trip;
 * - close sets a flag, shuts the read side (which wakes the blocked `recvmmsg`; the
 *   100 ms timeout bounds the wait if it does not), waits for that call and for
 *   replies in flight, then closes the fd.
 *
 * Every buffer the kernel sees (datagrams, addresses, iovecs, message headers) lives
 * in one `ArrayBuffer` held by the listener for the socket's whole life: the kernel
 * and the pool thread write through raw addresses, and a collected buffer would be
 * memory corruption. libc failures become {@link ErrnoError}s passed to `onError`;
 * `EAGAIN`/`EINTR`/timeouts are the normal idle path and are not reported.
 *
 * @module
 */
import { formatIP } from "../../bittorrent/ip.ts";
import type { MaybePromise } from "../../maybe.ts";
import {
  bindSocket,
  EAGAIN,
  EINTR,
  EMSGSIZE,
  ENOBUFS,
  errnoError,
  IP_MTU_DISCOVER,
  IP_PMTUDISC_DO,
  IP_PMTUDISC_WANT,
  IPPROTO_IP,
  type Loaded,
  loadLibC,
  MSG_DONTWAIT,
  MSG_WAITFORONE,
  setInt,
  SHUT_RD,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_SNDBUF,
  SOCK_DGRAM,
  SOCKADDR_IN6_SIZE,
  sockaddrIP,
  SOL_SOCKET,
} from "../libc.ts";
import { type ListenUDPOptions, RECEIVE_BUFFER_SIZE, type UDPListener } from "./deno.ts";

/** Datagrams received (and replies sent) per system call. 32–128 measure alike. */
export const BATCH_SIZE = 64;
/** How long the loop may take full batches on the JS thread while `drainWhile` allows (as the HTTP loop does). */
const DRAIN_MS = 1;

export { ErrnoError, ffiUnavailable } from "../libc.ts";

/** Options of {@link listenUDPFFI}: those of `listenUDP`, plus what only FFI can do. */
export interface ListenUDPFFIOptions extends ListenUDPOptions {
  /**
   * Sets `SO_REUSEADDR` and `SO_REUSEPORT`, so several processes (or workers) can
   * bind the same address and the kernel spreads datagrams across them. Off by
   * default: a taken port is then refused, as with `listenUDP`.
   */
  reusePort?: boolean;
  /** Bytes asked for `SO_RCVBUF` (the kernel may cap it at `net.core.rmem_max`). Default 4 MiB. */
  receiveBufferBytes?: number;
}

// struct layouts (LP64 Linux): mmsghdr = msghdr (56) + msg_len (4) + padding.
const MMSGHDR_SIZE = 64;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_LEN = 56;
const IOVEC_SIZE = 16;
/** Address slots are 32 bytes apart, keeping each 8-byte aligned. */
const NAME_STRIDE = 32;
/** Send slots hold one reply each; the frontend's replies fit one 1500-byte MTU. */
const SEND_SLOT_SIZE = 2048;

/** Opens, configures and binds the socket. */
function open(opts: ListenUDPFFIOptions, l: Loaded): { fd: number; hostname: string; port: number } {
  const bound = bindSocket(l, opts.hostname, opts.port, SOCK_DGRAM, (fd) => {
    if (opts.reusePort) {
      if (!setInt(l, fd, SOL_SOCKET, SO_REUSEADDR, 1)) throw errnoError(l, "setsockopt(SO_REUSEADDR)");
      if (!setInt(l, fd, SOL_SOCKET, SO_REUSEPORT, 1)) throw errnoError(l, "setsockopt(SO_REUSEPORT)");
    }
    // A deep queue rides out bursts between batches. FORCE ignores rmem_max but needs
    // CAP_NET_ADMIN; without it the plain option is capped by the kernel. Best effort.
    const rcvbuf = opts.receiveBufferBytes ?? 4 << 20;
    if (!setInt(l, fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)) setInt(l, fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
    setInt(l, fd, SOL_SOCKET, SO_SNDBUF, 1 << 20);
    // IPv4 replies leave with DF set, as Linux's default would set it for them, but
    // without its permission to fragment locally: then the kernel gives them IP ID 0
    // (RFC 6864: an unfragmentable datagram needs none) instead of drawing each from
    // its shared, hashed ID generator, 2.5 % of a core under load. A reply over the
    // path MTU fails with EMSGSIZE and is sent again fragmentable (see `fragmentable`).
    // Best effort: IPv6 has no per-datagram ID, and v4-mapped traffic on a dual-stack
    // socket follows this IPv4 option.
    setInt(l, fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
    // struct timeval { tv_sec = 0, tv_usec = 100000 }: the blocked recvmmsg wakes at
    // least every 100 ms, which bounds close().
    const tv = new Uint8Array(16);
    new DataView(tv.buffer).setBigInt64(8, 100_000n, true);
    if (l.libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16) !== 0) {
      throw errnoError(l, "setsockopt(SO_RCVTIMEO)");
    }
  });
  return { fd: bound.fd, hostname: formatIP(bound.ip), port: bound.port };
}

/**
 * The kernel-visible memory of one socket, in one ArrayBuffer: receive slots
 * (datagram bytes, sockaddr_in6, iovec, mmsghdr) and send slots (reply bytes, iovec,
 * mmsghdr pointing at a receive slot's address).
 */
class Arena {
  readonly memory: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Keeps the base pointer (and with it the buffer) alive alongside the memory. */
  readonly base: Deno.PointerObject;
  readonly recvHdrPtr: Deno.PointerObject;
  readonly recvData = 0;
  readonly recvNames: number;
  readonly recvIov: number;
  readonly recvHdr: number;
  readonly sendData: number;
  readonly sendIov: number;
  readonly sendHdr: number;
  /** Address of receive name slot i as two uint32 halves, for quick mmsghdr writes. */
  readonly nameLo = new Uint32Array(BATCH_SIZE);
  readonly nameHi = new Uint32Array(BATCH_SIZE);
  /** Send slot i's bytes, handed to the handler as room for its reply. */
  readonly sendSlots: Uint8Array[] = [];
  /**
   * The last view handed out of receive slot i: reused while datagrams there keep
   * the same length (most announces are 98 bytes), since each view costs ~20 ns.
   */
  readonly packets: Uint8Array[] = [];

  constructor() {
    const n = BATCH_SIZE;
    this.recvNames = n * RECEIVE_BUFFER_SIZE;
    this.recvIov = this.recvNames + n * NAME_STRIDE;
    this.recvHdr = this.recvIov + n * IOVEC_SIZE;
    this.sendData = this.recvHdr + n * MMSGHDR_SIZE;
    this.sendIov = this.sendData + n * SEND_SLOT_SIZE;
    this.sendHdr = this.sendIov + n * IOVEC_SIZE;
    const size = this.sendHdr + n * MMSGHDR_SIZE;
    // An ArrayBuffer's backing store lives outside the JS heap and never moves.
    this.memory = new ArrayBuffer(size);
    this.bytes = new Uint8Array(this.memory);
    this.view = new DataView(this.memory);
    const base = Deno.UnsafePointer.of(this.bytes);
    if (base === null) throw new Error("udp: no address for the FFI arena");
    this.base = base;
    const addr = BigInt(Deno.UnsafePointer.value(base));
    const at = (offset: number) => addr + BigInt(offset);
    const v = this.view;
    for (let i = 0; i < n; i++) {
      // Receive: iovec → data slot i; header → name slot i and iovec i.
      const iov = this.recvIov + i * IOVEC_SIZE;
      v.setBigUint64(iov, at(this.recvData + i * RECEIVE_BUFFER_SIZE), true);
      v.setBigUint64(iov + 8, BigInt(RECEIVE_BUFFER_SIZE), true);
      const h = this.recvHdr + i * MMSGHDR_SIZE;
      const name = at(this.recvNames + i * NAME_STRIDE);
      v.setBigUint64(h + MSG_NAME, name, true);
      v.setUint32(h + MSG_NAMELEN, SOCKADDR_IN6_SIZE, true);
      v.setBigUint64(h + MSG_IOV, at(iov), true);
      v.setBigUint64(h + MSG_IOVLEN, 1n, true);
      this.nameLo[i] = Number(name & 0xffffffffn);
      this.nameHi[i] = Number(name >> 32n);
      // Send: iovec → send slot i (length set per reply); header → iovec i, name per reply.
      const siov = this.sendIov + i * IOVEC_SIZE;
      v.setBigUint64(siov, at(this.sendData + i * SEND_SLOT_SIZE), true);
      const sh = this.sendHdr + i * MMSGHDR_SIZE;
      v.setBigUint64(sh + MSG_IOV, at(siov), true);
      v.setBigUint64(sh + MSG_IOVLEN, 1n, true);
      const slot = this.sendData + i * SEND_SLOT_SIZE;
      this.sendSlots.push(this.bytes.subarray(slot, slot + SEND_SLOT_SIZE));
      const data = this.recvData + i * RECEIVE_BUFFER_SIZE;
      this.packets.push(this.bytes.subarray(data, data));
    }
    const hdr = Deno.UnsafePointer.create(at(this.recvHdr));
    if (hdr === null) throw new Error("udp: no address for the FFI arena");
    this.recvHdrPtr = hdr;
  }
}

/** A listener's state, kept reachable (with its arena) until the socket is closed. */
interface Socket {
  fd: number;
  arena: Arena;
}

// Sockets from open to close: a strong root for every arena the kernel may write to,
// even if a caller drops its listener without closing it.
const live = new Set<Socket>();

/**
 * Binds a UDP socket driven by `recvmmsg`/`sendmmsg` and serves it until
 * `close()`. Same contract as `listenUDP`: resolves once bound (a port of 0 is
 * reported as the real one), `handler` sees 4-byte addresses for IPv4 senders
 * (mapped ones included), and closing right after start is safe. Throws when FFI is
 * unavailable (see {@link ffiUnavailable}).
 *
 * @example
 * ```ts
 * const l = await listenUDPFFI({
 *   hostname: "",
 *   port: 6969,
 *   handler: (packet, ip, port) => udp.handle(packet, ip, port),
 *   onError: (err) => log.error("udp socket error", { error: err }),
 * });
 * await l.close();
 * ```
 */
export function listenUDPFFI(opts: ListenUDPFFIOptions): Promise<UDPListener> {
  let l: Loaded;
  let bound: { fd: number; hostname: string; port: number };
  let arena: Arena;
  try {
    l = loadLibC();
    arena = new Arena();
    bound = open(opts, l);
  } catch (err) {
    return Promise.reject(err);
  }
  const { libc } = l;
  const { fd } = bound;
  const socket: Socket = { fd, arena };
  live.add(socket);
  const { bytes, view, recvHdrPtr } = arena;
  const pending = new Set<Promise<void>>();
  let closing = false;

  const report = (err: unknown) => {
    try {
      opts.onError(err);
    } catch {
      // The loop must survive a throwing error callback too.
    }
  };

  /**
   * Runs `send` (one datagram; < 0 on failure) with local fragmentation allowed, for
   * a reply that EMSGSIZE refused under DF: over a path MTU the kernel learned, or
   * a link MTU under 1500. Rare, so three system calls are fine. Returns 0 when it
   * went out, or the errno it failed with.
   */
  const fragmentable = (send: () => number): number => {
    if (!setInt(l, fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_WANT)) return EMSGSIZE;
    const errno = send() < 0 ? l.errno() : 0;
    setInt(l, fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
    return errno;
  };

  /** One reply, now, with `sendto` (asynchronous replies, oversized ones). */
  const sendOne = (reply: Uint8Array | null, name: Uint8Array) => {
    if (reply === null || reply.length === 0 || socket.fd < 0) return;
    const send = () => Number(libc.sendto(fd, reply, BigInt(reply.length), MSG_DONTWAIT, name, name.length));
    let errno = send() < 0 ? l.errno() : 0;
    if (errno === EMSGSIZE) errno = fragmentable(send);
    // A full send queue drops the reply as the network would; the client retries.
    if (errno !== 0 && errno !== EAGAIN && errno !== EINTR && errno !== ENOBUFS) {
      report(errnoError(l, "sendto", errno));
    }
  };

  /** Sends send slots [0, count) with as few sendmmsg calls as the kernel allows. */
  const flush = (count: number) => {
    let off = 0;
    while (off < count) {
      const n = libc.sendmmsg(
        fd,
        bytes.subarray(arena.sendHdr + off * MMSGHDR_SIZE),
        count - off,
        MSG_DONTWAIT,
      );
      if (n > 0) {
        off += n;
        continue;
      }
      let errno = l.errno();
      if (errno === EMSGSIZE) {
        const first = bytes.subarray(arena.sendHdr + off * MMSGHDR_SIZE);
        errno = fragmentable(() => libc.sendmmsg(fd, first, 1, MSG_DONTWAIT));
        if (errno === 0) {
          off++;
          continue;
        }
      }
      if (errno === EAGAIN || errno === ENOBUFS) return; // queue full: the rest are dropped
      if (errno !== EINTR) {
        // The first message failed (say, an unreachable forged address): skip it.
        report(errnoError(l, "sendmmsg", errno));
        off++;
      }
    }
  };

  /** Hands datagrams [0, n) to the handler and sends the synchronous replies. */
  const handleBatch = (n: number) => {
    let out = 0;
    for (let i = 0; i < n; i++) {
      const h = arena.recvHdr + i * MMSGHDR_SIZE;
      const len = Math.min(view.getUint32(h + MSG_LEN, true), RECEIVE_BUFFER_SIZE);
      const namelen = view.getUint32(h + MSG_NAMELEN, true);
      const nameAt = arena.recvNames + i * NAME_STRIDE;
      const ip = sockaddrIP(bytes, view, nameAt);
      if (ip === null) continue;
      const port = view.getUint16(nameAt + 2);
      let packet = arena.packets[i];
      if (packet.length !== len) {
        const data = arena.recvData + i * RECEIVE_BUFFER_SIZE;
        arena.packets[i] = packet = bytes.subarray(data, data + len);
      }
      const room = arena.sendSlots[out];
      let reply: MaybePromise<Uint8Array | null>;
      try {
        reply = opts.handler(packet, ip, port, room);
      } catch (err) {
        report(err);
        continue;
      }
      if (reply === null) continue;
      if (reply instanceof Promise) {
        const name = bytes.slice(nameAt, nameAt + namelen);
        const done: Promise<void> = reply.then((r) => sendOne(r, name), report).finally(() =>
          pending.delete(done)
        );
        pending.add(done);
        continue;
      }
      if (reply.length === 0) continue;
      if (reply.length > SEND_SLOT_SIZE) {
        sendOne(reply, bytes.subarray(nameAt, nameAt + namelen));
        continue;
      }
      if (reply.byteOffset !== room.byteOffset || reply.buffer !== room.buffer) {
        bytes.set(reply, room.byteOffset);
      }
      view.setUint32(arena.sendIov + out * IOVEC_SIZE + 8, reply.length, true);
      const sh = arena.sendHdr + out * MMSGHDR_SIZE;
      view.setUint32(sh + MSG_NAME, arena.nameLo[i], true);
      view.setUint32(sh + MSG_NAME + 4, arena.nameHi[i], true);
      view.setUint32(sh + MSG_NAMELEN, namelen, true);
      out++;
    }
    if (out > 0) flush(out);
  };

  /** `drainWhile()`, false when absent or throwing (the loop must outlive it). */
  const mayDrain = () => {
    try {
      return opts.drainWhile?.() === true;
    } catch (err) {
      report(err);
      return false;
    }
  };

  // msg_namelen is value-result: the kernel shrinks it to what it wrote.
  const resetNames = () => {
    for (let i = 0; i < BATCH_SIZE; i++) {
      view.setUint32(arena.recvHdr + i * MMSGHDR_SIZE + MSG_NAMELEN, SOCKADDR_IN6_SIZE, true);
    }
  };

  const serve = async () => {
    let failures = 0;
    while (!closing) {
      resetNames();
      let n = await libc.recvmmsg(fd, recvHdrPtr, BATCH_SIZE, MSG_WAITFORONE, null);
      if (closing) break;
      if (n < 0) {
        // Usually the 100 ms timeout. The pool thread's errno is out of reach, so ask
        // again here without waiting: EAGAIN confirms an idle socket.
        n = libc.recvmmsgNow(fd, recvHdrPtr, BATCH_SIZE, MSG_DONTWAIT, null);
        if (n < 0) {
          const errno = l.errno();
          if (errno === EAGAIN || errno === EINTR) {
            failures = 0;
            continue;
          }
          report(errnoError(l, "recvmmsg", errno));
          // A persistent error must not spin; back off up to 100 ms.
          await new Promise((resolve) => setTimeout(resolve, Math.min(100, 2 ** failures++)));
          continue;
        }
      }
      failures = 0;
      if (n > 0) handleBatch(n);
      // A full batch means more are waiting: while nothing else needs the thread,
      // take them here (no thread pool round trip) for up to DRAIN_MS.
      if (n < BATCH_SIZE) continue;
      const until = performance.now() + DRAIN_MS;
      while (n === BATCH_SIZE && !closing && performance.now() < until && mayDrain()) {
        resetNames();
        n = libc.recvmmsgNow(fd, recvHdrPtr, BATCH_SIZE, MSG_DONTWAIT, null);
        if (n > 0) handleBatch(n);
      }
    }
  };

  const loop = serve().catch(report);
  let closed: Promise<void> | undefined;
  const listener: UDPListener & { socket: Socket } = {
    hostname: bound.hostname,
    port: bound.port,
    // The arena and fd stay reachable from the listener too.
    socket,
    close() {
      closed ??= (async () => {
        closing = true;
        // Wakes a recvmmsg blocked on the pool thread (it returns 0); if it does not,
        // SO_RCVTIMEO returns it within 100 ms. The fd is closed only after it is back.
        libc.shutdown(fd, SHUT_RD);
        await loop;
        // Replies still being built get their chance to go out before the socket shuts.
        while (pending.size > 0) await Promise.allSettled([...pending]);
        if (libc.close(fd) !== 0) report(errnoError(l, "close"));
        socket.fd = -1;
        live.delete(socket);
      })();
      return closed;
    },
  };
  return Promise.resolve(listener);
}
