/**
 * The tracker's own HTTP/1.1 server, on byte streams that a runtime binding
 * accepts (`Deno.listen`, `Deno.listenTls`, `Bun.listen`). Owning the connection is what lets a
 * public tracker defend itself: request line and header caps, a read timeout that
 * cuts slowloris heads, an idle timeout for keep-alive, a write timeout for readers
 * that never drain, and caps on connections in all and per address (IPv6 per /64).
 * It also skips Web `Request`/`Response` objects on the hot path: the handler gets
 * the request target as bytes and answers with bencode bytes.
 *
 * @module
 */
import { addressKey, parseIP } from "../../bittorrent/ip.ts";
import type { MaybePromise } from "../../maybe.ts";
import type { RemoteAddress } from "./parser.ts";
import {
  HEADERS_TOO_LARGE,
  INCOMPLETE,
  LINE_TOO_LONG,
  MAX_HEADER_BYTES,
  MAX_REQUEST_LINE,
  type Persistence,
  RequestHead,
  ResponseHeads,
  takeHead,
} from "./wire.ts";

/** A connected byte stream, as `Deno.Conn` is. */
export interface ByteStream {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  /**
   * Takes all of `p` now, to be sent in order, and returns true; or false, and
   * then `write` must be used. Optional: it spares a promise per reply.
   */
  offer?(p: Uint8Array): boolean;
  /**
   * {@link read} without a promise: returns the bytes read (or null at end of
   * stream) when they are there now, or undefined, and then calls `done` (or
   * `failed`) once, later. Throws what `read` would reject with at once.
   * Optional: it spares a promise and a microtask per request.
   */
  readSoon?(
    p: Uint8Array,
    done: (n: number | null) => void,
    failed: (err: unknown) => void,
  ): number | null | undefined;
  close(): void;
}

/**
 * Answers one request: bencode bytes for a `200 OK` (the body, or the whole reply
 * built in `frame`), or a `Response` for anything else (errors of routing,
 * streamed full scrapes). `head` and `frame` are valid only until the returned value
 * settles. `remote` is the peer's address parsed into bytes (once per connection),
 * or the text the binding gave where it is not an IP.
 */
export type RequestHandler = (
  head: RequestHead,
  remote: RemoteAddress,
  frame: ReplyFrame,
) => MaybePromise<Uint8Array | Response>;

/**
 * Where a handler may build its `200 OK` reply in place, head and body in one
 * array, so that the body is not copied behind a head. One per connection; the
 * server sets it up for each request.
 *
 * @example
 * ```ts
 * const handler: RequestHandler = (head, remote, frame) => {
 *   const out = frame.frame(body.length);
 *   out.set(body, out.length - body.length);
 *   return out; // sent as it is
 * };
 * ```
 */
export class ReplyFrame {
  /** How this request's reply ends the connection. */
  persistence: Persistence = "open";
  /** The server's clock (ms), for the date header. */
  now = 0;
  /** What {@link frame} last gave out: a reply that is this array is already whole. */
  framed: Uint8Array | undefined;

  constructor(private readonly heads: ResponseHeads) {}

  /** The whole `200 OK` reply with its head written; the body goes in its last `bodyLength` bytes. */
  frame(bodyLength: number): Uint8Array {
    return this.framed = this.heads.frame(bodyLength, this.persistence, this.now);
  }
}

/** Limits of the server (the `http:` block's timeouts and connection caps). */
export interface HTTPServerOptions {
  handler: RequestHandler;
  /** `enable_keepalive`: false closes every connection after one reply. */
  keepAlive: boolean;
  /** ms to receive a whole request head, from its first byte (or from accept); 0: no limit. */
  readTimeout: number;
  /** ms to answer and write a reply; 0: no limit. */
  writeTimeout: number;
  /** ms a keep-alive connection may wait for its next request; 0: no limit. */
  idleTimeout: number;
  /** Open connections in all; more are closed at accept. */
  maxConnections: number;
  /** Open connections per address (IPv6: per /64); more are closed at accept. */
  maxConnectionsPerIP: number;
  /**
   * The `200 OK` body that answers a request line too long to read (the tracker's
   * bencoded `request too long`); without it such a request gets a 414.
   */
  tooLong?: Uint8Array;
  /** Told about a handler that threw or a Response body that failed. */
  onError(err: unknown): void;
}

