/**
 * Typed, located access to one map of a config file. The loader reads every
 * block with it, and storage drivers and middleware hooks use it to validate
 * their own `config:` / `options:` maps, so every error reads the same way:
 * full dotted key, what was expected, what was found, and `file:line`.
 *
 * @module
 */

import { formatDuration, parseDuration } from "./duration.ts";

/**
 * An invalid configuration. The message names the key by its dotted path and,
 * when known, the `file:line` it stands on, and says what to write instead.
 *
 * @example
 * ```ts
 * throw new ConfigError(`http: must specify routes (config.yaml:7)`);
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Where the entries of a map or list parsed by the loader stand in the file.
 *
 * @example
 * ```ts
 * const info: SourceInfo = { path: "http", file: "config.yaml", line: 7, entries: new Map([["addr", { line: 8 }]]) };
 * ```
 */
export interface SourceInfo {
  /** Dotted path of the map or list itself, e.g. `storage.config`; `""` for the root. */
  path: string;
  /** The file as the caller named it. */
  file: string;
  /** Line of the map's key (or of the list item holding it); 0 when unknown. */
  line: number;
  /** Per key (maps) or index (lists): the line, and the scalar's text as written. */
  entries: Map<string | number, { line: number; text?: string }>;
}

/**
 * The property under which `loadConfig` tags each map and list it builds
 * with its {@link SourceInfo}. It is a non-enumerable symbol, so the objects stay
 * plain for `Object.keys`, spreading and `JSON.stringify`. `Symbol.for` lets two
 * copies of this module (say, bundled and not) understand each other's tags.
 *
 * @example
 * ```ts
 * (config.storage.config as { [SOURCE]?: SourceInfo })[SOURCE]?.path; // "storage.config"
 * ```
 */
export const SOURCE: unique symbol = Symbol.for("hayate.config.source");

/**
 * Reads the {@link SourceInfo} tag of a value built by the loader.
 *
 * @example
 * ```ts
 * sourceOf(config.storage.config)?.entries.get("gc_interval")?.line; // 42
 * ```
 */
export function sourceOf(value: unknown): SourceInfo | undefined {
  if (value === null || typeof value !== "object") return undefined;
  return (value as { [SOURCE]?: SourceInfo })[SOURCE];
}

/**
 * Tags `value` with its source (used by the loader; handy for tests that build
 * option maps by hand).
 *
 * @example
 * ```ts
 * const opts = tagSource({ gc_interval: "3m" }, { path: "storage.config", file: "c.yaml", line: 3, entries: new Map() });
 * ```
 */
export function tagSource<T extends object>(value: T, info: SourceInfo): T {
  Object.defineProperty(value, SOURCE, { value: info, enumerable: false, configurable: true });
  return value;
}

/**
 * Joins a dotted key path; list indexes go in brackets.
 *
 * @example
 * ```ts
 * joinPath("http", "addr"); // "http.addr"
 * joinPath("", "storage"); // "storage"
 * joinPath("prehooks", 0); // "prehooks[0]"
 * ```
 */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/**
 * Describes a value found in the file for "expected X, got Y" messages.
 *
 * @example
 * ```ts
 * describeValue("3 m"); // "\"3 m\""
 * describeValue([1]); // "a list"
 * describeValue(true); // "true"
 * ```
 */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Date) return `the date ${v.toISOString().slice(0, 10)}`;
  if (ArrayBuffer.isView(v)) return "binary data";
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/**
 * Options of {@link OptionsReader.duration}.
 *
 * @example
 * ```ts
 * r.duration("max_clock_skew", 10_000, { allowZero: true });
 * ```
 */
export interface DurationOptions {
  /**
   * Keep an explicit `0` instead of falling back to the default (for keys
   * where zero means something, e.g. `max_clock_skew`). Negative values still
   * fall back.
   */
  allowZero?: boolean;
  /** Lowest accepted value in ms (after the fallback); smaller is an error. */
  min?: number;
  /**
   * Highest accepted value in ms. Defaults to 2^31−1 ms (about 24.8 days),
   * the longest delay `setTimeout` honours: longer ones fire immediately.
   */
  max?: number;
}

/**
 * Inclusive bounds for {@link OptionsReader.uint} and {@link OptionsReader.float}.
 *
 * @example
 * ```ts
 * r.uint("max_scrape_infohashes", 50, { max: 101 });
 * ```
 */
export interface RangeOptions {
  min?: number;
  max?: number;
}

