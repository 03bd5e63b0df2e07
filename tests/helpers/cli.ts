/** Runs the real CLI (`deno run main.ts`, or `bun main.ts` under `bun test`) as a child process. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isBun } from "../../src/runtime.ts";

/** The repository root. */
export const root: string = fileURLToPath(new URL("../..", import.meta.url));
// The runtime running the tests runs the CLI too.
const runtime = process.execPath;
const args = isBun
  ? [join(root, "main.ts")]
  : ["run", "--allow-net", "--allow-read", "--allow-env", join(root, "main.ts")];

/** Runs the CLI to completion. */
export function runCLI(extra: string[]) {
  return spawnSync(runtime, [...args, ...extra], { cwd: root, encoding: "utf8", timeout: 30_000 });
}

/** A running CLI and the ports it logged. */
export interface RunningCLI {
  child: ChildProcess;
  /** The HTTP port (the first `http frontend listening` line). */
  port: number;
  /** The UDP port, when `waitForUDP` was asked for. */
  udpPort?: number;
  logs: string[];
}

/**
 * Starts the CLI on `config` and resolves once it logged that HTTP (and, with
 * `waitForUDP`, UDP) listens on 127.0.0.1.
 */
export function startCLI(config: string, extra: string[] = [], waitForUDP = false): Promise<RunningCLI> {
  const child = spawn(runtime, [...args, "--config", config, ...extra], { cwd: root });
  const logs: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${logs.join("")}`)), 20_000);
    child.stderr!.on("data", (chunk: Uint8Array) => {
      logs.push(new TextDecoder().decode(chunk));
      const text = logs.join("");
      const http = text.match(/http frontend listening.*?127\.0\.0\.1:(\d+)/);
      const udp = text.match(/udp frontend listening.*?127\.0\.0\.1:(\d+)/);
      if (http && (!waitForUDP || udp)) {
        clearTimeout(timer);
        resolve({ child, port: Number(http[1]), udpPort: udp ? Number(udp[1]) : undefined, logs });
      }
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}:\n${logs.join("")}`)));
  });
}

/** Resolves with the exit code. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}
