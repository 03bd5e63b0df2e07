/**
 * TCP streams for hayate's HTTP server on Linux through libc and epoll
 * (`Deno.dlopen`), the HTTP counterpart of the batched UDP transport
 * (`../udp/ffi.ts`). Deno's own `Conn.read`/`Conn.write` cost about 1 µs of
 * runtime machinery per request on top of the system calls (a server answering a
 * constant: 184k requests/s on one core through them, 231k here); here a request
 * costs a non-blocking `recv` and `send` made straight from JavaScript.
 *
 * How it is driven:
 * - the listening socket and every connection are non-blocking and registered
 *   with one epoll instance: the listener level-triggered, connections
 *   edge-triggered for input and hang-up (and output while a reply waits for room),
 *   each under its own number (not
 *   its fd, which the kernel reuses), so an event for a closed connection is
 *   recognised as stale;
 * - `epoll_wait` with a 100 ms timeout runs on Deno's blocking thread pool
 *   (`nonblocking: true`), so timers, UDP and the metrics server keep running while
 *   it waits; the ready connections are then served on the JS thread, which looks
 *   again at once (`epoll_wait` with no timeout, on the JS thread) for up to 1 ms
 *   while more are ready, saving a thread hop per look under load;
 * - `read()` and `readSoon()` try `recv` at once unless the last one emptied the
 *   socket, and otherwise wait for the next input edge; `readSoon()`'s callback then
 *   runs inside the round, so a synchronous handler answers there and then;
 * - `write()` queues the bytes and resolves at once (below 64 KiB unsent); the
 *   replies of a round are sent together when it ends, and the rest as the
 *   output edges come.
 *
 * Plain TCP only: TLS listeners keep `Deno.listenTls`.
 *
 * @module
 */
