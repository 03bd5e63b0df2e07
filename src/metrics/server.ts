/**
 * The metrics server's routes, as a runtime-neutral fetch handler:
 *
 * - `/metrics`: Prometheus text format;
 * - `/healthz`: liveness (200 while the process serves);
 * - `/readyz`: readiness, `store.ready()` (503 when storage is unreachable);
 * - `/stats`: an HTML page for people (one file, no external assets);
 * - `/stats.json`: the same numbers.
 *
 * @module
 */
import type { PeerStore, StoreStats, SwarmSummary } from "../storage/store.ts";
import type { TrackerMetrics } from "./metrics.ts";
import { CONTENT_TYPE } from "./registry.ts";
import { renderStats } from "./stats_page.ts";

/** What `/stats.json` answers. */
export interface StatsSnapshot {
  version: string;
  /** Unix ms. */
  startedAt: number;
  uptimeSeconds: number;
  torrents: number;
  seeders: number;
  leechers: number;
  requests: { http: number; udp: number };
  udpRejects: { connectionID: number; dropped: number };
  /** Requests per second by protocol, oldest first, one point per `intervalSeconds`. */
  rate: { intervalSeconds: number; at: number[]; http: number[]; udp: number[] };
  /** The largest swarms by peer count (empty when the store cannot list swarms). */
  topSwarms: { infoHash: string; family: string; seeders: number; leechers: number; downloaded: number }[];
}

/** Options of {@link metricsHandler}. */
export interface MetricsServerOptions {
  metrics: TrackerMetrics;
  store: PeerStore;
  /** The rate sampling interval (for the chart's units). */
  sampleIntervalMs?: number;
  /** How many swarms the stats list; default 10. */
  topSwarms?: number;
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** The `n` largest swarms, walking the store's listing and yielding to the event loop between batches. */
async function topSwarms(store: PeerStore, n: number): Promise<SwarmSummary[]> {
  if (store.swarms === undefined || n <= 0) return [];
  const top: SwarmSummary[] = [];
  const size = (s: SwarmSummary) => s.complete + s.incomplete;
  for await (const batch of store.swarms(undefined, 4096)) {
    for (const s of batch) {
      if (top.length === n && size(s) <= size(top[n - 1])) continue;
      top.push(s);
      top.sort((a, b) => size(b) - size(a));
      if (top.length > n) top.pop();
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  return top;
}

/**
 * Builds the handler.
 *
 * @example
 * ```ts
 * const handler = metricsHandler({ metrics, store });
 * await handler(new Request("http://x/metrics"));
 * ```
 */
export function metricsHandler(opts: MetricsServerOptions): (req: Request) => Promise<Response> {
  const { metrics, store } = opts;
  const interval = opts.sampleIntervalMs ?? 10_000;
  const refresh = async (): Promise<StoreStats> => {
    const stats = await store.stats();
    metrics.setStoreStats(stats);
    return stats;
  };
  let cached: { at: number; value: StatsSnapshot } | undefined;
  const snapshot = async (): Promise<StatsSnapshot> => {
    const now = Date.now();
    // Listing swarms walks the whole store: at most once a second, however often the page is loaded.
    if (cached !== undefined && now - cached.at < 1000) return cached.value;
    const stats = await refresh();
    const samples = metrics.rateSamples;
    const perSecond = (n: number) => Math.round((n / (interval / 1000)) * 100) / 100;
    const value: StatsSnapshot = {
      version: metrics.version,
      startedAt: metrics.startedAt,
      uptimeSeconds: Math.floor((now - metrics.startedAt) / 1000),
      torrents: stats.swarms,
      seeders: stats.seeders,
      leechers: stats.leechers,
      requests: metrics.requestTotals,
      udpRejects: metrics.udpRejects,
      rate: {
        intervalSeconds: interval / 1000,
        at: samples.map((s) => s.at),
        http: samples.map((s) => perSecond(s.http)),
        udp: samples.map((s) => perSecond(s.udp)),
      },
      topSwarms: (await topSwarms(store, opts.topSwarms ?? 10)).map((s) => ({
        infoHash: hex(s.infoHash),
        family: s.family === 4 ? "IPv4" : "IPv6",
        seeders: s.complete,
        leechers: s.incomplete,
        downloaded: s.downloaded,
      })),
    };
    cached = { at: now, value };
    return value;
  };
  return async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    switch (path) {
      case "/metrics":
        try {
          await refresh();
        } catch {
          // Storage unreachable: serve the last totals; /readyz tells.
        }
        return new Response(metrics.text(), { headers: { "content-type": CONTENT_TYPE } });
      case "/healthz":
        return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
      case "/readyz": {
        let ready = false;
        try {
          ready = await store.ready();
        } catch {
          ready = false;
        }
        return new Response(ready ? "ready\n" : "storage not ready\n", {
          status: ready ? 200 : 503,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      }
      case "/stats":
        return new Response(renderStats(await snapshot()), {
          headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
        });
      case "/stats.json":
        return new Response(JSON.stringify(await snapshot(), null, 2) + "\n", {
          headers: { "content-type": "application/json", "cache-control": "no-store" },
        });
      default:
        return new Response("404 page not found\n", { status: 404 });
    }
  };
}
