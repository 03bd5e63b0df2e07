import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../../../src/bittorrent/event.ts";
import { parseURLData } from "../../../src/bittorrent/params.ts";
import type { AnnounceRequest } from "../../../src/bittorrent/request.ts";
import {
  parseAnnounce,
  parseAnnounceTarget,
  type ParseOptions,
  parseScrape,
  type RemoteAddress,
} from "../../../src/frontend/http/parser.ts";
import { escapeBytes, id20 } from "../../helpers/fixtures.ts";

const te = new TextEncoder();
const opts: ParseOptions = {
  allowIPSpoofing: false,
  realIPHeader: "",
  maxNumWant: 100,
  defaultNumWant: 50,
  maxScrapeInfoHashes: 3,
};
const IH = escapeBytes(id20("ih"));
const GOOD = `info_hash=${IH}&peer_id=-TEST01-6wfG2wk6wWLc&port=6881&left=10&downloaded=0&uploaded=0`;
const noHeaders = () => null;

/** A request as plain data: its params by what they hold. */
function plain(r: AnnounceRequest) {
  const { params, ...rest } = r;
  return { ...rest, path: params.path, infoHashes: params.infoHashes, params: params.toRecord() };
}

/**
 * Both announce parsers on `target`: the generic one's answer (or error), after
 * checking that the byte-level one (parseAnnounceTarget) gave the same request or
 * left it to the generic one. Returns which of them answered too.
 */
function both(
  target: Uint8Array,
  o: ParseOptions,
  header: (n: string) => string | null,
  remote: RemoteAddress,
) {
  const fast = parseAnnounceTarget(target, 0, target.length, "/announce", header, remote, o);
  let generic: AnnounceRequest;
  try {
    generic = parseAnnounce(parseURLData(target, 0, target.length, "/announce"), header, remote, o);
  } catch (err) {
    assert.equal(fast, undefined, `the byte-level parser accepted what the generic one refuses (${err})`);
    throw err;
  }
  if (fast !== undefined) assert.deepEqual(plain(fast), plain(generic));
  return { request: generic, fast: fast !== undefined };
}

function announce(
  query: string,
  o: Partial<ParseOptions> = {},
  headers: Record<string, string> = {},
  remote = "10.0.0.1",
) {
  return both(
    te.encode(`/announce?${query}`),
    { ...opts, ...o },
    (n) => headers[n.toLowerCase()] ?? null,
    remote,
  )
    .request;
}

test("announce: a well-formed request", () => {
  const r = announce(GOOD + "&event=STARTED&compact=1");
  assert.deepEqual(r.infoHash, id20("ih"));
  assert.equal(new TextDecoder().decode(r.peer.id), "-TEST01-6wfG2wk6wWLc");
  assert.deepEqual(r.peer.ip, new Uint8Array([10, 0, 0, 1]));
  assert.equal(r.peer.port, 6881);
  assert.equal(r.event, Event.Started);
  assert.equal(r.compact, true);
  assert.equal(r.numWant, 50);
  assert.equal(r.numWantProvided, false);
  assert.equal(r.left, 10);
  assert.equal(announce(GOOD).compact, false, "absent compact means the dictionary form, as chihaya");
  assert.equal(announce(GOOD + "&compact=0").compact, false);
  assert.equal(announce(GOOD + "&no_peer_id=1").noPeerID, true);
  assert.equal(announce(GOOD + "&numwant=500").numWant, 100);
  assert.equal(announce(GOOD + "&numwant=7").numWant, 7);
  assert.equal(announce(GOOD + "&numwant=0").numWant, 0);
  assert.equal(announce(GOOD + "&event=").event, Event.None);
});

