/**
 * The hook chain. An announce runs the prehooks in order, then the built-in
 * response hook (storage read); the frontend writes the response; then the
 * posthooks run in order, then the built-in swarm hook (storage write).
 *
 * @module
 */
import type { ClientError } from "../bittorrent/errors.ts";
import { Event } from "../bittorrent/event.ts";
import { familyOf } from "../bittorrent/ip.ts";
import {
  type AnnounceRequest,
  type AnnounceResponse,
  PeerList,
  type ScrapeRequest,
  type ScrapeResponse,
} from "../bittorrent/request.ts";
import type { Logger } from "../log.ts";
import { type MaybePromise, then } from "../maybe.ts";
import type { PeerStore, SwarmCounts } from "../storage/store.ts";
import type { Context, Hook } from "./hook.ts";

/** What the chain is built from. Intervals in milliseconds. */
export interface LogicOptions {
  announceInterval: number;
  minAnnounceInterval: number;
  store: PeerStore;
  prehooks: Hook[];
  posthooks: Hook[];
  log: Logger;
  /** LBRY mode (`lbry_mode`): announces with a port below 100 are answered but never stored. */
  lbryMode?: boolean;
  /** `seeders_see_seeders`: a seeder that finds no leechers is given other seeders. */
  seedersSeeSeeders?: boolean;
}

/**
 * In LBRY mode, announces from ports below this are never stored (the fork's
 * "anonymous mode": such peers cannot be reached, so nobody is given them).
 */
export const LBRY_MIN_STORED_PORT = 100;

/** Runs `call` on hooks[i..] in order, waiting only where a hook returns a promise. */
/** Which method of a hook a chain runs. */
type Step<Req, Resp> = (h: Hook) => ((ctx: Context, req: Req, resp: Resp) => MaybePromise<void>) | undefined;
const ANNOUNCE: Step<AnnounceRequest, AnnounceResponse> = (h) => h.handleAnnounce;
const SCRAPE: Step<ScrapeRequest, ScrapeResponse> = (h) => h.handleScrape;

/**
 * Runs `step` of hooks[i..] in order, waiting only for those that return a
 * promise. (The request's parts are passed along rather than captured, so that a
 * synchronous chain makes no closure per request.)
 */
function runHooks<Req, Resp>(
  hooks: Hook[],
  i: number,
  step: Step<Req, Resp>,
  ctx: Context,
  req: Req,
  resp: Resp,
): MaybePromise<void> {
  for (; i < hooks.length; i++) {
    const h = hooks[i];
    const r = step(h)?.call(h, ctx, req, resp);
    if (r instanceof Promise) {
      const next = i + 1;
      return r.then(() => runHooks(hooks, next, step, ctx, req, resp));
    }
  }
}

/**
 * Alone (or numwant 0): some clients expect to see themselves (chihaya #231).
 * Count the announcer only when storage did not count it already.
 */
/** The announcer's family's list of the response. */
function peersFor(req: AnnounceRequest, resp: AnnounceResponse): PeerList {
  return familyOf(req.peer.ip) === 4 ? resp.ipv4Peers : resp.ipv6Peers;
}

function echoAnnouncer(
  store: PeerStore,
  req: AnnounceRequest,
  resp: AnnounceResponse,
  peers: PeerList,
  seeder: boolean,
): MaybePromise<void> {
  peers.push(req.peer);
  return then(store.hasPeer(req.infoHash, req.peer), (present) => {
    if (present) return;
    if (seeder) resp.complete++;
    else resp.incomplete++;
  });
}

/**
 * Built-in prehook: fills the response from storage. With `seedersSeeSeeders`, a
 * seeder that gets no leechers is given other seeders instead (LBRY nodes
 * announce every blob as seeders, and would otherwise never see each other).
 */
