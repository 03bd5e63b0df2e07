/**
 * The runtime's socket bindings as `main.ts` and the black-box tests pick them:
 * Deno.serve/Deno.listenDatagram (and FFI) on Deno, Bun.serve/node:dgram on Bun,
 * where `udp.transport: ffi` is a startup error that says what to do.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as bunHTTP from "../../src/frontend/http/bun.ts";
import * as denoHTTP from "../../src/frontend/http/deno.ts";
import * as bunUDP from "../../src/frontend/udp/bun.ts";
import * as denoUDP from "../../src/frontend/udp/deno.ts";
import { bindings, listenUDP, selectUDPTransport, serveHTTP } from "../../src/frontend/bindings.ts";
import { silentLogger } from "../../src/log.ts";
import { isBun, runtime } from "../../src/runtime.ts";
import { Tracker } from "../../src/tracker.ts";
import { testConfig, udpConfig } from "../helpers/tracker.ts";

describe("runtime bindings", () => {
  it("follow the runtime", () => {
    assert.equal(runtime.name, isBun ? "bun" : "deno");
    assert.match(runtime.version, /^\d+\.\d+\.\d+/);
    assert.equal(serveHTTP, isBun ? bunHTTP.serveHTTP : denoHTTP.serveHTTP);
    assert.equal(listenUDP, isBun ? bunUDP.listenUDP : denoUDP.listenUDP);
    assert.equal(bindings.selectUDP, selectUDPTransport);
    assert.equal(typeof runtime.env().PATH, "string");
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