/**
 * The longest `setTimeout` delay in ms (about 24.8 days); longer delays make JS
 * timers fire at once, so durations above it are rejected by default.
 *
 * @example
 * ```ts
 * r.duration("gc_interval", 180_000, { max: MAX_TIMER_MS });
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UINT32_MAX = 2 ** 32 - 1;

/**
 * Typed getters over one map of options.
 *
 * Defaults follow chihaya: for numeric and duration keys that have a code
 * default, a value that is missing **or ≤ 0** gives the default (chihaya's
 * `Validate()` does the same and logs "falling back to default configuration";
 * here an explicit ≤ 0 value adds a warning instead). Pass a default of 0 for
 * keys without one. Other keys: missing or `null` gives the default.
 * Wrong types throw {@link ConfigError}; call {@link OptionsReader.finish} after
 * the last getter to warn about keys nobody asked for.
 *
 * @example
 * ```ts
 * const warnings: string[] = [];
 * const r = new OptionsReader(store.config, "storage.config", warnings);
 * const gcInterval = r.duration("gc_interval", 3 * 60_000);
 * const shards = r.uint("shard_count", 1024, { max: 2 ** 30 });
 * r.finish(); // warnings now names e.g. "unknown key storage.config.gc_intervl (config.yaml:41) is ignored"
 * ```
 */
export class OptionsReader {
  readonly #values: Record<string, unknown>;
  readonly #path: string;
  readonly #source: SourceInfo | undefined;
  readonly #warnings: string[];
  readonly #known = new Set<string>();

  /**
   * @param values the map to read; `null`/`undefined` read as an empty map.
   * @param where dotted path naming `values` in messages, e.g. `"storage.config"`.
   *   Maps built by `loadConfig` carry their own path and lines, which win.
   * @param warnings collects the messages of {@link finish} and of fallbacks.
   */
  constructor(values: unknown, where: string, warnings: string[]) {
    this.#source = sourceOf(values);
    this.#path = this.#source?.path ?? where;
    this.#warnings = warnings;
    if (values === null || values === undefined) {
      this.#values = {};
    } else if (typeof values !== "object" || Array.isArray(values) || values instanceof Date) {
      throw new ConfigError(
        `${this.#path || "config"}: expected a map of options (key: value lines), got ${
          describeValue(values)
        }` +
          this.#at(),
      );
    } else {
      this.#values = values as Record<string, unknown>;
    }
  }

  /** Dotted path of this map, as used in messages. */
  get path(): string {
    return this.#path;
  }

  /** Where the map stands in the file, when it came from the loader. */
  get source(): SourceInfo | undefined {
    return this.#source;
  }

  /** The warnings list this reader appends to (shared with child readers). */
  get warnings(): string[] {
    return this.#warnings;
  }

  /**
   * ` (file:line)` for `key`, or for the map itself; `""` when unknown.
   *
   * @example
   * ```ts
   * `${r.keyPath("addr")}: bad address${r.at("addr")}`; // "http.addr: bad address (config.yaml:5)"
   * ```
   */
  at(key?: string): string {
    return this.#at(key);
  }

  /** `file:line` of `key` (or of the map), without parentheses; `""` when unknown. */
  location(key?: string): string {
    const s = this.#source;
    if (!s) return "";
    const line = key === undefined ? s.line : (s.entries.get(key)?.line ?? s.line);
    return line > 0 ? `${s.file}:${line}` : s.file;
  }