/** How often deadlines are checked: a timeout fires up to twice this late. */
const SWEEP_MS = 250;
/** A connection's buffer starts this small (an announce is ~300–600 bytes) and grows to the caps. */
const BUFFER_START = 2048;
const BUFFER_MAX = MAX_REQUEST_LINE + MAX_HEADER_BYTES;
/** How long `close()` lets in-flight requests finish before cutting them. */
const DRAIN_MS = 2000;

const enc = new TextEncoder();
const ERROR_BODY: Record<number, Uint8Array> = {
  400: enc.encode("400 Bad Request\n"),
  414: enc.encode("414 URI Too Long\n"),
  431: enc.encode("431 Request Header Fields Too Large\n"),
};
const CRLF = enc.encode("\r\n");
const LAST_CHUNK = enc.encode("0\r\n\r\n");

/** One connection and where its reading stands, kept between the calls of {@link HTTPServer.pump}. */
class Connection {
  deadline: number;
  busy = false;
  readonly head = new RequestHead();
  readonly frame: ReplyFrame;
  buf = new Uint8Array(BUFFER_START);
  /** The current request's first byte. */
  from = 0;
  /** Bytes in buf. */
  have = 0;
  /** Bytes of the current head already searched for its end. */
  scanned = 0;
  /** The end of the request being answered, and whether the connection stays open after it. */
  end = 0;
  keep = false;
  /** The continuations of a read, made once. */
  readonly received: (n: number | null) => void;
  readonly failed: () => void;

  constructor(
    readonly stream: ByteStream,
    readonly remote: RemoteAddress,
    readonly key: string,
    now: number,
    limit: number,
    heads: ResponseHeads,
    server: HTTPServer,
  ) {
    this.deadline = now + limit;
    this.frame = new ReplyFrame(heads);
    this.received = (n) => server.received(this, n) && server.pump(this);
    this.failed = () => server.release(this);
  }
}

/**
 * Serves HTTP/1.1 on the streams given to {@link accept}.
 *
 * @example
 * ```ts
 * const server = new HTTPServer({ handler, keepAlive: true, readTimeout: 2000, writeTimeout: 2000,
 *   idleTimeout: 30000, maxConnections: 16384, maxConnectionsPerIP: 64, onError: console.error });
 * for await (const conn of Deno.listen({ port: 6969 })) server.accept(conn, conn.remoteAddr.hostname);
 * ```
 */
export class HTTPServer {
  private readonly connections = new Set<Connection>();
  private readonly perKey = new Map<string, number>();
  private readonly heads = new ResponseHeads();
  private now = Date.now();
  private closing = false;
  private readonly timer: ReturnType<typeof setInterval>;

  private readonly opts: HTTPServerOptions;

  constructor(opts: HTTPServerOptions) {
    // A zero timeout means none, as in Go's http.Server.
    const limit = (ms: number) => ms > 0 ? ms : Infinity;
    this.opts = {
      ...opts,
      readTimeout: limit(opts.readTimeout),
      writeTimeout: limit(opts.writeTimeout),
      idleTimeout: limit(opts.idleTimeout),
    };
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
  }

  /** Open connections. */
  get size(): number {
    return this.connections.size;
  }

  /** Serves `stream` from `remote` (the socket peer's address), or closes it at once when over a cap. */
  accept(stream: ByteStream, remote: string): void {
    const { maxConnections, maxConnectionsPerIP } = this.opts;
    const ip = parseIP(remote);
    const key = ip === null ? remote : addressKey(ip);
    const held = this.perKey.get(key) ?? 0;
    if (
      this.closing || this.connections.size >= maxConnections || held >= maxConnectionsPerIP
    ) {
      closeQuietly(stream);
      return;
    }
    this.perKey.set(key, held + 1);
    const c = new Connection(stream, ip ?? remote, key, this.now, this.opts.readTimeout, this.heads, this);
    this.connections.add(c);
    this.pump(c);
  }

  /** Ends a connection (again: no effect). Called by the connection's own continuations too. */
  release(c: Connection): void {
    if (!this.connections.delete(c)) return;
    closeQuietly(c.stream);
    const held = (this.perKey.get(c.key) ?? 1) - 1;
    if (held === 0) this.perKey.delete(c.key);
    else this.perKey.set(c.key, held);
  }

