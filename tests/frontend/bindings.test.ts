/**
 * The runtime's socket bindings as `main.ts` and the black-box tests pick them:
 * Deno.listen/Deno.serve/Deno.listenDatagram (and FFI) on Deno,
 * Bun.listen/Bun.serve/node:dgram on Bun, where `udp.transport: ffi` is a startup
 * error that says what to do. Bun's push-style sockets become pull-style byte
 * streams (`BunStream`): on a scripted socket in both runtimes, on real ones on Bun.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import * as bunHTTP from "../../src/frontend/http/bun.ts";
import { type BunSocket, BunStream, READ_HIGH_WATER } from "../../src/frontend/http/bun.ts";
import type { ByteStream } from "../../src/frontend/http/server.ts";
import * as denoHTTP from "../../src/frontend/http/deno.ts";
import { selectTCPTransport } from "../../src/frontend/http/select.ts";
import * as bunUDP from "../../src/frontend/udp/bun.ts";
import * as denoUDP from "../../src/frontend/udp/deno.ts";
import {
  bindings,
  listenTCP,
  listenUDP,
  selectUDPTransport,
  serveHTTP,
} from "../../src/frontend/bindings.ts";
import { silentLogger } from "../../src/log.ts";
import { isBun, runtime } from "../../src/runtime.ts";
import { Tracker } from "../../src/tracker.ts";
import { httpConfig, testConfig, udpConfig } from "../helpers/tracker.ts";

describe("runtime bindings", () => {
  it("follow the runtime", () => {
    assert.equal(runtime.name, isBun ? "bun" : "deno");
    assert.match(runtime.version, /^\d+\.\d+\.\d+/);
    assert.equal(serveHTTP, isBun ? bunHTTP.serveHTTP : denoHTTP.serveHTTP);
    assert.equal(listenUDP, isBun ? bunUDP.listenUDP : denoUDP.listenUDP);
    assert.equal(listenTCP, isBun ? bunHTTP.listenTCP : denoHTTP.listenTCP);
    assert.equal(bindings.listenTCP, listenTCP);
    assert.equal(bindings.selectUDP, selectUDPTransport);
    assert.equal(bindings.selectTCP, isBun ? undefined : selectTCPTransport);
    assert.equal(typeof runtime.env().PATH, "string");
  });

  it("on Bun: http.transport auto and deno serve through Bun.listen; ffi is refused with what to do", {
    skip: isBun ? false : "Bun only: the Bun transport selection",
  }, async () => {
    const started = await Tracker.start(testConfig({ http: httpConfig({ transport: "auto" }) }), {
      runtime: bindings,
      log: silentLogger,
    });
    await started.stop();
    const config = testConfig({ http: httpConfig({ transport: "ffi" }) });
    await assert.rejects(
      Tracker.start(config, { runtime: bindings, log: silentLogger }),
      /http\.transport is ffi.*set http\.transport: deno/,
    );
  });

  it("on Bun: auto and deno serve through node:dgram; ffi is refused with what to do", {
    skip: isBun ? false : "Bun only: the Bun transport selection",
  }, async () => {
    assert.equal(selectUDPTransport("auto").transport, "dgram");
    assert.equal(selectUDPTransport("deno").transport, "dgram");
    assert.throws(() => selectUDPTransport("ffi"), /needs Deno.*set udp\.transport: auto/);
    const config = testConfig({ udp: udpConfig({ transport: "ffi" }) });
    await assert.rejects(Tracker.start(config, { runtime: bindings, log: silentLogger }), /ffi/);
  });

  it("on Bun: a taken UDP port is refused, and close() is idempotent", {
    skip: isBun ? false : "Bun only: the node:dgram binding",
  }, async () => {
    const handler = (p: Uint8Array) => p.slice();
    const a = await bunUDP.listenUDP({ hostname: "127.0.0.1", port: 0, handler, onError: () => {} });
    try {
      await assert.rejects(
        bunUDP.listenUDP({ hostname: "127.0.0.1", port: a.port, handler, onError: () => {} }),
        /EADDRINUSE|in use/i,
      );
    } finally {
      await a.close();
      await a.close();
    }
  });

  it("on Bun: a taken HTTP port is refused", {
    skip: isBun ? false : "Bun only: the Bun.serve binding",
  }, async () => {
    const handler = () => new Response("ok");
    const a = await bunHTTP.serveHTTP({ hostname: "127.0.0.1", port: 0, handler, onError: () => {} });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${a.port}/`)).text(), "ok");
      await assert.rejects(
        bunHTTP.serveHTTP({ hostname: "127.0.0.1", port: a.port, handler, onError: () => {} }),
        /EADDRINUSE|in use/i,
      );
    } finally {
      await a.close();
    }
  });
});

const te = new TextEncoder();
const td = new TextDecoder();

/** A Bun socket played by the test: `write` takes at most `budget` bytes until more is granted. */
class ScriptedSocket implements BunSocket {
  readonly remoteAddress = "192.0.2.1";
  data: BunStream | undefined;
  readonly sent: number[] = [];
  budget = Infinity;
  paused = false;
  ended = false;
  write(p: Uint8Array): number {
    if (this.ended) return -1;
    const n = Math.min(p.length, this.budget);
    this.budget -= n;
    for (const b of p.subarray(0, n)) this.sent.push(b);
    return n;
  }
  end() {
    this.ended = true;
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  setNoDelay() {
    return true;
  }
}

/** Whether `p` has settled after a short wait. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 5));
  return done;
}

/** Reads `s` to EOF through a `size`-byte buffer. */
async function readAll(s: ByteStream, size: number): Promise<Uint8Array[]> {
  const p = new Uint8Array(size);
  const parts: Uint8Array[] = [];
  for (let n = await s.read(p); n !== null; n = await s.read(p)) parts.push(p.slice(0, n));
  return parts;
}

function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

describe("BunStream on a scripted socket", () => {
  it("reads into a small buffer, keeping what does not fit, then null at EOF", async () => {
    const s = new BunStream(new ScriptedSocket());
    const p = new Uint8Array(4);
    const first = s.read(p);
    assert.equal(await settled(first), false, "a read waits for data");
    s.onData(te.encode("hello "));
    assert.equal(await first, 4);
    assert.equal(td.decode(p), "hell");
    s.onData(te.encode("world"));
    assert.equal(s.buffered, 7);
    s.onEnd();
    const parts = await readAll(s, 4);
    assert.deepEqual(parts.map((x) => td.decode(x)), ["o wo", "rld"], "a read spans chunks");
    assert.equal(await s.read(p), null, "EOF stays EOF");
  });

  it("a pending read sees EOF and close; a second pending read is refused", async () => {
    const s = new BunStream(new ScriptedSocket());
    const p = new Uint8Array(8);
    const first = s.read(p);
    await assert.rejects(s.read(p), /already pending/);
    s.onEnd();
    assert.equal(await first, null);
    const t = new BunStream(new ScriptedSocket());
    const pending = t.read(p);
    t.onClose();
    assert.equal(await pending, null);
  });

  it("a short write waits for drain and resolves with the whole length", async () => {
    const sock = new ScriptedSocket();
    const s = new BunStream(sock);
    const bytes = pattern(10_000);
    sock.budget = 3000;
    const w = s.write(bytes);
    assert.equal(await settled(w), false, "waits for drain");
    const w2 = s.write(te.encode("next")); // queued behind the first
    sock.budget = 4000;
    s.onDrain();
    assert.equal(await settled(w), false, "still 3000 bytes short");
    sock.budget = Infinity;
    s.onDrain();
    assert.equal(await w, 10_000);
    assert.equal(await w2, 4);
    assert.deepEqual(new Uint8Array(sock.sent), new Uint8Array([...bytes, ...te.encode("next")]));
    assert.equal(await s.write(te.encode("x")), 1, "a write that fits resolves at once");
  });

  it("close() ends the socket, rejects pending writes and resolves the pending read with null", async () => {
    const sock = new ScriptedSocket();
    const s = new BunStream(sock);
    sock.budget = 1;
    const w = s.write(pattern(100));
    const r = s.read(new Uint8Array(8));
    s.close();
    s.close();
    assert.equal(sock.ended, true);
    await assert.rejects(w, /closed/);
    assert.equal(await r, null);
    await assert.rejects(s.write(pattern(1)), /closed/);
    assert.equal(await s.read(new Uint8Array(8)), null);
  });

  it("pauses the socket past 64 KiB unread and resumes it as reads drain", async () => {
    const sock = new ScriptedSocket();
    const s = new BunStream(sock);
    const data = pattern(200 * 1024);
    for (let at = 0; at < data.length; at += 16 * 1024) {
      if (!sock.paused) s.onData(data.slice(at, at + 16 * 1024));
    }
    assert.equal(sock.paused, true);
    assert.ok(s.buffered > READ_HIGH_WATER && s.buffered <= READ_HIGH_WATER + 16 * 1024, `${s.buffered}`);
    const p = new Uint8Array(1024);
    let n = 0;
    while (sock.paused) n += (await s.read(p))!;
    assert.ok(s.buffered <= READ_HIGH_WATER, `resumed at ${s.buffered}`);
    assert.ok(n > 0);
  });
});

/** A listener on Bun whose accepted streams come out of `next()`. */
async function bunListener() {
  const waiting: ((s: BunStream) => void)[] = [];
  const ready: BunStream[] = [];
  const remotes: string[] = [];
  const l = await bunHTTP.listenTCP({
    hostname: "127.0.0.1",
    port: 0,
    accept(s, remote) {
      remotes.push(remote);
      const w = waiting.shift();
      if (w) w(s as BunStream);
      else ready.push(s as BunStream);
    },
    onError: (err) => assert.fail(String(err)),
  });
  const next = () =>
    ready.length > 0 ? Promise.resolve(ready.shift()!) : new Promise<BunStream>((r) => waiting.push(r));
  return { l, next, remotes };
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = connect(port, "127.0.0.1", () => resolve(c));
    c.once("error", reject);
  });
}

