/**
 * The `torrent approval` hook (chihaya's `middleware/torrentapproval`): allows or
 * refuses announces by infohash, from a `whitelist` or a `blacklist` of 40-hex
 * infohashes (either case).
 *
 * Beyond chihaya:
 * - `file:` names a file of infohashes, one per line (blank lines and `#`
 *   comments are skipped). It extends the list named by `file_list`
 *   (`whitelist`, the default, or `blacklist`). The file is polled every
 *   `file_check_interval` (default 5s) and re-read when its modification time,
 *   size or inode changes, so the list can change without a restart. A file that
 *   cannot be read or holds a bad line fails the start; on a later reload it is
 *   logged and the previous list stays in force.
 * - `check_scrape: true` also refuses scrapes naming an unapproved infohash
 *   (chihaya never filters scrapes, and that stays the default).
 *
 * ```yaml
 * prehooks:
 *   - name: torrent approval
 *     options:
 *       whitelist: ["3532cf2d327fad8448c075b4cb42c8136964a435"]
 *       file: /etc/hayate/approved.txt
 *       check_scrape: false
 * ```
 *
 * A refused request gets the client error `unapproved torrent`.
 *
 * @module
 */
import { readFile, stat } from "node:fs/promises";
import { ClientError } from "../../bittorrent/errors.ts";
import { fromHex, toHex } from "../../bittorrent/peer.ts";
import { ConfigError, OptionsReader } from "../../config/options.ts";
import { type Hook, type HookContext, registerHook } from "../hook.ts";
import { listItemError } from "../list_item.ts";

/** The client error of a refused announce (or scrape, with `check_scrape`). */
export const ErrUnapprovedTorrent: ClientError = new ClientError("unapproved torrent");

/** Which list a hash belongs to. */
export type ListKind = "whitelist" | "blacklist";

/** The validated options. Hashes are lowercase hex. */
export interface TorrentApprovalConfig {
  /** `whitelist` or `blacklist`: which list is in force. */
  mode: ListKind;
  /** The inline hashes of that list. */
  hashes: string[];
  /** The `file:` path, or `""`. */
  file: string;
  /** How often the file's metadata is polled, in ms. */
  fileCheckInterval: number;
  checkScrape: boolean;
}

/** Default of `file_check_interval`. */
export const DEFAULT_FILE_CHECK_INTERVAL = 5_000;

/**
 * Checks one hash as chihaya does: `<list> : invalid hash <h>` when it is not hex,
 * `<list> : hash <h> is not 20 byes` (sic) when it is hex of another length.
 * Returns the reason, or `undefined` when the hash is good.
 */
export function hashProblem(list: ListKind, hash: string): string | undefined {
  const bytes = fromHex(hash);
  if (bytes === null) return `${list} : invalid hash ${hash}`;
  if (bytes.length !== 20) return `${list} : hash ${hash} is not 20 byes`;
  return undefined;
}

/**
 * Parses the text of a hash file: one hash per line, `#` starts a comment, blank
 * lines are skipped. Throws an Error naming `path:line` of the first bad line.
 *
 * @example
 * ```ts
 * parseHashFile("# approved\n3532CF2D327FAD8448C075B4CB42C8136964A435\n", "a.txt", "whitelist");
 * // ["3532cf2d327fad8448c075b4cb42c8136964a435"]
 * ```
 */
export function parseHashFile(text: string, path: string, list: ListKind): string[] {
  const out: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i].replace(/#.*/, "").trim();
    if (hash === "") continue;
    const problem = hashProblem(list, hash);
    if (problem) throw new Error(`${path}:${i + 1}: ${problem}; write one 40-hex-digit infohash per line`);
    out.push(hash.toLowerCase());
  }
  return out;
}

/**
 * Reads and validates the `options:` map.
 *
 * @example
 * ```ts
 * readTorrentApprovalConfig({ blacklist: ["3532cf2d327fad8448c075b4cb42c8136964a435"] }, "prehooks[0].options", []);
 * ```
 */
export function readTorrentApprovalConfig(
  options: unknown,
  where: string,
  warnings: string[],
): TorrentApprovalConfig {
  const r = new OptionsReader(options, where, warnings);
  const lists = { whitelist: [] as string[], blacklist: [] as string[] };
  for (const name of ["whitelist", "blacklist"] as const) {
    lists[name] = r.stringList(name, []).map((h, i) => {
      const problem = hashProblem(name, h);
      if (problem) throw listItemError(r, name, i, `${problem}; an infohash is 40 hex digits`);
      return h.toLowerCase();
    });
  }
  const file = r.string("file", "").trim();
  const fileListText = r.string("file_list", "");
  const fileCheckInterval = r.duration("file_check_interval", DEFAULT_FILE_CHECK_INTERVAL, { min: 10 });
  const checkScrape = r.bool("check_scrape", false);
  r.finish();
  if (lists.whitelist.length > 0 && lists.blacklist.length > 0) {
    throw r.error("blacklist", "using both whitelist and blacklist is invalid; keep one of them");
  }
  if (fileListText !== "" && fileListText !== "whitelist" && fileListText !== "blacklist") {
    throw r.error("file_list", `${JSON.stringify(fileListText)} is not a list; use whitelist or blacklist`);
  }
  if (fileListText !== "" && file === "") {
    throw r.error("file_list", "is set but file is not; name the file of infohashes with file:");
  }
  let mode: ListKind = lists.blacklist.length > 0 ? "blacklist" : "whitelist";
  if (file !== "") {
    const fileList = (fileListText || "whitelist") as ListKind;
    if (lists[fileList === "whitelist" ? "blacklist" : "whitelist"].length > 0) {
      throw r.error(
        "file_list",
        `using both whitelist and blacklist is invalid: the file extends the ${fileList} (file_list), ` +
          `but the options also have a ${fileList === "whitelist" ? "blacklist" : "whitelist"}`,
      );
    }
    mode = fileList;
  } else if (lists.whitelist.length === 0 && lists.blacklist.length === 0) {
    r.warn(
      undefined,
      "neither whitelist, blacklist nor file is set, so torrent approval approves every torrent",
    );
  }
  return { mode, hashes: lists[mode], file, fileCheckInterval, checkScrape };
}

