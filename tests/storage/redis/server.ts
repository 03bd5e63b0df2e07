/**
 * Starts Debian's `redis-server` for tests on a free loopback port, with no
 * persistence, and kills it at the end. Tests skip with {@link redisSkip} when
 * the binary is missing.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";

const INSTALL = "redis-server is not installed: apt-get install redis-server";

function installed(): boolean {
  const out = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return out.error === undefined && out.status === 0;
}

/** `false` when redis-server can run, else the skip message (for `test(name, { skip })`). */
export const redisSkip: string | false = installed() ? false : INSTALL;

/** A free TCP port on 127.0.0.1 (bound once, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      conn.destroy();
      resolve(ok);
    };
    conn.setTimeout(1000, () => done(false));
    conn.once("error", () => done(false));
    conn.once("connect", () => conn.write("PING\r\n"));
    conn.once("data", (buf: Uint8Array) => done(new TextDecoder().decode(buf).startsWith("+PONG")));
  });
}

/** A running redis-server; `stop` kills it, `start` brings it back on the same port. */
export class RedisServer {
  private child: { proc: ChildProcess; exited: Promise<void> } | undefined;

  private constructor(readonly port: number) {}

  /** Starts a server on a free port (or `port`) and waits until it answers PING. */
  static async start(port?: number): Promise<RedisServer> {
    const s = new RedisServer(port ?? await freePort());
    await s.start();
    return s;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const proc = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    const exited = new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.once("error", () => resolve());
    });
    this.child = { proc, exited };
    const deadline = Date.now() + 10_000;
    while (!(await ping(this.port))) {
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server did not answer on 127.0.0.1:${this.port} within 10 s`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Kills the server (SIGKILL: an abrupt loss, as a crash would be) and waits for it. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      try {
        child.proc.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await child.exited;
  }
}
