/**
 * The tracker's metrics: chihaya's series (same names, types, labels and buckets,
 * so existing dashboards keep working) and hayate's own counters. One instance
 * lives for the whole process, across config reloads.
 *
 * Recording is allocation-free: every series a request can hit is bound once and
 * found by array index (action × family × error slot). Error labels are static:
 * a ClientError's message (the tracker's are constants), `internal error`, or a
 * drop reason; after {@link MAX_ERROR_LABELS} distinct messages the rest share
 * `other client error`, so a hook that put request data in a message could not
 * grow the series without bound.
 *
 * @module
 */
import { isClientError } from "../bittorrent/errors.ts";
import type { StoreStats } from "../storage/store.ts";
import { Counter, exponentialBuckets, Gauge, Histogram, type HistogramChild, Registry } from "./registry.ts";

/** A frontend protocol, as metrics label it. */
export type Protocol = "http" | "udp";

/** 4, 6, or 0 when the request failed before its address family was known. */
export type FamilyCode = 0 | 4 | 6;

/**
 * What a frontend calls once per answered (or dropped) request. `error` is
 * undefined on success, the thrown error otherwise (ClientError or internal), or a
 * {@link DropReason} when nothing was sent.
 */
export type RequestObserver = (
  protocol: Protocol,
  action: string,
  family: FamilyCode,
  error: unknown,
  ms: number,
) => void;

/** Why a UDP packet got no reply. */
export type DropReason = "short packet" | "bad connect magic" | "amplification limit";

const DROP_REASONS: readonly DropReason[] = ["short packet", "bad connect magic", "amplification limit"];

/** Distinct error labels per histogram before the rest become `other client error`. */
export const MAX_ERROR_LABELS = 64;

/** chihaya's `ExponentialBuckets(9.375, 2, 10)`: 9.375 … 4800 ms. */
export const DURATION_BUCKETS: readonly number[] = exponentialBuckets(9.375, 2, 10);

const RESPONSE_HELP = "The duration of time it takes to receive and write a response to an API request";
const ACTIONS: Record<Protocol, readonly string[]> = {
  http: ["announce", "scrape"],
  udp: ["connect", "announce", "scrape", ""],
};
const FAMILIES = ["Unknown", "IPv4", "IPv6"] as const;
const RESULTS = ["ok", "client_error", "internal_error", "dropped"] as const;
const OTHER = "other client error";
const OK = 0, CLIENT = 1, INTERNAL = 2, DROPPED = 3;

function familyIndex(f: FamilyCode): number {
  return f === 4 ? 1 : f === 6 ? 2 : 0;
}

/** Process memory as `Deno.memoryUsage()` / Node's `process.memoryUsage()` report it. */
export interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** What the metrics read besides what frontends report. */
export interface MetricsOptions {
  version: string;
  /** Process memory, read at scrape time; omitted series when absent. */
  memory?: () => MemoryUsage;
  /** Milliseconds since the epoch; `Date.now` when omitted. */
  now?: () => number;
}

/** Requests counted in one rate sample. */
export interface RateSample {
  /** Unix ms at the end of the sample. */
  at: number;
  http: number;
  udp: number;
}

class ProtocolSeries {
  readonly errorSlots = new Map<string, number>([["", 0], [OTHER, 1]]);
  readonly errorNames: string[] = ["", OTHER];
  /** Histogram children by (error slot × actions + action) × 3 + family. */
  readonly children: (HistogramChild | undefined)[] = [];
  /** requests_total children by action × 4 + result. */
  readonly requests: { inc(by?: number): void; readonly value: number }[] = [];
  total = 0;

  constructor(
    readonly protocol: Protocol,
    readonly histogram: Histogram,
    counter: Counter,
  ) {
    const actions = ACTIONS[protocol];
    for (const action of actions) {
      for (const result of RESULTS) this.requests.push(counter.child({ protocol, action, result }));
      // Success series exist from the start, so dashboards see zeros, not gaps.
      if (action !== "") { for (let f = 1; f < 3; f++) this.series(0, actions.indexOf(action), f); }
    }
  }

