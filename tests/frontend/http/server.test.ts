/**
 * hayate's HTTP/1.1 server on fake byte streams: no sockets, the bytes in and out
 * are exact. Timeouts run on the real clock with short limits; the server checks
 * deadlines every 250 ms, so a timeout fires up to 500 ms late, never early (less
 * a few ms of timer jitter: JITTER).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatIP } from "../../../src/bittorrent/ip.ts";
import { type ByteStream, HTTPServer, type HTTPServerOptions } from "../../../src/frontend/http/server.ts";
import type { RequestHead } from "../../../src/frontend/http/wire.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array) => String.fromCharCode(...b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SWEEP = 250;
const JITTER = 15;
/**
 * The content-type line of the server's own `new Response("internal server error")`: Deno's Response
 * has `text/plain;charset=UTF-8` among its headers, Bun's has none (Bun.serve adds it when it writes).
 */
const TEXT_LINE = ((t) => t === null ? "" : `content-type: ${t}\r\n`)(
  new Response("x").headers.get("content-type"),
);

/** A scripted peer: bytes pushed in are read by the server, bytes it writes are kept. */
class FakeStream implements ByteStream {
  private inbox: Uint8Array[] = [];
  private eof = false;
  private waiting: { p: Uint8Array; resolve: (n: number | null) => void; reject: (e: Error) => void } | null =
    null;
  private pendingWrites: ((e: Error) => void)[] = [];
  out: Uint8Array[] = [];
  closed = false;
  closedAt = 0;
  readonly openedAt = Date.now();
  /** write(): "ok" takes everything, "short" takes at most 3 bytes per call, "hang" never resolves. */
  writeMode: "ok" | "short" | "hang" = "ok";
  /** Rejects a pending write on close(), as Deno.Conn does; false: the write stays pending forever. */
  rejectOnClose = true;
  private readonly closedSignal = Promise.withResolvers<void>();

  push(s: string | Uint8Array): void {
    assert.ok(!this.eof);
    const b = typeof s === "string" ? bytes(s) : s;
    if (b.length > 0) this.inbox.push(b);
    this.flush();
  }

  end(): void {
    this.eof = true;
    this.flush();
  }

