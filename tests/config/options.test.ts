import { test } from "node:test";
import assert from "node:assert/strict";
import {
  closestMatch,
  ConfigError,
  MAX_TIMER_MS,
  OptionsReader,
  type SourceInfo,
  sourceOf,
  tagSource,
} from "../../src/config/options.ts";

/** A map tagged as the loader would: each key on its own line, starting at `firstLine`. */
function located(values: Record<string, unknown>, path: string, firstLine = 10): Record<string, unknown> {
  const entries: SourceInfo["entries"] = new Map();
  Object.keys(values).forEach((k, i) => entries.set(k, { line: firstLine + i }));
  return tagSource({ ...values }, { path, file: "config.yaml", line: firstLine - 1, entries });
}

function reader(values: Record<string, unknown>, path = "storage.config", firstLine = 10) {
  const warnings: string[] = [];
  return { r: new OptionsReader(located(values, path, firstLine), path, warnings), warnings };
}

test("ConfigError is an Error named ConfigError", () => {
  const e = new ConfigError("x: bad");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "ConfigError");
  assert.equal(e.message, "x: bad");
});

test("duration: wrong type names the full dotted key, the value and the line", () => {
  const { r } = reader({ prometheus_reporting_interval: "1s", gc_interval: true }, "storage.config", 11);
  assert.throws(() => r.duration("gc_interval", 180_000), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      `storage.config.gc_interval: expected a duration like "3m", got true (config.yaml:12)`,
    );
    return true;
  });
});

test("duration: unparsable strings say why", () => {
  const { r } = reader({ gc_interval: "3 minutes" });
  assert.throws(() => r.duration("gc_interval", 180_000), {
    message:
      /^storage\.config\.gc_interval: expected a duration like "3m", got "3 minutes": unknown unit .*\(config\.yaml:10\)$/,
  });
});

test("duration: missing or null gives the default", () => {
  const { r, warnings } = reader({ peer_lifetime: null });
  assert.equal(r.duration("gc_interval", 180_000), 180_000);
  assert.equal(r.duration("peer_lifetime", 1_800_000), 1_800_000);
  assert.deepEqual(warnings, []);
});

test("duration: ≤ 0 falls back to the default, with a warning (chihaya's rule)", () => {
  const { r, warnings } = reader({ gc_interval: "0s", peer_lifetime: "-5m" });
  assert.equal(r.duration("gc_interval", 180_000), 180_000);
  assert.equal(r.duration("peer_lifetime", 1_800_000), 1_800_000);
  assert.equal(warnings.length, 2);
  assert.equal(
    warnings[0],
    `storage.config.gc_interval: "0s" is not positive; falling back to the default 3m (config.yaml:10)`,
  );
  assert.match(
    warnings[1],
    /^storage\.config\.peer_lifetime: "-5m" is not positive; falling back to the default 30m/,
  );
});

test("duration: allowZero keeps an explicit 0 but still replaces negatives", () => {
  const { r, warnings } = reader({ a: "0s", b: "-1s" }, "udp");
  assert.equal(r.duration("a", 10_000, { allowZero: true }), 0);
  assert.equal(r.duration("b", 10_000, { allowZero: true }), 10_000);
  assert.equal(warnings.length, 1);
});

test("duration: a bare number is nanoseconds and draws a warning unless it is 0", () => {
  const { r, warnings } = reader({ gc_interval: 180, peer_lifetime: 1_860_000_000_000, x: 0 });
  // 180 ns is positive, so no fallback; the warning tells the user what happened.
  assert.equal(r.duration("gc_interval", 180_000), 0.00018);
  assert.equal(r.duration("peer_lifetime", 1_800_000), 1_860_000);
  assert.equal(r.duration("x", 5, { allowZero: true }), 0);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /gc_interval: the bare number 180 is read as nanoseconds \(180ns\).*"180s"/);
});

