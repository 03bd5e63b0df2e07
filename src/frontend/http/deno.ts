/**
 * The Deno binding of the HTTP frontend: `Deno.serve`, plain or TLS.
 *
 * @module
 */
import type { MaybePromise } from "../../maybe.ts";

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
