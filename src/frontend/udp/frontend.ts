/**
 * The UDP frontend (BEP 15, BEP 41 and opentracker's action 4) as a pure packet
 * handler: request bytes and the source address in, reply bytes (or null: send
 * nothing) out. Socket loops (`deno.ts`, or a batched transport) only move bytes.
 *
 * **Amplification limit.** A UDP source address can be forged, so a reply may go
 * to a victim who never asked. Without a valid connection ID the handler answers
 * only with a 16-byte connect reply or the 26-byte `bad connection ID` error, and
 * never with more than {@link UNVERIFIED_AMPLIFICATION} times the request's size
 * (a 16-byte request gets at most 32 bytes; anything larger is dropped). A valid
 * ID proves the source received our connect reply, so only then are peer lists,
 * scrape counts and hook errors sent; these are bounded by one 1500-byte-MTU
 * datagram (see `writer.ts`).
 *
 * @module
 */
import { isClientError } from "../../bittorrent/errors.ts";
import { familyOf, normalizeIP } from "../../bittorrent/ip.ts";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { type MaybePromise, then } from "../../maybe.ts";
import { Context } from "../../middleware/hook.ts";
import type { Logic } from "../../middleware/logic.ts";
import { ConnectionIDs } from "./connection_id.ts";
import {
  Action,
  ErrBadConnectionID,
  ErrUnknownAction,
  HEADER_SIZE,
  isConnectMagic,
  parseAnnounce,
  parseScrape,
  readUint32,
  type UDPParseOptions,
} from "./parser.ts";
import { writeAnnounce, writeConnect, writeError, writeScrape } from "./writer.ts";

/**
 * How much larger than its request a reply may be when the request's connection
 * ID is not valid (connect requests and every rejected packet).
 */
export const UNVERIFIED_AMPLIFICATION = 2;

/** Settings of the UDP frontend (the `udp:` block; durations in ms) and what it serves through. */
export interface UDPFrontendOptions extends UDPParseOptions {
  /** HMAC key of connection IDs. */
  privateKey: string;
  /** How far ahead of our clock a connection ID's timestamp may be. */
  maxClockSkew: number;
  /** How long a connection ID is honoured. */
  connectionIDLifetime: number;
  logic: Logic;
  log: Logger;
  /** Unix seconds for connection IDs; the wall clock when omitted. */
  clock?: Clock;
}

const wallClock: Clock = { now: () => Math.floor(Date.now() / 1000) };

function udpContext(source: Uint8Array): Context {
  const ctx = new Context();
  ctx.protocol = "udp";
  ctx.source = source;
  return ctx;
}

/**
 * Answers UDP tracker packets.
 *
 * @example
 * ```ts
 * const udp = new UDPFrontend({ ...config.udp, logic, log });
 * const reply = udp.handle(packet, new Uint8Array([127, 0, 0, 1]), 51413);
 * // Uint8Array, null (drop), or a promise of either when a hook or store is async
 * ```
 */
export class UDPFrontend {
  private readonly ids: ConnectionIDs;
  private readonly clock: Clock;

  constructor(private readonly opts: UDPFrontendOptions) {
    this.ids = new ConnectionIDs({
      key: opts.privateKey,
      lifetime: opts.connectionIDLifetime,
      maxClockSkew: opts.maxClockSkew,
    });
    this.clock = opts.clock ?? wallClock;
  }

