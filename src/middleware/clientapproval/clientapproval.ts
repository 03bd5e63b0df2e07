/**
 * The `client approval` hook (chihaya's `middleware/clientapproval`): allows or
 * refuses announces by the 6-byte client ID at the start of the peer ID
 * (`peer_id[1:7]` for Azureus-style IDs that start with `-`, else `peer_id[0:6]`).
 *
 * ```yaml
 * prehooks:
 *   - name: client approval
 *     options:
 *       whitelist: ["OP1011", "qB4500"]   # or blacklist: [...], not both
 * ```
 *
 * A refused announce gets the client error `unapproved client`. Scrapes are not
 * checked (as in chihaya).
 *
 * @module
 */
import { ClientError } from "../../bittorrent/errors.ts";
import { clientID } from "../../bittorrent/peer.ts";
import { OptionsReader } from "../../config/options.ts";
import { type Hook, type HookContext, registerHook } from "../hook.ts";
import { listItemError } from "../list_item.ts";

/** The client error of a refused announce. */
export const ErrUnapprovedClient: ClientError = new ClientError("unapproved client");

/**
 * The validated options: client IDs as 6-byte arrays. At most one list is
 * non-empty; when both are empty every client is approved.
 */
export interface ClientApprovalConfig {
  whitelist: Uint8Array[];
  blacklist: Uint8Array[];
}

const utf8 = new TextEncoder();

/** Bytes as a string of char codes 0–255: a cheap, exact Set key. */
function key(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/**
 * Reads and validates the `options:` map. Errors (chihaya's messages, with the key
 * path and `file:line`): `client ID <x> must be 6 bytes`, `using both whitelist and
 * blacklist is invalid`.
 *
 * @example
 * ```ts
 * readClientApprovalConfig({ whitelist: ["OP1011"] }, "prehooks[0].options", []);
 * ```
 */
export function readClientApprovalConfig(
  options: unknown,
  where: string,
  warnings: string[],
): ClientApprovalConfig {
  const r = new OptionsReader(options, where, warnings);
  const lists: Record<"whitelist" | "blacklist", Uint8Array[]> = { whitelist: [], blacklist: [] };
  for (const name of ["whitelist", "blacklist"] as const) {
    lists[name] = r.stringList(name, []).map((id, i) => {
      const bytes = utf8.encode(id);
      if (bytes.length !== 6) {
        throw listItemError(
          r,
          name,
          i,
          `client ID ${id} must be 6 bytes (it is ${bytes.length}); a client ID is the 6 characters ` +
            `after the leading "-" of an Azureus-style peer ID (e.g. "qB4500" for "-qB4500-…")`,
        );
      }
      return bytes;
    });
  }
  r.finish();
  if (lists.whitelist.length > 0 && lists.blacklist.length > 0) {
    throw r.error("blacklist", "using both whitelist and blacklist is invalid; keep one of them");
  }
  if (lists.whitelist.length === 0 && lists.blacklist.length === 0) {
    r.warn(undefined, "neither whitelist nor blacklist is set, so client approval approves every client");
  }
  return lists;
}

/**
 * Builds the hook from validated options.
 *
 * @example
 * ```ts
 * const hook = clientApprovalHook({ whitelist: [new TextEncoder().encode("010203")], blacklist: [] });
 * ```
 */
export function clientApprovalHook(cfg: ClientApprovalConfig): Hook {
  const white = new Set(cfg.whitelist.map(key));
  const black = new Set(cfg.blacklist.map(key));
  return {
    handleAnnounce(_ctx, req) {
      const id = key(clientID(req.peer.id));
      if (white.size > 0 && !white.has(id)) throw ErrUnapprovedClient;
      if (black.size > 0 && black.has(id)) throw ErrUnapprovedClient;
    },
  };
}

/** The driver registered as `client approval`. */
export function newClientApprovalHook(options: Record<string, unknown>, ctx: HookContext): Hook {
  return clientApprovalHook(readClientApprovalConfig(options, ctx.where, ctx.warnings));
}

registerHook("client approval", newClientApprovalHook);