  private flush(): void {
    const w = this.waiting;
    if (w === null) return;
    const chunk = this.inbox[0];
    if (chunk !== undefined) {
      this.waiting = null;
      const n = Math.min(chunk.length, w.p.length);
      w.p.set(chunk.subarray(0, n));
      if (n === chunk.length) this.inbox.shift();
      else this.inbox[0] = chunk.subarray(n);
      w.resolve(n);
    } else if (this.eof) {
      this.waiting = null;
      w.resolve(null);
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Error("closed"));
    assert.equal(this.waiting, null, "one read at a time");
    const { promise, resolve, reject } = Promise.withResolvers<number | null>();
    this.waiting = { p, resolve, reject };
    this.flush();
    return promise;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error("closed"));
    if (this.writeMode === "hang") {
      const { promise, reject } = Promise.withResolvers<number>();
      this.pendingWrites.push(reject);
      return promise;
    }
    const n = this.writeMode === "short" ? Math.min(3, p.length) : p.length;
    this.out.push(p.slice(0, n));
    return Promise.resolve(n);
  }

  close(): void {
    if (this.closed) throw new Error("closed twice");
    this.closed = true;
    this.closedAt = Date.now();
    this.waiting?.reject(new Error("closed"));
    this.waiting = null;
    if (this.rejectOnClose) { for (const r of this.pendingWrites) r(new Error("closed")); }
    this.closedSignal.resolve();
  }

  /** Resolves when the server closes the stream; fails the test after `ms`. */
  async whenClosed(ms = 3000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([this.closedSignal.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.closedAt - this.openedAt;
  }

  /** Everything written so far, with the date header's value replaced by "D". */
  get written(): string {
    return this.out.map(text).join("").replace(/\r\ndate: [^\r]*\r\n/g, "\r\ndate: D\r\n");
  }

  /** Waits until the written bytes contain `s` (or `n` responses' worth of it). */
  async waitFor(s: string, count = 1, ms = 2000): Promise<string> {
    const until = Date.now() + ms;
    while (this.written.split(s).length - 1 < count) {
      if (Date.now() > until) assert.fail(`${JSON.stringify(s)} ×${count} not written; got ${this.written}`);
      await sleep(2);
    }
    return this.written;
  }
}

/** Answers `/echo?x` with the bytes `x`. */
function echo(head: RequestHead): Uint8Array {
  const t = text(head.buf.subarray(head.targetStart, head.targetEnd));
  return bytes(t.slice(t.indexOf("?") + 1));
}

function server(over: Partial<HTTPServerOptions> = {}) {
  const errors: unknown[] = [];
  const s = new HTTPServer({
    handler: echo,
    keepAlive: true,
    readTimeout: 5000,
    writeTimeout: 5000,
    idleTimeout: 5000,
    maxConnections: 100,
    maxConnectionsPerIP: 100,
    tooLong: bytes("d14:failure reason16:request too longe"),
    onError: (e) => errors.push(e),
    ...over,
  });
  return { s, errors };
}

/** A `200 OK` as the server writes it, date elided. */
function ok(body: string, connection = ""): string {
  return "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ndate: D\r\n" +
    `content-length: ${body.length}\r\n${connection && `connection: ${connection}\r\n`}\r\n${body}`;
}

/** Lets the server's pending microtasks and immediate reads run. */
const settle = () => sleep(5);

test("server: a GET is answered with the handler's bytes; the connection stays open", async () => {
  const { s } = server();
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /echo?hello HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.equal(await c.waitFor("hello"), ok("hello"));
  await settle();
  assert.equal(c.closed, false);
  assert.equal(s.size, 1);
  await s.close();
  assert.equal(c.closed, true);
  assert.equal(s.size, 0);
});

test("server: a head split across many reads, and short writes, still make one exact reply", async () => {
  const { s } = server();
  const c = new FakeStream();
  c.writeMode = "short";
  s.accept(c, "10.0.0.1");
  for (const ch of "GET /echo?split HTTP/1.1\r\nHost: t\r\n\r\n") {
    c.push(ch);
    await Promise.resolve();
  }
  assert.equal(await c.waitFor("split"), ok("split"));
  await s.close();
});

test("server: a reply built in the frame is sent as it is, with the request's persistence; a plain body is framed", async () => {
  const { s } = server({
    handler: (head, _remote, frame) => {
      const body = echo(head);
      if (text(body).startsWith("plain")) return body;
      const out = frame.frame(body.length);
      out.set(body, out.length - body.length);
      return text(body) === "late" ? sleep(10).then(() => out) : out;
    },
  });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /?framed HTTP/1.1\r\n\r\nGET /?plain HTTP/1.1\r\n\r\nGET /?late HTTP/1.1\r\n\r\n");
  await c.waitFor("late");
  c.push("GET /?plain2 HTTP/1.1\r\n\r\nGET /?last HTTP/1.1\r\nConnection: close\r\n\r\n");
  await c.whenClosed();
  // One head per reply: a framed reply is not framed again, and a plain body after one is not taken for it.
  assert.equal(c.written, ok("framed") + ok("plain") + ok("late") + ok("plain2") + ok("last", "close"));
  const ten = new FakeStream();
  s.accept(ten, "10.0.0.2");
  ten.push("GET /?old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert.equal(await ten.waitFor("old"), ok("old", "keep-alive"));
  await s.close();
});

test("server: the handler gets the remote address parsed, and the headers; a Promise reply is awaited", async () => {
  const seen: string[] = [];
  const { s } = server({
    handler: async (head, remote) => {
      seen.push(
        `${typeof remote === "string" ? remote : formatIP(remote)} ${head.header("x-a")} ${head.get}`,
      );
      await sleep(20);
      return bytes("later");
    },
  });
  const c = new FakeStream();
  s.accept(c, "2001:db8::7");
  c.push("GET /x HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  assert.equal(await c.waitFor("later"), ok("later"));
  // A binding's address that is no IP (a Unix socket, say) reaches the handler as given.
  const other = new FakeStream();
  s.accept(other, "unix:/run/x");
  other.push("GET /x HTTP/1.1\r\nX-A: 3\r\n\r\n");
  await other.waitFor("later");
  assert.deepEqual(seen, ["2001:db8::7 1, 2 true", "unix:/run/x 3 true"]);
  await s.close();
});

test("server: pipelined requests are answered in order, even when the first answer is the slowest", async () => {
  const delays: Record<string, number> = { a: 60, b: 0, c: 20 };
  const { s } = server({
    handler: (head) => {
      const body = echo(head);
      const d = delays[text(body)];
      return d === 0 ? body : sleep(d).then(() => body);
    },
  });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push(
    "GET /?a HTTP/1.1\r\n\r\nGET /?b HTTP/1.1\r\n\r\nGET /?c HTTP/1.1\r\nConnection: close\r\n\r\nGET /?d HTTP/1.1\r\n\r\n",
  );
  await c.whenClosed();
  assert.equal(c.written, ok("a") + ok("b") + ok("c", "close"), "nothing after the close");
  await s.close();
});

test("server: pipelined requests split mid-head across reads", async () => {
  const { s } = server();
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /?1 HTTP/1.1\r\n\r\nGET /?2 HT");
  await c.waitFor(ok("1"));
  c.push("TP/1.1\r\n\r");
  await settle();
  assert.equal(c.written, ok("1"));
  c.push("\nGET /?3 HTTP/1.1\r\n\r\n");
  assert.equal(await c.waitFor("3"), ok("1") + ok("2") + ok("3"));
  await s.close();
});

test("server: HTTP/1.0 is closed after the reply unless it asks for keep-alive; keepAlive false closes all", async () => {
  const { s } = server();
  const a = new FakeStream();
  s.accept(a, "10.0.0.1");
  a.push("GET /?x HTTP/1.0\r\n\r\n");
  await a.whenClosed();
  assert.equal(a.written, ok("x", "close"));

  const b = new FakeStream();
  s.accept(b, "10.0.0.1");
  b.push("GET /?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /?z HTTP/1.0\r\n\r\n");
  await b.whenClosed();
  assert.equal(b.written, ok("y", "keep-alive") + ok("z", "close"));
  await s.close();

  const off = server({ keepAlive: false }).s;
  const d = new FakeStream();
  off.accept(d, "10.0.0.1");
  d.push("GET /?w HTTP/1.1\r\nConnection: keep-alive\r\n\r\nGET /?v HTTP/1.1\r\n\r\n");
  await d.whenClosed();
  assert.equal(d.written, ok("w", "close"));
  await off.close();
});

test("server: a request with a body is answered and the connection closed (the body is never read as a request)", async () => {
  const { s } = server();
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /?b HTTP/1.1\r\nContent-Length: 20\r\n\r\nGET /?smuggled HTTP/1.1\r\n\r\n");
  await c.whenClosed();
  assert.equal(c.written, ok("b", "close"));
  await s.close();
});

test("server: a HEAD (any non-GET) is answered with connection: close and the connection ends", async () => {
  const { s } = server({
    handler: (head) =>
      head.get
        ? echo(head)
        : new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET" } }),
  });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  // a HEAD client reads no body: the chunked body must not be taken for the reply to the GET after it
  c.push("HEAD /announce HTTP/1.1\r\n\r\nGET /?next HTTP/1.1\r\n\r\n");
  await c.whenClosed();
  assert.match(c.written, /^HTTP\/1\.1 405 Method Not Allowed\r\n(.*\r\n)*connection: close\r\n\r\n/);
  assert.ok(!c.written.includes("next"), c.written);
  await s.close();
});

test("server: a streamed Response body is written with chunked coding, byte-exact", async () => {
  const { s } = server({
    handler: () => {
      const parts = ["d5:files", "", "de", "e"];
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          await sleep(1);
          const p = parts.shift();
          if (p === undefined) ctl.close();
          else ctl.enqueue(bytes(p));
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8", "x-n": "1" } });
    },
  });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /scrape HTTP/1.1\r\n\r\n");
  const wire = await c.waitFor("0\r\n\r\n");
  assert.equal(
    wire,
    "HTTP/1.1 200 OK\r\ndate: D\r\ncontent-type: text/plain; charset=utf-8\r\nx-n: 1\r\n" +
      "transfer-encoding: chunked\r\n\r\n" +
      "8\r\nd5:files\r\n2\r\nde\r\n1\r\ne\r\n0\r\n\r\n",
    "the empty chunk is skipped, not written as the last chunk",
  );
  // chunked keeps the connection: the next request is answered
  c.push("GET /scrape HTTP/1.1\r\nConnection: close\r\n\r\n");
  await c.whenClosed();
  assert.match(
    c.written.slice(wire.length),
    /^HTTP\/1\.1 200 OK\r\n.*connection: close\r\n\r\n8\r\nd5:files/s,
  );
  await s.close();
});

test("server: a streamed Response to HTTP/1.0 is close-delimited; a bodiless Response has content-length 0", async () => {
  const { s } = server({
    handler: (head) =>
      head.header("x-empty") !== null
        ? new Response(null, { status: 404 })
        : new Response("Method Not Allowed\n", {
          status: 405,
          headers: { allow: "GET", "content-type": "text/plain; charset=utf-8" },
        }),
  });
  const a = new FakeStream();
  s.accept(a, "10.0.0.1");
  a.push("POST /announce HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  await a.whenClosed();
  assert.equal(
    a.written,
    "HTTP/1.1 405 Method Not Allowed\r\ndate: D\r\nallow: GET\r\ncontent-type: text/plain; charset=utf-8\r\n" +
      "connection: close\r\n\r\nMethod Not Allowed\n",
  );
  const b = new FakeStream();
  s.accept(b, "10.0.0.1");
  b.push("GET /x HTTP/1.1\r\nX-Empty: 1\r\n\r\n");
  assert.equal(
    await b.waitFor("\r\n\r\n"),
    "HTTP/1.1 404 Not Found\r\ndate: D\r\ncontent-length: 0\r\n\r\n",
  );
  await settle();
  assert.equal(b.closed, false);
  await s.close();
});

test("server: a Response body that fails mid-stream is cut off without the last chunk and reported", async () => {
  const { s, errors } = server({
    handler: () => {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(ctl) {
            if (n++ === 0) ctl.enqueue(bytes("abc"));
            else ctl.error(new Error("store gone"));
          },
        }),
      );
    },
  });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /scrape HTTP/1.1\r\n\r\n");
  await c.whenClosed();
  assert.ok(c.written.endsWith("\r\n\r\n3\r\nabc\r\n"), c.written);
  assert.equal((errors[0] as Error).message, "store gone");
  await s.close();
});

test("server: a handler that throws gets a 500; the connection and the server keep serving", async () => {
  const { s, errors } = server({
    handler: (head) => {
      const body = text(echo(head));
      if (body === "throw") throw new Error("boom");
      if (body === "reject") return Promise.reject(new Error("async boom"));
      return bytes(body);
    },
  });
  const a = new FakeStream();
  const b = new FakeStream();
  s.accept(a, "10.0.0.1");
  s.accept(b, "10.0.0.2");
  a.push("GET /?throw HTTP/1.1\r\n\r\n");
  const five = `HTTP/1.1 500 Internal Server Error\r\ndate: D\r\n${TEXT_LINE}` +
    "transfer-encoding: chunked\r\n\r\n15\r\ninternal server error\r\n0\r\n\r\n";
  assert.equal(await a.waitFor("0\r\n\r\n"), five);
  b.push("GET /?fine HTTP/1.1\r\n\r\n");
  assert.equal(await b.waitFor("fine"), ok("fine"));
  a.push("GET /?reject HTTP/1.1\r\n\r\nGET /?again HTTP/1.1\r\n\r\n");
  assert.equal(await a.waitFor("again"), five + five + ok("again"));
  assert.deepEqual(errors.map((e) => (e as Error).message), ["boom", "async boom"]);
  await s.close();
});

test("server: malformed heads get 400, oversized headers 431, a too-long request line the tooLong body; all closed", async () => {
  const { s } = server();
  const refusal = (status: string, body: string) =>
    `HTTP/1.1 ${status}\r\ndate: D\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
  const cases: [string, string][] = [
    ["GET / HTTP/2.0\r\n\r\n", refusal("400 Bad Request", "400 Bad Request\n")],
    ["GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", refusal("400 Bad Request", "400 Bad Request\n")],
    ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", refusal("400 Bad Request", "400 Bad Request\n")],
    // 9 KiB of headers in one piece (the head is complete: parseHead refuses it)
    [
      `GET /?x HTTP/1.1\r\n${"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(288)}\r\n`,
      refusal("431 Request Header Fields Too Large", "431 Request Header Fields Too Large\n"),
    ],
    // a request line over the cap, whole, and one that never ends
    [`GET /?${"a".repeat(8500)} HTTP/1.1\r\n\r\n`, ok("d14:failure reason16:request too longe", "close")],
    [`GET /?${"a".repeat(20000)}`, ok("d14:failure reason16:request too longe", "close")],
    // endless headers without a blank line
    [
      `GET / HTTP/1.1\r\n${"X: y\r\n".repeat(3000)}`,
      refusal("431 Request Header Fields Too Large", "431 Request Header Fields Too Large\n"),
    ],
  ];
  for (const [input, want] of cases) {
    const c = new FakeStream();
    s.accept(c, "10.0.0.1");
    c.push(input);
    await c.whenClosed();
    assert.equal(c.written, want, JSON.stringify(input.slice(0, 40)));
  }
  assert.equal(s.size, 0);
  await s.close();
});

