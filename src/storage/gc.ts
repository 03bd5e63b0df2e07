/**
 * How stores run garbage collection: one sweep at a time (a call made while one
 * runs shares it), the next one `interval` after the previous one ended, each
 * timed for the `chihaya_storage_gc_duration_milliseconds` histogram.
 *
 * @module
 */

/** What one garbage-collection sweep did. */
export interface GCResult {
  durationMs: number;
  peersRemoved: number;
  swarmsRemoved: number;
}

/**
 * Sweeps on a timer, and on demand.
 *
 * @example
 * ```ts
 * const gc = new SweepSchedule(180_000, () => store.sweep(), { onResult, onError: console.error });
 * gc.start();
 * await gc.run(); // a sweep now
 * await gc.stop();
 * ```
 */
export class SweepSchedule {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<GCResult> | undefined;
  private stopped = false;

  constructor(
    private readonly interval: number,
    private readonly sweep: () => Promise<Omit<GCResult, "durationMs">>,
    private readonly on: { onResult?: (r: GCResult) => void; onError?: (err: unknown) => void } = {},
  ) {}

  /** Starts the timer: the first sweep comes one interval from now. */
  start(): void {
    if (this.timer === undefined) this.schedule();
  }

  /** Sweeps now, or joins the sweep under way. */
  run(): Promise<GCResult> {
    this.running ??= (async () => {
      const started = performance.now();
      const counts = await this.sweep();
      const result = { durationMs: performance.now() - started, ...counts };
      this.on.onResult?.(result);
      return result;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.run().catch((err) => this.on.onError?.(err)).finally(() => this.schedule());
    }, this.interval);
  }

  /** No more sweeps; resolves when the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }
}
