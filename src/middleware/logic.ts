/**
 * The hook chain. An announce runs the prehooks in order, then the built-in
 * response hook (storage read); the frontend writes the response; then the
 * posthooks run in order, then the built-in swarm hook (storage write).
 *
 * @module
 */
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
import type { PeerStore } from "../storage/store.ts";
import type { Context, Hook } from "./hook.ts";

/** What the chain is built from. Intervals in milliseconds. */
export interface LogicOptions {
  announceInterval: number;
  minAnnounceInterval: number;
  store: PeerStore;
  prehooks: Hook[];
  posthooks: Hook[];
  log: Logger;
}

/** Runs `call` on hooks[i..] in order, waiting only where a hook returns a promise. */
function runHooks(hooks: Hook[], i: number, call: (h: Hook) => MaybePromise<void>): MaybePromise<void> {
  for (; i < hooks.length; i++) {
    const r = call(hooks[i]);
    if (r instanceof Promise) {
      const next = i + 1;
      return r.then(() => runHooks(hooks, next, call));
    }
  }
}

/** Built-in prehook: fills the response from storage. */
export function responseHook(store: PeerStore): Hook {
  return {
    handleAnnounce(ctx, req, resp) {
      if (ctx.skipResponseHook) return;
      const family = familyOf(req.peer.ip);
      const seeder = req.left === 0;
      const peers = family === 4 ? resp.ipv4Peers : resp.ipv6Peers;
      return then(store.scrapeSwarm(req.infoHash, family), (counts) => {
        // Added, not assigned: a hook before us (fixed peers) may have counted its own.
        resp.complete += counts.complete;
        resp.incomplete += counts.incomplete;
        return then(store.announcePeers(req.infoHash, seeder, req.numWant, req.peer, peers), (n) => {
          if (n > 0) return;
          // Alone (or numwant 0): some clients expect to see themselves (chihaya #231).
          // Count the announcer only when storage did not count it already.
          peers.push(req.peer);
          return then(store.hasPeer(req.infoHash, req.peer), (present) => {
            if (present) return;
            if (seeder) resp.complete++;
            else resp.incomplete++;
          });
        });
      });
    },
    handleScrape(ctx, req, resp) {
      if (ctx.skipResponseHook) return;
      const counts = req.infoHashes.map((ih) => store.scrapeSwarm(ih, req.family));
      const fill = (all: { complete: number; incomplete: number; downloaded: number }[]) => {
        all.forEach((c, i) => resp.files.push({ infoHash: req.infoHashes[i], ...c }));
      };
      if (counts.some((c) => c instanceof Promise)) return Promise.all(counts).then(fill);
      fill(counts as Awaited<(typeof counts)[number]>[]);
    },
  };
}

/** Built-in posthook: records the announce in storage. */
export function swarmHook(store: PeerStore): Hook {
  return {
    handleAnnounce(ctx, req) {
      if (ctx.skipSwarmInteraction) return;
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

  constructor(private readonly opts: LogicOptions) {
    this.pre = [...opts.prehooks, responseHook(opts.store)];
    this.post = [...opts.posthooks, swarmHook(opts.store)];
  }

  /** Builds the response; rejects (or throws) with the first hook error. */
  handleAnnounce(ctx: Context, req: AnnounceRequest): MaybePromise<AnnounceResponse> {
    const resp: AnnounceResponse = {
      compact: req.compact,
      complete: 0,
      incomplete: 0,
      interval: Math.round(this.opts.announceInterval / 1000),
      minInterval: Math.round(this.opts.minAnnounceInterval / 1000),
      ipv4Peers: new PeerList(4),
      ipv6Peers: new PeerList(6),
    };
    return then(runHooks(this.pre, 0, (h) => h.handleAnnounce?.(ctx, req, resp)), () => resp);
  }

  /** Runs the posthooks after the response is written. Never throws: errors are logged. */
  afterAnnounce(ctx: Context, req: AnnounceRequest, resp: AnnounceResponse): void {
    this.guard("announce", () => runHooks(this.post, 0, (h) => h.handleAnnounce?.(ctx, req, resp)));
  }

  /** Builds a scrape response; rejects (or throws) with the first hook error. */
  handleScrape(ctx: Context, req: ScrapeRequest): MaybePromise<ScrapeResponse> {
    const resp: ScrapeResponse = { files: [] };
    return then(runHooks(this.pre, 0, (h) => h.handleScrape?.(ctx, req, resp)), () => resp);
  }

  /** Runs the posthooks of a scrape. Never throws. */
  afterScrape(ctx: Context, req: ScrapeRequest, resp: ScrapeResponse): void {
    this.guard("scrape", () => runHooks(this.post, 0, (h) => h.handleScrape?.(ctx, req, resp)));
  }

  private guard(action: string, run: () => MaybePromise<void>): void {
    const fail = (err: unknown) => this.opts.log.error("posthook failed", { action, error: err });
    try {
      const r = run();
      if (r instanceof Promise) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** Stops every hook that holds resources. */
  async stop(): Promise<void> {
    for (const h of [...this.opts.prehooks, ...this.opts.posthooks]) await h.stop?.();
  }
}
