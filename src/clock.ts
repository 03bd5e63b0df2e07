/**
 * A coarse clock: whole seconds, read from a field that a timer refreshes, so hot
 * paths never call Date.now(). Stores stamp peers with it.
 *
 * @module
 */

/** Something that tells the time in whole Unix seconds. */
export interface Clock {
  now(): number;
}

/**
 * A clock refreshed every `resolutionMs` by a timer. Call {@link stop} to release
 * the timer.
 *
 * @example
 * ```ts
 * const clock = new CoarseClock();
 * clock.now(); // e.g. 1764576000
 * clock.stop();
 * ```
 */
export class CoarseClock implements Clock {
  private seconds = Math.floor(Date.now() / 1000);
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(resolutionMs = 250) {
    this.timer = setInterval(() => {
      this.seconds = Math.floor(Date.now() / 1000);
    }, resolutionMs);
  }

  now(): number {
    return this.seconds;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A clock that moves only when told to, for tests. */
export class ManualClock implements Clock {
  constructor(public seconds = 1_700_000_000) {}
  now(): number {
    return this.seconds;
  }
  advance(seconds: number): void {
    this.seconds += seconds;
  }
}
