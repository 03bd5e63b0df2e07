/**
 * Starts Debian's `redis-server` for tests on a free loopback port, with no
 * persistence, and kills it at the end. Tests skip with {@link redisSkip} when
 * the binary is missing.
 */
import { createServer } from "node:net";

const INSTALL = "redis-server is not installed: apt-get install redis-server";

function installed(): boolean {
  try {
    const out = new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
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

async function ping(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** A running redis-server; `stop` kills it, `start` brings it back on the same port. */
export class RedisServer {
  private child: Deno.ChildProcess | undefined;

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
    this.child = new Deno.Command("redis-server", {
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    }).spawn();
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
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
}
