/**
 * Announce events. The numbers are BEP 15's, so the UDP frontend maps wire values
 * directly.
 *
 * @module
 */
import { ClientError } from "./errors.ts";

/** What a client reports with an announce. */
export enum Event {
  None = 0,
  Completed = 1,
  Started = 2,
  Stopped = 3,
}

/** chihaya's error for an event name it does not know. */
export const ErrUnknownEvent = new ClientError("unknown event");

/** The HTTP event names, lower case, and what they mean. */
const NAMES: readonly (readonly [string, Event])[] = [
  ["", Event.None],
  ["none", Event.None],
  ["started", Event.Started],
  ["stopped", Event.Stopped],
  ["completed", Event.Completed],
];

/**
 * Parses an HTTP `event` value (its raw bytes) case-insensitively: empty or
 * `none`, `started`, `stopped`, `completed`. Throws {@link ErrUnknownEvent}
 * otherwise. The names are ASCII letters, so no text decoding is needed: only an
 * ASCII capital folds onto a lower-case letter under `| 0x20`.
 *
 * @example
 * ```ts
 * parseEvent(new TextEncoder().encode("STARTED")); // Event.Started
 * ```
 */
export function parseEvent(value: Uint8Array): Event {
  const event = eventIn(value, 0, value.length);
  if (event === -1) throw ErrUnknownEvent;
  return event;
}

/**
 * {@link parseEvent} of `b[from, to)`, without a view of it; -1 for an unknown name.
 *
 * @example
 * ```ts
 * eventIn(new TextEncoder().encode("event=started"), 6, 13); // Event.Started
 * ```
 */
export function eventIn(b: Uint8Array, from: number, to: number): Event | -1 {
  names: for (let k = 0; k < NAMES.length; k++) {
    const [name, event] = NAMES[k];
    if (to - from !== name.length) continue;
    for (let i = 0; i < name.length; i++) if ((b[from + i] | 0x20) !== name.charCodeAt(i)) continue names;
    return event;
  }
  return -1;
}
