/**
 * The metrics server after real HTTP and UDP traffic: chihaya's names, types,
 * labels and buckets parsed from a real `/metrics` scrape, hayate's counters,
 * health and readiness, and `/stats.json`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeBytes, id20 } from "../helpers/fixtures.ts";
import { parseExposition, startWithMetrics, udpExchange } from "../helpers/metrics.ts";
import { announcePacket, connectPacket, scrapePacket } from "../frontend/udp/packets.ts";
import { Counter, Histogram, Registry } from "../../src/metrics/registry.ts";
import { DURATION_BUCKETS, MAX_ERROR_LABELS, TrackerMetrics } from "../../src/metrics/metrics.ts";
import { ClientError } from "../../src/bittorrent/errors.ts";

const announceQuery = (ih: string, id: string, left = 1) =>
  `info_hash=${escapeBytes(id20(ih))}&peer_id=${
    escapeBytes(id20(id))
  }&port=6881&left=${left}&downloaded=0&uploaded=0`;

test("registry: text format of counters and histograms", () => {
  const reg = new Registry();
  const c = reg.add(new Counter("x_total", "An x.\nSecond line."));
  c.child({ a: 'q"uote\\' }).inc(2);
  const h = reg.add(new Histogram("h_ms", "H.", [1, 2]));
  h.child().observe(1);
  h.child().observe(5);
  assert.equal(
    reg.text(),
    [
      "# HELP x_total An x.\\nSecond line.",
      "# TYPE x_total counter",
      'x_total{a="q\\"uote\\\\"} 2',
      "# HELP h_ms H.",
      "# TYPE h_ms histogram",
      'h_ms_bucket{le="1"} 1',
      'h_ms_bucket{le="2"} 1',
      'h_ms_bucket{le="+Inf"} 2',
      "h_ms_sum 6",
      "h_ms_count 2",
      "",
    ].join("\n"),
  );
  assert.throws(() => reg.add(new Counter("x_total", "again")), /registered twice/);
});

test("metrics: chihaya's buckets, and error labels are capped", () => {
  assert.deepEqual(DURATION_BUCKETS, [9.375, 18.75, 37.5, 75, 150, 300, 600, 1200, 2400, 4800]);
  const m = new TrackerMetrics({ version: "t" });
  for (let i = 0; i < MAX_ERROR_LABELS * 2; i++) {
    m.observe("http", "announce", 4, new ClientError(`dyn ${i}`), 1);
  }
  const errors = new Set(
    parseExposition(m.text()).samples.filter((s) => s.name.startsWith("chihaya_http")).map((s) =>
      s.labels.error
    ),
  );
  assert.ok(errors.size <= MAX_ERROR_LABELS, `${errors.size} error labels`);
  assert.ok(errors.has("other client error"));
});

test("metrics server: names, types, labels and values after real traffic", async () => {
  const t = await startWithMetrics();
  try {
    // HTTP: two announces, a scrape, and a client error.
    for (const id of ["a", "b"]) {
      const r = await fetch(`${t.http()}/announce?${announceQuery("ih1", id, id === "a" ? 0 : 1)}`);
      await r.arrayBuffer();
    }
    await (await fetch(`${t.http()}/scrape?info_hash=${escapeBytes(id20("ih1"))}`)).arrayBuffer();
    await (await fetch(`${t.http()}/announce?info_hash=xyzzy`)).arrayBuffer();
    // UDP: connect, announce, scrape, a bad connection ID, a short packet (dropped).
    const port = t.udpPort();
    const conn = await udpExchange(port, connectPacket(7));
    assert.ok(conn !== null && conn.length === 16);
    const cid = conn.slice(8, 16);
    assert.ok(await udpExchange(port, announcePacket({ connectionID: cid, infoHash: id20("ih2") })));
    assert.ok(await udpExchange(port, scrapePacket(cid, [id20("ih2")])));
    assert.ok(await udpExchange(port, announcePacket({ connectionID: new Uint8Array(8) })));
    assert.equal(await udpExchange(port, new Uint8Array(10), 300), null);

    const res = await fetch(`${t.metricsURL()}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const { types, help, samples } = parseExposition(await res.text());
    const expectTypes: Record<string, string> = {
      chihaya_http_response_duration_milliseconds: "histogram",
      chihaya_udp_response_duration_milliseconds: "histogram",
      chihaya_storage_gc_duration_milliseconds: "histogram",
      chihaya_storage_infohashes_count: "gauge",
      chihaya_storage_seeders_count: "gauge",
      chihaya_storage_leechers_count: "gauge",
      hayate_requests_total: "counter",
      hayate_udp_connection_id_rejects_total: "counter",
      hayate_udp_dropped_packets_total: "counter",
      process_resident_memory_bytes: "gauge",
      hayate_heap_bytes: "gauge",
    };
    for (const [name, type] of Object.entries(expectTypes)) assert.equal(types.get(name), type, name);
    assert.equal(
      help.get("chihaya_http_response_duration_milliseconds"),
      "The duration of time it takes to receive and write a response to an API request",
    );
    const get = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) =>
        s.name === name && Object.keys(labels).length === Object.keys(s.labels).length &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      )?.value;

    // Label sets are chihaya's: action, address_family, error (+ le on buckets).
    for (const s of samples.filter((s) => s.name.startsWith("chihaya_") && s.name.includes("response"))) {
      const keys = Object.keys(s.labels).filter((k) => k !== "le").sort();
      assert.deepEqual(keys, ["action", "address_family", "error"], s.name);
    }
    const les = samples.filter((s) =>
      s.name === "chihaya_http_response_duration_milliseconds_bucket" && s.labels.action === "announce" &&
      s.labels.address_family === "IPv4" && s.labels.error === ""
    ).map((s) => s.labels.le);
    assert.deepEqual(les, [...DURATION_BUCKETS.map(String), "+Inf"]);
    const ok = { action: "announce", address_family: "IPv4", error: "" };
    assert.equal(get("chihaya_http_response_duration_milliseconds_count", ok), 2);
    assert.equal(
      get("chihaya_http_response_duration_milliseconds_count", { ...ok, action: "scrape" }),
      1,
    );
    assert.equal(
      get("chihaya_http_response_duration_milliseconds_count", {
        action: "announce",
        address_family: "Unknown",
        error: "provided invalid infohash",
      }),
      1,
    );
    assert.equal(get("chihaya_udp_response_duration_milliseconds_count", { ...ok, action: "connect" }), 1);
    assert.equal(get("chihaya_udp_response_duration_milliseconds_count", ok), 1);
    assert.equal(get("chihaya_udp_response_duration_milliseconds_count", { ...ok, action: "scrape" }), 1);
    assert.equal(
      get("chihaya_udp_response_duration_milliseconds_count", {
        ...ok,
        action: "",
        error: "bad connection ID",
      }),
      1,
    );
    assert.equal(get("hayate_udp_connection_id_rejects_total"), 1);
    assert.equal(get("hayate_udp_dropped_packets_total", { reason: "short packet" }), 1);
    assert.equal(get("hayate_requests_total", { protocol: "http", action: "announce", result: "ok" }), 2);
    assert.equal(
      get("hayate_requests_total", { protocol: "http", action: "announce", result: "client_error" }),
      1,
    );
    assert.equal(get("hayate_requests_total", { protocol: "udp", action: "", result: "dropped" }), 1);
    assert.equal(get("chihaya_storage_infohashes_count"), 2);
    assert.equal(get("chihaya_storage_seeders_count"), 1);
    assert.equal(get("chihaya_storage_leechers_count"), 2);
    assert.ok(get("process_resident_memory_bytes")! > 1_000_000);

    // No request data in any label value.
    for (const s of samples) {
      for (const v of Object.values(s.labels)) assert.doesNotMatch(v, /ih1|ih2|127\.0\.0\.1|xyzzy/);
    }

    assert.equal((await fetch(`${t.metricsURL()}/healthz`)).status, 200);
    const ready = await fetch(`${t.metricsURL()}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), "ready\n");
    assert.equal((await fetch(`${t.metricsURL()}/`)).status, 404);
    const stats = await (await fetch(`${t.metricsURL()}/stats.json`)).json();
    assert.equal(stats.torrents, 2);
    assert.equal(stats.seeders, 1);
    assert.equal(stats.leechers, 2);
    assert.equal(stats.version, "9.9.9-test");
    assert.equal(stats.topSwarms[0].seeders + stats.topSwarms[0].leechers, 2);
    assert.ok(stats.requests.http >= 4 && stats.requests.udp >= 5);
  } finally {
    await t.stop();
  }
});

test("metrics server: off when metrics_addr is empty; /readyz is 503 once the store stops", async () => {
  const off = await startWithMetrics({ metricsAddr: "" });
  assert.equal(off.tracker.address("metrics"), undefined);
  await off.stop();

  const t = await startWithMetrics();
  const url = t.metricsURL();
  await t.tracker.store.stop();
  try {
    const r = await fetch(`${url}/readyz`);
    assert.equal(r.status, 503);
    await r.body?.cancel();
  } finally {
    t.metrics.stopSampling();
    await t.tracker.stop(true);
  }
});
