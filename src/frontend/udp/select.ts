/**
 * Picks the UDP transport for `udp.transport` on the Deno runtime:
 *
 * - `deno`: `Deno.listenDatagram` (`deno.ts`), everywhere;
 * - `ffi`: libc `recvmmsg`/`sendmmsg` through FFI (`ffi.ts`), Linux x86_64/aarch64
 *   only, and only with `--allow-ffi` (the `start` task in deno.json grants it);
 *   a startup error otherwise, saying what to do;
 * - `auto` (the default): `ffi` where it is available, else `deno`.
 *
 * The tracker logs the choice and its reason in its "udp frontend listening" line.
 *
 * @module
 */
import type { UDPTransport } from "../../config/types.ts";
import type { UDPTransportChoice } from "../../tracker.ts";
import { listenUDP } from "./deno.ts";
import { chooseTransport } from "../libc.ts";
import { listenUDPFFI } from "./ffi.ts";

/**
 * The transport that serves `requested`, and why. Throws when `ffi` is asked for
 * and cannot run here.
 *
 * @example
 * ```ts
 * const { transport, reason } = selectUDPTransport("auto");
 * // "ffi", "auto: linux x86_64 with --allow-ffi"
 * ```
 */
export function selectUDPTransport(requested: UDPTransport): UDPTransportChoice {
  return chooseTransport("udp.transport", requested, { ffi: listenUDPFFI, deno: listenUDP });
}
