/**
 * Structured logging to a sink (stderr in main.ts): text lines for people, JSON
 * lines with `--json`. Debug lines are dropped unless enabled. Callers must never
 * pass secrets as fields; {@link redact} exists for config dumps.
 *
 * @module
 */

/** Log severities, lowest first. */
export type Level = "debug" | "info" | "warn" | "error";

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const COLOR: Record<Level, string> = {
  debug: "\x1b[90m",
  info: "\x1b[32m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/** How a logger writes. */
export interface LoggerOptions {
  json?: boolean;
  debug?: boolean;
  colors?: boolean;
  /** Receives one finished line, without the newline. */
  sink: (line: string) => void;
}

/**
 * A leveled logger.
 *
 * @example
 * ```ts
 * const log = new Logger({ sink: console.error });
 * log.info("tracker started", { http: "0.0.0.0:6969" });
 * ```
 */
export class Logger {
  constructor(private readonly opts: LoggerOptions) {}

  /** True when debug lines are written; check it before building costly fields. */
  get debugEnabled(): boolean {
    return this.opts.debug === true;
  }

  log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] < (this.opts.debug ? 0 : 1)) return;
    const time = new Date().toISOString();
    if (this.opts.json) {
      this.opts.sink(JSON.stringify({ time, level, msg, ...fields }, jsonSafe));
      return;
    }
    let line = this.opts.colors
      ? `${time} ${COLOR[level]}${level.toUpperCase()}\x1b[0m ${msg}`
      : `${time} ${level.toUpperCase()} ${msg}`;
    for (const [k, v] of Object.entries(fields)) {
      const text = typeof v === "string" ? v : JSON.stringify(v, jsonSafe);
      line += ` ${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
    }
    this.opts.sink(line);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = new Logger({ sink: () => {} });