  actionIndex(action: string): number {
    const list = ACTIONS[this.protocol];
    const i = list.indexOf(action);
    return i < 0 ? list.length - 1 : i;
  }

  errorSlot(label: string): number {
    let slot = this.errorSlots.get(label);
    if (slot !== undefined) return slot;
    if (this.errorNames.length >= MAX_ERROR_LABELS) return 1;
    slot = this.errorNames.length;
    this.errorNames.push(label);
    this.errorSlots.set(label, slot);
    return slot;
  }

  series(errorSlot: number, action: number, family: number): HistogramChild {
    const n = ACTIONS[this.protocol].length;
    const i = (errorSlot * n + action) * 3 + family;
    let c = this.children[i];
    if (c === undefined) {
      c = this.histogram.child({
        action: ACTIONS[this.protocol][action],
        address_family: FAMILIES[family],
        error: this.errorNames[errorSlot],
      });
      this.children[i] = c;
    }
    return c;
  }
}

/**
 * The process-wide metrics.
 *
 * @example
 * ```ts
 * const metrics = new TrackerMetrics({ version: "0.1.0" });
 * metrics.observe("http", "announce", 4, undefined, 1.2);
 * metrics.text(); // Prometheus text format
 * ```
 */
export class TrackerMetrics {
  readonly registry = new Registry();
  private readonly http: ProtocolSeries;
  private readonly udp: ProtocolSeries;
  private readonly gc: HistogramChild;
  private readonly connectionIDRejects;
  private readonly drops: { inc(by?: number): void; readonly value: number }[];
  private stats: StoreStats = { swarms: 0, seeders: 0, leechers: 0 };
  private readonly now: () => number;
  /** Unix ms when these metrics were created (the process start, for uptime). */
  readonly startedAt: number;
  private readonly samples: RateSample[] = [];
  private lastTotals = { http: 0, udp: 0, at: 0 };
  private sampler: ReturnType<typeof setInterval> | undefined;

  /** `observe` bound to this instance, to hand to frontends. */
  readonly observe: RequestObserver = (protocol, action, family, error, ms) =>
    this.record(protocol, action, family, error, ms);

