/**
 * The Bun bindings of HTTP: raw TCP (or TLS) streams from `Bun.listen` for
 * hayate's own server ({@link listenTCP}), and `Bun.serve` for the metrics
 * endpoints ({@link serveHTTP}). Same options and listeners as the Deno bindings
 * (`deno.ts`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import type { HTTPListener, ListenTCPOptions, ServeOptions } from "./deno.ts";
import type { ByteStream } from "./server.ts";

/** The part of `Bun.serve` this binding uses (Deno's type checker has no Bun types). */
interface BunServer {
  hostname: string;
  port: number;
  requestIP(req: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** The part of a `Bun.listen` socket this binding uses. */
export interface BunSocket {
  readonly remoteAddress: string;
  /** Bytes taken (the kernel's or TLS's); Bun keeps no send buffer of its own. -1: closed. */
  write(data: Uint8Array): number;
  /** Sends what is queued, then closes. */
  end(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  data: BunStream | undefined;
}

interface BunSocketHandlers {
  open(s: BunSocket): void;
  data(s: BunSocket, chunk: Uint8Array): void;
  drain(s: BunSocket): void;
  end(s: BunSocket): void;
  close(s: BunSocket, err?: Error): void;
  error(s: BunSocket, err: Error): void;
}

interface BunTCPListener {
  hostname: string;
  port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunGlobal {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    tls?: { cert: string; key: string };
    socket: BunSocketHandlers;
  }): BunTCPListener;
  serve(options: {
    hostname: string;
    port: number;
    reusePort: boolean;
    development: boolean;
    idleTimeout: number;
    tls?: { cert: string; key: string };
    fetch(req: Request, server: BunServer): Response | Promise<Response>;
    error(err: Error): Response;
  }): BunServer;
}

/**
 * Bytes a connection may hold unread before its socket is paused (the kernel's
 * window then stalls the sender); reads below it resume. One more chunk of Bun's
 * (up to its receive buffer) can arrive before the pause takes effect.
 */
export const READ_HIGH_WATER = 64 * 1024;

function bunGlobal(): BunGlobal {
  const bun = (globalThis as unknown as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) throw new Error("the Bun HTTP binding needs the Bun runtime");
  return bun;
}

async function readTLS(tls: { certPath: string; keyPath: string } | undefined) {
  return tls === undefined ? undefined : {
    cert: await readFile(tls.certPath, "utf8"),
    key: await readFile(tls.keyPath, "utf8"),
  };
}

interface PendingRead {
  p: Uint8Array;
  resolve(n: number | null): void;
  reject(err: unknown): void;
}

interface PendingWrite {
  bytes: Uint8Array;
  at: number;
  resolve(n: number): void;
  reject(err: unknown): void;
}

/**
 * A `Bun.listen` socket (push: `data` and `drain` events) as a pull-style
 * {@link ByteStream}, the shape of `Deno.Conn`. `read()` copies buffered bytes
 * into the caller's array (keeping what does not fit) or waits for the next
 * chunk, `null` at EOF or close; one read may be pending at a time. `write()`
 * resolves with the whole length once Bun has taken all of it, waiting for
 * `drain` after a short write. Unread bytes are bounded by pausing the socket
 * past {@link READ_HIGH_WATER}.
 */
export class BunStream implements ByteStream {
  private readonly chunks: Uint8Array[] = [];
  /** Bytes of `chunks[0]` already read. */
  private offset = 0;
  private held = 0;
  private reading: PendingRead | undefined;
  private readonly writing: PendingWrite[] = [];
  private paused = false;
  private eof = false;
  private closed = false;
  private failure: Error | undefined;

  constructor(private readonly socket: BunSocket) {}

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.held;
  }

  /** Whether the socket is paused for holding too much unread. */
  get isPaused(): boolean {
    return this.paused;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.reading !== undefined) return Promise.reject(new Error("a read is already pending"));
    if (this.held > 0) return Promise.resolve(this.take(p));
    if (this.eof || this.closed) return Promise.resolve(null);
    if (p.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => this.reading = { p, resolve, reject });
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(this.failure ?? new Error("connection closed"));
    if (this.writing.length === 0) {
      const n = p.length === 0 ? 0 : this.socket.write(p);
      if (n === p.length) return Promise.resolve(n);
      if (n < 0) {
        this.close();
        return Promise.reject(new Error("connection closed"));
      }
      return new Promise((resolve, reject) => this.writing.push({ bytes: p, at: n, resolve, reject }));
    }
    return new Promise((resolve, reject) => this.writing.push({ bytes: p, at: 0, resolve, reject }));
  }

  /** Ends the socket (queued bytes are still sent) and settles what is pending. */
  close(): void {
    if (this.closed) return;
    this.finish(new Error("connection closed"));
    this.socket.end();
  }

