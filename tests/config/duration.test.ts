import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/config/duration.ts";

test("parseDuration: Go duration strings become milliseconds", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["+0", 0],
    ["-0", 0],
    ["0s", 0],
    ["300ms", 300],
    ["2s", 2_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["2h45m10s", 9_910_000],
    ["1h0m0s", 3_600_000],
    ["500us", 0.5],
    ["500\u00b5s", 0.5], // micro sign
    ["500\u03bcs", 0.5], // Greek mu
    ["1ns", 0.000001],
    ["1500000ns", 1.5],
    [".5s", 500],
    ["1.s", 1_000],
    ["-1.5s", -1_500],
    ["+3m", 180_000],
    ["1m30s250ms", 90_250],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test("parseDuration: the fraction is truncated to whole nanoseconds, as in Go", () => {
  assert.equal(parseDuration("1.0000000009s"), 1_000);
  assert.equal(parseDuration("0.1s"), 100);
});

test("parseDuration: a number is nanoseconds (Go's YAML into time.Duration)", () => {
  assert.equal(parseDuration(0), 0);
  assert.equal(parseDuration(2_000_000_000), 2_000);
  assert.equal(parseDuration(1_800_000_000_000), 1_800_000);
  assert.equal(parseDuration(500_000), 0.5);
  assert.equal(parseDuration(-1_000_000), -1);
});

test("parseDuration: non-integer numbers are rejected with a hint to use units", () => {
  assert.throws(() => parseDuration(1.5), /must be a whole number.*"1h30m"/);
  assert.throws(() => parseDuration(Number.NaN), /whole number/);
  assert.throws(() => parseDuration(Number.POSITIVE_INFINITY), /whole number/);
});

test("parseDuration: bad strings throw errors that quote the input and say what to write", () => {
  const cases: [string, RegExp][] = [
    ["", /^invalid duration "": expected a duration like "30m"/],
    ["1", /^invalid duration "1": missing unit; add one of h, m, s, ms, us or ns/],
    ["1h30", /^invalid duration "1h30": missing unit/],
    ["1x", /^invalid duration "1x": unknown unit "x"; use h, m, s, ms, us or ns, like "30m"/],
    ["1d", /unknown unit "d".*no days, write "24h"/],
    ["2w", /no weeks, write "168h"/],
    ["30 m", /unknown unit " m".*remove the space/],
    ["10S", /unknown unit "S".*lowercase/],
    ["5sec", /write "s"/],
    ["5min", /write "m"/],
    ["2hours", /write "h"/],
    ["s", /^invalid duration "s": expected a number before "s"/],
    [".s", /expected a number before/],
    ["-", /^invalid duration "-": expected a duration/],
    ["abc", /expected a number before "abc"/],
    ["1.2.3s", /missing unit|expected a number/],
    [" 30m", /invalid duration " 30m"/],
    ["9999999999h", /too large/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseDuration(text), { message: re }, JSON.stringify(text));
  }
});

test("parseDuration: errors carry the bare reason for embedding", () => {
  try {
    parseDuration("1x");
    assert.fail("expected an error");
  } catch (err) {
    assert.ok(err instanceof Error);
    assert.match((err as Error & { reason: string }).reason, /^unknown unit "x"/);
  }
});

test("parseDuration: values that are neither string nor number are rejected", () => {
  assert.throws(() => parseDuration(true as unknown as string), {
    message: /^invalid duration true: expected a duration/,
  });
  assert.throws(() => parseDuration(null as unknown as string), { message: /^invalid duration null/ });
});

test("formatDuration: short Go-style output that parses back", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [2_000, "2s"],
    [1_800_000, "30m"],
    [5_400_000, "1h30m"],
    [9_910_000, "2h45m10s"],
    [300, "300ms"],
    [0.5, "500us"],
    [0.000001, "1ns"],
    [-1_500, "-1s500ms"],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text, String(ms));
    assert.equal(parseDuration(text), ms, text);
  }
});
