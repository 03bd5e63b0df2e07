import { test } from "node:test";
import assert from "node:assert/strict";
import { Router } from "../../../src/frontend/http/router.ts";

test("router: literal, :named and *catch-all routes", () => {
  const r = new Router<string>();
  r.add("/announce", "announce");
  r.add("/announce/:passkey", "announce-key");
  r.add("/u/:user/announce", "user");
  r.add("/files/*path", "files");
  assert.deepEqual(r.match("/announce"), { target: "announce", params: {}, path: "/announce" });
  assert.deepEqual(r.match("/announce/abc%20d"), {
    target: "announce-key",
    params: { passkey: "abc d" },
    path: "/announce/abc%20d",
  });
  assert.deepEqual(r.match("/u/bob/announce"), {
    target: "user",
    params: { user: "bob" },
    path: "/u/bob/announce",
  });
  assert.deepEqual(r.match("/files/a/b"), { target: "files", params: { path: "/a/b" }, path: "/files/a/b" });
  assert.deepEqual(r.match("/files/"), { target: "files", params: { path: "/" }, path: "/files/" });
  assert.equal(r.match("/announce/"), undefined, "a :param needs a non-empty segment");
  assert.equal(r.match("/announce/a/b"), undefined);
  assert.equal(r.match("/ANNOUNCE"), undefined);
  assert.equal(r.match("/"), undefined);
  assert.equal(r.match("/u/%zz/announce")?.params.user, "%zz", "bad escapes stay as sent");
});

test("router: literal routes match from bytes, as their strings do", () => {
  const r = new Router<string>();
  r.add("/announce", "announce");
  r.add("/scrape", "scrape");
  r.add("/announce/:passkey", "announce-key");
  r.add("/\u00e9t\u00e9", "latin1");
  r.add("/\u4e2d", "wide");
  const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const exact = (path: string) => {
    // The path sits inside a larger buffer, as in a request line.
    const buf = bytes(`GET ${path}?x=1`);
    return r.matchExact(buf, 4, 4 + path.length);
  };
  for (const path of ["/announce", "/scrape", "/\u00e9t\u00e9"]) {
    assert.equal(exact(path), r.match(path), path);
    assert.equal(exact(path)?.path, path);
  }
  assert.equal(exact("/\u00e9t\u00e9")?.target, "latin1");
  // Params routes, near misses and characters a byte cannot hold are left to match().
  for (const path of ["/announce/abc", "/announc", "/announcf", "/Announce", "/scrape/", "/", ""]) {
    assert.equal(exact(path), undefined, JSON.stringify(path));
  }
  assert.equal(r.matchExact(new Uint8Array([0x2f, 0x2d]), 0, 2), undefined, "U+4E2D is no byte pair");
  // The match of a literal route is shared, so its params cannot be changed by a hook.
  assert.ok(Object.isFrozen(r.match("/announce")?.params));
});

test("router: malformed patterns are refused", () => {
  const r = new Router<string>();
  assert.throws(() => r.add("announce", "x"), /must start with/);
  assert.throws(() => r.add("/a/:", "x"), /without a name/);
  assert.throws(() => r.add("/a/*rest/b", "x"), /must be the last segment/);
});
