/**
 * Values that may or may not be a Promise. The memory store and the built-in hooks
 * answer synchronously, so an announce through them never waits on a microtask;
 * stores such as Redis answer later. {@link then} serves both with one code path.
 *
 * @module
 */

/** A value, or a promise of one. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Applies `fn` now when `value` is ready, or when it resolves.
 *
 * @example
 * ```ts
 * then(store.scrapeSwarm(ih, 4), (s) => s.complete);
 * ```
 */
export function then<T, R>(value: MaybePromise<T>, fn: (v: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}