export function responseHook(
  store: PeerStore,
  opts: { seedersSeeSeeders?: boolean; lbryMode?: boolean } = {},
): Hook {
  const seedersSeeSeeders = opts.seedersSeeSeeders === true;
  const lbryMode = opts.lbryMode === true;
  const admits = store.admits?.bind(store);
  // The steps of an announce are named functions that take the request's parts, so that a
  // synchronous store answers with no closure made per request.
  const answer = (ctx: Context, req: AnnounceRequest, resp: AnnounceResponse): MaybePromise<void> => {
    if (ctx.skipResponseHook) return;
    const counts = store.scrapeSwarm(req.infoHash, familyOf(req.peer.ip));
    return counts instanceof Promise ? counts.then((c) => counted(req, resp, c)) : counted(req, resp, counts);
  };
  const counted = (req: AnnounceRequest, resp: AnnounceResponse, counts: SwarmCounts): MaybePromise<void> => {
    // Added, not assigned: a hook before us (fixed peers) may have counted its own.
    resp.complete += counts.complete;
    resp.incomplete += counts.incomplete;
    const n = store.announcePeers(req.infoHash, req.left === 0, req.numWant, req.peer, peersFor(req, resp));
    return n instanceof Promise ? n.then((m) => picked(req, resp, m)) : picked(req, resp, n);
  };
  const picked = (req: AnnounceRequest, resp: AnnounceResponse, n: number): MaybePromise<void> => {
    if (n > 0) return;
    const seeder = req.left === 0;
    const peers = peersFor(req, resp);
    if (seeder && seedersSeeSeeders && req.numWant > 0) {
      // No leechers: a leecher's view gives seeders first (then leechers, of which there are none).
      return then(store.announcePeers(req.infoHash, false, req.numWant, req.peer, peers), (m) => {
        if (m === 0) return echoAnnouncer(store, req, resp, peers, seeder);
      });
    }
    return echoAnnouncer(store, req, resp, peers, seeder);
  };
  const admitted = (
    ctx: Context,
    req: AnnounceRequest,
    resp: AnnounceResponse,
    ok: true | ClientError,
  ): MaybePromise<void> => {
    if (ok !== true) throw ok;
    return answer(ctx, req, resp);
  };
  return {
    handleAnnounce(ctx, req, resp) {
      // Memory limits are checked before answering: the storage write runs after
      // the response, too late to refuse. Only announces that would be stored ask.
      const stores = admits !== undefined && !ctx.skipSwarmInteraction && req.event !== Event.Stopped &&
        !(lbryMode && req.peer.port < LBRY_MIN_STORED_PORT);
      if (!stores) return answer(ctx, req, resp);
      const ok = admits(req.infoHash, req.peer);
      return ok instanceof Promise
        ? ok.then((v) => admitted(ctx, req, resp, v))
        : admitted(ctx, req, resp, ok);
    },
    handleScrape(ctx, req, resp) {
      if (ctx.skipResponseHook) return;
      const counts = req.infoHashes.map((ih) => store.scrapeSwarm(ih, req.family));
      const fill = (all: { complete: number; incomplete: number; downloaded: number }[]) => {
        // Fields named one by one: an object spread per infohash cost more than the store lookups.
        for (let i = 0; i < all.length; i++) {
          const c = all[i];
          resp.files.push({
            infoHash: req.infoHashes[i],
            complete: c.complete,
            incomplete: c.incomplete,
            downloaded: c.downloaded,
          });
        }
      };
      if (counts.some((c) => c instanceof Promise)) return Promise.all(counts).then(fill);
      fill(counts as Awaited<(typeof counts)[number]>[]);
    },
  };
}

/**
 * Built-in posthook: records the announce in storage. With `lbryMode`, an
 * announce from a port below {@link LBRY_MIN_STORED_PORT} changes nothing, not
 * even a `stopped` event (as in LBRY's fork).
 */
export function swarmHook(store: PeerStore, opts: { lbryMode?: boolean } = {}): Hook {
  const lbryMode = opts.lbryMode === true;
  return {
    handleAnnounce(ctx, req) {
      if (ctx.skipSwarmInteraction) return;
      if (lbryMode && req.peer.port < LBRY_MIN_STORED_PORT) return;
      const { infoHash: ih, peer } = req;
      switch (req.event) {
        case Event.Stopped:
          return then(store.deleteSeeder(ih, peer), (found) => {
            if (!found) return then(store.deleteLeecher(ih, peer), () => {});
          });
        case Event.Completed:
          return store.graduateLeecher(ih, peer);
        default:
          return req.left === 0 ? store.putSeeder(ih, peer) : store.putLeecher(ih, peer);
      }
    },
  };
}