test("server: the server without tooLong answers a too-long request line with 414", async () => {
  const { s } = server({ tooLong: undefined });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push(`GET /${"a".repeat(9000)}`);
  await c.whenClosed();
  assert.match(c.written, /^HTTP\/1\.1 414 Unknown\r\n|^HTTP\/1\.1 414 URI Too Long\r\n/);
  assert.ok(c.written.endsWith("\r\n\r\n414 URI Too Long\n"));
  await s.close();
});

test("server: a peer that goes away mid-head frees its slot", async () => {
  const { s } = server({ maxConnectionsPerIP: 1 });
  const a = new FakeStream();
  s.accept(a, "10.0.0.1");
  a.push("GET / HT");
  a.end();
  await a.whenClosed();
  assert.equal(a.written, "");
  assert.equal(s.size, 0);
  const b = new FakeStream();
  s.accept(b, "10.0.0.1");
  assert.equal(b.closed, false);
  await s.close();
});

test("server: write timeout: a write that never resolves → the stream is closed after writeTimeout", async () => {
  await Promise.all([true, false].map(async (rejectOnClose) => {
    const { s } = server({ writeTimeout: 400 });
    const c = new FakeStream();
    c.writeMode = "hang";
    c.rejectOnClose = rejectOnClose;
    s.accept(c, "10.0.0.1");
    c.push("GET /?stuck HTTP/1.1\r\n\r\n");
    const t = await c.whenClosed(2000);
    assert.ok(t >= 400 - JITTER && t < 400 + 2 * SWEEP + 200, `closed after ${t} ms`);
    assert.equal(s.size, 0, "the slot is freed even while the write is still pending");
    await s.close();
  }));
});

