import assert from "node:assert/strict";
import { test } from "node:test";
import { Activity } from "../../src/frontend/activity.ts";

test("activity: quiet once no request has been marked for the quiet time", () => {
  let now = 1000;
  const a = new Activity(100, () => now);
  assert.equal(a.quiet(), true, "nothing ever marked");
  a.mark();
  assert.equal(a.quiet(), false, "a request since the last look");
  now += 99;
  assert.equal(a.quiet(), false, "not quiet for long enough yet");
  now += 1;
  assert.equal(a.quiet(), true);
  a.mark();
  a.mark();
  now += 1000;
  assert.equal(a.quiet(), false, "requests since the last look, however long ago that was");
  now += 150;
  assert.equal(a.quiet(), true);
});