  /** `data`: hand the chunk to a waiting read, keep the rest. */
  onData(chunk: Uint8Array): void {
    if (this.closed || chunk.length === 0) return;
    const r = this.reading;
    if (r !== undefined && chunk.length <= r.p.length) {
      // the usual case: a whole request into the server's buffer, nothing kept
      this.reading = undefined;
      r.p.set(chunk);
      r.resolve(chunk.length);
      return;
    }
    this.chunks.push(chunk);
    this.held += chunk.length;
    if (r !== undefined) {
      this.reading = undefined;
      r.resolve(this.take(r.p));
    }
    if (!this.paused && this.held > READ_HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** `drain`: Bun can take more, so continue the short writes in order. */
  onDrain(): void {
    while (this.writing.length > 0) {
      const w = this.writing[0];
      const n = this.socket.write(w.at === 0 ? w.bytes : w.bytes.subarray(w.at));
      if (n < 0) {
        this.close();
        return;
      }
      w.at += n;
      if (w.at < w.bytes.length) return;
      this.writing.shift();
      w.resolve(w.bytes.length);
    }
  }

  /** `end`: the peer sent FIN; reads drain the buffer, then see EOF. */
  onEnd(): void {
    this.eof = true;
    const r = this.reading;
    if (r !== undefined && this.held === 0) {
      this.reading = undefined;
      r.resolve(null);
    }
  }

  /** `error`: remembered for the writes that `close` rejects. */
  onError(err: Error): void {
    this.failure ??= err;
  }

  /** `close`: the socket is gone (peer, error, or our `end()`). */
  onClose(err?: Error): void {
    if (err !== undefined) this.failure ??= err;
    this.finish(this.failure ?? new Error("connection closed"));
  }

  private finish(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.chunks.length = 0;
    this.held = this.offset = 0;
    const r = this.reading;
    this.reading = undefined;
    r?.resolve(null);
    for (const w of this.writing.splice(0)) w.reject(err);
  }

  /** Copies buffered bytes into `p` (at least one, as `held > 0`), resuming a paused socket once below the mark. */
  private take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.chunks.length > 0) {
      const c = this.chunks[0];
      const k = Math.min(c.length - this.offset, p.length - n);
      p.set(k === c.length ? c : c.subarray(this.offset, this.offset + k), n);
      n += k;
      this.offset += k;
      if (this.offset === c.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.held -= n;
    if (this.paused && this.held <= READ_HIGH_WATER / 2) {
      this.paused = false;
      this.socket.resume();
    }
    return n;
  }
}

const SOCKET_HANDLERS: BunSocketHandlers = {
  open: () => {},
  data: (s, chunk) => s.data?.onData(chunk),
  drain: (s) => s.data?.onDrain(),
  end: (s) => s.data?.onEnd(),
  close: (s, err) => s.data?.onClose(err),
  error: (s, err) => s.data?.onError(err),
};

/**
 * Listens with `Bun.listen` (plain, or TLS with `opts.tls`) and hands every
 * connection to `accept` as a {@link BunStream}; `close()` stops accepting (the
 * streams are the taker's to close). Bun accepts internally, so `onError` hears
 * of no accept failures.
 *
 * @example
 * ```ts
 * const l = await listenTCP({ hostname: "127.0.0.1", port: 0, accept: (s, ip) => server.accept(s, ip), onError });
 * await l.close();
 * ```
 */
export async function listenTCP(opts: ListenTCPOptions): Promise<HTTPListener> {
  const bun = bunGlobal();
  const tls = await readTLS(opts.tls);
  const { accept, onError } = opts;
  const handlers: BunSocketHandlers = {
    ...SOCKET_HANDLERS,
    open(s) {
      s.setNoDelay(true);
      const stream = new BunStream(s);
      s.data = stream;
      try {
        accept(stream, s.remoteAddress);
      } catch (err) {
        onError(err);
        stream.close();
      }
    },
  };
  let listener: BunTCPListener;
  try {
    // Like Deno.listen (and unlike reusePort), a taken port is an error.
    listener = bun.listen({
      hostname: opts.hostname,
      port: opts.port,
      // A client may send its request and FIN; it still gets the answer (as on Deno).
      allowHalfOpen: true,
      ...(tls === undefined ? {} : { tls }),
      socket: handlers,
    });
  } catch (err) {
    // Bun says only "Failed to listen at <host>"; the code (EADDRINUSE, ...) is a property.
    const code = (err as { code?: unknown }).code;
    if (typeof code !== "string") throw err;
    throw Object.assign(new Error(`${(err as Error).message}:${opts.port}: ${code}`, { cause: err }), {
      code,
    });
  }
  let closed = false;
  return {
    hostname: listener.hostname,
    port: listener.port,
    close() {
      if (!closed) {
        closed = true;
        listener.stop(false);
      }
      return Promise.resolve();
    },
  };
}

/** How long a finished `close()` waits for in-flight requests before cutting connections. */
const DRAIN_MS = 2000;

/**
 * Listens with Bun.serve (bound once it returns) and resolves with the real port.
 *
 * @example
 * ```ts
 * const l = await serveHTTP({ hostname: "127.0.0.1", port: 0, handler, onError: console.error });
 * await l.close();
 * ```
 */
export async function serveHTTP(opts: ServeOptions): Promise<HTTPListener> {
  const bun = bunGlobal();
  const tls = await readTLS(opts.tls);
  const server = bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    // Like Deno.serve: a second listener on a taken port is an error, not a share.
    reusePort: false,
    development: false,
    idleTimeout: 30,
    ...(tls === undefined ? {} : { tls }),
    fetch: (req, srv) => opts.handler(req, srv.requestIP(req)?.address ?? ""),
    error(err) {
      opts.onError(err);
      return new Response("internal server error", { status: 500 });
    },
  });
  let closed: Promise<void> | undefined;
  return {
    hostname: server.hostname,
    port: server.port,
    close() {
      closed ??= (async () => {
        // stop() lets in-flight requests finish, but also waits for idle keep-alive
        // connections; those are cut after a short drain.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const graceful = server.stop(false);
        const drained = await Promise.race([
          graceful.then(() => true),
          new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), DRAIN_MS)),
        ]);
        clearTimeout(timer);
        if (!drained) await server.stop(true);
      })();
      return closed;
    },
  };
}
