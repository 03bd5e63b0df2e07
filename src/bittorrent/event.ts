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

/**
 * Parses an HTTP `event` value case-insensitively: `""`/`none`, `started`,
 * `stopped`, `completed`. Throws {@link ErrUnknownEvent} otherwise.
 *
 * @example
 * ```ts
 * parseEvent("STARTED"); // Event.Started
 * ```
 */
export function parseEvent(name: string): Event {
  switch (name.toLowerCase()) {
    case "":
    case "none":
      return Event.None;
    case "started":
      return Event.Started;
    case "stopped":
      return Event.Stopped;
    case "completed":
      return Event.Completed;
  }
  throw ErrUnknownEvent;
}
