/**
 * How a frontend tells another that it is busy, so that they can share the one JS
 * thread: the UDP transport keeps the thread for several batches in a row only
 * while the HTTP frontend has been idle for a while.
 *
 * @module
 */

/**
 * Counts requests and says when none has come for `quietMs` milliseconds. The
 * count is compared at each {@link quiet} call, so a request is noticed at the
 * next call, which is often enough for a caller that asks once per batch.
 *
 * @example
 * ```ts
 * const http = new Activity(100);
 * http.mark(); // per HTTP request
 * if (http.quiet()) drainAnotherBatch();
 * ```
 */
export class Activity {
  private marks = 0;
  private seen = 0;
  private seenAt = -Infinity;

  constructor(
    private readonly quietMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts one request. */
  mark(): void {
    this.marks++;
  }

  /** True when no request was marked since the calls of the last `quietMs`. */
  quiet(): boolean {
    const now = this.now();
    if (this.marks !== this.seen) {
      this.seen = this.marks;
      this.seenAt = now;
    }
    return now - this.seenAt >= this.quietMs;
  }
}