  constructor(private readonly opts: MetricsOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    const reg = this.registry;
    const requests = new Counter(
      "hayate_requests_total",
      "Requests answered, by protocol, action and result (ok, client_error, internal_error, dropped)",
    );
    this.http = new ProtocolSeries(
      "http",
      reg.add(new Histogram("chihaya_http_response_duration_milliseconds", RESPONSE_HELP, DURATION_BUCKETS)),
      requests,
    );
    this.udp = new ProtocolSeries(
      "udp",
      reg.add(new Histogram("chihaya_udp_response_duration_milliseconds", RESPONSE_HELP, DURATION_BUCKETS)),
      requests,
    );
    this.gc = reg.add(
      new Histogram(
        "chihaya_storage_gc_duration_milliseconds",
        "The time it takes to perform storage garbage collection",
        DURATION_BUCKETS,
      ),
    ).child();
    reg.add(
      new Gauge(
        "chihaya_storage_infohashes_count",
        "The number of Infohashes tracked",
        () => [[{}, this.stats.swarms]],
      ),
    );
    reg.add(
      new Gauge(
        "chihaya_storage_seeders_count",
        "The number of seeders tracked",
        () => [[{}, this.stats.seeders]],
      ),
    );
    reg.add(
      new Gauge(
        "chihaya_storage_leechers_count",
        "The number of leechers tracked",
        () => [[{}, this.stats.leechers]],
      ),
    );
    reg.add(requests);
    this.connectionIDRejects = reg.add(
      new Counter(
        "hayate_udp_connection_id_rejects_total",
        "UDP packets refused because their connection ID was not valid for the source",
      ),
    ).child();
    const dropped = reg.add(
      new Counter("hayate_udp_dropped_packets_total", "UDP packets that got no reply, by reason"),
    );
    this.drops = DROP_REASONS.map((reason) => dropped.child({ reason }));
    reg.add(new Gauge("hayate_build_info", "The running version", () => [[{ version: opts.version }, 1]]));
    reg.add(
      new Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds", () => [
        [{}, Math.floor(this.startedAt / 1000)],
      ]),
    );
    const memory = opts.memory;
    if (memory !== undefined) {
      reg.add(
        new Gauge(
          "process_resident_memory_bytes",
          "Resident memory size in bytes",
          () => [[{}, memory().rss]],
        ),
      );
      reg.add(
        new Gauge("hayate_heap_bytes", "JavaScript heap, by kind (used, total, external)", () => {
          const m = memory();
          return [[{ kind: "used" }, m.heapUsed], [{ kind: "total" }, m.heapTotal], [
            { kind: "external" },
            m
              .external,
          ]];
        }),
      );
    }
  }

  private record(protocol: Protocol, action: string, family: FamilyCode, error: unknown, ms: number): void {
    const p = protocol === "http" ? this.http : this.udp;
    p.total++;
    const a = p.actionIndex(action);
    let result = OK;
    let slot = 0;
    if (error !== undefined && error !== null) {
      if (typeof error === "string") {
        // A drop reason: the packet got no reply.
        result = DROPPED;
        const d = DROP_REASONS.indexOf(error as DropReason);
        if (d >= 0) this.drops[d].inc();
        slot = p.errorSlot(d >= 0 ? `dropped: ${error}` : "dropped");
      } else if (isClientError(error)) {
        result = CLIENT;
        if (error.message === "bad connection ID") this.connectionIDRejects.inc();
        slot = error.message.length <= 80 ? p.errorSlot(error.message) : 1;
      } else {
        result = INTERNAL;
        slot = p.errorSlot("internal error");
      }
    }
    p.requests[a * 4 + result].inc();
    p.series(slot, a, familyIndex(family)).observe(ms);
  }

  /** Records one storage GC sweep. */
  observeGC(ms: number): void {
    this.gc.observe(ms);
  }

  /** Sets the storage gauges (read from `store.stats()` before each scrape). */
  setStoreStats(stats: StoreStats): void {
    this.stats = stats;
  }

  /** The last storage totals set. */
  get storeStats(): StoreStats {
    return this.stats;
  }

  /** Requests recorded so far, by protocol. */
  get requestTotals(): { http: number; udp: number } {
    return { http: this.http.total, udp: this.udp.total };
  }

  /** Connection-ID rejects and drops so far, for the stats page. */
  get udpRejects(): { connectionID: number; dropped: number } {
    return {
      connectionID: this.connectionIDRejects.value,
      dropped: this.drops.reduce((n, d) => n + d.value, 0),
    };
  }

  /** The Prometheus text exposition. */
  text(): string {
    return this.registry.text();
  }

  /**
   * Starts sampling request counts every `intervalMs` (for the stats chart),
   * keeping `keep` samples. Call {@link stopSampling} to release the timer.
   */
  startSampling(intervalMs = 10_000, keep = 90): void {
    this.stopSampling();
    this.lastTotals = { ...this.requestTotals, at: this.now() };
    this.sampler = setInterval(() => this.sample(keep), intervalMs);
  }

  /** Takes one rate sample now (the timer calls it; tests may too). */
  sample(keep = 90): void {
    const t = this.requestTotals;
    const at = this.now();
    this.samples.push({ at, http: t.http - this.lastTotals.http, udp: t.udp - this.lastTotals.udp });
    if (this.samples.length > keep) this.samples.splice(0, this.samples.length - keep);
    this.lastTotals = { ...t, at };
  }

  stopSampling(): void {
    clearInterval(this.sampler);
    this.sampler = undefined;
  }

  /** Rate samples, oldest first: requests counted in each interval. */
  get rateSamples(): readonly RateSample[] {
    return this.samples;
  }

  get version(): string {
    return this.opts.version;
  }
}
