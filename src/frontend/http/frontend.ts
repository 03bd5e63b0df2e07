/**
 * The HTTP frontend as a runtime-neutral `fetch` handler: a Web `Request` and the
 * peer's address in, a `Response` out. The runtime bindings (`deno.ts`) only
 * listen and hand requests here.
 *
 * @module
 */
import { ClientError, isClientError } from "../../bittorrent/errors.ts";
import type { AnnounceRequest, AnnounceResponse } from "../../bittorrent/request.ts";
import { familyOf } from "../../bittorrent/ip.ts";
import { latin1, type Params, parseURLData } from "../../bittorrent/params.ts";
import type { Logger } from "../../log.ts";
import { type MaybePromise, then } from "../../maybe.ts";
import { Context } from "../../middleware/hook.ts";
import type { Logic } from "../../middleware/logic.ts";
import type { RequestObserver } from "../../metrics/metrics.ts";
import { fullScrapeResponse, parseFullScrape, type SwarmLister } from "./full_scrape.ts";
import {
  clientIP,
  parseAnnounce,
  parseAnnounceTarget,
  type ParseOptions,
  parseScrape,
  type RemoteAddress,
} from "./parser.ts";
import { Router } from "./router.ts";
import type { RequestHead } from "./wire.ts";
import { type BodyFrame, writeAnnounce, writeError, writeScrape } from "./writer.ts";

/** Settings of the HTTP frontend (the `http:` block) and what it serves through. */
export interface HTTPFrontendOptions extends ParseOptions {
  announceRoutes: string[];
  scrapeRoutes: string[];
  enableKeepalive: boolean;
  logic: Logic;
  log: Logger;
  /** Told about every announce and scrape answered (metrics); `ms` is 0 unless `enableRequestTiming`. */
  observe?: RequestObserver;
  enableRequestTiming?: boolean;
  /** With `allow_full_scrape`: a scrape without info_hash lists these swarms. */
  fullScrape?: SwarmLister;
}

type Action = "announce" | "scrape";

const encoder = new TextEncoder();

/** Longest request target parsed, in characters (8 KiB, like opentracker). */
export const MAX_REQUEST_TARGET = 8192;
/** The failure reason of a longer one (a client error, so never a 5xx). */
export const ErrRequestTooLong: ClientError = new ClientError("request too long");

/**
 * Answers tracker requests.
 *
 * @example
 * ```ts
 * const http = new HTTPFrontend({ ...options, logic, log });
 * const server = new HTTPServer({ ...limits, handler: (head, remote, frame) => http.answer(head, remote, frame) });
 * // or in any fetch-style server:
 * Deno.serve((req, info) => http.fetch(req, info.remoteAddr.hostname));
 * ```
 */
export class HTTPFrontend {
  private readonly router = new Router<Action>();
  private readonly headers: Record<string, string>;
  private scratch = new Uint8Array(4096);
  /** The path of the last request: clients repeat one or two, so its string is reused. */
  private lastPath = "";

  /** The options with IP spoofing off, for {@link source}. */
  private readonly sourceOpts: ParseOptions;

  constructor(private readonly opts: HTTPFrontendOptions) {
    this.sourceOpts = { ...opts, allowIPSpoofing: false };
    for (const r of opts.announceRoutes) this.router.add(r, "announce");
    for (const r of opts.scrapeRoutes) this.router.add(r, "scrape");
    this.headers = { "content-type": "text/plain; charset=utf-8" };
    if (!opts.enableKeepalive) this.headers.connection = "close";
  }

