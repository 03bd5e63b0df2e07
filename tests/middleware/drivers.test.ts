/** The hook registry as the tracker sees it, and hook cleanup when a start fails. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hookNames, registerHook } from "../../src/middleware/hook.ts";
import "../../src/tracker.ts";
import { startTracker, testConfig } from "../helpers/tracker.ts";
import { hook } from "./blackbox.ts";
import { httpConfig } from "../helpers/tracker.ts";

test("importing the tracker registers every hook under chihaya's and LBRY's names", () => {
  for (const name of ["jwt", "client approval", "torrent approval", "interval variation", "fixed peers"]) {
    assert.ok(hookNames().includes(name), name);
  }
});

test("a hook failing at start stops the hooks built before it", async () => {
  let stopped = 0;
  registerHook("test: stop probe", () => ({ stop: () => void stopped++ }));
  await assert.rejects(
    startTracker(testConfig({
      http: httpConfig(),
      prehooks: [hook("test: stop probe", {})],
      posthooks: [hook("test: stop probe", {}), hook("fixed peers", { fixed_peers: ["nope"] })],
    })),
    /posthooks\[1\]\.options\.fixed_peers\[0\]: invalid fixed peer "nope" has no port/,
  );
  assert.equal(stopped, 2);
});
