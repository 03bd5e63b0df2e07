import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "../../../src/bittorrent/bencode.ts";
import { PeerList } from "../../../src/bittorrent/request.ts";
import { writeAnnounce, writeError, writeScrape } from "../../../src/frontend/http/writer.ts";
import { id20, peer } from "../../helpers/fixtures.ts";

const latin1 = (b: Uint8Array) => String.fromCharCode(...b);

function response(compact: boolean) {
  return {
    compact,
    complete: 0,
    incomplete: 1,
    interval: 1800,
    minInterval: 900,
    ipv4Peers: new PeerList(4),
    ipv6Peers: new PeerList(6),
  };
}

test("writeError: chihaya's vectors", () => {
  assert.equal(latin1(writeError("hello world")), "d14:failure reason11:hello worlde");
  assert.equal(latin1(writeError("what's up")), "d14:failure reason9:what's upe");
  assert.equal(latin1(writeError("something is missing")), "d14:failure reason20:something is missinge");
});

test("writeAnnounce: compact lone leecher, byte-exact with sorted keys", () => {
  const r = response(true);
  r.ipv4Peers.push(peer("a", "127.0.0.1", 6881));
  assert.equal(
    latin1(writeAnnounce(r, false)),
    "d8:completei0e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
  );
});

test("writeAnnounce: compact peers6, both families, empty lists left out", () => {
  const r = response(true);
  assert.equal(
    latin1(writeAnnounce(r, false)),
    "d8:completei0e10:incompletei1e8:intervali1800e12:min intervali900ee",
  );
  r.ipv6Peers.push(peer("b", "2001:db8::1", 1));
  const d = decode(writeAnnounce(r, false)) as Record<string, Uint8Array>;
  assert.equal(d.peers, undefined);
  assert.equal(d.peers6.length, 18);
  r.ipv4Peers.push(peer("a", "1.2.3.4", 2));
  const both = decode(writeAnnounce(r, false)) as Record<string, Uint8Array>;
  assert.deepEqual(both.peers, new Uint8Array([1, 2, 3, 4, 0, 2]));
  assert.equal(both.peers6.length, 18);
});

test("writeAnnounce: compact replies, alone or written into a frame, are what the generic encoder makes", () => {
  // The compact path writes its bytes itself; the generic encoder is the reference, also for numbers no
  // count should reach (a hook may have set them): large, negative, fractional.
  const counts = [0, 1, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 40, -7, 2.5];
  const frameFor = () => {
    const given: Uint8Array[] = [];
    return {
      given,
      frame(n: number) {
        const out = new Uint8Array(7 + n).fill(0xee);
        given.push(out);
        return out;
      },
    };
  };
  for (const [i, n] of counts.entries()) {
    for (const [v4, v6] of [[0, 0], [1, 0], [0, 1], [17, 2], [2, 17]]) {
      const r = response(true);
      r.complete = n;
      r.incomplete = counts[(i + 3) % counts.length];
      r.interval = counts[(i + 5) % counts.length];
      r.minInterval = counts[(i + 7) % counts.length];
      for (let k = 0; k < v4; k++) r.ipv4Peers.push(peer(`a${k}`, `10.0.${k}.1`, 1000 + k));
      for (let k = 0; k < v6; k++) r.ipv6Peers.push(peer(`b${k}`, `2001:db8::${k + 1}`, 2000 + k));
      const want: Record<string, number | Uint8Array> = {
        complete: r.complete,
        incomplete: r.incomplete,
        interval: r.interval,
        "min interval": r.minInterval,
      };
      if (v4 > 0) want.peers = r.ipv4Peers.compactBytes();
      if (v6 > 0) want.peers6 = r.ipv6Peers.compactBytes();
      const expected = latin1(encode(want));
      const what = `counts ${r.complete}/${r.incomplete}/${r.interval}/${r.minInterval}, ${v4}+${v6} peers`;
      assert.equal(latin1(writeAnnounce(r, false)), expected, what);
      const f = frameFor();
      const out = writeAnnounce(r, false, f);
      if (f.given.length === 0) {
        // Numbers past 2^31, negative or fractional go through the general writer, which returns the body alone.
        const odd = (v: number) => !(v >= 0 && v < 2 ** 31 && Number.isInteger(v));
        assert.ok(odd(r.complete) || odd(r.incomplete) || odd(r.interval) || odd(r.minInterval), what);
        assert.equal(latin1(out), expected, what);
        continue;
      }
      assert.equal(out, f.given[0], "the frame itself is returned");
      assert.deepEqual([...out.subarray(0, 7)], Array(7).fill(0xee), "the frame's head is left alone");
      assert.equal(latin1(out.subarray(7)), expected, what);
    }
  }
});

test("writeAnnounce: dictionary replies are never written into a frame", () => {
  const r = response(false);
  r.ipv4Peers.push(peer("a", "1.2.3.4", 1));
  const out = writeAnnounce(r, false, { frame: () => assert.fail("framed") });
  assert.equal((decode(out) as { peers: unknown[] }).peers.length, 1);
});

test("writeAnnounce: dictionary peers, IPv4 first, peer id dropped on no_peer_id", () => {
  const r = response(false);
  r.ipv6Peers.push(peer("b", "2001:db8::1", 2));
  r.ipv4Peers.push(peer("a", "1.2.3.4", 1));
  const d = decode(writeAnnounce(r, false)) as { peers: Record<string, unknown>[] };
  assert.equal(d.peers.length, 2);
  assert.equal(latin1(d.peers[0].ip as Uint8Array), "1.2.3.4");
  assert.equal(d.peers[0].port, 1);
  assert.deepEqual(d.peers[0]["peer id"], id20("a"));
  assert.equal(latin1(d.peers[1].ip as Uint8Array), "2001:db8::1");
  const noID = decode(writeAnnounce(r, true)) as { peers: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(noID.peers[0]), ["ip", "port"]);
  const empty = latin1(writeAnnounce(response(false), false));
  assert.ok(empty.endsWith("5:peerslee"), empty);
});

test("writeScrape: sorted, deduplicated, with downloaded", () => {
  const files = [
    { infoHash: id20("b"), complete: 1, incomplete: 2, downloaded: 3 },
    { infoHash: id20("a"), complete: 4, incomplete: 5, downloaded: 6 },
    { infoHash: id20("b"), complete: 1, incomplete: 2, downloaded: 3 },
  ];
  const out = latin1(writeScrape({ files }));
  assert.equal(
    out,
    `d5:filesd20:${latin1(id20("a"))}d8:completei4e10:downloadedi6e10:incompletei5ee20:${
      latin1(id20("b"))
    }d8:completei1e10:downloadedi3e10:incompletei2eeee`,
  );
});