test("announce: chihaya's client error strings, in its order", () => {
  const cases: [string, string][] = [
    [`${GOOD}&x=%zz`, "invalid query escape"],
    [`info_hash=short&peer_id=x`, "provided invalid infohash"],
    [`${GOOD}&event=paused`, "failed to provide valid client event"],
    [`peer_id=-TEST01-6wfG2wk6wWLc&port=1&left=1&downloaded=1&uploaded=1`, "no info_hash parameter supplied"],
    [`${GOOD}&info_hash=${IH}`, "multiple info_hash parameters supplied"],
    [`info_hash=${IH}&port=6881&left=10&downloaded=0&uploaded=0`, "failed to parse parameter: peer_id"],
    [
      `info_hash=${IH}&peer_id=short&port=6881&left=10&downloaded=0&uploaded=0`,
      "failed to provide valid peer_id",
    ],
    [GOOD.replace("left=10", "left=-1"), "failed to parse parameter: left"],
    [GOOD.replace("&left=10", ""), "failed to parse parameter: left"],
    [GOOD.replace("downloaded=0", "downloaded=x"), "failed to parse parameter: downloaded"],
    [GOOD.replace("uploaded=0", "uploaded="), "failed to parse parameter: uploaded"],
    [`${GOOD}&numwant=-1`, "failed to parse parameter: numwant"],
    [`${GOOD}&numwant=`, "failed to parse parameter: numwant"],
    [GOOD.replace("port=6881", "port=65536"), "failed to parse parameter: port"],
    [GOOD.replace("&port=6881", ""), "failed to parse parameter: port"],
    [GOOD.replace("port=6881", "port=0"), "invalid port"],
  ];
  for (const [q, msg] of cases) assert.throws(() => announce(q), { message: msg }, q);
  assert.throws(() => announce(GOOD, {}, {}, "not-an-ip"), { message: "failed to parse peer IP address" });
  assert.throws(() => announce(`${GOOD}&ip=bad`, { allowIPSpoofing: true }), {
    message: "failed to parse peer IP address",
  });
  assert.throws(() => announce(`${GOOD}&ip=0.0.0.0`, { allowIPSpoofing: true }), { message: "invalid IP" });
  assert.throws(() => announce(GOOD, {}, {}, "224.0.0.1"), { message: "invalid IP" });
});

test("announce: client address from spoofing params, real_ip_header, or the socket", () => {
  const ip = (q: string, o: Partial<ParseOptions>, h: Record<string, string> = {}, remote = "10.0.0.1") =>
    Array.from(announce(q, o, h, remote).peer.ip).join(".");
  assert.equal(ip(`${GOOD}&ip=1.2.3.4`, {}), "10.0.0.1", "ip ignored without allow_ip_spoofing");
  assert.equal(ip(`${GOOD}&ip=1.2.3.4`, { allowIPSpoofing: true }), "1.2.3.4");
  assert.equal(ip(`${GOOD}&ipv4=5.6.7.8`, { allowIPSpoofing: true }), "5.6.7.8");
  assert.equal(announce(`${GOOD}&ipv6=2001:db8::1`, { allowIPSpoofing: true }).peer.ip.length, 16);
  assert.equal(announce(`${GOOD}&ipv6=2001:db8::1`, { allowIPSpoofing: true }).ipProvided, true);
  assert.equal(ip(GOOD, { allowIPSpoofing: true }), "10.0.0.1", "spoofing on but no ip param: socket");
  assert.equal(ip(GOOD, { realIPHeader: "x-real-ip" }, { "x-real-ip": "9.9.9.9" }), "9.9.9.9");
  assert.equal(
    ip(GOOD, { realIPHeader: "X-Forwarded-For" }, { "x-forwarded-for": "garbage, 8.8.4.4, 1.1.1.1" }),
    "8.8.4.4",
    "first valid entry of a comma list",
  );
  assert.equal(ip(GOOD, { realIPHeader: "x-real-ip" }), "10.0.0.1", "header absent: socket");
  assert.throws(() => announce(GOOD, { realIPHeader: "x-real-ip" }, { "x-real-ip": "nope" }), {
    message: "failed to parse peer IP address",
  });
  assert.equal(ip(GOOD, {}, {}, "::ffff:10.9.8.7"), "10.9.8.7", "IPv4-mapped normalised");
});

