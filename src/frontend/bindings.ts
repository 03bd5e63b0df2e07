/**
 * The socket bindings of the runtime this process runs on: `Deno.listen` (the
 * tracker's own HTTP server), `Deno.serve` (metrics) and `Deno.listenDatagram`
 * (plus the FFI transport) on Deno; `Bun.listen`, `Bun.serve` and `node:dgram`
 * on Bun. `main.ts` and the black-box tests start trackers with
 * {@link bindings}; the per-runtime modules can still be imported directly.
 *
 * @example
 * ```ts
 * import { bindings } from "./src/frontend/bindings.ts";
 * const tracker = await Tracker.start(config, { runtime: bindings, log });
 * ```
 *
 * @module
 */
import { isBun } from "../runtime.ts";
import type { Runtime } from "../tracker.ts";
import * as bunHTTP from "./http/bun.ts";
import * as denoHTTP from "./http/deno.ts";
import * as bunUDP from "./udp/bun.ts";
import * as denoUDP from "./udp/deno.ts";
import { selectTCPTransport } from "./http/select.ts";
import { selectUDPTransport as selectDeno } from "./udp/select.ts";

export type { HTTPListener, ListenTCPOptions, ServeOptions } from "./http/deno.ts";
export type { ListenUDPOptions, UDPListener } from "./udp/deno.ts";

/** `Deno.serve` or `Bun.serve`: the metrics endpoints (and any fetch-style handler). */
export const serveHTTP: Runtime["serveHTTP"] = isBun ? bunHTTP.serveHTTP : denoHTTP.serveHTTP;

/** The runtime's own datagram socket: `Deno.listenDatagram` or `node:dgram` on Bun. */
export const listenUDP: NonNullable<Runtime["listenUDP"]> = isBun ? bunUDP.listenUDP : denoUDP.listenUDP;

/** `udp.transport` for this runtime: ffi/deno/auto on Deno; node:dgram, no ffi, on Bun. */
export const selectUDPTransport: NonNullable<Runtime["selectUDP"]> = isBun
  ? bunUDP.selectUDPTransport
  : selectDeno;

/** Raw TCP (or TLS) streams for hayate's own HTTP server: `Deno.listen` or `Bun.listen`. */
export const listenTCP: NonNullable<Runtime["listenTCP"]> = isBun ? bunHTTP.listenTCP : denoHTTP.listenTCP;

/** `http.transport` for this runtime: ffi (epoll)/deno/auto on Deno; Bun.listen, no ffi, on Bun. */
export const selectTCP: Runtime["selectTCP"] = isBun ? undefined : selectTCPTransport;

/** Everything `Tracker.start` needs from the runtime. */
export const bindings: Runtime = {
  serveHTTP,
  listenTCP,
  listenUDP,
  selectUDP: selectUDPTransport,
  selectTCP,
};
