/**
 * Full scrape (`allow_full_scrape`): off by default, every swarm of the client's
 * family when on, streamed lazily batch by batch, gzip when accepted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode } from "../../../src/bittorrent/bencode.ts";
import { acceptsGzip } from "../../../src/frontend/http/full_scrape.ts";
import { HTTPFrontend } from "../../../src/frontend/http/frontend.ts";
import { silentLogger } from "../../../src/log.ts";
import { Logic } from "../../../src/middleware/logic.ts";
import type { SwarmSummary } from "../../../src/storage/store.ts";
import { memoryStore, peer } from "../../helpers/fixtures.ts";
import { httpConfig, startTracker, testConfig } from "../../helpers/tracker.ts";

function ih(i: number): Uint8Array {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(0, i);
  b[19] = 0xaa;
  return b;
}

function setup(swarms: number) {
  const { store } = memoryStore();
  for (let i = 0; i < swarms; i++) store.putLeecher(ih(i), peer("p", "10.0.0.1", 1000 + (i % 1000)));
  store.putSeeder(ih(0), peer("s", "10.0.0.2", 1));
  store.putSeeder(ih(1), peer("six", "2001:db8::1", 1)); // IPv6: not in an IPv4 client's full scrape
  let batches = 0;
  const lister = (family: 4 | 6) => {
    const it = store.swarms(family);
    return (async function* () {
      for await (const b of it) {
        batches++;
        yield b;
      }
    })();
  };
  const logic = new Logic({
    announceInterval: 60_000,
    minAnnounceInterval: 0,
    store,
    prehooks: [],
    posthooks: [],
    log: silentLogger,
  });
  const http = new HTTPFrontend({ ...httpConfig(), logic, log: silentLogger, fullScrape: lister });
  return { store, http, batches: () => batches };
}

test("acceptsGzip reads Accept-Encoding", () => {
  assert.equal(acceptsGzip(null), false);
  assert.equal(acceptsGzip("gzip, deflate, br"), true);
  assert.equal(acceptsGzip("br;q=1.0, gzip;q=0"), false);
  assert.equal(acceptsGzip("identity"), false);
  assert.equal(acceptsGzip("*"), true);
});

test("memory store swarms(): every swarm once, per family, in batches", async () => {
  const { store } = setup(5000);
  const seen = new Set<string>();
  let batches = 0;
  for await (const b of store.swarms(4, 512)) {
    batches++;
    assert.ok(b.length <= 512);
    for (const s of b) {
      assert.equal(s.family, 4);
      seen.add(s.infoHash.join(","));
    }
  }
  assert.equal(seen.size, 5000);
  assert.ok(batches >= 10);
  const v6: SwarmSummary[] = [];
  for await (const b of store.swarms(6)) v6.push(...b);
  assert.deepEqual(v6.map((s) => [s.complete, s.incomplete]), [[1, 0]]);
  let both = 0;
  for await (const b of store.swarms()) both += b.length;
  assert.equal(both, 5001);
  store.stop();
});

test("full scrape of 100k swarms streams lazily with bounded chunks", async () => {
  const { store, http, batches } = setup(100_000);
  try {
    const res = await http.fetch(new Request("http://t/scrape"), "127.0.0.1");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-encoding"), null);
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) chunks.push((await reader.read()).value!);
    // Pulled on demand: three chunks read means only a few batches were listed.
    assert.ok(batches() <= 4, `${batches()} batches listed after 3 chunks`);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    const biggest = Math.max(...chunks.map((c) => c.length));
    assert.ok(biggest < 128 * 1024, `largest chunk ${biggest} bytes`);
    assert.ok(chunks.length > 90, `${chunks.length} chunks`);
    const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
    const files = (decode(body) as { files: Map<string, unknown> | Record<string, unknown> }).files;
    const entries = files instanceof Map ? [...files.values()] : Object.values(files);
    assert.equal(entries.length, 100_000);
    const first = entries.find((f) => (f as Record<string, number>).complete === 1) as Record<string, number>;
    assert.deepEqual({ ...first }, { complete: 1, downloaded: 0, incomplete: 1 });
  } finally {
    store.stop();
  }
});

test("full scrape is gzip-compressed when the client accepts it", async () => {
  const { store, http } = setup(2000);
  try {
    const res = await http.fetch(
      new Request("http://t/scrape", { headers: { "accept-encoding": "gzip" } }),
      "127.0.0.1",
    );
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const plain = new Uint8Array(
      await new Response(res.body!.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
    );
    const files = (decode(plain) as { files: Record<string, unknown> }).files;
    assert.equal(files instanceof Map ? files.size : Object.keys(files).length, 2000);
  } finally {
    store.stop();
  }
});

test("full scrape: off by default, on with allow_full_scrape over a real socket", async () => {
  const off = await startTracker(testConfig({ http: httpConfig() }));
  try {
    const body = new TextDecoder().decode(
      new Uint8Array(await (await fetch(`${off.url()}/scrape`)).arrayBuffer()),
    );
    assert.match(body, /no info_hash parameter supplied/);
  } finally {
    await off.stop();
  }
  const on = await startTracker(testConfig({ http: httpConfig({ allowFullScrape: true }) }));
  try {
    on.tracker.store.putSeeder(ih(7), peer("s", "127.0.0.1", 1));
    const res = await fetch(`${on.url()}/scrape`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const d = decode(new Uint8Array(await res.arrayBuffer())) as { files: Record<string, unknown> };
    assert.equal(d.files instanceof Map ? d.files.size : Object.keys(d.files).length, 1);
  } finally {
    await on.stop();
  }
});
