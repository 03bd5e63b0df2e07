/**
 * Go `time.Duration` syntax, because chihaya's YAML files are written in it.
 * Everything in hayate measures durations in milliseconds (a JS timer's unit),
 * so the parser returns milliseconds, possibly fractional for `us`/`ns` values.
 *
 * @module
 */

/** Nanoseconds per unit, as in Go's `time` package (`µs` is U+00B5, `μs` U+03BC). */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go rejects durations beyond int64 nanoseconds (about 292 years); so do we. */
const MAX_NS = 9_223_372_036_854_775_807;

const EXAMPLES = `like "30m", "1h30m", "2s" or "300ms"`;
const UNITS = "h, m, s, ms, us or ns";

/**
 * An Error whose `reason` is the message without the leading
 * `invalid duration "<text>": `, so callers can embed it in their own wording.
 */
function fail(input: string | number, reason: string): Error {
  const shown = typeof input === "string" ? JSON.stringify(input) : String(input);
  return Object.assign(new Error(`invalid duration ${shown}: ${reason}`), { reason });
}

/**
 * Parses a Go duration into milliseconds.
 *
 * Strings use Go's `time.ParseDuration` syntax: a sequence of decimal numbers,
 * each with a unit (`h`, `m`, `s`, `ms`, `us`/`µs`, `ns`), optionally signed;
 * `"0"` is the only value allowed without a unit. A number is nanoseconds,
 * because that is what a bare YAML integer means to Go's YAML decoder when the
 * target is a `time.Duration`.
 *
 * @throws {Error} when the text is not a duration; the message says what to write instead.
 * @example
 * ```ts
 * parseDuration("1h30m"); // 5_400_000
 * parseDuration("300ms"); // 300
 * parseDuration("500us"); // 0.5
 * parseDuration(2_000_000_000); // 2000 (a bare number is nanoseconds)
 * ```
 */
export function parseDuration(text: string | number): number {
  if (typeof text === "number") {
    if (!Number.isInteger(text)) {
      throw fail(
        text,
        `a bare number means nanoseconds and must be a whole number; write a duration with units instead, ${EXAMPLES}`,
      );
    }
    if (Math.abs(text) > MAX_NS) throw fail(text, "too large (over 292 years)");
    return normalize(text / 1e6);
  }
  if (typeof text !== "string") {
    const reason = `expected a duration ${EXAMPLES}`;
    throw Object.assign(new Error(`invalid duration ${describe(text)}: ${reason}`), { reason });
  }

  const orig = text;
  let s = text;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw fail(orig, `expected a duration ${EXAMPLES}`);

  let totalNs = 0;
  while (s !== "") {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, intDigits, fracDigits] = [m[0], m[1], m[2] ?? ""];
    if (intDigits === "" && fracDigits === "") {
      throw fail(orig, `expected a number before ${JSON.stringify(s)}; write a duration ${EXAMPLES}`);
    }
    s = s.slice(whole.length);
    const unitMatch = /^[^\d.]*/.exec(s)!;
    const unit = unitMatch[0];
    if (unit === "") {
      throw fail(orig, `missing unit; add one of ${UNITS}, ${EXAMPLES}`);
    }
    const perUnit = UNIT_NS[unit];
    if (perUnit === undefined) {
      throw fail(orig, `unknown unit ${JSON.stringify(unit)}; use ${UNITS}${hintFor(unit)}`);
    }
    s = s.slice(unit.length);
    // Go truncates the fractional part to whole nanoseconds; copying that keeps
    // "1.5h" and friends exact and matches chihaya bit for bit.
    const fracNs = fracDigits === "" ? 0 : Math.trunc(Number(`0.${fracDigits}`) * perUnit);
    totalNs += Number(intDigits || "0") * perUnit + fracNs;
    if (totalNs > MAX_NS) throw fail(orig, "too large (over 292 years)");
  }
  return normalize((sign * totalNs) / 1e6);
}

/** Suggests the Go spelling for units people reach for out of habit. */
function hintFor(unit: string): string {
  if (/\s/.test(unit)) return `; remove the space between the number and the unit, ${EXAMPLES}`;
  const u = unit.toLowerCase();
  if (u === "d" || u === "day" || u === "days") return `; Go durations have no days, write "24h" for a day`;
  if (u === "w") return `; Go durations have no weeks, write "168h" for a week`;
  if (["sec", "secs", "second", "seconds"].includes(u)) return `; write "s", e.g. "30s"`;
  if (["min", "mins", "minute", "minutes"].includes(u)) return `; write "m", e.g. "15m"`;
  if (["hr", "hrs", "hour", "hours"].includes(u)) return `; write "h", e.g. "2h"`;
  if (u !== unit) return `; units are lowercase, e.g. "30m"`;
  return `, ${EXAMPLES}`;
}

/** Avoids `-0`, which `assert.deepStrictEqual` and `Object.is` tell apart from `0`. */
function normalize(ms: number): number {
  return ms === 0 ? 0 : ms;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return String(v);
}

/**
 * Formats milliseconds as a short Go-style duration for messages: the largest
 * units first, zero parts left out (`"1h30m"` rather than Go's `"1h30m0s"`).
 * The output always parses back with {@link parseDuration}.
 *
 * @example
 * ```ts
 * formatDuration(5_400_000); // "1h30m"
 * formatDuration(2_000); // "2s"
 * formatDuration(0.5); // "500us"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let ns = Math.round(Math.abs(ms) * 1e6);
  let out = "";
  for (
    const [unit, size] of [["h", 3600e9], ["m", 60e9], ["s", 1e9], ["ms", 1e6], ["us", 1e3], [
      "ns",
      1,
    ]] as const
  ) {
    const n = Math.floor(ns / size);
    if (n > 0) {
      out += `${n}${unit}`;
      ns -= n * size;
    }
  }
  return sign + out;
}
