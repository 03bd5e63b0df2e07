/**
 * The jwt hook end to end: a JWK Set served over HTTP on 127.0.0.1 (node:http),
 * keys made with jose, a tracker with HTTP and UDP, tokens in the `jwt` query
 * parameter and in BEP 41 URL data.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { urlDataOption } from "../../frontend/udp/packets.ts";
import { hook, httpAnnounce, httpScrape, type Running, startBoth, UDPClient } from "../blackbox.ts";
import { AUDIENCE, ISSUER, makeKey, type TestKey, token } from "./keys.ts";

const IH = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
const OTHER = new Uint8Array(20).fill(0x42);

/** A JWKS endpoint whose key list can be swapped; counts requests. */
class JWKSServer {
  keys: TestKey[] = [];
  hits = 0;
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<JWKSServer> {
    const ref: { self?: JWKSServer } = {};
    const server = createServer((req, res) => {
      const self = ref.self!;
      self.hits++;
      if (req.url !== "/keys") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/jwk-set+json" });
      res.end(JSON.stringify({ keys: self.keys.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    ref.self = new JWKSServer(server, `http://127.0.0.1:${port}/keys`);
    return ref.self;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("jwt over HTTP and UDP, against a JWKS server on loopback", () => {
  let jwks: JWKSServer;
  let t: Running;
  let udp: UDPClient;
  let rsa: TestKey;
  let ed: TestKey;
  let rotated: TestKey;

  before(async () => {
    [rsa, ed, rotated] = await Promise.all([
      makeKey("rsa-1", "RS256"),
      makeKey("ed-1", "EdDSA"),
      makeKey("ec-2", "ES256"),
    ]);
    jwks = await JWKSServer.start();
    jwks.keys = [rsa, ed];
    t = await startBoth({
      prehooks: [hook("jwt", {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwk_set_url: jwks.url,
        jwk_set_update_interval: "1s",
        check_scrape: true,
      })],
    });
    udp = await UDPClient.open(t.udpPort);
  });
  after(async () => {
    await udp?.close();
    await t?.stop();
    await jwks?.close();
  });

  const good = () => token(rsa, { infohash: toHex(IH) });

  it("HTTP: a good token is accepted; no token is missing jwt", async () => {
    const ok = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-aaaaaaaaaaaa",
      port: 1001,
      extra: `&jwt=${await good()}`,
    });
    assert.equal(ok.failure, undefined);
    assert.deepEqual(ok.peers, ["127.0.0.1:1001"]);
    const ed25519 = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-bbbbbbbbbbbb",
      port: 1002,
      extra: `&jwt=${await token(ed, { infohash: toHex(IH) })}`,
    });
    assert.deepEqual(ed25519.peers, ["127.0.0.1:1001"]);
    const none = await httpAnnounce(t.http, { infoHash: IH, peerID: "-TEST01-cccccccccccc", port: 1003 });
    assert.equal(none.failure, "unapproved request: missing jwt");
  });

  it("HTTP: a token for another infohash, or an expired one, is invalid jwt", async () => {
    const wrong = await httpAnnounce(t.http, {
      infoHash: OTHER,
      peerID: "-TEST01-dddddddddddd",
      port: 1004,
      extra: `&jwt=${await good()}`,
    });
    assert.equal(wrong.failure, "unapproved request: invalid jwt");
    const expired = await token(rsa, { infohash: toHex(IH), exp: Math.floor(Date.now() / 1000) - 600 });
    const old = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-eeeeeeeeeeee",
      port: 1005,
      extra: `&jwt=${expired}`,
    });
    assert.equal(old.failure, "unapproved request: invalid jwt");
  });

  it("HTTP: with check_scrape, scrapes need the token too", async () => {
    assert.equal((await httpScrape(t.http, [IH])).failure, "unapproved request: missing jwt");
    const s = await httpScrape(t.http, [IH], `&jwt=${await good()}`);
    assert.equal(s.failure, undefined);
    assert.equal(Object.keys(s.files!).length, 1);
    assert.equal(
      (await httpScrape(t.http, [IH, OTHER], `&jwt=${await good()}`)).failure,
      "unapproved request: invalid jwt",
    );
  });

  it("UDP: the token in BEP 41 URL data, chunked in ≤255-byte options", async () => {
    const jwt = await good();
    const options = urlDataOption(`/announce?jwt=${jwt}`);
    assert.ok(jwt.length > 255, "an RS256 token needs several options");
    const ok = await udp.announce({ infoHash: IH, port: 2001, options });
    assert.equal(ok.message, undefined);
    assert.equal(ok.action, 1);
    assert.ok(ok.peers!.includes("127.0.0.1:2001") || ok.peers!.includes("127.0.0.1:1001"));
    const none = await udp.announce({ infoHash: IH, port: 2002 });
    assert.deepEqual([none.action, none.message], [3, "unapproved request: missing jwt"]);
    const wrong = await udp.announce({ infoHash: OTHER, port: 2003, options });
    assert.deepEqual([wrong.action, wrong.message], [3, "unapproved request: invalid jwt"]);
    const expired = await token(rsa, { infohash: toHex(IH), exp: Math.floor(Date.now() / 1000) - 600 });
    const old = await udp.announce({ infoHash: IH, port: 2004, options: urlDataOption(`/?jwt=${expired}`) });
    assert.deepEqual([old.action, old.message], [3, "unapproved request: invalid jwt"]);
    // UDP scrapes carry no URL data: with check_scrape they are refused.
    const s = await udp.scrape([IH]);
    assert.deepEqual([s.action, s.message], [3, "unapproved request: missing jwt"]);
  });

  it("a rotated key is picked up after the refresh, over HTTP and UDP", async () => {
    const next = await token(rotated, { infohash: toHex(IH) });
    const before = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-ffffffffffff",
      port: 1006,
      extra: `&jwt=${next}`,
    });
    assert.equal(before.failure, "unapproved request: invalid jwt", "unknown kid before the rotation");
    const hits = jwks.hits;
    jwks.keys = [rotated];
    // jwk_set_update_interval is 1s: wait for two refreshes at most.
    const deadline = Date.now() + 4000;
    let answer = before;
    while (Date.now() < deadline) {
      if (jwks.hits > hits) {
        answer = await httpAnnounce(t.http, {
          infoHash: IH,
          peerID: "-TEST01-ffffffffffff",
          port: 1006,
          extra: `&jwt=${next}`,
        });
        if (answer.failure === undefined) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(answer.failure, undefined, "the rotated key verifies");
    const viaUDP = await udp.announce({ infoHash: IH, port: 2005, options: urlDataOption(`/?jwt=${next}`) });
    assert.equal(viaUDP.message, undefined);
    const retired = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-gggggggggggg",
      port: 1007,
      extra: `&jwt=${await good()}`,
    });
    assert.equal(retired.failure, "unapproved request: invalid jwt", "the retired key no longer verifies");
  });

  it("a JWKS outage keeps the keys in use", async () => {
    const next = await token(rotated, { infohash: toHex(IH) });
    const hits = jwks.hits;
    await jwks.close();
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(jwks.hits, hits);
    const a = await httpAnnounce(t.http, {
      infoHash: IH,
      peerID: "-TEST01-hhhhhhhhhhhh",
      port: 1008,
      extra: `&jwt=${next}`,
    });
    assert.equal(a.failure, undefined);
  });
});

describe("jwt: the tracker does not start when the JWK Set cannot be fetched", () => {
  it("fails with failed to fetch initial JWK Set", async () => {
    const jwks = await JWKSServer.start();
    const url = jwks.url;
    await jwks.close(); // nothing listens there now
    await assert.rejects(
      startBoth({ prehooks: [hook("jwt", { issuer: ISSUER, audience: AUDIENCE, jwk_set_url: url })] }),
      (err: unknown) => {
        assert.match(
          (err as Error).message,
          /^prehooks\[0\]\.options\.jwk_set_url: failed to fetch initial JWK Set: /,
        );
        return true;
      },
    );
  });
});