/**
 * The request logic shared by every frontend.
 *
 * @example
 * ```ts
 * const logic = new Logic({ announceInterval: 1_800_000, minAnnounceInterval: 900_000, store, prehooks: [], posthooks: [], log });
 * const resp = await logic.handleAnnounce(new Context(), req);
 * logic.afterAnnounce(ctx, req, resp);
 * ```
 */
export class Logic {
  private readonly pre: Hook[];
  private readonly post: Hook[];
  private readonly spare: AnnounceResponse[] = [];
  private readonly interval: number;
  /** Hooks may read peer IDs even of compact replies. */
  private readonly hooked: boolean;
  private readonly minInterval: number;

  constructor(private readonly opts: LogicOptions) {
    this.hooked = opts.prehooks.length + opts.posthooks.length > 0;
    this.interval = Math.round(opts.announceInterval / 1000);
    this.minInterval = Math.round(opts.minAnnounceInterval / 1000);
    this.pre = [...opts.prehooks, responseHook(opts.store, opts)];
    this.post = [...opts.posthooks, swarmHook(opts.store, opts)];
  }

  /**
   * Builds the response; rejects (or throws) with the first hook error. Responses
   * are recycled once {@link afterAnnounce} has finished with them, so a hook
   * must not keep a response (or its peer lists) past its own call.
   */
  handleAnnounce(ctx: Context, req: AnnounceRequest): MaybePromise<AnnounceResponse> {
    const resp = this.spare.pop() ?? {
      compact: false,
      complete: 0,
      incomplete: 0,
      interval: 0,
      minInterval: 0,
      ipv4Peers: new PeerList(4),
      ipv6Peers: new PeerList(6),
    };
    resp.compact = req.compact;
    resp.complete = 0;
    resp.incomplete = 0;
    resp.interval = this.interval;
    resp.minInterval = this.minInterval;
    resp.ipv4Peers.count = 0;
    resp.ipv6Peers.count = 0;
    const keepIDs = !req.compact || this.hooked;
    resp.ipv4Peers.keepIDs = keepIDs;
    resp.ipv6Peers.keepIDs = keepIDs;
    const r = runHooks(this.pre, 0, ANNOUNCE, ctx, req, resp);
    return r instanceof Promise ? r.then(() => resp) : resp;
  }

  /** Runs the posthooks after the response is written. Never throws: errors are logged. */
  afterAnnounce(ctx: Context, req: AnnounceRequest, resp: AnnounceResponse): void {
    const r = this.guard("announce", ANNOUNCE, ctx, req, resp);
    if (r instanceof Promise) r.then(() => this.recycle(resp));
    else this.recycle(resp);
  }

  private recycle(resp: AnnounceResponse): void {
    // A bounded stock: enough for the requests in flight, never a leak.
    if (this.spare.length < 256) this.spare.push(resp);
  }

  /** Builds a scrape response; rejects (or throws) with the first hook error. */
  handleScrape(ctx: Context, req: ScrapeRequest): MaybePromise<ScrapeResponse> {
    const resp: ScrapeResponse = { files: [] };
    const r = runHooks(this.pre, 0, SCRAPE, ctx, req, resp);
    return r instanceof Promise ? r.then(() => resp) : resp;
  }

  /** Runs the posthooks of a scrape. Never throws. */
  afterScrape(ctx: Context, req: ScrapeRequest, resp: ScrapeResponse): void {
    this.guard("scrape", SCRAPE, ctx, req, resp);
  }

  /** Runs the posthooks' `step`, logging what they throw or reject with; resolves (or returns) when it is over. */
  private guard<Req, Resp>(
    action: string,
    step: Step<Req, Resp>,
    ctx: Context,
    req: Req,
    resp: Resp,
  ): MaybePromise<void> {
    try {
      const r = runHooks(this.post, 0, step, ctx, req, resp);
      if (r instanceof Promise) return r.catch((err) => this.posthookFailed(action, err));
    } catch (err) {
      this.posthookFailed(action, err);
    }
  }

  private posthookFailed(action: string, err: unknown): void {
    this.opts.log.error("posthook failed", { action, error: err });
  }

  /** Stops every hook that holds resources. */
  async stop(): Promise<void> {
    for (const h of [...this.opts.prehooks, ...this.opts.posthooks]) await h.stop?.();
  }
}
