/**
 * The hook contract and the registry of hook drivers. Hooks run in the order the
 * config lists them; prehooks before the response is built, posthooks after it is
 * written.
 *
 * @module
 */
import type {
  AnnounceRequest,
  AnnounceResponse,
  ScrapeRequest,
  ScrapeResponse,
} from "../bittorrent/request.ts";
import type { MaybePromise } from "../maybe.ts";

/**
 * What travels with one request from prehooks to posthooks. Hooks may set the two
 * flags and keep their own values in `values`.
 */
export class Context {
  /** Set by a prehook to answer without the built-in storage read. */
  skipResponseHook = false;
  /** Set by a hook to keep the announce out of storage. */
  skipSwarmInteraction = false;
  /**
   * Set by a hook, together with the ClientError it throws, to send no reply at all
   * where the transport allows it (UDP: an error packet could be reflected at a
   * victim); HTTP answers the error anyway.
   */
  drop = false;
  /** The frontend that received the request, when a frontend built this context. */
  protocol: "http" | "udp" | undefined;
  /** The client's real address (4 or 16 bytes; never a spoofed `ip` parameter), when known. */
  source: Uint8Array | undefined;
  private data: Map<string, unknown> | undefined;

  /** Free-form data keyed by the hook that owns it (made on first use: most requests need none). */
  get values(): Map<string, unknown> {
    return this.data ??= new Map();
  }
}

/**
 * A middleware step. Throw a ClientError to refuse the request with its message;
 * any other error answers `internal server error` (and is logged).
 *
 * @example
 * ```ts
 * const denyAll: Hook = {
 *   handleAnnounce() { throw new ClientError("tracker closed"); },
 * };
 * ```
 */
export interface Hook {
  handleAnnounce?(ctx: Context, req: AnnounceRequest, resp: AnnounceResponse): MaybePromise<void>;
  handleScrape?(ctx: Context, req: ScrapeRequest, resp: ScrapeResponse): MaybePromise<void>;
  /** Releases timers or connections the hook holds. */
  stop?(): MaybePromise<void>;
}

/** What a hook driver gets to build a hook. */
export interface HookContext {
  /** Dotted config path of the entry, e.g. `prehooks[0].options`, for messages. */
  where: string;
  warnings: string[];
  log: (level: "info" | "debug" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

/** Builds a hook from its `options` map; throws ConfigError on bad options. May be async (e.g. to fetch keys). */
export type HookDriver = (options: Record<string, unknown>, ctx: HookContext) => MaybePromise<Hook>;

const drivers = new Map<string, HookDriver>();

/**
 * Registers a hook driver under the name configs use (chihaya's names, such as
 * `"torrent approval"`).
 *
 * @example
 * ```ts
 * registerHook("deny all", () => denyAll);
 * ```
 */
export function registerHook(name: string, driver: HookDriver): void {
  if (name === "" || drivers.has(name)) throw new Error(`hook driver "${name}" registered twice or unnamed`);
  drivers.set(name, driver);
}

/** The driver registered under `name`, or undefined. */
export function hookDriver(name: string): HookDriver | undefined {
  return drivers.get(name);
}

/** Names of every registered hook, sorted. */
export function hookNames(): string[] {
  return [...drivers.keys()].sort();
}