/** What {@link TorrentApproval} needs besides its config. */
export interface TorrentApprovalDeps {
  log: HookContext["log"];
}

/**
 * The hook. Build it with {@link TorrentApproval.create}, which reads the file
 * once (and fails when it cannot) and starts polling it.
 *
 * @example
 * ```ts
 * const hook = await TorrentApproval.create(cfg, { log: () => {} });
 * await hook.stop();
 * ```
 */
export class TorrentApproval implements Hook {
  private inline: Set<string>;
  private set: Set<string>;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private fileStamp = "";
  private checking: Promise<void> | undefined;
  private stopped = false;
  private lastError = "";

  private constructor(
    private readonly cfg: TorrentApprovalConfig,
    private readonly deps: TorrentApprovalDeps,
  ) {
    this.inline = new Set(cfg.hashes);
    this.set = this.inline;
  }

  /** Builds the hook; with a `file`, reads it first (an unreadable or bad file throws ConfigError). */
  static async create(cfg: TorrentApprovalConfig, deps: TorrentApprovalDeps): Promise<TorrentApproval> {
    const hook = new TorrentApproval(cfg, deps);
    if (cfg.file !== "") {
      try {
        await hook.load();
      } catch (err) {
        throw new ConfigError(`cannot load ${cfg.file}: ${(err as Error).message}`);
      }
      hook.schedule();
    }
    return hook;
  }

  /** How many hashes are in force (inline and from the file). */
  get size(): number {
    return this.set.size;
  }

  /** True when the infohash (lowercase hex) may be announced. */
  approved(hex: string): boolean {
    if (this.cfg.mode === "blacklist") return !this.set.has(hex);
    // chihaya: an empty whitelist approves everything. A whitelist file that is
    // empty approves nothing: emptying the file must not open the tracker.
    return (this.set.size === 0 && this.cfg.file === "") || this.set.has(hex);
  }

  handleAnnounce: NonNullable<Hook["handleAnnounce"]> = (_ctx, req) => {
    if (!this.approved(toHex(req.infoHash))) throw ErrUnapprovedTorrent;
  };

  handleScrape: NonNullable<Hook["handleScrape"]> = (_ctx, req) => {
    if (!this.cfg.checkScrape) return;
    for (const ih of req.infoHashes) if (!this.approved(toHex(ih))) throw ErrUnapprovedTorrent;
  };

  /**
   * Checks the file now and re-reads it when it changed; resolves when done. The
   * poller calls it; tests may too.
   */
  checkFile(): Promise<void> {
    if (this.checking) return this.checking;
    const checking = this.load()
      .then(() => {
        this.lastError = "";
      })
      .catch((err) => {
        // Logged once per distinct problem, not at every poll.
        const error = (err as Error).message;
        if (error === this.lastError) return;
        this.lastError = error;
        this.deps.log("error", "torrent approval: cannot reload the file; keeping the previous list", {
          file: this.cfg.file,
          error,
          hashes: this.set.size,
        });
      })
      .finally(() => (this.checking = undefined));
    this.checking = checking;
    return checking;
  }

  /** Stops polling the file. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.checkFile().then(() => this.schedule());
    }, this.cfg.fileCheckInterval);
  }

  /** Reads the file when its stamp changed since the last successful read. */
  private async load(): Promise<void> {
    const path = this.cfg.file;
    const st = await stat(path);
    if (!st.isFile()) throw new Error("not a regular file");
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (stamp === this.fileStamp) return;
    const text = await readFile(path, "utf8");
    const hashes = parseHashFile(text, path, this.cfg.mode);
    const next = new Set(this.inline);
    for (const h of hashes) next.add(h);
    const first = this.fileStamp === "";
    this.set = next;
    this.fileStamp = stamp;
    this.deps.log(first ? "debug" : "info", "torrent approval: loaded the file", {
      file: path,
      list: this.cfg.mode,
      hashes: next.size,
    });
  }
}

/** The driver registered as `torrent approval`. */
export function newTorrentApprovalHook(
  options: Record<string, unknown>,
  ctx: HookContext,
): Promise<TorrentApproval> {
  const cfg = readTorrentApprovalConfig(options, ctx.where, ctx.warnings);
  return TorrentApproval.create(cfg, { log: ctx.log }).catch((err) => {
    if (!(err instanceof ConfigError)) throw err;
    // Re-thrown in the house style: the key path and the line of `file:`.
    throw new OptionsReader(options, ctx.where, []).error("file", err.message);
  });
}

registerHook("torrent approval", newTorrentApprovalHook);
