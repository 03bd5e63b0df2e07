/**
 * Instruments a UDP packet handler from the outside: the action comes from the
 * request header, the outcome from the reply bytes (an error packet carries its
 * static message), drops from a null reply. This keeps the UDP frontend's hot
 * path untouched; the cost per packet is two clock reads and a few byte compares.
 *
 * @module
 */
import { ClientError } from "../bittorrent/errors.ts";
import type { MaybePromise } from "../maybe.ts";
import type { ListenUDPOptions } from "../frontend/udp/deno.ts";
import * as udpParser from "../frontend/udp/parser.ts";
import type { DropReason, FamilyCode, RequestObserver } from "./metrics.ts";

type Handler = ListenUDPOptions["handler"];

const ACTION_NAMES = ["connect", "announce", "scrape", "", "announce"];
const CONNECT_MAGIC = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80];
const INTERNAL = new Error("internal error");

/** Every ClientError the UDP path can send, as bytes, to name an error reply without decoding it. */
const KNOWN: { bytes: Uint8Array; error: Error }[] = [];
const encoder = new TextEncoder();
for (const v of Object.values(udpParser)) {
  if (v instanceof ClientError) KNOWN.push({ bytes: encoder.encode(v.message), error: v });
}
const unknownErrors = new Map<string, ClientError>();

function errorOf(reply: Uint8Array): Error {
  // The message ends with a NUL, as chihaya writes it.
  const n = reply.length - 8 - (reply[reply.length - 1] === 0 ? 1 : 0);
  outer: for (const k of KNOWN) {
    if (k.bytes.length !== n) continue;
    for (let i = 0; i < n; i++) if (reply[8 + i] !== k.bytes[i]) continue outer;
    return k.error;
  }
  const message = new TextDecoder().decode(reply.subarray(8, 8 + n));
  if (message === "internal error") return INTERNAL;
  // Hook errors (unapproved torrent, jwt, ...): one ClientError per distinct message.
  let e = unknownErrors.get(message);
  if (e === undefined) {
    e = new ClientError(message);
    if (unknownErrors.size < 256) unknownErrors.set(message, e);
  }
  return e;
}

function familyOfSource(ip: Uint8Array): FamilyCode {
  if (ip.length === 4) return 4;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return 6;
  return ip[10] === 0xff && ip[11] === 0xff ? 4 : 6;
}

function dropReason(packet: Uint8Array): DropReason {
  if (packet.length < 16) return "short packet";
  if (packet[8] === 0 && packet[9] === 0 && packet[10] === 0 && packet[11] === 0) {
    for (let i = 0; i < 8; i++) if (packet[i] !== CONNECT_MAGIC[i]) return "bad connect magic";
  }
  return "amplification limit";
}

/**
 * Wraps `handle` so that every packet is reported to `observe`. With `timing`
 * false, durations are recorded as 0 (chihaya's `enable_request_timing: false`).
 *
 * @example
 * ```ts
 * const handler = observeUDP(frontend.handle.bind(frontend), metrics.observe, false);
 * ```
 */
export function observeUDP(handle: Handler, observe: RequestObserver, timing: boolean): Handler {
  const report = (packet: Uint8Array, ip: Uint8Array, reply: Uint8Array | null, t0: number) => {
    const ms = timing ? performance.now() - t0 : 0;
    const family = familyOfSource(ip);
    if (reply === null) return observe("udp", "", family, dropReason(packet), ms);
    const kind = reply.length >= 8 ? reply[3] : 3;
    if (kind !== 3) return observe("udp", ACTION_NAMES[kind] ?? "", family, undefined, ms);
    const requested = packet[8] === 0 && packet[9] === 0 && packet[10] === 0 ? packet[11] : 5;
    const error = errorOf(reply);
    // chihaya labels a bad connection ID and an unknown action with the empty action.
    const action = error === udpParser.ErrBadConnectionID || error === udpParser.ErrUnknownAction
      ? ""
      : (ACTION_NAMES[requested] ?? "");
    observe("udp", action, family, error, ms);
  };
  return (packet, ip, port, room) => {
    const t0 = timing ? performance.now() : 0;
    let reply: MaybePromise<Uint8Array | null>;
    try {
      reply = handle(packet, ip, port, room);
    } catch (err) {
      observe("udp", "", familyOfSource(ip), err, 0);
      throw err;
    }
    if (reply instanceof Promise) {
      // The packet buffer is reused once handle returns: read what the report needs now.
      const head = packet.slice(0, 16);
      const source = ip.slice();
      return reply.then((r) => {
        report(head, source, r, t0);
        return r;
      });
    }
    report(packet, ip, reply, t0);
    return reply;
  };
}