import { formatIP } from "../../bittorrent/ip.ts";
import {
  bindSocket,
  EAGAIN,
  EINTR,
  EMFILE,
  ENFILE,
  ENOBUFS,
  ENOMEM,
  errnoError,
  IPPROTO_TCP,
  type Loaded,
  loadLibC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  setInt,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_IN6_SIZE,
  sockaddrIP,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../libc.ts";
import type { HTTPListener, ListenTCPOptions } from "./deno.ts";
import type { ByteStream } from "./server.ts";

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_MOD = 3;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x1;
const EPOLLOUT = 0x4;
const EPOLLERR = 0x8;
const EPOLLHUP = 0x10;
const EPOLLRDHUP = 0x2000;
const EPOLLET = 0x80000000;
/** Events taken per `epoll_wait`. */
const MAX_EVENTS = 256;
/** How long `epoll_wait` blocks, which bounds how late the loop sees that it should stop. */
const WAIT_MS = 100;
/** How long the loop may serve ready connections without going back to the event loop. */
const DRAIN_MS = 1;
/**
 * Microtask turns between two looks at epoll: enough for a handler whose promise
 * settles at once (an asynchronous hook with nothing to wait for) to answer in the round.
 */
const YIELDS = 4;
/** Connections accepted per wake-up before the ready ones are served (the listener stays ready). */
const ACCEPT_BURST = 64;
/** How long accepting pauses after running out of file descriptors or memory. */
const ACCEPT_BACKOFF_MS = 100;
/** The listener's number in epoll events; connections count up from 1. */
const LISTENER = 0;
/** What a connection is watched for, edge-triggered; output only while a reply waits ({@link EpollLoop.watchOutput}). */
const STREAM_EVENTS = EPOLLIN | EPOLLRDHUP | EPOLLET;
const WAIT = -2;

/** What a read or write on a closed stream rejects with (as `Deno.Conn` does). */
class StreamClosed extends Error {
  constructor() {
    super("the connection is closed");
    this.name = "StreamClosed";
  }
}

const ignore = () => {};
/** Most bytes one `recv` or `send` is given: their counts come back as 32-bit numbers (`../libc.ts`). */
const MAX_IO = 1 << 30;

/** Unsent bytes a stream may hold before `write()` waits for the socket to take them. */
const HIGH_WATER = 64 * 1024;

/** One accepted connection, as a {@link ByteStream}. */
class EpollStream implements ByteStream {
  /** Where the waiting read goes, and whom to tell: set while a read waits for input. */
  private readBuf: Uint8Array | undefined;
  private readDone: (n: number | null) => void = ignore;
  private readFailed: (err: unknown) => void = ignore;
  private closed = false;
  /**
   * The last `recv` took less than it asked for, and no input edge came since: the
   * socket is empty, so the next read waits for the kernel without trying (a
   * keep-alive client sends its next request only after the reply). Every arrival
   * after that `recv` raises an edge, so nothing is missed.
   */
  private drained = false;
  /** Bytes written but not yet taken by the kernel, in order; `outAt` of the first are sent. */
  private out: Uint8Array[] = [];
  private outAt = 0;
  private outBytes = 0;
  /** Writes that went over {@link HIGH_WATER}, settled once the queue is below it again. */
  private drainWaiters: { resolve(): void; reject(err: unknown): void }[] = [];
  /** Why sending failed; later writes reject with it. */
  private failed: Error | undefined;
  /** In the loop's list of streams to flush at the end of the round. */
  queued = false;
  /** Registered for output edges (while the socket was full). */
  private watchingOutput = false;

  constructor(readonly fd: number, readonly id: number, private readonly loop: EpollLoop) {}

  /** Bytes read, null at end of stream, {@link WAIT} when nothing is there yet, or the error. */
  private tryRead(buf: Uint8Array): number | null | Error {
    const { libc } = this.loop.l;
    for (;;) {
      const n = libc.recv(this.fd, buf, BigInt(Math.min(buf.length, MAX_IO)), MSG_DONTWAIT);
      if (n > 0) {
        this.drained = n < buf.length;
        return n;
      }
      if (n === 0) return null;
      const errno = this.loop.l.errno();
      if (errno === EAGAIN) {
        this.drained = true;
        return WAIT;
      }
      if (errno !== EINTR) return errnoError(this.loop.l, "recv", errno);
    }
  }

  read(buf: Uint8Array): Promise<number | null> {
    try {
      const r = this.readSoon(buf, ignore, ignore);
      if (r !== undefined) return Promise.resolve(r);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.readDone = resolve;
      this.readFailed = reject;
    });
  }

  readSoon(
    buf: Uint8Array,
    done: (n: number | null) => void,
    failed: (err: unknown) => void,
  ): number | null | undefined {
    if (this.closed) throw new StreamClosed();
    const r = this.drained ? WAIT : this.tryRead(buf);
    if (r === WAIT) {
      this.readBuf = buf;
      this.readDone = done;
      this.readFailed = failed;
      return undefined;
    }
    if (r instanceof Error) throw r;
    return r;
  }

  /** Ends the waiting read with `r`. */
  private settleRead(r: number | null | Error): void {
    const done = this.readDone, failed = this.readFailed;
    this.readBuf = undefined;
    this.readDone = this.readFailed = ignore;
    if (r instanceof Error) failed(r);
    else done(r);
  }

  /**
   * Queues `bytes` and resolves with their length: at once while the stream holds
   * less than {@link HIGH_WATER} unsent, else once the kernel has taken enough.
   * During a round of the loop the queue is sent when the round ends, so that the
   * replies of a round leave together; at other times it is sent now.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new StreamClosed());
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const n = bytes.length;
    if (n === 0) return Promise.resolve(0);
    this.enqueue(bytes);
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.outBytes <= HIGH_WATER) return Promise.resolve(n);
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve: () => resolve(n), reject }));
  }

  /** {@link write} without a promise, while the queue stays under {@link HIGH_WATER}. */
  offer(bytes: Uint8Array): boolean {
    if (this.closed || this.failed !== undefined || this.outBytes + bytes.length > HIGH_WATER) return false;
    // A send that fails here shows again in the next read (the peer is gone).
    if (bytes.length > 0) this.enqueue(bytes);
    return true;
  }

  private enqueue(bytes: Uint8Array): void {
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.loop.batching) this.flush();
    else if (!this.queued) {
      this.queued = true;
      this.loop.dirty.push(this);
    }
  }

  /** Sends the queue until it is empty or the socket takes no more. */
  flush(): void {
    const { libc } = this.loop.l;
    while (this.out.length > 0 && !this.closed) {
      const first = this.out[0];
      const rest = this.outAt === 0 ? first : first.subarray(this.outAt);
      const n = libc.send(this.fd, rest, BigInt(Math.min(rest.length, MAX_IO)), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        const errno = this.loop.l.errno();
        if (errno === EINTR) continue;
        if (errno === EAGAIN) {
          this.awaitRoom();
          break;
        }
        this.fail(errnoError(this.loop.l, "send", errno));
        return;
      }
      this.outBytes -= n;
      if (n < rest.length) {
        this.outAt += n;
        this.awaitRoom();
        break;
      }
      // Mostly the queue holds one reply: pop() is inlined, shift() a call into the runtime.
      if (this.out.length === 1) this.out.pop();
      else this.out.shift();
      this.outAt = 0;
    }
    if (this.out.length === 0 && this.watchingOutput && !this.closed) {
      this.watchingOutput = false;
      this.loop.watchOutput(this, false);
    }
    if (this.outBytes <= HIGH_WATER && this.drainWaiters.length > 0) {
      for (const w of this.drainWaiters.splice(0)) w.resolve();
    }
  }

  /** The socket took less than it was given: the output edge (once watched) resumes the queue. */
  private awaitRoom(): void {
    if (this.watchingOutput) return;
    this.watchingOutput = true;
    this.loop.watchOutput(this, true);
  }

  private fail(err: Error): void {
    this.failed = err;
    this.out = [];
    this.outBytes = this.outAt = 0;
    for (const w of this.drainWaiters.splice(0)) w.reject(err);
  }

  /** An epoll event for this connection: retries whatever waits on it. */
  ready(events: number): void {
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) !== 0) this.drained = false;
    if (this.readBuf !== undefined && !this.drained) {
      const r = this.tryRead(this.readBuf);
      if (r !== WAIT) this.settleRead(r);
    }
    if (this.out.length > 0 && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) !== 0) this.flush();
  }

  /** Closes the connection; what is still queued gets one last try to reach the kernel. */
  close(): void {
    if (this.closed) return;
    if (this.out.length > 0) this.flush();
    this.closed = true;
    this.loop.forget(this);
    // Closing the fd also takes it out of the epoll set.
    this.loop.l.libc.close(this.fd);
    const gone = new StreamClosed();
    if (this.readBuf !== undefined) this.settleRead(gone);
    this.fail(gone);
  }
}