  private sweep(): void {
    this.now = Date.now();
    // Closing the stream fails its pending read or write, whose continuation then finds it released.
    // Deadlines are set from `now`, which may be up to SWEEP_MS old: allowing for that
    // here means a timeout never fires early (and at most 2 × SWEEP_MS late).
    const due = this.now - SWEEP_MS;
    for (const c of this.connections) if (due > c.deadline) this.release(c);
  }

  /**
   * Serves `c` for as long as it can go on at once: parses each head in the buffer,
   * answers it and reads more, until it must wait for input or for a reply that is
   * asynchronous, whose continuation calls it again. Every way out of a
   * connection goes through {@link release}.
   */
  pump(c: Connection): void {
    const { head, frame, stream } = c;
    try {
      for (;;) {
        const end = takeHead(c.buf, c.from, c.scanned, c.have, head);
        if (end === INCOMPLETE) {
          const into = this.room(c);
          if (into === undefined) return;
          const n = stream.readSoon !== undefined
            ? stream.readSoon(into, c.received, c.failed)
            : void stream.read(into).then(c.received, c.failed);
          if (n === undefined || !this.received(c, n)) return;
          continue;
        }
        if (end < 0) return this.refuse(c, end);
        c.busy = true;
        c.deadline = this.now + this.opts.writeTimeout;
        c.end = end;
        // Only GET is routed: any other method gets an error body, which a HEAD client would take for
        // the next response, so the connection ends after it.
        c.keep = this.opts.keepAlive && !this.closing && head.persistent() && head.get;
        frame.persistence = !c.keep ? "close" : head.http10 ? "keep-alive" : "open";
        frame.now = this.now;
        frame.framed = undefined;
        let reply: Uint8Array | Response | Promise<Uint8Array | Response>;
        try {
          reply = this.opts.handler(head, c.remote, frame);
        } catch (err) {
          reply = this.failure(err);
        }
        if (reply instanceof Promise) {
          reply.then((r) => this.respond(c, r), (err) => this.respond(c, this.failure(err)))
            .then((more) => more && this.pump(c), c.failed);
          return;
        }
        if (!this.respond(c, reply)) return;
      }
    } catch {
      // the peer went away, or a deadline closed the stream
      this.release(c);
    }
  }

  /**
   * Makes room in `c`'s buffer for the rest of a head and returns where to read it,
   * or refuses a head over the caps (undefined).
   */
  private room(c: Connection): Uint8Array | undefined {
    c.scanned = Math.max(c.from, c.have - 3);
    const pending = c.have - c.from;
    // (Searched only once the cap is reached: a head trickled in byte by byte is not rescanned.)
    if (pending >= MAX_REQUEST_LINE && c.buf.subarray(c.from, c.have).indexOf(0x0a) < 0) {
      this.refuse(c, LINE_TOO_LONG);
      return undefined;
    }
    if (pending >= BUFFER_MAX) {
      this.refuse(c, HEADERS_TOO_LARGE);
      return undefined;
    }
    if (c.from > 0) {
      c.buf.copyWithin(0, c.from, c.have);
      c.have -= c.from;
      c.scanned -= c.from;
      c.from = 0;
    }
    if (c.have === c.buf.length) {
      const grown = new Uint8Array(Math.min(c.buf.length * 2, BUFFER_MAX));
      grown.set(c.buf);
      c.buf = grown;
    }
    if (c.busy) {
      // Waiting for the next request (or the rest of a pipelined one): nothing in
      // flight, so close() may drop it; with nothing buffered the idle timeout runs.
      c.busy = false;
      if (c.have === 0) c.deadline = this.now + this.opts.idleTimeout;
    }
    // Mostly the buffer is empty between requests: the read then takes it whole, with no view to make.
    return c.have === 0 ? c.buf : c.buf.subarray(c.have);
  }

  /** Takes `n` bytes read into `c`'s buffer; false at the end of the stream (released). */
  received(c: Connection, n: number | null): boolean {
    if (n === null) {
      this.release(c);
      return false;
    }
    if (c.have === 0) c.deadline = this.now + this.opts.readTimeout;
    c.have += n;
    return true;
  }

