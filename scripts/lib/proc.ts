/**
 * Child processes and loopback probes for the load and soak scripts: every child
 * has a deadline and is killed when the script exits or is interrupted.
 *
 * @module
 */

/** Everything the scripts talk to binds here. */
export const HOST = "127.0.0.1";

const children = new Set<Deno.ChildProcess>();

export function killAll(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
}

for (const s of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(s, () => {
    console.error(`\n${s}: stopping children`);
    killAll();
    Deno.exit(130);
  });
}
globalThis.addEventListener("unload", killAll);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to completion, killing it after `timeoutMs`. */
export async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env?: Record<string, string>,
): Promise<RunResult> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", env }).spawn();
  children.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone.
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), timedOut };
  } finally {
    clearTimeout(timer);
    children.delete(child);
  }
}

export async function have(cmd: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${cmd}`], 5000)).code === 0;
}

/** A long-running server, its output in `log`, exec'd through sh so `pid` is the server's own. */
export interface Server {
  pid: number;
  log: string;
  /** False once the process has exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

export function startServer(command: string[], log: string): Server {
  const quoted = command.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${quoted} >'${log}' 2>&1`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  children.add(child);
  let exited = false;
  child.status.then(() => (exited = true));
  return {
    pid: child.pid,
    log,
    alive: () => !exited,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone.
        }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      children.delete(child);
    },
  };
}

export function freeUDPPort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: HOST, port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

export function freeTCPPort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export function procStatus(pid: number, key: string): number | null {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when a BEP 15 connect to `port` is answered (or throws after `ms`). */
export async function waitUDP(port: number, ms: number, server: Server): Promise<void> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: HOST, port: 0 });
  const deadline = Date.now() + ms;
  try {
    const packet = new Uint8Array(16);
    packet.set([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4]);
    while (Date.now() < deadline && server.alive()) {
      await sock.send(packet, { transport: "udp", hostname: HOST, port });
      const got = await Promise.race([
        sock.receive().then(() => true, () => false),
        sleep(200).then(() => false),
      ]);
      if (got) return;
    }
    throw new Error(
      `UDP port ${port} did not answer${server.alive() ? ` within ${ms} ms` : ": the server exited"}`,
    );
  } finally {
    sock.close();
  }
}

export async function waitHTTP(port: number, ms: number, server: Server): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && server.alive()) {
    try {
      const r = await fetch(`http://${HOST}:${port}/scrape`, { signal: AbortSignal.timeout(500) });
      await r.body?.cancel();
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(
    `HTTP port ${port} did not answer${server.alive() ? ` within ${ms} ms` : ": the server exited"}`,
  );
}