  private reply(body: Uint8Array): Response {
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: this.headers });
  }

  private done(action: Action, family: 0 | 4 | 6, err: unknown, t0: number): void {
    this.opts.observe?.(
      "http",
      action,
      family,
      err,
      this.opts.enableRequestTiming ? performance.now() - t0 : 0,
    );
  }

  private fail(err: unknown, action: Action, t0 = 0): Uint8Array {
    this.done(action, 0, err, t0);
    if (isClientError(err)) return writeError(err.message);
    this.opts.log.error("request failed", { protocol: "http", action, error: err });
    return writeError("internal server error");
  }

  /** The client's address as the socket or `real_ip_header` tell it, never a spoofable parameter. */
  private source(
    params: Params,
    header: (name: string) => string | null,
    remote: RemoteAddress,
  ): Uint8Array | undefined {
    return clientIP(params, header, remote, this.sourceOpts).ip ?? undefined;
  }

  /**
   * Answers a request that hayate's own server parsed ({@link HTTPServer}): bencode
   * bytes for a `200 OK` (a compact announce reply is written whole into `frame`),
   * or a Response. Never rejects.
   */
  answer(head: RequestHead, remote: RemoteAddress, frame?: BodyFrame): MaybePromise<Uint8Array | Response> {
    return this.handle(head.buf, head.targetStart, head.targetEnd, head.get, head.lookup, remote, frame);
  }

  /**
   * Answers a Web `Request` from `remote` (the socket peer's address), for any
   * fetch-style server (`Deno.serve`, `Bun.serve`). Never rejects.
   */
  fetch(req: Request, remote: string): MaybePromise<Response> {
    const url = req.url;
    // The request target starts at the first "/" after the scheme's "//" (Bun hands
    // an HTTP/1.0 request without Host over as the bare path).
    const start = url.startsWith("/") ? 0 : url.indexOf("/", url.indexOf("//") + 2);
    const target = start < 0 ? "/" : url.slice(start);
    if (target.length * 3 > this.scratch.length) this.scratch = new Uint8Array(target.length * 3);
    const { written } = encoder.encodeInto(target, this.scratch);
    const reply = this.handle(
      this.scratch,
      0,
      written,
      req.method === "GET",
      (n) => req.headers.get(n),
      remote,
    );
    return then(reply, (r) => r instanceof Uint8Array ? this.reply(r) : r);
  }

  /** `buf[from, to)` as a string, the last request's when the bytes are the same. */
  private pathOf(buf: Uint8Array, from: number, to: number): string {
    const last = this.lastPath;
    if (to - from === last.length) {
      let i = 0;
      while (i < last.length && buf[from + i] === last.charCodeAt(i)) i++;
      if (i === last.length) return last;
    }
    return this.lastPath = latin1(buf, from, to);
  }

  /** The reply to an announce once its response is built; the posthooks run after it is written. */
  private announced(
    ctx: Context,
    announce: AnnounceRequest,
    resp: AnnounceResponse,
    t0: number,
    frame?: BodyFrame,
  ): Uint8Array {
    const body = writeAnnounce(resp, announce.noPeerID, frame);
    this.opts.logic.afterAnnounce(ctx, announce, resp);
    this.done("announce", familyOf(announce.peer.ip), undefined, t0);
    return body;
  }

  /** Routes and answers the request target `buf[from, to)`. */
  private handle(
    buf: Uint8Array,
    from: number,
    to: number,
    get: boolean,
    header: (name: string) => string | null,
    remote: RemoteAddress,
    frame?: BodyFrame,
  ): MaybePromise<Uint8Array | Response> {
    let q = from;
    while (q < to && buf[q] !== 0x3f) q++;
    const route = this.router.matchExact(buf, from, q) ?? this.router.match(this.pathOf(buf, from, q));
    if (route === undefined) return new Response("404 page not found\n", { status: 404 });
    if (!get) return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET" } });
    const t0 = this.opts.observe && this.opts.enableRequestTiming ? performance.now() : 0;
    if (to - from > MAX_REQUEST_TARGET) return this.fail(ErrRequestTooLong, route.target, t0);
    try {
      const ctx = new Context();
      ctx.protocol = "http";
      const { logic } = this.opts;
      if (route.target === "announce") {
        const announce = parseAnnounceTarget(buf, from, to, route.path, header, remote, this.opts) ??
          parseAnnounce(parseURLData(buf, from, to, route.path), header, remote, this.opts);
        announce.params.route = route.params;
        ctx.source = announce.ipProvided ? this.source(announce.params, header, remote) : announce.peer.ip;
        const resp = logic.handleAnnounce(ctx, announce);
        // Answered at once unless a hook or the store is asynchronous: no closure then.
        if (!(resp instanceof Promise)) return this.announced(ctx, announce, resp, t0, frame);
        return resp.then((r) => this.announced(ctx, announce, r, t0, frame)).catch((e) =>
          this.fail(e, "announce", t0)
        );
      }
      const params = parseURLData(buf, from, to, route.path);
      params.route = route.params;
      const full = params.infoHashes.length === 0 ? this.opts.fullScrape : undefined;
      const scrape = (full ? parseFullScrape : parseScrape)(params, header, remote, this.opts);
      ctx.source = this.source(params, header, remote);
      const result = then(logic.handleScrape(ctx, scrape), (resp): Uint8Array | Response => {
        const body = full ? undefined : writeScrape(resp);
        logic.afterScrape(ctx, scrape, resp);
        this.done("scrape", scrape.family, undefined, t0);
        if (full) return fullScrapeResponse(full(scrape.family), header("accept-encoding"), this.headers);
        return body!;
      });
      return result instanceof Promise ? result.catch((e) => this.fail(e, "scrape", t0)) : result;
    } catch (err) {
      return this.fail(err, route.target, t0);
    }
  }
}