test("server: write timeout covers the handler: one that never answers is cut", async () => {
  const { s } = server({ writeTimeout: 300, handler: () => new Promise<Uint8Array>(() => {}) });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET / HTTP/1.1\r\n\r\n");
  const t = await c.whenClosed(2000);
  assert.ok(t >= 300 - JITTER && t < 300 + 2 * SWEEP + 200, `closed after ${t} ms`);
  assert.equal(c.written, "");
  await s.close();
});

test("server: read timeout from accept: a connection that sends nothing is closed", async () => {
  const { s } = server({ readTimeout: 400, idleTimeout: 60_000 });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  const t = await c.whenClosed(2000);
  assert.ok(t >= 400 - JITTER && t < 400 + 2 * SWEEP + 200, `closed after ${t} ms`);
  assert.equal(c.written, "", "no 408, just closed");
  await s.close();
});

test("server: read timeout: a head that trickles in a byte every 40 ms is cut before it completes", async () => {
  const { s } = server({ readTimeout: 500, idleTimeout: 60_000 });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  const head = "GET /?never HTTP/1.1\r\nHost: tracker.example\r\nUser-Agent: slowloris\r\n\r\n";
  let sent = 0;
  while (!c.closed && sent < head.length) {
    c.push(head[sent++]);
    await sleep(40);
  }
  assert.equal(c.closed, true, "closed before the head was complete");
  assert.ok(sent < head.length, `sent ${sent} of ${head.length}`);
  const t = c.closedAt - c.openedAt;
  assert.ok(t >= 500 - JITTER && t < 500 + 2 * SWEEP + 200, `closed after ${t} ms`);
  assert.equal(c.written, "");
  await s.close();
});

