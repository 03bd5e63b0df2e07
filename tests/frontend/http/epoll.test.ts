/**
 * What only the epoll transport has: streams on raw non-blocking sockets (reads
 * and writes that must wait for the kernel, end of stream, close with a read
 * pending), stopping, bind errors, and how `http.transport` is selected. The HTTP
 * behaviour on top runs for every transport in blackbox.test.ts and
 * server_blackbox.test.ts.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { selectWithoutFFI } from "../../helpers/without_ffi.ts";
import { listenTCPEpoll } from "../../../src/frontend/http/epoll.ts";
import { selectTCPTransport } from "../../../src/frontend/http/select.ts";
import type { ByteStream } from "../../../src/frontend/http/server.ts";
import { ffiUnavailable } from "../../../src/frontend/libc.ts";

const why = ffiUnavailable();
const skip = why === null ? false : `FFI transport unavailable: ${why}`;

/** A listener whose accepted streams arrive on `next()`, with the peer's address. */
async function listen(hostname = "127.0.0.1") {
  const queue: { stream: ByteStream; remote: string }[] = [];
  const waiting: (() => void)[] = [];
  const errors: unknown[] = [];
  const l = await listenTCPEpoll({
    hostname,
    port: 0,
    accept: (stream, remote) => {
      queue.push({ stream, remote });
      waiting.splice(0).forEach((w) => w());
    },
    onError: (err) => errors.push(err),
  });
  return {
    l,
    errors,
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => waiting.push(r));
      return queue.shift()!;
    },
  };
}

/** What `c` receives from now on, once it is at least `n` bytes (more shows as a longer result). */
function receive(c: Socket, n: number): Promise<Uint8Array> {
  const received: Buffer[] = [];
  let total = 0;
  return new Promise((resolve) =>
    c.on("data", (d: Buffer) => {
      received.push(d);
      total += d.length;
      if (total >= n) resolve(new Uint8Array(Buffer.concat(received)));
    })
  );
}

