import { test } from "node:test";
import assert from "node:assert/strict";
import { ClientError } from "../../src/bittorrent/errors.ts";
import { Event } from "../../src/bittorrent/event.ts";
import { parseURLData } from "../../src/bittorrent/params.ts";
import type { AnnounceRequest } from "../../src/bittorrent/request.ts";
import { Logger, silentLogger } from "../../src/log.ts";
import { Context, type Hook } from "../../src/middleware/hook.ts";
import { Logic } from "../../src/middleware/logic.ts";
import { id20, memoryStore, peer } from "../helpers/fixtures.ts";
import { announce as baseAnnounce } from "./helpers.ts";

/** helpers.ts's announce, into the swarm "ih". */
function announce(over: Partial<AnnounceRequest> = {}): AnnounceRequest {
  return baseAnnounce({ infoHash: id20("ih"), ...over });
}

function logicWith(prehooks: Hook[], posthooks: Hook[] = []) {
  const { store } = memoryStore();
  const logic = new Logic({
    announceInterval: 1_800_000,
    minAnnounceInterval: 900_000,
    store,
    prehooks,
    posthooks,
    log: silentLogger,
  });
  return { logic, store };
}

test("chain order: prehooks in order, response hook, then posthooks, then swarm hook", async () => {
  const order: string[] = [];
  const { logic, store } = logicWith([
    { handleAnnounce: () => void order.push("pre1") },
    {
      handleAnnounce: async (_c, _r, resp) => {
        await Promise.resolve();
        order.push(`pre2 peers=${resp.ipv4Peers.count}`);
      },
    },
  ], [{
    handleAnnounce: (_c, req) => void order.push(`post1 stored=${store.hasPeer(req.infoHash, req.peer)}`),
  }]);
  const ctx = new Context();
  const req = announce();
  const resp = await logic.handleAnnounce(ctx, req);
  order.push(`response peers=${resp.ipv4Peers.count}`);
  logic.afterAnnounce(ctx, req, resp);
  assert.deepEqual(order, ["pre1", "pre2 peers=0", "response peers=1", "post1 stored=false"]);
  assert.equal(store.hasPeer(req.infoHash, req.peer), true);
  assert.equal(resp.interval, 1800);
  assert.equal(resp.minInterval, 900);
  store.stop();
});

test("synchronous hooks answer without a promise", () => {
  const { logic, store } = logicWith([{ handleAnnounce: () => {} }]);
  const r = logic.handleAnnounce(new Context(), announce());
  assert.ok(!(r instanceof Promise));
  store.stop();
});

test("a hook error aborts the request before storage is read", async () => {
  let reached = false;
  const { logic, store } = logicWith([
    {
      handleAnnounce: () => {
        throw new ClientError("unapproved torrent");
      },
    },
    { handleAnnounce: () => void (reached = true) },
  ]);
  assert.throws(() => logic.handleAnnounce(new Context(), announce()), { message: "unapproved torrent" });
  assert.equal(reached, false);
  const { logic: asyncLogic } = logicWith([{
    handleAnnounce: () => Promise.reject(new ClientError("nope")),
  }]);
  await assert.rejects(async () => await asyncLogic.handleAnnounce(new Context(), announce()), {
    message: "nope",
  });
  store.stop();
});

test("posthook errors are logged, never thrown, and end the post chain (as chihaya)", () => {
  const lines: string[] = [];
  const { store } = memoryStore();
  const logic = new Logic({
    announceInterval: 1000,
    minAnnounceInterval: 1000,
    store,
    prehooks: [],
    posthooks: [{
      handleAnnounce: () => {
        throw new Error("boom");
      },
    }],
    log: new Logger({ sink: (l) => lines.push(l) }),
  });
  const req = announce();
  const resp = logic.handleAnnounce(new Context(), req);
  assert.doesNotThrow(() => logic.afterAnnounce(new Context(), req, resp as never));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /posthook failed/);
  assert.equal(store.hasPeer(req.infoHash, req.peer), false);
  store.stop();
});

