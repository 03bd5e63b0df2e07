/**
 * The Bun binding of the HTTP frontend: `Bun.serve`, plain or TLS. Same options
 * and listener as the Deno binding (`deno.ts`).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import type { HTTPListener, ServeOptions } from "./deno.ts";

/** The part of `Bun.serve` this binding uses (Deno's type checker has no Bun types). */
interface BunServer {
  hostname: string;
  port: number;
  requestIP(req: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

interface BunGlobal {
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
  const bun = (globalThis as unknown as { Bun?: BunGlobal }).Bun;
  if (bun === undefined) throw new Error("the Bun HTTP binding needs the Bun runtime");
  const tls = opts.tls === undefined ? undefined : {
    cert: await readFile(opts.tls.certPath, "utf8"),
    key: await readFile(opts.tls.keyPath, "utf8"),
  };
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