function dial(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

const text = (b: Uint8Array, n: number) => new TextDecoder().decode(b.subarray(0, n));

describe("epoll TCP transport", { skip }, () => {
  it("reads what the peer sends, waiting when nothing is there, and writes back", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream, remote } = await next();
    assert.equal(remote, "127.0.0.1");
    const buf = new Uint8Array(64);
    // Nothing sent yet: the read waits for the kernel's input edge.
    const pending = stream.read(buf);
    c.write("hello");
    assert.equal(text(buf, (await pending)!), "hello");
    const got = new Promise<string>((resolve) => c.once("data", (d) => resolve(d.toString())));
    assert.equal(await stream.write(new TextEncoder().encode("world")), 5);
    assert.equal(await got, "world");
    // The peer closes: the read sees the end of the stream.
    c.end();
    assert.equal(await stream.read(buf), null);
    stream.close();
    await l.close();
  });

  it("a write larger than the socket buffers waits for the reader and loses nothing", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream } = await next();
    c.pause();
    const big = new Uint8Array(16 << 20);
    for (let i = 0; i < big.length; i++) big[i] = i * 7;
    let written = 0;
    const writing = (async () => {
      while (written < big.length) written += await stream.write(big.subarray(written));
    })();
    // The kernel takes a few MiB at most before the paused reader drains anything.
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(written < big.length, `the write had to wait (${written} of ${big.length} taken)`);
    const all = receive(c, big.length);
    c.resume();
    await writing;
    assert.deepEqual(await all, big);
    stream.close();
    c.destroy();
    await l.close();
  });

  it("many small writes to a slow reader arrive whole and in order", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream } = await next();
    c.pause();
    // 4 MiB in 128-byte writes: with the reader behind, the queue holds hundreds of
    // them at a time, each sent whole or in part as the socket takes them.
    const SIZE = 128;
    const chunks = Array.from({ length: 32 << 10 }, (_, k) => new Uint8Array(SIZE).fill(k & 0xff));
    const all = receive(c, chunks.length * SIZE);
    const writing = (async () => {
      for (const chunk of chunks) await stream.write(chunk);
    })();
    await new Promise((r) => setTimeout(r, 100));
    c.resume();
    await writing;
    const got = await all;
    assert.equal(got.length, chunks.length * SIZE);
    for (let k = 0; k < chunks.length; k++) {
      if (got[k * SIZE] !== (k & 0xff) || got[k * SIZE + SIZE - 1] !== (k & 0xff)) {
        assert.fail(`chunk ${k} out of place`);
      }
    }
    stream.close();
    c.destroy();
    await l.close();
  });

  it("close() rejects a pending read and later reads and writes", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream } = await next();
    const pending = stream.read(new Uint8Array(16));
    const closed = new Promise((resolve) => c.once("close", resolve));
    stream.close();
    await assert.rejects(pending, /closed/);
    await assert.rejects(stream.read(new Uint8Array(16)), /closed/);
    await assert.rejects(stream.write(new Uint8Array(1)), /closed/);
    stream.close(); // twice is harmless
    await closed; // the peer sees the connection end
    await l.close();
  });

  it("a peer that resets the connection fails the read with an error, not a crash", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream } = await next();
    c.resetAndDestroy();
    const buf = new Uint8Array(16);
    // Either the reset (ECONNRESET) or a plain end, depending on timing; never a hang.
    const r = await stream.read(buf).then((n) => `read ${n}`, (e: Error) => e.message);
    assert.match(r, /read null|ECONNRESET/);
    stream.close();
    await l.close();
  });

  it("serves IPv6 on ::1 with the peer's address as IPv6", async () => {
    const { l, next } = await listen("::1");
    assert.equal(l.hostname, "::1");
    const c = await dial(l.port, "::1");
    const { stream, remote } = await next();
    assert.equal(remote, "::1");
    stream.close();
    c.destroy();
    await l.close();
  });

  it("close() stops accepting; streams already open keep working until closed", async () => {
    const { l, next } = await listen();
    const c = await dial(l.port);
    const { stream } = await next();
    await l.close();
    await assert.rejects(dial(l.port), /ECONNREFUSED/);
    const buf = new Uint8Array(16);
    c.write("still");
    assert.equal(text(buf, (await stream.read(buf))!), "still");
    stream.close();
    c.destroy();
  });

  it("many connections at once are all accepted and served", async () => {
    const { l, next } = await listen();
    const clients = await Promise.all(Array.from({ length: 200 }, () => dial(l.port)));
    const streams = [];
    for (let i = 0; i < clients.length; i++) streams.push((await next()).stream);
    const buf = new Uint8Array(8);
    for (const [i, c] of clients.entries()) c.write(`c${i}`);
    const got = new Set<string>();
    for (const s of streams) got.add(text(buf, (await s.read(buf))!));
    assert.equal(got.size, 200);
    for (const s of streams) s.close();
    for (const c of clients) c.destroy();
    await l.close();
  });

  it("refuses a taken port, a hostname that is not an IP literal, and TLS", async () => {
    const { l } = await listen();
    const opts = { port: l.port, accept: () => {}, onError: () => {} };
    await assert.rejects(listenTCPEpoll({ ...opts, hostname: "127.0.0.1" }), Deno.errors.AddrInUse);
    await assert.rejects(listenTCPEpoll({ ...opts, hostname: "localhost", port: 0 }), /not an IP address/);
    await assert.rejects(
      listenTCPEpoll({ ...opts, hostname: "127.0.0.1", port: 0, tls: { certPath: "c", keyPath: "k" } }),
      /plain TCP only/,
    );
    await l.close();
  });
});

describe("HTTP transport selection", () => {
  it("follows http.transport with FFI granted; TLS always takes Deno.listenTls", { skip }, () => {
    assert.equal(selectTCPTransport("auto", false).transport, "ffi");
    assert.equal(selectTCPTransport("ffi", false).transport, "ffi");
    assert.equal(selectTCPTransport("deno", false).transport, "deno");
    const tls = selectTCPTransport("ffi", true);
    assert.equal(tls.transport, "deno");
    assert.match(tls.reason, /TLS/);
  });

  it("falls back to deno on auto and refuses ffi without --allow-ffi", {
    skip: typeof Deno === "undefined" ? "Deno only: runs a `deno run` subprocess without --allow-ffi" : false,
  }, async () => {
    const r = await selectWithoutFFI(
      new URL("../../../src/frontend/http/select.ts", import.meta.url),
      "selectTCPTransport",
      [false],
    );
    assert.equal(r.auto, "deno");
    assert.match(r.reason, /allow-ffi/);
    assert.match(r.err, /--allow-ffi/);
    assert.match(r.err, /http\.transport: deno/);
  });
});
