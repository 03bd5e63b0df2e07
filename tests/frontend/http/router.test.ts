import { test } from "node:test";
import assert from "node:assert/strict";
import { Router } from "../../../src/frontend/http/router.ts";

test("router: literal, :named and *catch-all routes", () => {
  const r = new Router<string>();
  r.add("/announce", "announce");
  r.add("/announce/:passkey", "announce-key");
  r.add("/u/:user/announce", "user");
  r.add("/files/*path", "files");
  assert.deepEqual(r.match("/announce"), { target: "announce", params: {} });
  assert.deepEqual(r.match("/announce/abc%20d"), { target: "announce-key", params: { passkey: "abc d" } });
  assert.deepEqual(r.match("/u/bob/announce"), { target: "user", params: { user: "bob" } });
  assert.deepEqual(r.match("/files/a/b"), { target: "files", params: { path: "/a/b" } });
  assert.deepEqual(r.match("/files/"), { target: "files", params: { path: "/" } });
  assert.equal(r.match("/announce/"), undefined, "a :param needs a non-empty segment");
  assert.equal(r.match("/announce/a/b"), undefined);
  assert.equal(r.match("/ANNOUNCE"), undefined);
  assert.equal(r.match("/"), undefined);
  assert.equal(r.match("/u/%zz/announce")?.params.user, "%zz", "bad escapes stay as sent");
});

test("router: malformed patterns are refused", () => {
  const r = new Router<string>();
  assert.throws(() => r.add("announce", "x"), /must start with/);
  assert.throws(() => r.add("/a/:", "x"), /without a name/);
  assert.throws(() => r.add("/a/*rest/b", "x"), /must be the last segment/);
});