/** The epoll instance, the listener and the open streams of one {@link listenTCPEpoll}. */
class EpollLoop {
  readonly streams = new Map<number, EpollStream>();
  /** True while a round's requests are answered: their replies are queued, then sent together. */
  batching = false;
  /** Streams with replies queued in this round. */
  readonly dirty: EpollStream[] = [];
  private nextID = LISTENER + 1;
  /** Set by close(): accept no more, and end the loop once the last stream is closed. */
  stopping = false;
  /** The fd of the listener, -1 once closed. */
  private listenFD: number;
  private readonly event: Uint8Array;
  private readonly eventView: DataView;
  // struct epoll_event is packed on x86_64 (12 bytes) and naturally aligned elsewhere (16).
  private readonly eventSize: number;
  private readonly dataAt: number;
  /** The events epoll_wait writes; it must stay reachable while a call is in flight. */
  private readonly events: Uint8Array;
  private readonly eventsView: DataView;
  private readonly eventsPtr: Deno.PointerObject;
  private readonly name = new Uint8Array(SOCKADDR_IN6_SIZE);
  private readonly nameView = new DataView(this.name.buffer);
  private readonly nameLen = new Uint8Array(4);
  private readonly nameLenView = new DataView(this.nameLen.buffer);
  private paused = false;