  private failure(err: unknown): Response {
    this.opts.onError(err);
    return new Response("internal server error", { status: 500 });
  }

  /**
   * Writes the reply to the request that ends at `c.end`. True when the next
   * request may be served at once; otherwise the connection was released, or the
   * write goes on and its continuation pumps `c` again.
   */
  private respond(c: Connection, reply: Uint8Array | Response): boolean {
    const { frame } = c;
    if (!(reply instanceof Uint8Array)) {
      this.writeResponse(c, reply, frame.persistence, c.head.http10)
        .then((open) => open ? this.next(c) && this.pump(c) : this.release(c), c.failed);
      return false;
    }
    const whole = reply === frame.framed ? reply : this.heads.ok(reply, frame.persistence, this.now);
    const written = writeAll(c.stream, whole);
    if (written === undefined) return this.next(c);
    written.then(() => this.next(c) && this.pump(c), c.failed);
    return false;
  }

  /** After a reply: true when the connection goes on to its next request, else it is released. */
  private next(c: Connection): boolean {
    if (!c.keep || this.closing) {
      this.release(c);
      return false;
    }
    c.from = c.scanned = c.end;
    if (c.from === c.have) c.from = c.have = c.scanned = 0;
    else c.deadline = this.now + this.opts.readTimeout;
    return true;
  }

  /** Answers a head that cannot be served with its error, then ends the connection. */
  private refuse(c: Connection, why: number): void {
    this.refusal(c, why).then(c.failed, c.failed);
  }

  private async refusal(c: Connection, why: number): Promise<void> {
    const { tooLong } = this.opts;
    if (why === LINE_TOO_LONG && tooLong !== undefined) {
      await writeAll(c.stream, this.heads.ok(tooLong, "close", this.now));
      return;
    }
    const status = -why;
    const body = ERROR_BODY[status];
    const h = this.heads.head(
      status,
      [["content-type", "text/plain; charset=utf-8"]],
      body.length,
      "close",
      false,
      this.now,
    );
    await writeAll(c.stream, concat(h, body));
  }

  /** Writes a Web Response; false when its body had to be delimited by closing the connection. */
  private async writeResponse(
    c: Connection,
    res: Response,
    persistence: Persistence,
    http10: boolean,
  ): Promise<boolean> {
    if (res.body === null) {
      await writeAll(c.stream, this.heads.head(res.status, res.headers, 0, persistence, http10, this.now));
      return true;
    }
    // A streamed body: chunked, or for HTTP/1.0 ended by closing the connection.
    const chunked = !http10;
    await writeAll(
      c.stream,
      this.heads.head(res.status, res.headers, undefined, chunked ? persistence : "close", http10, this.now),
    );
    const reader = res.body.getReader();
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        this.opts.onError(err);
        return false;
      }
      if (next.done) break;
      const chunk = next.value;
      if (chunk.length === 0) continue;
      c.deadline = this.now + this.opts.writeTimeout;
      try {
        await writeAll(
          c.stream,
          chunked ? concat(enc.encode(chunk.length.toString(16)), CRLF, chunk, CRLF) : chunk,
        );
      } catch (err) {
        await reader.cancel().catch(() => {});
        throw err;
      }
    }
    if (chunked) await writeAll(c.stream, LAST_CHUNK);
    return chunked;
  }

  /**
   * Refuses new connections, closes idle ones, lets in-flight requests finish (up
   * to 2 s), then closes the rest.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.connections) if (!c.busy) this.release(c);
    const deadline = Date.now() + DRAIN_MS;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.connections) this.release(c);
    clearInterval(this.timer);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

/**
 * Writes all of `bytes`: at once where the stream takes them (no promise), else
 * with `write`, where only a short write costs a second promise.
 */
function writeAll(s: ByteStream, bytes: Uint8Array): Promise<void> | undefined {
  if (s.offer?.(bytes)) return undefined;
  return s.write(bytes).then((n) => n < bytes.length ? writeRest(s, bytes, n) : undefined);
}

async function writeRest(s: ByteStream, bytes: Uint8Array, at: number): Promise<void> {
  while (at < bytes.length) at += await s.write(bytes.subarray(at));
}

function closeQuietly(s: ByteStream): void {
  try {
    s.close();
  } catch {
    // already closed
  }
}
