/**
 * Black-box tests of hayate's own HTTP server: a real tracker on 127.0.0.1, spoken
 * to with raw TCP sockets (node:net, in both runtimes), hostile or odd bytes
 * included.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { listenTCP } from "../../../src/frontend/bindings.ts";
import type { HTTPConfig } from "../../../src/config/types.ts";
import { escapeBytes, id20 } from "../../helpers/fixtures.ts";
import { HTTP_TRANSPORTS, httpConfig, startTracker, testConfig } from "../../helpers/tracker.ts";

/** Timeouts and connection caps are the own server's; where the tracker runs on Bun.serve they do not exist. */
const ownServer = listenTCP !== undefined ? {} : {
  skip: "listenTCP is undefined on this runtime (Bun): the tracker serves HTTP through Bun.serve, " +
    "which has no read/idle timeouts, connection caps or 8 KiB head limits of hayate's server",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const announce = (id: string) =>
  `/announce?info_hash=${escapeBytes(id20("ih"))}&peer_id=${escapeBytes(id20(id))}&port=1001&left=1` +
  "&downloaded=0&uploaded=0&compact=1";

/** A raw connection: what it received, and when the server closed it. */
class Raw {
  private chunks: Buffer[] = [];
  /** Resolves with the ms from connect to the server's close (end or reset). */
  readonly closed: Promise<number>;
  isClosed = false;
  reset = false;
  private t0 = 0;

  private constructor(readonly socket: Socket) {
    socket.on("data", (b: Buffer) => this.chunks.push(b));
    this.closed = new Promise((resolve) => {
      const done = () => {
        if (this.isClosed) return;
        this.isClosed = true;
        resolve(Date.now() - this.t0);
      };
      socket.on("end", done);
      socket.on("close", done);
      socket.on("error", () => {
        this.reset = true;
        done();
      });
    });
  }

  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port });
      const raw = new Raw(s);
      s.once("connect", () => {
        raw.t0 = Date.now();
        resolve(raw);
      });
      s.once("error", reject);
    });
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  send(s: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.isClosed) return resolve();
      this.socket.write(Buffer.from(s, "latin1"), () => resolve());
    });
  }

  /** Waits until the received bytes contain `s`; fails after `ms`. */
  async waitFor(s: string, ms = 3000): Promise<string> {
    const until = Date.now() + ms;
    while (!this.text.includes(s)) {
      if (Date.now() > until || (this.isClosed && !this.text.includes(s))) {
        assert.fail(
          `${JSON.stringify(s)} not received (closed: ${this.isClosed}); got ${JSON.stringify(this.text)}`,
        );
      }
      await sleep(5);
    }
    return this.text;
  }

  /** Waits for the server to close; fails after `ms`. */
  async waitClosed(ms = 3000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function withTracker(over: Partial<HTTPConfig>, fn: (port: number) => Promise<void>): Promise<void> {
  const t = await startTracker(testConfig({ http: httpConfig(over) }));
  const port = Number(new URL(t.url()).port);
  try {
    await fn(port);
  } finally {
    await t.stop();
  }
}

/** An announce on its own connection; the reply's status line and body. */
async function honest(port: number, id = "honest"): Promise<{ status: string; text: string }> {
  const r = await Raw.open(port);
  try {
    await r.send(`GET ${announce(id)} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    await r.waitClosed();
    return { status: r.text.split("\r\n")[0], text: r.text };
  } finally {
    r.destroy();
  }
}

/** mulberry32: a small seeded PRNG, so a failing junk head can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function junkHead(rand: () => number): string {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(256))).join("");
  const valid = `GET ${announce(`j${int(1000)}`)} HTTP/1.1\r\nHost: t\r\nUser-Agent: x\r\n\r\n`;
  switch (int(6)) {
    case 0: // random bytes, then a blank line
      return bytes(1 + int(200)) + "\r\n\r\n";
    case 1: { // a valid head with bytes flipped
      const a = valid.split("");
      for (let i = 0, n = 1 + int(8); i < n; i++) a[int(a.length - 4)] = String.fromCharCode(int(256));
      return a.join("");
    }
    case 2: // a random method, target and version
      return `${pick(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "G\0T", ""])} ` +
        `${
          pick([
            "/",
            "/announce",
            "/scrape",
            "*",
            "http://t/announce",
            "//",
            "/%",
            "/announce?info_hash=%zz",
            "",
          ])
        }` +
        `${pick(["?", "?x=" + bytes(int(20)), "", "#f"])} ` +
        `${pick(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.9", "http/1.1", "", "HTTP/1.1 x"])}\r\n` +
        `${
          pick(["Host: t\r\n", "", "Host t\r\n", " Host: t\r\n", "Host:\r\n", "Content-Length: -1\r\n"])
        }\r\n`;
    case 3: // headers of random bytes
      return `GET ${announce("h")} HTTP/1.1\r\n${
        bytes(int(300)).replace(/\r\n\r\n|\n\n|\n\r\n/g, "")
      }\r\n\r\n`;
    case 4: // odd line ends and lead-in
      return pick(["\r\n", "\n", "\r\n\r\n", " ", "\0"]) +
        valid.replace(/\r\n/g, pick(["\n", "\r\n", "\r", "\n\r"]));
    default: // valid up to a random cut, then junk
      return valid.slice(0, int(valid.length)) + bytes(int(50)) + "\r\n\r\n";
  }
}

for (const { transport, label, skip } of HTTP_TRANSPORTS) {
  const prefix = `http server (${label}): `;
  const opts = skip ? { skip } : ownServer;

  test(
    prefix + "slowloris (a byte every 200 ms) is cut by read_timeout; honest requests answer meanwhile",
    opts,
    async () => {
      await withTracker({ transport, readTimeout: 1000 }, async (port) => {
        const slow = await Raw.open(port);
        const head = `GET ${announce("slow")} HTTP/1.1\r\nHost: t\r\n\r\n`;
        let sent = 0;
        const trickle = (async () => {
          while (!slow.isClosed && sent < head.length) {
            await slow.send(head[sent++]);
            await sleep(200);
          }
        })();
        await sleep(300);
        const h = await honest(port);
        assert.equal(h.status, "HTTP/1.1 200 OK");
        assert.match(h.text, /\r\n\r\nd8:complete/);
        const t = await slow.waitClosed(3000);
        await trickle;
        assert.ok(sent < 10, `sent ${sent} bytes before the close`);
        assert.ok(t >= 700 && t < 1800, `closed after ${t} ms`);
        assert.equal(slow.text, "", "no reply to a head that never completed");
        slow.destroy();
      });
    },
  );

  test(prefix + "a keep-alive connection is closed after idle_timeout", opts, async () => {
    await withTracker({ transport, idleTimeout: 500, readTimeout: 5000 }, async (port) => {
      const r = await Raw.open(port);
      await r.send(`GET ${announce("idle")} HTTP/1.1\r\nHost: t\r\n\r\n`);
      await r.waitFor("d8:complete");
      assert.doesNotMatch(r.text, /connection: close/);
      await sleep(300);
      await r.send(`GET ${announce("idle")} HTTP/1.1\r\nHost: t\r\n\r\n`);
      while (r.text.split("HTTP/1.1 200 OK").length < 3) {
        await r.waitFor("d8:complete", 1000).then(() => sleep(5));
      }
      const replied = Date.now();
      await r.waitClosed(3000);
      const idle = Date.now() - replied;
      assert.ok(idle >= 250 && idle < 1500, `idle ${idle} ms`);
      assert.equal(r.text.split("HTTP/1.1 200 OK").length - 1, 2, "both requests answered on one connection");
      r.destroy();
    });
  });

  test(
    prefix + "max_connections_per_ip 3: the 4th connection is closed at once, a freed slot is reused",
    opts,
    async () => {
      await withTracker({ transport, maxConnectionsPerIP: 3 }, async (port) => {
        const held: Raw[] = [];
        for (let i = 0; i < 3; i++) {
          const r = await Raw.open(port);
          // answered and kept open: the server holds the connection
          await r.send(`GET ${announce(`cap${i}`)} HTTP/1.1\r\nHost: t\r\n\r\n`);
          await r.waitFor("d8:complete");
          held.push(r);
        }
        const fourth = await Raw.open(port);
        await fourth.send(`GET ${announce("cap3")} HTTP/1.1\r\nHost: t\r\n\r\n`);
        const t = await fourth.waitClosed(1000);
        assert.ok(t < 500, `closed after ${t} ms`);
        assert.equal(fourth.text, "", "closed without a reply");
        fourth.destroy();

        held[0].socket.end();
        await held[0].waitClosed();
        held[0].destroy();
        await sleep(50); // the server sees the end and frees the slot
        const fifth = await Raw.open(port);
        await fifth.send(`GET ${announce("cap4")} HTTP/1.1\r\nHost: t\r\n\r\n`);
        await fifth.waitFor("d8:complete");
        for (const r of [fifth, held[1], held[2]]) r.destroy();
      });
    },
  );

  test(
    prefix + "a request line over 8 KiB → bencoded `request too long`, then close",
    opts,
    async () => {
      await withTracker({ transport }, async (port) => {
        for (
          const line of [
            `GET /announce?${"a".repeat(9000)} HTTP/1.1\r\nHost: t\r\n\r\n`,
            `GET /announce?${"a".repeat(8300)}`,
          ]
        ) {
          const r = await Raw.open(port);
          await r.send(line);
          await r.waitClosed();
          assert.match(
            r.text,
            /^HTTP\/1\.1 200 OK\r\n(.*\r\n)*connection: close\r\n\r\nd14:failure reason16:request too longe$/,
            `${line.length} bytes`,
          );
          r.destroy();
        }
      });
    },
  );

  test(prefix + "9 KiB of headers → 431 and close", opts, async () => {
    await withTracker({ transport }, async (port) => {
      const r = await Raw.open(port);
      await r.send(
        `GET ${announce("h")} HTTP/1.1\r\nHost: t\r\n${"X-Pad: 0123456789abcdef\r\n".repeat(384)}\r\n`,
      );
      await r.waitClosed();
      assert.match(
        r.text,
        /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n(.*\r\n)*connection: close\r\n\r\n/,
      );
      r.destroy();
    });
  });

  test(
    prefix + "HTTP/1.0 without keep-alive gets `connection: close` and is closed (Bun.serve: closed)",
    opts,
    async () => {
      await withTracker({ transport }, async (port) => {
        const r = await Raw.open(port);
        // with a Host header: Bun.serve hands the frontend a bare path without one (answered 404)
        await r.send(`GET ${announce("ten")} HTTP/1.0\r\nHost: t\r\n\r\n`);
        await r.waitFor("d8:complete");
        await r.waitClosed();
        const [head] = r.text.split("\r\n\r\n");
        assert.match(head, /^HTTP\/1\.[01] 200 OK\r\n/);
        // Bun.serve closes too, but leaves the header out (HTTP/1.0's default); hayate's server says it
        if (listenTCP !== undefined) assert.match(head, /\r\nconnection: close(\r\n|$)/i);
        r.destroy();
      });
    },
  );

  test(prefix + "POST with a body → 405 and close (Bun.serve: 405, kept open)", opts, async () => {
    await withTracker({ transport }, async (port) => {
      const r = await Raw.open(port);
      const body = "info_hash=x&peer_id=y";
      await r.send(`POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await r.waitFor("Method Not Allowed\n");
      assert.match(r.text, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      assert.match(r.text, /\r\nallow: GET\r\n/i);
      // Bun.serve reads the body and keeps the connection; hayate's server does not read bodies, so it closes
      if (listenTCP !== undefined) {
        await r.waitClosed();
        assert.match(r.text, /\r\nconnection: close\r\n/i);
      }
      r.destroy();
    });
  });

  test(prefix + "200 seeded junk heads never get a 5xx, and the tracker keeps answering", opts, async () => {
    await withTracker({ transport, readTimeout: 500 }, async (port) => {
      const rand = prng(0x5eed);
      const heads = Array.from({ length: 200 }, () => junkHead(rand));
      const statuses = new Map<string, number>();
      for (let batch = 0; batch < heads.length; batch += 100) {
        await Promise.all(
          heads.slice(batch, batch + 100).map(async (h, i) => {
            const r = await Raw.open(port);
            await r.send(h);
            // a head that is still incomplete waits for read_timeout; every other one is answered
            await Promise.race([r.waitFor("\r\n\r\n", 2500).catch(() => {}), r.closed]);
            const line = r.text.split("\r\n")[0];
            const status = r.text === ""
              ? "(closed)"
              : /^HTTP\/1\.1 (\d{3}) /.exec(line)?.[1] ?? `bad: ${line}`;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            // Bun.serve answers a malformed HTTP version with 505 itself, before the tracker sees the request
            if (status === "505" && listenTCP === undefined) return r.destroy();
            assert.ok(
              !status.startsWith("5") && !status.startsWith("bad"),
              `#${batch + i} ${JSON.stringify(h)} → ${line}`,
            );
            r.destroy();
          }),
        );
      }
      assert.ok(
        (statuses.get("200") ?? 0) > 0 && (statuses.get("400") ?? 0) > 0,
        JSON.stringify([...statuses]),
      );
      const h = await honest(port, "after-junk");
      assert.equal(h.status, "HTTP/1.1 200 OK");
    });
  });
}