  constructor(
    readonly l: Loaded,
    readonly epfd: number,
    listenFD: number,
    private readonly opts: ListenTCPOptions,
  ) {
    this.listenFD = listenFD;
    this.eventSize = Deno.build.arch === "x86_64" ? 12 : 16;
    this.dataAt = Deno.build.arch === "x86_64" ? 4 : 8;
    this.event = new Uint8Array(this.eventSize);
    this.eventView = new DataView(this.event.buffer);
    this.events = new Uint8Array(MAX_EVENTS * this.eventSize);
    this.eventsView = new DataView(this.events.buffer);
    const ptr = Deno.UnsafePointer.of(this.events);
    if (ptr === null) throw new Error("http: no address for the epoll events");
    this.eventsPtr = ptr;
  }

  /** epoll_ctl(ADD) of `fd` under number `id`; false when it failed. */
  add(fd: number, id: number, events: number, op = EPOLL_CTL_ADD): boolean {
    this.eventView.setUint32(0, events >>> 0, true);
    this.eventView.setUint32(this.dataAt, id, true);
    this.eventView.setUint32(this.dataAt + 4, 0, true);
    return this.l.libc.epoll_ctl(this.epfd, op, fd, this.event) === 0;
  }

  /**
   * Watches a connection for output too, or no longer. Only while a reply waits for
   * room: otherwise every ACK of a reply would raise an output edge to be handled.
   * Adding it reports the socket at once if it has room again already.
   */
  watchOutput(s: EpollStream, on: boolean): void {
    this.add(s.fd, s.id, on ? STREAM_EVENTS | EPOLLOUT : STREAM_EVENTS, EPOLL_CTL_MOD);
  }

  forget(s: EpollStream): void {
    this.streams.delete(s.id);
  }

  /** Closes the listening socket (streams stay open until their taker closes them). */
  closeListener(): void {
    if (this.listenFD < 0) return;
    this.l.libc.close(this.listenFD);
    this.listenFD = -1;
  }

  private acceptSome(): void {
    const { libc } = this.l;
    for (let k = 0; k < ACCEPT_BURST && this.listenFD >= 0; k++) {
      this.nameLenView.setUint32(0, SOCKADDR_IN6_SIZE, true);
      const fd = libc.accept4(this.listenFD, this.name, this.nameLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const errno = this.l.errno();
        if (errno === EAGAIN) return;
        if (errno === EMFILE || errno === ENFILE || errno === ENOBUFS || errno === ENOMEM) {
          // Out of descriptors or memory: the listener stays ready, so stop watching it
          // for a moment instead of spinning on it.
          this.opts.onError(errnoError(this.l, "accept4", errno));
          this.pause();
          return;
        }
        // ECONNABORTED and the like: that connection is gone; the next one may not be.
        if (errno !== EINTR) this.opts.onError(errnoError(this.l, "accept4", errno));
        continue;
      }
      const ip = sockaddrIP(this.name, this.nameView, 0);
      const id = this.nextID++;
      if (ip === null || !this.add(fd, id, STREAM_EVENTS)) {
        libc.close(fd);
        continue;
      }
      setInt(this.l, fd, IPPROTO_TCP, TCP_NODELAY, 1);
      const stream = new EpollStream(fd, id, this);
      this.streams.set(id, stream);
      this.opts.accept(stream, formatIP(ip));
    }
  }

  private pause(): void {
    if (this.paused || this.listenFD < 0) return;
    this.paused = true;
    this.l.libc.epoll_ctl(this.epfd, EPOLL_CTL_DEL, this.listenFD, this.event);
    setTimeout(() => {
      this.paused = false;
      if (this.listenFD >= 0) this.add(this.listenFD, LISTENER, EPOLLIN);
    }, ACCEPT_BACKOFF_MS);
  }