test("server: idle timeout after a reply; the read timeout does not apply while idle", async () => {
  const idle = async () => {
    const { s } = server({ readTimeout: 60_000, idleTimeout: 400 });
    const c = new FakeStream();
    s.accept(c, "10.0.0.1");
    c.push("GET /?one HTTP/1.1\r\n\r\n");
    await c.waitFor("one");
    const replied = Date.now();
    await c.whenClosed(2000);
    const t = c.closedAt - replied;
    assert.ok(t >= 400 - JITTER && t < 400 + 2 * SWEEP + 200, `idle for ${t} ms`);
    assert.equal(c.written, ok("one"));
    await s.close();
  };
  // a request started while idle gets the read timeout, not the idle one
  const started = async () => {
    const { s } = server({ readTimeout: 400, idleTimeout: 60_000 });
    const d = new FakeStream();
    s.accept(d, "10.0.0.1");
    d.push("GET /?two HTTP/1.1\r\n\r\n");
    await d.waitFor("two");
    await sleep(700);
    assert.equal(d.closed, false, "idle, not timed out by readTimeout");
    d.push("GET /?thr");
    const t0 = Date.now();
    await d.whenClosed(2000);
    assert.ok(d.closedAt - t0 >= 400 - JITTER && d.closedAt - t0 < 400 + 2 * SWEEP + 200);
    assert.equal(d.written, ok("two"));
    await s.close();
  };
  await Promise.all([idle(), started()]);
});

