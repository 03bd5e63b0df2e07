/**
 * What only the FFI transport has: its start/stop under traffic, garbage floods
 * straight at the socket, SO_REUSEPORT, and how the transport is selected. The
 * shared behaviour runs for both transports in blackbox.test.ts.
 */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, it } from "node:test";
import { selectWithoutFFI } from "../../helpers/without_ffi.ts";
import { ffiUnavailable, listenUDPFFI } from "../../../src/frontend/udp/ffi.ts";
import { selectUDPTransport } from "../../../src/frontend/udp/select.ts";

const why = ffiUnavailable();
const skip = why === null ? false : `FFI transport unavailable: ${why}`;

/** Why no network namespace with a small loopback MTU can be made here (`unshare -rn`, `ip`), or false. */
function smallMTUUnavailable(): string | false {
  if (why !== null) return skip;
  try {
    const probe = new Deno.Command("unshare", {
      args: ["-rn", "ip", "link", "set", "lo", "mtu", "1200", "up"],
    })
      .outputSync();
    if (probe.code === 0) return false;
    return `cannot make a network namespace: unshare -rn ip link set lo mtu 1200 up: ${
      new TextDecoder().decode(probe.stderr).trim()
    }`;
  } catch (err) {
    return `cannot make a network namespace: ${
      (err as Error).message
    } (needs util-linux unshare and iproute2 ip)`;
  }
}
const smallMTU = smallMTUUnavailable();

function client(family: 4 | 6): Promise<Socket> {
  const s = createSocket(family === 4 ? "udp4" : "udp6");
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, family === 4 ? "127.0.0.1" : "::1", () => resolve(s));
  });
}

const send = (s: Socket, data: Uint8Array, port: number, host: string) =>
  new Promise<void>((resolve) => s.send(data, port, host, () => resolve()));

/**
 * Sends `data` until a reply equal to `expected` comes (up to 3 tries) and returns
 * it; other datagrams (late replies to a flood) are skipped.
 */
async function ask(
  s: Socket,
  data: Uint8Array,
  port: number,
  host: string,
  expected: number[],
): Promise<Uint8Array> {
  const key = expected.join(",");
  for (let attempt = 0; attempt < 3; attempt++) {
    const got = new Promise<Uint8Array | null>((resolve) => {
      const timer = setTimeout(() => {
        s.off("message", on);
        resolve(null);
      }, 1000);
      const on = (msg: Uint8Array) => {
        if ([...msg].join(",") !== key) return;
        clearTimeout(timer);
        s.off("message", on);
        resolve(new Uint8Array(msg));
      };
      s.on("message", on);
    });
    await send(s, data, port, host);
    const r = await got;
    if (r !== null) return r;
  }
  throw new Error("no reply");
}

/** Echoes the sender's address bytes, then the packet's first byte and length. */
const echo = (packet: Uint8Array, ip: Uint8Array) =>
  Uint8Array.from([...ip, packet[0] ?? 0, packet.length >> 8, packet.length & 255]);