  /**
   * Handles one datagram from `ip` (4 or 16 bytes; IPv4-mapped IPv6 is treated as
   * IPv4) and `port`. `packet` is read only during the call, so a receive buffer
   * can be reused right after it returns. Returns the reply, null to send nothing,
   * or a promise of either when a hook or the store answers asynchronously (the
   * memory store path stays synchronous). Never throws and never rejects.
   *
   * `room`, when given, is where a reply known before the call returns is built
   * (the returned array is then a view of it), so a transport can pass its send
   * buffer and skip a copy. Replies that come later never use it.
   *
   * - under 16 bytes, or a connect without BEP 15's magic: dropped;
   * - anything but connect: `bad connection ID` unless the ID is valid for `ip`;
   * - announce (1, 4) and scrape (2) go through the hook chain; other actions
   *   get `unknown action ID`; internal failures show only `internal error`.
   */
  handle(
    packet: Uint8Array,
    ip: Uint8Array,
    _port: number,
    room?: Uint8Array,
  ): MaybePromise<Uint8Array | null> {
    if (packet.length < HEADER_SIZE) return null;
    const action = readUint32(packet, 8);
    const tx = readUint32(packet, 12);
    try {
      const source = normalizeIP(ip);
      const now = this.clock.now();
      if (action === Action.Connect) {
        if (!isConnectMagic(packet)) return null;
        return this.unverified(packet, writeConnect(tx, this.ids.create(source, now), room));
      }
      if (!this.ids.valid(packet, source, now)) {
        return this.unverified(packet, writeError(tx, ErrBadConnectionID.message, room));
      }
      switch (action) {
        case Action.Announce:
        case Action.AnnounceV6:
          return this.announce(packet, source, action, tx, room);
        case Action.Scrape:
          return this.scrape(packet, source, tx, room);
        default:
          return writeError(tx, ErrUnknownAction.message, room);
      }
    } catch (err) {
      return this.fail(tx, err, action, room);
    }
  }

  /** Enforces {@link UNVERIFIED_AMPLIFICATION} on a reply sent without a valid ID. */
  private unverified(packet: Uint8Array, reply: Uint8Array): Uint8Array | null {
    return reply.length <= packet.length * UNVERIFIED_AMPLIFICATION ? reply : null;
  }

  private announce(
    packet: Uint8Array,
    source: Uint8Array,
    action: number,
    tx: number,
    room: Uint8Array | undefined,
  ): MaybePromise<Uint8Array | null> {
    const { logic } = this.opts;
    const req = parseAnnounce(packet, source, this.opts);
    const ctx = udpContext(source);
    try {
      const answered = logic.handleAnnounce(ctx, req);
      const into = answered instanceof Promise ? undefined : room;
      return this.settle(
        then(answered, (resp) => {
          const reply = writeAnnounce(action, tx, resp, familyOf(req.peer.ip), into);
          logic.afterAnnounce(ctx, req, resp);
          return reply;
        }),
        tx,
        action,
        ctx,
      );
    } catch (err) {
      return ctx.drop ? null : this.fail(tx, err, action, room);
    }
  }

  private scrape(
    packet: Uint8Array,
    source: Uint8Array,
    tx: number,
    room: Uint8Array | undefined,
  ): MaybePromise<Uint8Array | null> {
    const { logic } = this.opts;
    const req = parseScrape(packet, source, this.opts);
    const ctx = udpContext(source);
    try {
      const answered = logic.handleScrape(ctx, req);
      const into = answered instanceof Promise ? undefined : room;
      return this.settle(
        then(answered, (resp) => {
          const reply = writeScrape(tx, resp, into);
          logic.afterScrape(ctx, req, resp);
          return reply;
        }),
        tx,
        Action.Scrape,
        ctx,
      );
    } catch (err) {
      return ctx.drop ? null : this.fail(tx, err, Action.Scrape, room);
    }
  }

  /** Turns a rejection of an asynchronous reply into an error packet, or nothing when a hook set `drop`. */
  private settle(
    reply: MaybePromise<Uint8Array>,
    tx: number,
    action: number,
    ctx: Context,
  ): MaybePromise<Uint8Array | null> {
    return reply instanceof Promise
      ? reply.catch((err) => ctx.drop ? null : this.fail(tx, err, action))
      : reply;
  }

  /** A ClientError's own message, or `internal error` (the cause is logged, never sent). */
  private fail(tx: number, err: unknown, action: number, room?: Uint8Array): Uint8Array {
    if (isClientError(err)) return writeError(tx, err.message, room);
    try {
      this.opts.log.error("request failed", { protocol: "udp", action, error: err });
    } catch {
      // A failing log sink must not turn into a missing reply.
    }
    return writeError(tx, "internal error", room);
  }
}