test("server: timeouts of 0 mean none", async () => {
  const { s } = server({ readTimeout: 0, idleTimeout: 0, writeTimeout: 0 });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  const fresh = new FakeStream();
  s.accept(fresh, "10.0.0.1");
  c.push("GET /?a HTTP/1.1\r\n\r\n");
  await c.waitFor("a");
  await sleep(2 * SWEEP + 50);
  assert.equal(c.closed, false);
  assert.equal(fresh.closed, false);
  await s.close();
});

test("server: maxConnections: over the cap the stream is closed at accept; a slot is freed when one ends", async () => {
  const { s } = server({ maxConnections: 2 });
  const [a, b, c, d] = [new FakeStream(), new FakeStream(), new FakeStream(), new FakeStream()];
  s.accept(a, "10.0.0.1");
  s.accept(b, "10.0.0.2");
  s.accept(c, "10.0.0.3");
  assert.deepEqual([a.closed, b.closed, c.closed], [false, false, true], "closed synchronously");
  assert.equal(s.size, 2);
  a.end();
  await a.whenClosed();
  s.accept(d, "10.0.0.3");
  assert.equal(d.closed, false);
  d.push("GET /?d HTTP/1.1\r\n\r\n");
  assert.equal(await d.waitFor("d"), ok("d"));
  await s.close();
});