test("scrape: infohashes truncated, family of the real client address", () => {
  const many = Array.from({ length: 5 }, (_, i) => `info_hash=${escapeBytes(id20(`h${i}`))}`).join("&");
  const r = parseScrape(parseURLData(te.encode(`/scrape?${many}`)), noHeaders, "10.0.0.1", opts);
  assert.equal(r.infoHashes.length, 3);
  assert.equal(r.family, 4);
  const behindProxy = parseScrape(
    parseURLData(te.encode(`/scrape?${many}`)),
    (n) => (n === "x-real-ip" ? "2001:db8::5" : null),
    "127.0.0.1",
    { ...opts, realIPHeader: "x-real-ip" },
  );
  assert.equal(behindProxy.family, 6);
  assert.throws(() => parseScrape(parseURLData(te.encode("/scrape")), noHeaders, "10.0.0.1", opts), {
    message: "no info_hash parameter supplied",
  });
});

test("announce: the byte-level parser answers clients' announces as the generic one does", () => {
  const clean = [
    GOOD,
    GOOD + "&compact=1&numwant=30&event=started&key=3f2a9c1e&supportcrypto=1&no_peer_id=1",
    GOOD + ";compact=0;event=;numwant=500",
    "&&" + GOOD + "&&corrupt=0&redundant=0&=x&flag&a=b=c",
    GOOD + "&event=completed&key=a%20b&peer_id=-TEST02-6wfG2wk6wWLc",
    GOOD + "&left=18446744073709551615&downloaded=0000001",
    `info_hash=${
      escapeBytes(id20("ih")).replace(/%30/g, "0")
    }&peer_id=%2DTEST01-6wfG2wk6wWLc&port=1&left=0&downloaded=0&uploaded=0`,
  ];
  for (const q of clean) {
    const r = both(te.encode(`/announce?${q}`), opts, noHeaders, new Uint8Array([10, 0, 0, 1]));
    assert.ok(r.fast, `the byte-level parser answered ${q}`);
  }
});

test("announce: the byte-level parser never answers differently (mutated queries)", () => {
  // Every error and every oddity the generic parser resolves (capitals, '+', escapes,
  // repeats, missing keys, bad numbers), spliced into good announces at random.
  const pieces = [
    "&",
    ";",
    "=",
    "%",
    "%4",
    "%41",
    "%zz",
    "+",
    "A",
    "INFO_HASH=x",
    "Port=1",
    "&port=0",
    "&port=65536",
    "&port=%36",
    "&left=-1",
    "&left=1+1",
    "&left=",
    "&numwant=99999999999",
    "&numwant=7",
    "&event=STOPPED",
    "&event=bogus",
    "&event=st%61rted",
    "&compact=",
    "&compact=0",
    "&no_peer_id=%31",
    `&info_hash=${IH}`,
    "&info_hash=short",
    "&peer_id=short",
    "&peer_id=-TEST01-6wfG2wk6wWL+",
    "&peer_id=-TEST01-6wfG2wk6wWLc",
    "&ip=1.2.3.4",
    "&ipv6=::1",
    "&jwt=a.b.c",
    "&downloaded=18446744073709551616",
  ];
  let seed = 1;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const optsList: ParseOptions[] = [opts, { ...opts, allowIPSpoofing: true }, {
    ...opts,
    allowZeroPort: true,
  }];
  let fast = 0, generic = 0, refused = 0;
  for (let round = 0; round < 3000; round++) {
    let q = GOOD;
    for (let k = rand(3); k >= 0; k--) {
      // Mostly whole parameters added between others; sometimes bytes anywhere.
      const bounds = [...q.matchAll(/&/g)].map((m) => m.index!).concat(q.length);
      const at = rand(4) === 0 ? rand(q.length + 1) : bounds[rand(bounds.length)];
      q = q.slice(0, at) + pieces[rand(pieces.length)] + q.slice(at);
    }
    try {
      if (both(te.encode(`/announce?${q}`), optsList[rand(3)], noHeaders, "10.0.0.1").fast) fast++;
      else generic++;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      refused++;
    }
  }
  // Every outcome must have been exercised for the comparison to mean anything.
  const counts = `answered by bytes ${fast}, left to the generic parser ${generic}, refused ${refused}`;
  assert.ok(fast > 150 && generic > 150 && refused > 150, counts);
});