test("duration: longer than a JS timer allows is an error; min and max apply", () => {
  const { r } = reader({ a: "600h", b: "2s", c: "500ms" });
  assert.throws(() => r.duration("a", 1), {
    message: /a: "600h" is too long; use at most .*JavaScript timers/,
  });
  assert.throws(() => r.duration("b", 1, { max: 1_000 }), {
    message: /b: "2s" is too long; use at most 1s \(/,
  });
  assert.throws(() => r.duration("c", 1, { min: 1_000 }), {
    message: /c: "500ms" is too short; use at least 1s/,
  });
  assert.equal(MAX_TIMER_MS, 2_147_483_647);
});

test("duration: lists and maps are type errors", () => {
  const { r } = reader({ a: ["3m"], b: { x: 1 } });
  assert.throws(() => r.duration("a", 1), { message: /got a list/ });
  assert.throws(() => r.duration("b", 1), { message: /got a map/ });
});

test("uint: defaults, 0 → default with a warning, range and type errors", () => {
  const { r, warnings } = reader({ zero: 0, ok: 7, neg: -1, frac: 1.5, str: "100", big: 2 ** 32 }, "http");
  assert.equal(r.uint("missing", 100), 100);
  assert.equal(r.uint("zero", 100), 100);
  assert.equal(warnings[0], "http.zero: 0 is not positive; falling back to the default 100 (config.yaml:10)");
  assert.equal(r.uint("ok", 100), 7);
  assert.throws(() => r.uint("ok", 100, { max: 5 }), {
    message: "http.ok: 7 is too large; use at most 5 (config.yaml:11)",
  });
  assert.throws(() => r.uint("ok", 100, { min: 10 }), {
    message: /http\.ok: 7 is too small; use at least 10/,
  });
  assert.throws(() => r.uint("neg", 1), {
    message: "http.neg: expected a whole number ≥ 0, got -1 (config.yaml:12)",
  });
  assert.throws(() => r.uint("frac", 1), { message: /http\.frac: expected a whole number ≥ 0, got 1\.5/ });
  assert.throws(() => r.uint("str", 1), { message: /http\.str: expected a whole number ≥ 0, got "100"/ });
  assert.throws(() => r.uint("big", 1), { message: /http\.big: expected a whole number/ });
});

test("uint: with a default of 0, an explicit 0 stays 0 silently", () => {
  const { r, warnings } = reader({ n: 0 });
  assert.equal(r.uint("n", 0), 0);
  assert.deepEqual(warnings, []);
});

test("float: numbers only, range checked, no fallback", () => {
  const { r, warnings } = reader({ p: 0.2, zero: 0, s: "0.5", n: 3 }, "prehooks[0].options");
  assert.equal(r.float("p", 0), 0.2);
  assert.equal(r.float("zero", 0.7), 0);
  assert.equal(r.float("n", 0), 3);
  assert.equal(r.float("missing", 0.5), 0.5);
  assert.throws(() => r.float("s", 0), {
    message: /prehooks\[0\]\.options\.s: expected a number like 0\.5, got "0\.5"/,
  });
  assert.throws(() => r.float("p", 0, { min: 0.5 }), { message: /0\.2 is too small/ });
  assert.throws(() => r.float("n", 0, { max: 1 }), { message: /3 is too large; use at most 1/ });
  assert.deepEqual(warnings, []);
});

test("bool: booleans only; a quoted string is an error that says so", () => {
  const { r } = reader({ t: true, f: false, s: "true", n: 1 }, "http");
  assert.equal(r.bool("t", false), true);
  assert.equal(r.bool("f", true), false);
  assert.equal(r.bool("missing", true), true);
  assert.throws(() => r.bool("s", false), {
    message: /http\.s: expected true or false, got "true" \(a quoted string\)/,
  });
  assert.throws(() => r.bool("n", false), {
    message: /http\.n: expected true or false, got 1 \(config\.yaml:13\)/,
  });
});

test("string: scalars are taken as written, collections are errors", () => {
  const values = { s: "x-real-ip", n: 83, b: true, l: ["a"], m: {} };
  const entries: SourceInfo["entries"] = new Map([["n", { line: 2, text: "0123" }], ["b", {
    line: 3,
    text: "yes",
  }]]);
  const r = new OptionsReader(
    tagSource(values, { path: "udp", file: "c.yaml", line: 1, entries }),
    "udp",
    [],
  );
  assert.equal(r.string("s", ""), "x-real-ip");
  assert.equal(r.string("n", ""), "0123"); // YAML 1.1 octal, kept as the user typed it
  assert.equal(r.string("b", ""), "yes");
  assert.equal(r.string("missing", "dflt"), "dflt");
  assert.throws(() => r.string("l", ""), { message: /udp\.l: expected a string, got a list \(c\.yaml:1\)/ });
  assert.throws(() => r.string("m", ""), { message: /udp\.m: expected a string, got a map/ });
});

test("string: untagged numbers fall back to String()", () => {
  const r = new OptionsReader({ n: 42 }, "x", []);
  assert.equal(r.string("n", ""), "42");
});

test("stringList: lists of scalars; a single string or a bad item is an error naming the index", () => {
  const list = tagSource(["/announce", 42, { a: 1 }], {
    path: "http.announce_routes",
    file: "config.yaml",
    line: 5,
    entries: new Map([[0, { line: 6 }], [1, { line: 7, text: "042" }], [2, { line: 8 }]]),
  });
  const r = new OptionsReader(located({ routes: list, one: "/scrape", ok: ["a", "b"] }, "http"), "http", []);
  assert.deepEqual(r.stringList("ok", []), ["a", "b"]);
  assert.deepEqual(r.stringList("missing", ["/d"]), ["/d"]);
  assert.throws(() => r.stringList("routes", []), {
    message: "http.routes[2]: expected a string, got a map (config.yaml:8)",
  });
  assert.throws(() => r.stringList("one", []), {
    message: /http\.one: expected a list like \["a", "b"\] .*got "\/scrape" \(config\.yaml:11\)/,
  });
  const r2 = new OptionsReader(
    {
      l: tagSource([42], {
        path: "l",
        file: "f",
        line: 1,
        entries: new Map([[0, { line: 2, text: "042" }]]),
      }),
    },
    "x",
    [],
  );
  assert.deepEqual(r2.stringList("l", []), ["042"]);
});

test("has: present and not null; it does not mark the key known", () => {
  const { r, warnings } = reader({ a: 1, b: null }, "x");
  assert.equal(r.has("a"), true);
  assert.equal(r.has("b"), false);
  assert.equal(r.has("c"), false);
  assert.equal(r.has("toString"), false);
  r.finish();
  assert.equal(warnings.length, 2);
});

test("finish: warns about each key no getter asked for, with file:line and a suggestion", () => {
  const { r, warnings } = reader({ adr: "0.0.0.0:6969", https_addr: "", zzz: 1 }, "http", 5);
  r.string("addr", "");
  r.string("https_addr", "");
  r.finish();
  assert.deepEqual(warnings, [
    "unknown key http.adr (config.yaml:5) is ignored; did you mean http.addr?",
    "unknown key http.zzz (config.yaml:7) is ignored",
  ]);
});

test("finish: untagged maps give the same warning without a location", () => {
  const warnings: string[] = [];
  const r = new OptionsReader({ whitelist: [], blacklst: [] }, "prehooks[1].options", warnings);
  r.stringList("whitelist", []);
  r.stringList("blacklist", []);
  r.finish();
  assert.deepEqual(warnings, [
    "unknown key prehooks[1].options.blacklst is ignored; did you mean prehooks[1].options.blacklist?",
  ]);
});

test("constructor: null reads as empty; lists and scalars are errors", () => {
  const r = new OptionsReader(null, "storage.config", []);
  assert.equal(r.duration("gc_interval", 5), 5);
  assert.throws(() => new OptionsReader([1], "storage.config", []), {
    message: /^storage\.config: expected a map of options \(key: value lines\), got a list$/,
  });
  assert.throws(() => new OptionsReader("x", "prehooks[0].options", []), { message: /got "x"/ });
});

test("constructor: the loader's tag path wins over `where`", () => {
  const values = located({ a: "x" }, "storage.config", 3);
  const r = new OptionsReader(values, "config.yaml:2", []);
  assert.equal(r.path, "storage.config");
  assert.throws(() => r.uint("a", 1), {
    message: /^storage\.config\.a: expected a whole number ≥ 0, got "x" \(config\.yaml:3\)$/,
  });
});

test("child: nested maps get their own reader and path; non-maps are errors", () => {
  const inner = located({ b: "3m" }, "outer.inner", 20);
  const { r, warnings } = reader({ inner, bad: [1] }, "outer");
  const c = r.child("inner")!;
  assert.equal(c.path, "outer.inner");
  assert.equal(c.duration("b", 1), 180_000);
  assert.equal(r.child("missing"), undefined);
  assert.throws(() => r.child("bad"), { message: /outer\.bad: expected a map .*got a list/ });
  c.finish();
  r.finish();
  assert.deepEqual(warnings, []);
});

test("raw, error, warn, at, location, keyPath", () => {
  const { r, warnings } = reader({ fixed_peers: ["1.2.3.4:5"] }, "prehooks[0].options", 30);
  assert.deepEqual(r.raw("fixed_peers"), ["1.2.3.4:5"]);
  assert.equal(r.raw("nope"), undefined);
  assert.equal(r.keyPath("x"), "prehooks[0].options.x");
  assert.equal(r.location("fixed_peers"), "config.yaml:30");
  assert.equal(r.location(), "config.yaml:29");
  assert.equal(r.at("fixed_peers"), " (config.yaml:30)");
  assert.equal(
    r.error("fixed_peers", "bad").message,
    "prehooks[0].options.fixed_peers: bad (config.yaml:30)",
  );
  assert.equal(r.error(undefined, "bad").message, "prehooks[0].options: bad (config.yaml:29)");
  r.warn("fixed_peers", "hmm");
  assert.deepEqual(warnings, ["prehooks[0].options.fixed_peers: hmm (config.yaml:30)"]);
  r.finish();
  assert.equal(warnings.length, 1);
});

test("tags are invisible to Object.keys and JSON", () => {
  const v = located({ a: 1 }, "x");
  assert.deepEqual(Object.keys(v), ["a"]);
  assert.equal(JSON.stringify(v), `{"a":1}`);
  assert.equal(sourceOf(v)?.path, "x");
  assert.equal(sourceOf({ ...v }), undefined);
});

test("closestMatch: within two edits, case-insensitive", () => {
  assert.equal(closestMatch("adr", ["addr", "https_addr"]), "addr");
  assert.equal(closestMatch("Memroy", ["memory", "redis"]), "memory");
  assert.equal(closestMatch("postgres", ["memory", "redis"]), undefined);
});
