/**
 * The process-level services the CLI needs, for the runtime it runs on: Deno
 * (`deno run`, `deno compile`) or Bun (`bun main.ts`, `bun build --compile`).
 * Everything outside this module, the socket bindings (`frontend/bindings.ts`)
 * and `main.ts` stays free of runtime globals.
 *
 * ```ts
 * import { runtime } from "./src/runtime.ts";
 * runtime.writeStderr("hello\n");
 * runtime.onSignal("SIGTERM", () => runtime.exit(0));
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import process from "node:process";
import type { MemoryUsage } from "./metrics/metrics.ts";

/** The signals the CLI listens for. */
export type Signal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGUSR1";

/** Which runtime this is. */
export type RuntimeName = "deno" | "bun";

/** What `main.ts` uses of the process. */
export interface ProcessRuntime {
  readonly name: RuntimeName;
  /** The runtime's own version, e.g. "2.9.2" or "1.4.5". */
  readonly version: string;
  /** The command-line arguments after the script (or the compiled binary). */
  readonly args: string[];
  readTextFile(path: string): Promise<string>;
  /** A snapshot of the environment. */
  env(): Record<string, string>;
  onSignal(signal: Signal, listener: () => void): void;
  /** Writes synchronously to stderr (log lines are never lost on exit). */
  writeStderr(text: string): void;
  /** True when stderr is a terminal. */
  isTerminal(): boolean;
  memoryUsage(): MemoryUsage;
  exit(code: number): never;
}

interface DenoLike {
  version: { deno: string };
  args: string[];
  readTextFile(path: string): Promise<string>;
  env: { toObject(): Record<string, string> };
  addSignalListener(signal: Signal, listener: () => void): void;
  stderr: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  memoryUsage(): MemoryUsage;
  exit(code: number): never;
}

/** True under Bun (`bun run`, `bun test`, a `bun build --compile` binary). */
export const isBun: boolean = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

function denoRuntime(deno: DenoLike): ProcessRuntime {
  const encoder = new TextEncoder();
  return {
    name: "deno",
    version: deno.version.deno,
    args: deno.args,
    readTextFile: (path) => deno.readTextFile(path),
    env: () => deno.env.toObject(),
    onSignal: (signal, listener) => deno.addSignalListener(signal, listener),
    writeStderr(text) {
      const bytes = encoder.encode(text);
      // writeSync may write less than asked for (a pipe that is nearly full).
      for (let off = 0; off < bytes.length;) off += deno.stderr.writeSync(bytes.subarray(off));
    },
    isTerminal: () => deno.stderr.isTerminal(),
    memoryUsage: () => deno.memoryUsage(),
    exit: (code) => deno.exit(code),
  };
}

/** Bun, through the Node APIs it implements (they would serve Node too). */
function nodeRuntime(): ProcessRuntime {
  const bun = (globalThis as { Bun?: { version: string } }).Bun;
  return {
    name: "bun",
    version: bun?.version ?? process.versions.node,
    args: process.argv.slice(2),
    readTextFile: (path) => readFile(path, "utf8"),
    env: () => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
      return out;
    },
    onSignal: (signal, listener) => void process.on(signal, listener),
    writeStderr(text) {
      const bytes = Buffer.from(text);
      for (let off = 0; off < bytes.length;) off += writeSync(2, bytes, off);
    },
    isTerminal: () => process.stderr.isTTY === true,
    memoryUsage: () => process.memoryUsage(),
    exit: (code) => process.exit(code),
  };
}

/** The runtime this process runs on. */
export const runtime: ProcessRuntime = isBun
  ? nodeRuntime()
  : denoRuntime((globalThis as unknown as { Deno: DenoLike }).Deno);