test("server: maxConnectionsPerIP counts IPv4 per address and IPv6 per /64", async () => {
  const { s } = server({ maxConnectionsPerIP: 2 });
  const open = (remote: string) => {
    const c = new FakeStream();
    s.accept(c, remote);
    return c;
  };
  const v4 = [open("10.0.0.1"), open("10.0.0.1"), open("10.0.0.1")];
  assert.deepEqual(v4.map((c) => c.closed), [false, false, true]);
  assert.equal(open("10.0.0.2").closed, false, "another address has its own count");
  const v6 = [open("2001:db8:1:2::1"), open("2001:db8:1:2:ffff:ffff:ffff:ffff"), open("2001:db8:1:2::99")];
  assert.deepEqual(v6.map((c) => c.closed), [false, false, true], "one /64 shares a count");
  assert.equal(open("2001:db8:1:3::1").closed, false, "the next /64 does not");
  assert.equal(open("[2001:db8:1:2::5]").closed, true, "bracketed, same /64");
  // a slot of the /64 is freed when one of its connections ends
  v6[0].end();
  await v6[0].whenClosed();
  assert.equal(open("2001:db8:1:2::abcd").closed, false);
  assert.equal(open("2001:db8:1:2::abce").closed, true);
  await s.close();
});

test("server: close() drops idle connections, lets in-flight ones finish, refuses new ones", async () => {
  const gate = Promise.withResolvers<void>();
  const { s } = server({
    handler: (head) => text(echo(head)) === "slow" ? gate.promise.then(() => bytes("slow")) : echo(head),
  });
  const idle = new FakeStream();
  const answered = new FakeStream();
  const busy = new FakeStream();
  s.accept(idle, "10.0.0.1");
  s.accept(answered, "10.0.0.1");
  s.accept(busy, "10.0.0.1");
  answered.push("GET /?fast HTTP/1.1\r\n\r\n");
  await answered.waitFor("fast");
  busy.push("GET /?slow HTTP/1.1\r\n\r\nGET /?after HTTP/1.1\r\n\r\n");
  await settle();
  const closing = s.close();
  assert.equal(idle.closed, true, "never sent anything: dropped at once");
  assert.equal(answered.closed, true, "idle between requests: dropped at once");
  assert.equal(busy.closed, false);
  const late = new FakeStream();
  s.accept(late, "10.0.0.2");
  assert.equal(late.closed, true, "no new connections while closing");
  setTimeout(() => gate.resolve(), 100);
  await closing;
  assert.equal(busy.closed, true);
  assert.ok(busy.written.startsWith(ok("slow")), busy.written);
  assert.ok(!busy.written.includes("after"), "no further pipelined request is served");
  assert.equal(s.size, 0);
});

test("server: close() drops at once a connection waiting for the rest of a pipelined head", async () => {
  const { s } = server();
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET /?one HTTP/1.1\r\n\r\nGET /?tw");
  await c.waitFor("one");
  const t0 = Date.now();
  await s.close();
  assert.ok(Date.now() - t0 < 200, `close() took ${Date.now() - t0} ms`);
  assert.equal(c.closed, true);
  assert.equal(c.written, ok("one"));
});

test("server: close() cuts an in-flight request after 2 s", async () => {
  const { s } = server({ handler: () => new Promise<Uint8Array>(() => {}) });
  const c = new FakeStream();
  s.accept(c, "10.0.0.1");
  c.push("GET / HTTP/1.1\r\n\r\n");
  await settle();
  const t0 = Date.now();
  await s.close();
  const t = Date.now() - t0;
  assert.ok(t >= 1900 && t < 2600, `close() took ${t} ms`);
  assert.equal(c.closed, true);
});