/** Sends `total` 20-byte datagrams to `port` from another process, so that they queue up while this thread is busy. */
async function burst(port: number, total: number): Promise<void> {
  const sender = `import { createSocket } from "node:dgram";
    const s = createSocket("udp4");
    const p = new Uint8Array(20);
    await Promise.all(Array.from({ length: ${total} }, () => new Promise((r) => s.send(p, ${port}, "127.0.0.1", r))));
    s.close();`;
  const out = await new Deno.Command(Deno.execPath(), { args: ["eval", sender], stdout: "null" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** Socket errors where none are expected; checked after each test (onError must not throw). */
const unexpected: unknown[] = [];
const noError = (err: unknown) => void unexpected.push(err);

describe("FFI UDP transport", { skip }, () => {
  afterEach(() => {
    assert.deepEqual(unexpected.splice(0), [], "no socket errors");
  });

  it("stops right after start, and while datagrams arrive", async () => {
    for (let i = 0; i < 50; i++) {
      const l = await listenUDPFFI({ hostname: "127.0.0.1", port: 0, handler: echo, onError: noError });
      await l.close();
    }
    const c = await client(4);
    try {
      for (let i = 0; i < 10; i++) {
        const l = await listenUDPFFI({ hostname: "", port: 0, handler: echo, onError: noError });
        for (let j = 0; j < 200; j++) c.send(new Uint8Array(20), l.port, "127.0.0.1");
        await new Promise((r) => setTimeout(r, i));
        const t0 = performance.now();
        await Promise.all([l.close(), l.close()]);
        await l.close();
        assert.ok(performance.now() - t0 < 500, "close waits at most for the receive timeout");
      }
    } finally {
      c.close();
    }
  });

  it("survives a flood of garbage of every size, from IPv4 and IPv6", { timeout: 30_000 }, async () => {
    const errors: unknown[] = [];
    let seen = 0;
    const l = await listenUDPFFI({
      hostname: "",
      port: 0,
      handler: (packet, ip) => {
        seen++;
        if (packet[0] === 0xee) throw new Error("handler bug");
        if (packet[0] === 0xaa) return Promise.resolve(echo(packet, ip));
        return packet[0] === 0x55 ? null : echo(packet, ip);
      },
      onError: (err) => errors.push(err),
    });
    const v4 = await client(4);
    const v6 = await client(6);
    try {
      let seed = 7;
      const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
      const bugs = { count: 0 };
      for (let batch = 0; batch < 20; batch++) {
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 500; i++) {
          const size = random() % 8 === 0 ? random() % 9000 : random() % 200;
          const packet = Uint8Array.from({ length: size }, () => random() & 0xff);
          if (packet[0] === 0xee) bugs.count++;
          sends.push(i & 1 ? send(v4, packet, l.port, "127.0.0.1") : send(v6, packet, l.port, "::1"));
        }
        await Promise.all(sends);
      }
      assert.ok(seen > 0);
      // Still answering, with the right address form and a truncated length for a big datagram.
      await ask(v4, Uint8Array.from([1, 2, 3]), l.port, "127.0.0.1", [127, 0, 0, 1, 1, 0, 3]);
      const big = new Uint8Array(5000).fill(9);
      await ask(v6, big, l.port, "::1", [...new Uint8Array(15), 1, 9, 2048 >> 8, 2048 & 255]);
      // Asynchronous replies too.
      await ask(v4, Uint8Array.from([0xaa]), l.port, "127.0.0.1", [127, 0, 0, 1, 0xaa, 0, 1]);
      // Only handler failures were reported (some datagrams may be dropped under the flood).
      for (const err of errors) assert.equal((err as Error).message, "handler bug");
      assert.ok(errors.length <= bugs.count);
    } finally {
      v4.close();
      v6.close();
      await l.close();
    }
  });

  it("hands each datagram over at its own length, and sends replies built in the room", async () => {
    const l = await listenUDPFFI({
      hostname: "127.0.0.1",
      port: 0,
      // Even first bytes: the reply is built in the room; odd: in an array of its own.
      handler: (packet, ip, _port, room) => {
        const reply = echo(packet, ip);
        if (room === undefined || packet[0] % 2 === 1) return reply;
        room.set(reply);
        return room.subarray(0, reply.length);
      },
      onError: noError,
    });
    const c = await client(4);
    try {
      // One at a time, so each lands in the first receive slot whatever its length.
      for (const [size, first] of [[98, 2], [98, 3], [40, 4], [98, 5], [1, 6], [98, 8], [300, 9], [99, 10]]) {
        const packet = new Uint8Array(size).fill(first);
        await ask(c, packet, l.port, "127.0.0.1", [127, 0, 0, 1, first, size >> 8, size & 255]);
      }
    } finally {
      c.close();
      await l.close();
    }
  });

  it("takes full batches on the JS thread while drainWhile allows, for 1 ms at a time", async () => {
    let asked = 0;
    let served = 0;
    const l = await listenUDPFFI({
      hostname: "127.0.0.1",
      port: 0,
      handler: () => {
        served++;
        // 0.1 ms a datagram: one batch of 64 outlasts the 1 ms the loop may keep the thread.
        const t0 = performance.now();
        while (performance.now() - t0 < 0.1);
        return null;
      },
      drainWhile: () => {
        asked++;
        return true;
      },
      onError: noError,
    });
    try {
      const total = 3000;
      await burst(l.port, total);
      for (let waited = 0; served < total * 0.9 && waited < 10_000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(served >= total * 0.9, `served ${served} of ${total}`);
      assert.ok(asked > 0, "full batches were offered to drainWhile");
      // drainWhile is asked only within the 1 ms after a batch from the thread pool: here
      // once per such batch, so for at most every other batch of 64. Without the bound
      // it would be asked after every one.
      assert.ok(asked * 64 <= served * 0.75, `asked ${asked} times for ${served} datagrams`);
    } finally {
      await l.close();
    }
  });

  it("carries on when drainWhile throws, and reports it", async () => {
    const errors: unknown[] = [];
    const l = await listenUDPFFI({
      hostname: "127.0.0.1",
      port: 0,
      handler: (packet, ip) => {
        const t0 = performance.now();
        while (performance.now() - t0 < 0.05);
        return echo(packet, ip);
      },
      drainWhile: () => {
        throw new Error("drain bug");
      },
      onError: (err) => errors.push(err),
    });
    const c = await client(4);
    try {
      await burst(l.port, 2000);
      await ask(c, Uint8Array.from([7]), l.port, "127.0.0.1", [127, 0, 0, 1, 7, 0, 1]);
      assert.ok(errors.length > 0, "full batches asked drainWhile");
      for (const err of errors) assert.equal((err as Error).message, "drain bug");
    } finally {
      c.close();
      await l.close();
    }
  });

  it("sends an asynchronous reply that is still pending at close", async () => {
    const l = await listenUDPFFI({
      hostname: "127.0.0.1",
      port: 0,
      handler: (packet, ip) => new Promise((r) => setTimeout(() => r(echo(packet, ip)), 50)),
      onError: noError,
    });
    const c = await client(4);
    try {
      const got = new Promise<Uint8Array>((resolve) => c.once("message", (m) => resolve(new Uint8Array(m))));
      await send(c, Uint8Array.from([4]), l.port, "127.0.0.1");
      await new Promise((r) => setTimeout(r, 10));
      await l.close();
      assert.deepEqual([...(await got)], [127, 0, 0, 1, 4, 0, 1]);
    } finally {
      c.close();
    }
  });

  it("shares a port with reusePort and refuses a taken one without it", async () => {
    const a = await listenUDPFFI({
      hostname: "127.0.0.1",
      port: 0,
      reusePort: true,
      handler: echo,
      onError: noError,
    });
    try {
      const b = await listenUDPFFI({
        hostname: "127.0.0.1",
        port: a.port,
        reusePort: true,
        handler: echo,
        onError: noError,
      });
      assert.equal(b.port, a.port);
      await b.close();
      await assert.rejects(
        listenUDPFFI({ hostname: "127.0.0.1", port: a.port, handler: echo, onError: noError }),
        Deno.errors.AddrInUse,
      );
    } finally {
      await a.close();
    }
  });

  it("sends replies over the path MTU fragmented, though it sets DF", { skip: smallMTU }, async () => {
    // In a network namespace whose loopback MTU is 1200, a 1400-byte reply under DF
    // fails with EMSGSIZE; the transport must send it again, fragmentable.
    // The IPv4 socket, and the dual-stack one (v4-mapped traffic follows the IPv4 option).
    const child = new URL("../../helpers/small_mtu_child.ts", import.meta.url).pathname;
    const script = 'ip link set lo mtu 1200 up && exec "$0" run --allow-all "$1" "$2"';
    for (const hostname of ["127.0.0.1", ""]) {
      const out = await new Deno.Command("unshare", {
        args: ["-rn", "sh", "-c", script, Deno.execPath(), child, hostname],
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const { got, errors } = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(errors, [], `on "${hostname}"`);
      assert.deepEqual(got, { 1: 1400, 2: 1400, 3: 1 }, `the big replies arrive whole, on "${hostname}"`);
    }
  });

  it("refuses a hostname that is not an IP literal", async () => {
    await assert.rejects(
      listenUDPFFI({ hostname: "localhost", port: 0, handler: echo, onError: noError }),
      TypeError,
    );
  });
});

describe("UDP transport selection", () => {
  it("follows udp.transport with FFI granted", { skip }, () => {
    assert.equal(selectUDPTransport("auto").transport, "ffi");
    assert.equal(selectUDPTransport("ffi").transport, "ffi");
    assert.equal(selectUDPTransport("deno").transport, "deno");
  });

  it("falls back to deno on auto and refuses ffi without --allow-ffi", {
    skip: typeof Deno === "undefined" ? "Deno only: runs a `deno run` subprocess without --allow-ffi" : false,
  }, async () => {
    const r = await selectWithoutFFI(
      new URL("../../../src/frontend/udp/select.ts", import.meta.url),
      "selectUDPTransport",
    );
    assert.equal(r.auto, "deno");
    assert.match(r.reason, /allow-ffi/);
    assert.match(r.err, /--allow-ffi/);
    assert.match(r.err, /udp\.transport: deno/);
  });
});
