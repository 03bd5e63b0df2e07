/**
 * The Deno bindings of HTTP: raw TCP (or TLS) streams from `Deno.listen` for
 * hayate's own server ({@link listenTCP}), and `Deno.serve` for the metrics
 * endpoints ({@link serveHTTP}).
 *
 * @module
 */
import type { MaybePromise } from "../../maybe.ts";
import type { ByteStream } from "./server.ts";

/** A listening server. */
export interface HTTPListener {
  hostname: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Where and how to listen. */
export interface ServeOptions {
  hostname: string;
  port: number;
  tls?: { certPath: string; keyPath: string };
  handler: (req: Request, remote: string) => MaybePromise<Response>;
  onError: (err: unknown) => void;
}

/**
 * Listens with Deno.serve and resolves once the socket is bound.
 *
 * @example
 * ```ts
 * const l = await serveHTTP({ hostname: "127.0.0.1", port: 0, handler, onError: console.error });
 * await l.close();
 * ```
 */
export async function serveHTTP(opts: ServeOptions): Promise<HTTPListener> {
  const tls = opts.tls === undefined ? {} : {
    cert: await Deno.readTextFile(opts.tls.certPath),
    key: await Deno.readTextFile(opts.tls.keyPath),
  };
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    ...tls,
    onListen: resolve,
    onError(err) {
      opts.onError(err);
      return new Response("internal server error", { status: 500 });
    },
  }, (req, info) => opts.handler(req, (info.remoteAddr as Deno.NetAddr).hostname));
  const addr = await listening;
  return {
    hostname: addr.hostname,
    port: addr.port,
    close: () => server.shutdown(),
  };
}

/** Where to listen for byte streams, and who takes each one. */
export interface ListenTCPOptions {
  hostname: string;
  port: number;
  tls?: { certPath: string; keyPath: string };
  /** Takes a connected stream and the peer's address. */
  accept: (stream: ByteStream, remote: string) => void;
  /** Told about accept failures (such as running out of file descriptors). */
  onError: (err: unknown) => void;
}

/** How long to pause accepting after a failed accept (EMFILE and the like), so the loop does not spin. */
const ACCEPT_BACKOFF_MS = 100;

/**
 * Listens with `Deno.listen` (or `Deno.listenTls`) and hands every connection to
 * `accept`; `close()` stops accepting (the streams are the taker's to close).
 *
 * @example
 * ```ts
 * const l = await listenTCP({ hostname: "127.0.0.1", port: 0, accept: (s, ip) => server.accept(s, ip), onError });
 * await l.close();
 * ```
 */
export async function listenTCP(opts: ListenTCPOptions): Promise<HTTPListener> {
  const listener: Deno.Listener = opts.tls === undefined
    ? Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" })
    : Deno.listenTls({
      hostname: opts.hostname,
      port: opts.port,
      cert: await Deno.readTextFile(opts.tls.certPath),
      key: await Deno.readTextFile(opts.tls.keyPath),
    });
  let closed = false;
  const loop = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closed) return;
        opts.onError(err);
        await new Promise((r) => setTimeout(r, ACCEPT_BACKOFF_MS));
        continue;
      }
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      opts.accept(conn, (conn.remoteAddr as Deno.NetAddr).hostname);
    }
  })();
  const addr = listener.addr as Deno.NetAddr;
  return {
    hostname: addr.hostname,
    port: addr.port,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      await loop;
    },
  };
}
