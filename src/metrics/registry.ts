/**
 * A small Prometheus text-format (0.0.4) writer: counters, gauges and histograms
 * whose label sets are bound once, up front, so recording a value is an array
 * write with no allocation and no label hashing. Chosen over prom-client because
 * the hot paths need only that, `labels({...})` in prom-client builds and hashes a
 * label key per call unless every child is pre-bound anyway, and a dependency-free
 * writer keeps `src/` runtime-neutral.
 *
 * @module
 */

/** One label set, written once as `{a="x",b="y"}`. */
export type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** `{a="x"}` for a label set (empty string for none); `extra` is appended (for `le`). */
export function formatLabels(labels: Labels, extra = ""): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra !== "") parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Anything the registry can expose. */
export interface Metric {
  readonly name: string;
  /** Appends the metric's HELP, TYPE and samples. */
  write(out: string[]): void;
}

/**
 * A monotonically growing count; `child(labels)` binds a label set once.
 *
 * @example
 * ```ts
 * const c = new Counter("requests_total", "Requests.");
 * const ok = c.child({ result: "ok" });
 * ok.inc();
 * ```
 */
export class Counter implements Metric {
  private readonly children: { labels: string; value: number }[] = [];
  private readonly byKey = new Map<string, { labels: string; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  /** The counter of `labels` (created at 0 and exposed from then on). Bind once, not per request. */
  child(labels: Labels = {}): { inc(by?: number): void; readonly value: number } {
    const key = formatLabels(labels);
    let c = this.byKey.get(key);
    if (c === undefined) {
      c = { labels: key, value: 0 };
      this.byKey.set(key, c);
      this.children.push(c);
    }
    const cell = c;
    return {
      inc: (by = 1) => {
        cell.value += by;
      },
      get value() {
        return cell.value;
      },
    };
  }

  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`);
    for (const c of this.children) out.push(`${this.name}${c.labels} ${formatValue(c.value)}`);
  }
}

/**
 * A value read when scraped (`collect`) or set directly.
 *
 * @example
 * ```ts
 * const g = new Gauge("swarms", "Swarms.", () => [[{}, store.size]]);
 * ```
 */
export class Gauge implements Metric {
  private readonly fixed = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: () => [Labels, number][],
  ) {}

  set(value: number, labels: Labels = {}): void {
    this.fixed.set(formatLabels(labels), value);
  }

  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} gauge`);
    for (const [labels, v] of this.fixed) out.push(`${this.name}${labels} ${formatValue(v)}`);
    if (this.collect === undefined) return;
    for (const [labels, v] of this.collect()) {
      out.push(`${this.name}${formatLabels(labels)} ${formatValue(v)}`);
    }
  }
}

/**
 * `ExponentialBuckets(start, factor, count)` as in Go's Prometheus client.
 *
 * @example
 * ```ts
 * exponentialBuckets(9.375, 2, 10); // [9.375, 18.75, ..., 4800]
 * ```
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}

/** One bound histogram series. */
export class HistogramChild {
  /** Non-cumulative counts per bucket; the last cell is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/**
 * A histogram with fixed buckets; `child(labels)` binds a series once.
 *
 * @example
 * ```ts
 * const h = new Histogram("gc_ms", "GC time.", exponentialBuckets(9.375, 2, 10));
 * h.child().observe(12);
 * ```
 */
export class Histogram implements Metric {
  private readonly children: HistogramChild[] = [];
  private readonly byKey = new Map<string, HistogramChild>();

  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  child(labels: Labels = {}): HistogramChild {
    const key = formatLabels(labels);
    let c = this.byKey.get(key);
    if (c === undefined) {
      c = new HistogramChild(labels, this.buckets);
      this.byKey.set(key, c);
      this.children.push(c);
    }
    return c;
  }

  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`);
    for (const c of this.children) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += c.counts[i];
        const le = i < this.buckets.length ? formatValue(this.buckets[i]) : "+Inf";
        out.push(`${this.name}_bucket${formatLabels(c.labels, `le="${le}"`)} ${cumulative}`);
      }
      const labels = formatLabels(c.labels);
      out.push(`${this.name}_sum${labels} ${formatValue(c.sum)}`, `${this.name}_count${labels} ${c.count}`);
    }
  }
}

/**
 * The metrics one `/metrics` page shows, in registration order.
 *
 * @example
 * ```ts
 * const reg = new Registry();
 * const c = reg.add(new Counter("x_total", "X."));
 * reg.text(); // "# HELP x_total X.\n# TYPE x_total counter\n"
 * ```
 */
export class Registry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }

  /** The exposition text (`text/plain; version=0.0.4`). */
  text(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.write(out);
    return out.join("\n") + "\n";
  }
}

/** The content type of {@link Registry.text}. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