  /** Full dotted path of `key`, e.g. `storage.config.gc_interval`. */
  keyPath(key: string): string {
    return joinPath(this.#path, key);
  }

  /**
   * A {@link ConfigError} about `key` in the house style:
   * `<path.key>: <message> (<file:line>)`. Use it for checks the getters cannot make.
   *
   * @example
   * ```ts
   * throw r.error("whitelist", "using both whitelist and blacklist is invalid; keep one of them");
   * ```
   */
  error(key: string | undefined, message: string): ConfigError {
    const name = key === undefined ? (this.#path || "config") : this.keyPath(key);
    return new ConfigError(`${name}: ${message}${this.#at(key)}`);
  }

  /**
   * Adds a warning about `key` in the same style as {@link error}.
   *
   * @example
   * ```ts
   * r.warn("shard_count", "is accepted for compatibility and ignored");
   * ```
   */
  warn(key: string | undefined, message: string): void {
    const name = key === undefined ? (this.#path || "config") : this.keyPath(key);
    this.#warnings.push(`${name}: ${message}${this.#at(key)}`);
  }

  /**
   * True when `key` is present with a non-null value. Does not mark the key as known.
   *
   * @example
   * ```ts
   * if (!r.has("announce_interval")) throw r.error(undefined, "missing announce_interval");
   * ```
   */
  has(key: string): boolean {
    const v = Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
    return v !== null && v !== undefined;
  }

  /**
   * The value of `key` as written (after env expansion), marking it known;
   * `undefined` when missing or null. For shapes the typed getters do not cover.
   *
   * @example
   * ```ts
   * const peers = r.raw("fixed_peers");
   * ```
   */
  raw(key: string): unknown {
    this.#known.add(key);
    const v = Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
    return v === null ? undefined : v;
  }

  /**
   * A reader for the nested map under `key`, or `undefined` when it is missing
   * or null. Throws when the value is not a map.
   *
   * @example
   * ```ts
   * const http = root.child("http"); // reads chihaya.http
   * ```
   */
  child(key: string): OptionsReader | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "object" || Array.isArray(v) || v instanceof Date) {
      throw this.error(key, `expected a map (indented key: value lines), got ${describeValue(v)}`);
    }
    const child = new OptionsReader(v, this.keyPath(key), this.#warnings);
    return child;
  }

  /**
   * A duration in milliseconds. Accepts Go syntax (`"3m"`, `"1h30m"`); a bare
   * number is nanoseconds, as in chihaya, and adds a warning saying so unless it is 0.
   * Missing or ≤ 0 gives `defaultMs` (see the class comment; `allowZero` keeps 0).
   *
   * @example
   * ```ts
   * r.duration("read_timeout", 2_000); // "5s" → 5000
   * ```
   */
  duration(key: string, defaultMs: number, opts: DurationOptions = {}): number {
    const v = this.raw(key);
    if (v === undefined) return defaultMs;
    let ms: number;
    if (typeof v === "number" || typeof v === "string") {
      try {
        ms = parseDuration(v);
      } catch (err) {
        const reason = (err as { reason?: string }).reason ?? (err as Error).message;
        throw this.error(key, `expected a duration like "3m", got ${describeValue(v)}: ${reason}`);
      }
      if (typeof v === "number" && v !== 0) {
        this.warn(
          key,
          `the bare number ${v} is read as nanoseconds (${formatDuration(ms)}), as chihaya does; ` +
            `write it with a unit, e.g. "${v}s", if you meant seconds`,
        );
      }
    } else {
      throw this.error(key, `expected a duration like "3m", got ${describeValue(v)}`);
    }
    if (ms < 0 || (ms === 0 && !opts.allowZero)) {
      if (defaultMs !== ms) {
        this.warn(
          key,
          `${describeValue(v)} is not positive; falling back to the default ${formatDuration(defaultMs)}`,
        );
      }
      ms = defaultMs;
    }
    const max = opts.max ?? MAX_TIMER_MS;
    if (ms > max) {
      throw this.error(
        key,
        `${describeValue(v)} is too long; use at most ${formatDuration(max)}` +
          (opts.max === undefined ? " (longer delays overflow JavaScript timers)" : ""),
      );
    }
    if (opts.min !== undefined && ms < opts.min) {
      throw this.error(key, `${describeValue(v)} is too short; use at least ${formatDuration(opts.min)}`);
    }
    return ms;
  }

  /**
   * A whole number from 0 to 2^32−1 (chihaya's `uint32`), or within `min`/`max`.
   * Missing or 0 gives `defaultValue` (see the class comment); negative numbers,
   * fractions and strings are errors, as they are for Go's YAML decoder.
   *
   * @example
   * ```ts
   * r.uint("max_numwant", 100); // 0 or missing → 100
   * r.uint("max_scrape_infohashes", 50, { max: 101 });
   * ```
   */
  uint(key: string, defaultValue: number, opts: RangeOptions = {}): number {
    const v = this.raw(key);
    if (v === undefined) return defaultValue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > UINT32_MAX) {
      throw this.error(key, `expected a whole number ≥ 0, got ${describeValue(v)}`);
    }
    let n = v;
    if (n === 0 && defaultValue !== 0) {
      this.warn(key, `0 is not positive; falling back to the default ${defaultValue}`);
      n = defaultValue;
    }
    if (opts.min !== undefined && n < opts.min) {
      throw this.error(key, `${n} is too small; use at least ${opts.min}`);
    }
    if (opts.max !== undefined && n > opts.max) {
      throw this.error(key, `${n} is too large; use at most ${opts.max}`);
    }
    return n;
  }

  /**
   * A number (integer or decimal). No fallback: chihaya has no float with a
   * code default, and the hooks that read floats validate the range themselves.
   *
   * @example
   * ```ts
   * r.float("modify_response_probability", 0, { max: 1 });
   * ```
   */
  float(key: string, defaultValue: number, opts: RangeOptions = {}): number {
    const v = this.raw(key);
    if (v === undefined) return defaultValue;
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw this.error(key, `expected a number like 0.5, got ${describeValue(v)}`);
    }
    if (opts.min !== undefined && v < opts.min) {
      throw this.error(key, `${v} is too small; use at least ${opts.min}`);
    }
    if (opts.max !== undefined && v > opts.max) {
      throw this.error(key, `${v} is too large; use at most ${opts.max}`);
    }
    return v;
  }

