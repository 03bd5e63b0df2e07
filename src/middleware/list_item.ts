/**
 * A helper the hooks share for errors about one entry of a list option, so the
 * message points at the entry's own line rather than at the list's.
 *
 * @module
 */
import { ConfigError, type OptionsReader, sourceOf } from "../config/options.ts";

/**
 * `<path.key[i]>: <message> (<file:line of the item>)`.
 *
 * @example
 * ```ts
 * throw listItemError(r, "fixed_peers", 1, `"1.2.3.4" has no port`);
 * // prehooks[0].options.fixed_peers[1]: "1.2.3.4" has no port (config.yaml:12)
 * ```
 */
export function listItemError(r: OptionsReader, key: string, index: number, message: string): ConfigError {
  const list = sourceOf(r.raw(key));
  const line = list?.entries.get(index)?.line;
  const at = line ? ` (${list!.file}:${line})` : r.at(key);
  return new ConfigError(`${r.keyPath(key)}[${index}]: ${message}${at}`);
}