  /** Hands the `n` events in the buffer to the listener and the streams. */
  private dispatch(n: number): void {
    const { eventsView, eventSize, dataAt } = this;
    for (let i = 0; i < n; i++) {
      const at = i * eventSize;
      const id = eventsView.getUint32(at + dataAt, true);
      if (id === LISTENER) {
        if (!this.stopping) this.acceptSome();
        continue;
      }
      // A stream closed since the kernel queued this event is no longer here.
      this.streams.get(id)?.ready(eventsView.getUint32(at, true));
    }
  }

  /**
   * Sends the replies queued in this round. One after another, they find the client
   * already awake from the first: sent as each was ready, every one of them paid for
   * waking it (measured: 86k → 97k announces/s on one core under wrk).
   */
  private flushRound(): void {
    const { dirty } = this;
    for (let i = 0; i < dirty.length; i++) {
      dirty[i].queued = false;
      dirty[i].flush();
    }
    dirty.length = 0;
  }

  /** Serves events until stopped and every stream is closed, then closes the epoll fd. */
  async run(): Promise<void> {
    const { libc } = this.l;
    while (!this.stopping || this.streams.size > 0) {
      // n < 0 is EINTR (a signal reached the pool thread); the next wait retries.
      let n = await libc.epoll_wait(this.epfd, this.eventsPtr, MAX_EVENTS, WAIT_MS);
      // Under load the next requests are ready by the time these are answered: look
      // again on this thread, which saves the pool thread's hop and wake-up, for up to
      // DRAIN_MS before the wait above lets timers, UDP and the metrics server run.
      const until = n > 0 ? performance.now() + DRAIN_MS : 0;
      while (n > 0) {
        this.batching = true;
        this.dispatch(n);
        // Replies that are promise continuations (and reads through read()) get to answer first.
        for (let k = 0; k < YIELDS; k++) await null;
        this.batching = false;
        this.flushRound();
        if (performance.now() >= until) break;
        n = libc.epollWaitNow(this.epfd, this.eventsPtr, MAX_EVENTS, 0);
      }
    }
    libc.close(this.epfd);
  }
}

/**
 * Listens on plain TCP with epoll and hands every connection to `accept` (see the
 * module doc); `close()` stops accepting, and the loop ends once every stream has
 * been closed by its taker. Throws when FFI is unavailable (`ffiUnavailable()` in
 * `../libc.ts` says why) or the address cannot be bound.
 *
 * @example
 * ```ts
 * const l = await listenTCPEpoll({ hostname: "127.0.0.1", port: 0, accept: (s, ip) => server.accept(s, ip), onError });
 * await l.close();
 * ```
 */
export function listenTCPEpoll(opts: ListenTCPOptions): Promise<HTTPListener> {
  let l: Loaded;
  let bound: { fd: number; ip: Uint8Array; port: number };
  try {
    if (opts.tls !== undefined) throw new TypeError("http: the epoll transport serves plain TCP only");
    l = loadLibC();
    bound = bindSocket(l, opts.hostname, opts.port, SOCK_STREAM | SOCK_NONBLOCK, (fd) => {
      // As Go and Deno do: a restarted tracker can bind while old connections linger in TIME_WAIT.
      setInt(l, fd, SOL_SOCKET, SO_REUSEADDR, 1);
    });
  } catch (err) {
    return Promise.reject(err);
  }
  const { libc } = l;
  const fail = (syscall: string) => {
    const err = errnoError(l, syscall);
    libc.close(bound.fd);
    return Promise.reject(err);
  };
  if (libc.listen(bound.fd, 4096) !== 0) return fail("listen");
  const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return fail("epoll_create1");
  const loop = new EpollLoop(l, epfd, bound.fd, opts);
  if (!loop.add(bound.fd, LISTENER, EPOLLIN)) {
    libc.close(epfd);
    return fail("epoll_ctl");
  }
  const running = loop.run().catch(opts.onError);
  let closed = false;
  return Promise.resolve({
    hostname: formatIP(bound.ip),
    port: bound.port,
    // The loop (and the events buffer it holds) stays reachable from the listener.
    running,
    close() {
      if (!closed) {
        closed = true;
        loop.stopping = true;
        loop.closeListener();
      }
      return Promise.resolve();
    },
  } as HTTPListener);
}
