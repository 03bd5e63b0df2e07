import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "../../../src/bittorrent/bencode.ts";
import type { AnnounceRequest } from "../../../src/bittorrent/request.ts";
import { HTTPFrontend } from "../../../src/frontend/http/frontend.ts";
import { Logger, silentLogger } from "../../../src/log.ts";
import type { Hook } from "../../../src/middleware/hook.ts";
import { Logic } from "../../../src/middleware/logic.ts";
import { escapeBytes, id20, memoryStore } from "../../helpers/fixtures.ts";
import { httpConfig } from "../../helpers/tracker.ts";

function frontend(prehooks: Hook[], log = silentLogger) {
  const { store } = memoryStore();
  const logic = new Logic({
    announceInterval: 60_000,
    minAnnounceInterval: 30_000,
    store,
    prehooks,
    posthooks: [],
    log,
  });
  const http = new HTTPFrontend({
    ...httpConfig({ announceRoutes: ["/announce", "/:passkey/announce", "/t/*rest"] }),
    logic,
    log,
  });
  return { http, store };
}

const query = `info_hash=${escapeBytes(id20("ih"))}&peer_id=${
  escapeBytes(id20("p"))
}&port=1&left=1&downloaded=0&uploaded=0`;
const failure = async (r: Response | Promise<Response>) => {
  const d = decode(new Uint8Array(await (await r).arrayBuffer())) as Record<string, Uint8Array>;
  return new TextDecoder().decode(d["failure reason"]);
};

test("route params and query params reach hooks", async () => {
  const seen: AnnounceRequest[] = [];
  const { http, store } = frontend([{ handleAnnounce: (_c, req) => void seen.push(req) }]);
  await http.fetch(new Request(`http://x/k3y/announce?${query}&jwt=abc.def`), "10.0.0.1");
  await http.fetch(new Request(`http://x/t/a/b?${query}`), "10.0.0.1");
  assert.deepEqual(seen[0].params.route, { passkey: "k3y" });
  assert.equal(seen[0].params.string("jwt"), "abc.def");
  assert.equal(seen[0].params.path, "/k3y/announce");
  assert.deepEqual(seen[1].params.route, { rest: "/a/b" });
  store.stop();
});

test("unexpected errors answer `internal server error` and never leak their text", async () => {
  const lines: string[] = [];
  const log = new Logger({ sink: (l) => lines.push(l) });
  const { http, store } = frontend([{
    handleAnnounce: () => {
      throw new Error("database password is hunter2");
    },
  }], log);
  const r = http.fetch(new Request(`http://x/announce?${query}`), "10.0.0.1");
  assert.equal(await failure(r), "internal server error");
  const { http: asyncHttp } = frontend([{
    handleAnnounce: () => Promise.reject(new TypeError("secret detail")),
  }], log);
  assert.equal(
    await failure(asyncHttp.fetch(new Request(`http://x/announce?${query}`), "10.0.0.1")),
    "internal server error",
  );
  assert.equal(lines.length, 2, "each internal error is logged once");
  store.stop();
});

test("garbage request targets get a client error, never a 5xx", async () => {
  const { http, store } = frontend([]);
  for (
    const target of [
      "/announce?%",
      "/announce?info_hash=%ff",
      "/announce?&&&;;;==",
      "/announce?" + "a=".repeat(5000),
    ]
  ) {
    const r = await http.fetch(new Request(`http://x${target}`), "10.0.0.1");
    assert.equal(r.status, 200, target);
    assert.ok((await failure(r)).length > 0);
  }
  store.stop();
});

test("each request is routed by its own path, however alike the paths before it", async () => {
  const { http, store } = frontend([]);
  const status = async (path: string) =>
    (await http.fetch(new Request(`http://x${path}?${query}`), "10.0.0.1")).status;
  // Same length as /announce, one byte apart: the previous path's string must not be reused.
  assert.equal(await status("/announce"), 200);
  assert.equal(await status("/announcf"), 404);
  assert.equal(await status("/announce"), 200);
  assert.equal(await status("/bnnounce"), 404);
  assert.equal(await status("/scrape"), 200);
  store.stop();
});