/** Collects what `c` receives until it ends or closes. */
function received(c: Socket): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  c.on("data", (d: Uint8Array) => parts.push(d));
  return new Promise((resolve) => {
    const done = () => {
      let n = 0;
      for (const p of parts) n += p.length;
      const out = new Uint8Array(n);
      n = 0;
      for (const p of parts) out.set(p, (n += p.length) - p.length);
      resolve(out);
    };
    c.once("end", done);
    c.once("close", done);
  });
}

const bunOnly = { skip: isBun ? false : "Bun only: the Bun.listen binding" };

describe("Bun.listen binding", () => {
  it(
    "on Bun: listens on a real port, close() stops accepting, a taken port is refused",
    bunOnly,
    async () => {
      const { l, next, remotes } = await bunListener();
      const c = await dial(l.port);
      try {
        assert.equal(l.hostname, "127.0.0.1");
        assert.ok(l.port > 0);
        const s = await next();
        assert.deepEqual(remotes, ["127.0.0.1"]);
        await assert.rejects(
          bunHTTP.listenTCP({ hostname: "127.0.0.1", port: l.port, accept: () => {}, onError: () => {} }),
          /EADDRINUSE/,
        );
        await l.close();
        await l.close();
        await assert.rejects(dial(l.port), /ECONNREFUSED/);
        // the accepted stream outlives its listener
        c.write("ping");
        const p = new Uint8Array(16);
        assert.equal(td.decode(p.subarray(0, (await s.read(p))!)), "ping");
        assert.equal(await s.write(te.encode("pong")), 4);
        const got = received(c);
        s.close();
        assert.equal(td.decode(await got), "pong");
      } finally {
        c.destroy();
        await l.close();
      }
    },
  );

  it(
    "on Bun: small reads, then EOF after the peer's FIN, and the answer still goes out",
    bunOnly,
    async () => {
      const { l, next } = await bunListener();
      const c = await dial(l.port);
      try {
        const s = await next();
        const got = received(c);
        c.end("GET / HTTP/1.1\r\n\r\n");
        const parts = await readAll(s, 5);
        assert.equal(parts.map((x) => td.decode(x)).join(""), "GET / HTTP/1.1\r\n\r\n");
        assert.ok(parts.every((x) => x.length <= 5));
        assert.equal(await s.write(te.encode("answer")), 6, "half-open: writes work after the FIN");
        s.close();
        assert.equal(td.decode(await got), "answer");
      } finally {
        c.destroy();
        await l.close();
      }
    },
  );

  it("on Bun: a write larger than the socket takes waits for drain and arrives whole", bunOnly, async () => {
    const { l, next } = await bunListener();
    const c = await dial(l.port);
    try {
      const s = await next();
      c.pause();
      const bytes = pattern(16 << 20);
      const w = s.write(bytes);
      assert.equal(await settled(w), false, "short write: waits while the peer does not read");
      const got = received(c);
      c.resume();
      assert.equal(await w, bytes.length);
      s.close();
      const back = await got;
      assert.equal(back.length, bytes.length);
      assert.ok(back.every((b, i) => b === bytes[i]));
    } finally {
      c.destroy();
      await l.close();
    }
  });

  it(
    "on Bun: a peer that sends while nobody reads is paused near 64 KiB, then read in full",
    bunOnly,
    async () => {
      const { l, next } = await bunListener();
      const c = await dial(l.port);
      try {
        const s = await next();
        const bytes = pattern(8 << 20);
        let flushed = false;
        c.write(bytes, () => flushed = true);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(s.isPaused, true);
        // one receive of Bun's (up to its 512 KiB buffer) may land before the pause
        assert.ok(s.buffered <= READ_HIGH_WATER + 512 * 1024, `${s.buffered} bytes held`);
        assert.equal(flushed, false, "the sender is held back by the kernel's window");
        const out = new Uint8Array(bytes.length);
        let have = 0;
        while (have < bytes.length) {
          const n = await s.read(out.subarray(have, have + 4096));
          assert.notEqual(n, null);
          have += n!;
        }
        assert.ok(out.every((b, i) => b === bytes[i]));
        assert.equal(s.isPaused, false);
        s.close();
      } finally {
        c.destroy();
        await l.close();
      }
    },
  );

  it("on Bun: a peer that resets the connection ends a pending read with null", bunOnly, async () => {
    const { l, next } = await bunListener();
    const c = await dial(l.port);
    try {
      const s = await next();
      const r = s.read(new Uint8Array(8));
      c.resetAndDestroy();
      assert.equal(await r, null);
      await assert.rejects(s.write(te.encode("late")), /closed|reset|ECONN/i);
    } finally {
      c.destroy();
      await l.close();
    }
  });
});
