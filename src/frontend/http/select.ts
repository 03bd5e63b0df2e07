/**
 * Picks the TCP transport of hayate's HTTP server for `http.transport` on the Deno
 * runtime, as `../udp/select.ts` does for UDP:
 *
 * - `deno`: `Deno.listen` (`deno.ts`), everywhere;
 * - `ffi`: non-blocking sockets on epoll through libc (`epoll.ts`), Linux
 *   x86_64/aarch64 with `--allow-ffi` only; a startup error otherwise;
 * - `auto` (the default): `ffi` where it is available, else `deno`.
 *
 * HTTPS listeners always take `Deno.listenTls`, whatever was asked. The tracker
 * logs the choice and its reason in its "http frontend listening" line.
 *
 * @module
 */
import type { HTTPTransport } from "../../config/types.ts";
import type { TCPTransportChoice } from "../../tracker.ts";
import { chooseTransport } from "../libc.ts";
import { listenTCP } from "./deno.ts";
import { listenTCPEpoll } from "./epoll.ts";

/**
 * The transport that serves `requested` (for a TLS listener when `tls`), and why.
 * Throws when `ffi` is asked for and cannot run here.
 *
 * @example
 * ```ts
 * const { transport, reason } = selectTCPTransport("auto", false);
 * // "ffi", "auto: linux x86_64 with --allow-ffi"
 * ```
 */
export function selectTCPTransport(requested: HTTPTransport, tls: boolean): TCPTransportChoice {
  if (tls) return { transport: "deno", reason: "TLS is served by Deno.listenTls", listen: listenTCP };
  return chooseTransport("http.transport", requested, { ffi: listenTCPEpoll, deno: listenTCP });
}