  /**
   * `true` or `false` (YAML 1.1 spellings such as `yes`/`off` count, as in
   * chihaya's YAML decoder). A quoted `"true"` is a string and an error.
   *
   * @example
   * ```ts
   * r.bool("enable_keepalive", false);
   * ```
   */
  bool(key: string, defaultValue: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return defaultValue;
    if (typeof v !== "boolean") {
      throw this.error(
        key,
        `expected true or false, got ${describeValue(v)}${typeof v === "string" ? " (a quoted string)" : ""}`,
      );
    }
    return v;
  }

  /**
   * A string. Numbers, booleans and dates are taken as written (`private_key:
   * 0123` is `"0123"`), like Go's YAML decoder does for string fields.
   *
   * @example
   * ```ts
   * r.string("real_ip_header", ""); // "x-real-ip"
   * ```
   */
  string(key: string, defaultValue: string): string {
    const v = this.raw(key);
    if (v === undefined) return defaultValue;
    if (typeof v === "string") return v;
    const text = this.#source?.entries.get(key)?.text;
    const s = scalarText(v, text);
    if (s === undefined) throw this.error(key, `expected a string, got ${describeValue(v)}`);
    return s;
  }

  /**
   * A list of strings. A single string is an error rather than a one-item list,
   * so that a typo in indentation does not silently change the meaning.
   *
   * @example
   * ```ts
   * r.stringList("announce_routes", []); // ["/announce"]
   * ```
   */
  stringList(key: string, defaultValue: string[]): string[] {
    const v = this.raw(key);
    if (v === undefined) return defaultValue;
    if (!Array.isArray(v)) {
      throw this.error(key, `expected a list like ["a", "b"] (or "- a" lines), got ${describeValue(v)}`);
    }
    const items = sourceOf(v);
    return v.map((item, i) => {
      if (typeof item === "string") return item;
      const s = item === null || item === undefined
        ? undefined
        : scalarText(item, items?.entries.get(i)?.text);
      if (s === undefined) {
        const line = items?.entries.get(i)?.line;
        const at = line ? ` (${items!.file}:${line})` : this.#at(key);
        throw new ConfigError(
          `${this.keyPath(key)}[${i}]: expected a string, got ${describeValue(item)}${at}`,
        );
      }
      return s;
    });
  }

  /**
   * Warns once about each key no getter asked for: `unknown key <path> (<file:line>) is ignored`,
   * with a suggestion when a known key is one typo away. Call it after the last getter.
   *
   * @example
   * ```ts
   * r.finish();
   * ```
   */
  finish(): void {
    for (const key of Object.keys(this.#values)) {
      if (this.#known.has(key)) continue;
      const loc = this.location(key);
      const guess = closest(key, [...this.#known]);
      this.#warnings.push(
        `unknown key ${this.keyPath(key)}${loc ? ` (${loc})` : ""} is ignored` +
          (guess ? `; did you mean ${this.keyPath(guess)}?` : ""),
      );
    }
  }

  #at(key?: string): string {
    const loc = this.location(key);
    return loc ? ` (${loc})` : "";
  }
}

/** The text of a scalar as written, for string getters; undefined for maps and lists. */
function scalarText(v: unknown, written: string | undefined): string | undefined {
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v instanceof Date) {
    return written ?? (v instanceof Date ? v.toISOString() : String(v));
  }
  return undefined;
}

/**
 * The candidate within edit distance 2 of `word` (case-insensitive), for
 * "did you mean" hints; `undefined` when nothing is that close.
 *
 * @example
 * ```ts
 * closestMatch("adr", ["addr", "https_addr"]); // "addr"
 * ```
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  return closest(word, candidates);
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