test("context flags skip the response hook and the swarm hook", async () => {
  const { logic, store } = logicWith([{
    handleAnnounce: (ctx) => {
      ctx.skipResponseHook = true;
      ctx.skipSwarmInteraction = true;
    },
  }]);
  const ctx = new Context();
  const req = announce();
  const resp = await logic.handleAnnounce(ctx, req);
  assert.equal(resp.ipv4Peers.count, 0);
  logic.afterAnnounce(ctx, req, resp);
  assert.equal(store.hasPeer(req.infoHash, req.peer), false);
  store.stop();
});

test("swarm hook: stopped deletes, completed graduates, left=0 seeds, else leeches", async () => {
  const { logic, store } = logicWith([]);
  const run = async (over: Partial<AnnounceRequest>) => {
    const ctx = new Context();
    const req = announce(over);
    logic.afterAnnounce(ctx, req, await logic.handleAnnounce(ctx, req));
  };
  const ih = id20("ih");
  await run({ left: 10 });
  assert.deepEqual({ ...store.scrapeSwarm(ih, 4) }, { complete: 0, incomplete: 1, downloaded: 0 });
  await run({ event: Event.Completed, left: 0 });
  assert.deepEqual({ ...store.scrapeSwarm(ih, 4) }, { complete: 1, incomplete: 0, downloaded: 1 });
  await run({ event: Event.None, left: 0, peer: peer("b", "10.0.0.2", 1) });
  assert.deepEqual({ ...store.scrapeSwarm(ih, 4) }, { complete: 2, incomplete: 0, downloaded: 1 });
  await run({ event: Event.Stopped, left: 0 });
  await run({ event: Event.Stopped, left: 0, peer: peer("b", "10.0.0.2", 1) });
  await run({ event: Event.Stopped, left: 0, peer: peer("c", "10.0.0.3", 1) }); // unknown: no error
  assert.equal(store.stats().swarms, 0);
  store.stop();
});

test("self echo: a lone announcer gets itself back, counted once, not twice", async () => {
  const { logic, store } = logicWith([]);
  const ctx = new Context();
  const req = announce({ compact: false }); // the dictionary form keeps peer IDs to compare
  const first = await logic.handleAnnounce(ctx, req);
  assert.equal(first.ipv4Peers.count, 1);
  assert.equal(first.incomplete, 1);
  logic.afterAnnounce(ctx, req, first);
  const again = await logic.handleAnnounce(new Context(), req);
  assert.equal(again.ipv4Peers.count, 1);
  assert.deepEqual(again.ipv4Peers.get(0), req.peer);
  assert.equal(again.incomplete, 1, "already stored: not counted a second time");
  assert.equal(again.complete, 0);
  // Another peer sees the first one, not itself.
  const other = await logic.handleAnnounce(
    new Context(),
    announce({ peer: peer("b", "10.0.0.2", 1), left: 0, compact: false }),
  );
  assert.equal(other.ipv4Peers.count, 1);
  assert.deepEqual(other.ipv4Peers.get(0), req.peer);
  assert.equal(other.incomplete, 1);
  assert.equal(other.complete, 0);
  store.stop();
});

test("scrape: counts per infohash in request order, IPv6 swarms separate", async () => {
  const { logic, store } = logicWith([]);
  store.putSeeder(id20("x"), peer("a", "10.0.0.1", 1));
  store.putLeecher(id20("y"), peer("b", "2001:db8::1", 1));
  const params = parseURLData(new Uint8Array(0));
  const v4 = await logic.handleScrape(new Context(), {
    infoHashes: [id20("y"), id20("x")],
    family: 4,
    params,
  });
  assert.deepEqual(v4.files.map((f) => [f.complete, f.incomplete]), [[0, 0], [1, 0]]);
  const v6 = await logic.handleScrape(new Context(), { infoHashes: [id20("y")], family: 6, params });
  assert.deepEqual(v6.files.map((f) => [f.complete, f.incomplete]), [[0, 1]]);
  store.stop();
});

test("compact replies skip copying peer IDs unless a hook could read them", async () => {
  const run = async (hooks: Hook[]) => {
    const { logic, store } = logicWith(hooks);
    store.putLeecher(id20("ih"), peer("z", "10.0.0.9", 9));
    const resp = await logic.handleAnnounce(new Context(), announce());
    store.stop();
    return resp.ipv4Peers.get(0).id;
  };
  assert.deepEqual(await run([]), new Uint8Array(20));
  assert.deepEqual(await run([{ handleAnnounce: () => {} }]), id20("z"));
});
