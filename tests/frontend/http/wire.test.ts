import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BAD_REQUEST,
  findHeadEnd,
  HEADERS_TOO_LARGE,
  INCOMPLETE,
  LINE_TOO_LONG,
  MAX_HEADER_BYTES,
  MAX_REQUEST_LINE,
  parseHead,
  RequestHead,
  ResponseHeads,
  takeHead,
} from "../../../src/frontend/http/wire.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array) => String.fromCharCode(...b);

const fields = (h: RequestHead) => {
  const { targetStart, targetEnd, get, http10, close, keepAlive, body, headersStart, end } = h;
  return { targetStart, targetEnd, get, http10, close, keepAlive, body, headersStart, end };
};

/**
 * Finds and parses the one head in `s`; the head, or the parse result when it is
 * negative. takeHead must agree with findHeadEnd + parseHead on every head.
 */
function parse(s: string): RequestHead | number {
  const buf = bytes(s);
  const end = findHeadEnd(buf, 0, 0, buf.length);
  assert.ok(end > 0, `no head end in ${JSON.stringify(s)}`);
  const head = new RequestHead();
  const r = parseHead(buf, 0, end, head);
  const taken = new RequestHead();
  assert.equal(takeHead(buf, 0, 0, buf.length, taken), r, `takeHead on ${JSON.stringify(s)}`);
  if (r < 0) return r;
  assert.equal(r, end);
  assert.deepEqual(fields(taken), fields(head), `takeHead on ${JSON.stringify(s)}`);
  return head;
}

function ok(s: string): RequestHead {
  const h = parse(s);
  assert.ok(h instanceof RequestHead, `${JSON.stringify(s)} was refused with ${h}`);
  return h;
}

const target = (h: RequestHead) => text(h.buf.subarray(h.targetStart, h.targetEnd));

test("takeHead: the request line's end is found wherever it falls in an 8-byte word", () => {
  // The request line is searched a word at a time: try every length of target, in a
  // buffer that starts anywhere in its memory, with bytes that differ from LF by one bit.
  const memory = new Uint8Array(512).fill(0x0b);
  for (let offset = 0; offset < 9; offset++) {
    for (let n = 1; n <= 40; n++) {
      const head = `GET /${"\x0b\x08\x0e\x8a".repeat(10).slice(0, n)} HTTP/1.1\r\nHost: t\r\n\r\n`;
      const buf = memory.subarray(offset, offset + head.length + 16);
      buf.set(bytes(head));
      const h = new RequestHead();
      assert.equal(takeHead(buf, 0, 0, head.length, h), head.length, `offset ${offset}, target ${n}`);
      assert.equal(h.targetEnd - h.targetStart, n + 1);
      assert.equal(h.headersStart, head.indexOf("\n") + 1);
      // Cut before the request line's LF, and just after it: no head yet.
      const eol = head.indexOf("\n");
      assert.equal(takeHead(buf, 0, 0, eol, new RequestHead()), INCOMPLETE);
      assert.equal(takeHead(buf, 0, 0, eol + 1, new RequestHead()), INCOMPLETE);
      assert.equal(findHeadEnd(buf, 0, 0, head.length), head.length);
    }
  }
  // A buffer the connection grows into is read through a view of the new memory.
  const h = new RequestHead();
  const small = bytes("GET /a HTTP/1.1\r\n\r\n");
  assert.equal(takeHead(small, 0, 0, small.length, h), small.length);
  const grown = bytes("GET /announce?x=1 HTTP/1.1\r\n\r\n");
  assert.equal(takeHead(grown, 0, 0, grown.length, h), grown.length);
  assert.equal(target(h), "/announce?x=1");
});

test("findHeadEnd: CRLF and bare LF heads end after their blank line", () => {
  for (
    const s of ["GET / HTTP/1.1\r\nHost: t\r\n\r\n", "GET / HTTP/1.1\nHost: t\n\n", "GET / HTTP/1.1\r\n\r\n"]
  ) {
    const buf = bytes(s + "GET /next");
    assert.equal(findHeadEnd(buf, 0, 0, buf.length), s.length, JSON.stringify(s));
  }
  // mixed: a CRLF line then a bare-LF blank line, and the other way round
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\r\n\n"), 0, 0, 17), 17);
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\n\r\n"), 0, 0, 17), 17);
});

test("findHeadEnd: no blank line yet → -1, and bytes past `to` are not looked at", () => {
  const buf = bytes("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  assert.equal(findHeadEnd(buf, 0, 0, buf.length - 1), -1);
  assert.equal(findHeadEnd(buf, 0, 0, buf.length - 2), -1);
  assert.equal(findHeadEnd(buf, 0, 0, 0), -1);
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\r\n\r\r"), 0, 0, 18), -1, "CR CR is no line end");
});

test("findHeadEnd: a head fed byte by byte with scanFrom is found exactly when its last byte arrives", () => {
  for (const s of ["GET /announce?a=1 HTTP/1.1\r\nHost: t\r\nX: y\r\n\r\n", "GET / HTTP/1.0\nA: b\n\n"]) {
    const prefix = "junk before";
    const buf = bytes(prefix + s);
    const from = prefix.length;
    let scanned = from;
    for (let have = from + 1; have <= buf.length; have++) {
      const end = findHeadEnd(buf, from, scanned, have);
      if (have < buf.length) {
        assert.equal(end, -1, `${JSON.stringify(s)} at ${have}`);
        scanned = Math.max(from, have - 3); // as the server does
      } else {
        assert.equal(end, buf.length);
      }
    }
  }
});

test("takeHead: INCOMPLETE until the last byte of a head fed byte by byte, then the head parsed", () => {
  for (
    const s of [
      "GET /announce?a=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
      "\r\nGET / HTTP/1.0\nConnection: keep-alive\n\n",
    ]
  ) {
    const prefix = "GET /x HTTP/1.1\r\n\r\n"; // a request already served
    const buf = bytes(prefix + s);
    const from = prefix.length;
    const want = new RequestHead();
    assert.equal(parseHead(buf, from, buf.length, want), buf.length);
    let scanned = from;
    for (let have = from + 1; have <= buf.length; have++) {
      const head = new RequestHead();
      const r = takeHead(buf, from, scanned, have, head);
      if (have < buf.length) {
        assert.equal(r, INCOMPLETE, `${JSON.stringify(s)} at ${have}`);
        scanned = Math.max(from, have - 3); // as the server does
      } else {
        assert.equal(r, buf.length);
        assert.deepEqual(fields(head), fields(want));
      }
    }
  }
});

test("findHeadEnd: an LF before `from` does not end the head", () => {
  // "...\n" | "\r\nGET": the blank line must lie inside buf[from, to)
  const buf = bytes("x\n\r\nGET / HTTP/1.1\r\n\r\n");
  assert.equal(findHeadEnd(buf, 2, 2, buf.length), buf.length);
});

test("findHeadEnd + parseHead: empty lines before the request line are skipped", () => {
  for (const lead of ["\r\n", "\n", "\r\n\r\n", "\n\n", "\r\n\r\n\r\n"]) {
    const h = parse(`${lead}GET /a HTTP/1.1\r\nHost: t\r\n\r\n`);
    assert.ok(h instanceof RequestHead, `leading ${JSON.stringify(lead)} refused with ${h}`);
    assert.equal(target(h), "/a");
    assert.equal(h.header("host"), "t");
  }
});

test("parseHead: GET and other methods, target offsets", () => {
  const g = ok("GET /announce?info_hash=%00 HTTP/1.1\r\n\r\n");
  assert.equal(g.get, true);
  assert.equal(target(g), "/announce?info_hash=%00");
  for (const m of ["POST", "HEAD", "PUT", "get", "GETX", "OPTIONS"]) {
    const h = ok(`${m} /announce HTTP/1.1\r\n\r\n`);
    assert.equal(h.get, false, m);
    assert.equal(target(h), "/announce");
  }
});

test("parseHead: HTTP/1.0 and HTTP/1.1; anything else is a bad request", () => {
  assert.equal(ok("GET / HTTP/1.0\r\n\r\n").http10, true);
  assert.equal(ok("GET / HTTP/1.1\r\n\r\n").http10, false);
  assert.equal(ok("GET / HTTP/1.1\n\n").http10, false);
  for (
    const line of [
      "GET / HTTP/1.2",
      "GET / HTTP/2.0",
      "GET / HTTP/0.9",
      "GET / http/1.1",
      "GET / HTTP/1.10",
      "GET / HTTP/1.",
      "GET / HTTP/11",
      "GET / HTTPS/1.1",
      "GET /",
      "GET / HTTP/1.1 ",
      "GET",
      "",
      "GET/ HTTP/1.1",
      " / HTTP/1.1",
      "\u00ff\u00fe HTTP/1.1",
    ]
  ) {
    assert.equal(parse(`${line}\r\nHost: t\r\n\r\n`), BAD_REQUEST, JSON.stringify(line));
  }
});

test("parseHead: a missing target is a bad request", () => {
  assert.equal(parse("GET HTTP/1.1\r\n\r\n"), BAD_REQUEST);
  assert.equal(parse("GET  HTTP/1.1\r\n\r\n"), BAD_REQUEST);
  assert.equal(parse(" GET / HTTP/1.1\r\n\r\n"), BAD_REQUEST);
});

test("parseHead: absolute-form is cut to its path; no scheme is a bad request", () => {
  assert.equal(target(ok("GET http://tracker.example:6969/announce?x=1 HTTP/1.1\r\n\r\n")), "/announce?x=1");
  assert.equal(target(ok("GET https://t/scrape HTTP/1.1\r\n\r\n")), "/scrape");
  assert.equal(target(ok("GET http://t HTTP/1.1\r\n\r\n")), "", "no path: routes nowhere");
  assert.equal(target(ok("GET //x/announce HTTP/1.1\r\n\r\n")), "//x/announce", "origin-form, kept as is");
  for (const t of ["*", "announce", "x//y", "http:/t/a", "http://"]) {
    assert.equal(parse(`GET ${t} HTTP/1.1\r\n\r\n`), BAD_REQUEST, t);
  }
});

test("parseHead: connection tokens", () => {
  const cases: [string, boolean, boolean][] = [
    ["", false, false],
    ["Connection: close\r\n", true, false],
    ["connection: CLOSE\r\n", true, false],
    ["CONNECTION:close\r\n", true, false],
    ["Connection: keep-alive\r\n", false, true],
    ["Connection: Keep-Alive\r\n", false, true],
    ["Connection: keep-alive, close\r\n", true, true],
    ["Connection: Upgrade\r\n", false, false],
    ["Connection: keep-alive\r\nConnection: close\r\n", true, true],
    ["X-Connection: close\r\n", false, false],
  ];
  for (const [headers, close, keepAlive] of cases) {
    const h = ok(`GET / HTTP/1.1\r\n${headers}\r\n`);
    assert.equal(h.close, close, JSON.stringify(headers));
    assert.equal(h.keepAlive, keepAlive, JSON.stringify(headers));
  }
});

test("parseHead: content-length 0 is no body, > 0 is, junk is a bad request; transfer-encoding is a body", () => {
  for (const v of ["0", "00", " 0 ", "0\t"]) {
    assert.equal(ok(`POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`).body, false, v);
  }
  for (const v of ["1", "10", "007", "99999999999999999999"]) {
    assert.equal(ok(`POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`).body, true, v);
  }
  for (const v of ["", "x", "-1", "1x", "1 2", "0x10", "+1", "1,1", "1.0"]) {
    assert.equal(parse(`POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`), BAD_REQUEST, JSON.stringify(v));
  }
  for (const v of ["chunked", "gzip, chunked", "identity"]) {
    assert.equal(ok(`POST / HTTP/1.1\r\nTransfer-Encoding: ${v}\r\n\r\n`).body, true, v);
  }
  assert.equal(ok("GET / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n").body, true);
  assert.equal(ok("GET / HTTP/1.1\r\nContent-Type: 5\r\n\r\n").body, false);
});

test("parseHead: obs-fold, a header without colon, an empty name, whitespace before the colon → bad request", () => {
  for (
    const headers of [
      "Host: t\r\n folded\r\n",
      "Host: t\r\n\tfolded\r\n",
      "NoColonHere\r\n",
      ": value\r\n",
      "Host : t\r\n",
      "Content-Length\t: 5\r\n",
      "Transfer-Encoding : chunked\r\n",
    ]
  ) {
    assert.equal(parse(`GET / HTTP/1.1\r\n${headers}\r\n`), BAD_REQUEST, JSON.stringify(headers));
  }
});

test("parseHead: the request line and header caps", () => {
  const line = (n: number) => `GET /${"a".repeat(n - "GET / HTTP/1.1".length)} HTTP/1.1`;
  assert.equal(line(MAX_REQUEST_LINE).length, MAX_REQUEST_LINE);
  assert.ok(ok(`${line(MAX_REQUEST_LINE)}\r\n\r\n`) instanceof RequestHead);
  assert.equal(parse(`${line(MAX_REQUEST_LINE + 1)}\r\n\r\n`), LINE_TOO_LONG);

  const headers = (n: number) => `X: ${"b".repeat(n - "X: \r\n\r\n".length)}\r\n\r\n`;
  assert.equal(headers(MAX_HEADER_BYTES).length, MAX_HEADER_BYTES);
  assert.ok(ok(`GET / HTTP/1.1\r\n${headers(MAX_HEADER_BYTES)}`) instanceof RequestHead);
  assert.equal(parse(`GET / HTTP/1.1\r\n${headers(MAX_HEADER_BYTES + 1)}`), HEADERS_TOO_LARGE);
  assert.equal(parse(`GET / HTTP/1.1\r\n${"H: v\r\n".repeat(1536)}\r\n`), HEADERS_TOO_LARGE, "9 KiB");
});

test("parseHead: a reused RequestHead forgets the previous request's flags", () => {
  const head = new RequestHead();
  const a = bytes("POST /a HTTP/1.0\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\n");
  parseHead(a, 0, a.length, head);
  assert.deepEqual([head.get, head.http10, head.close, head.keepAlive, head.body], [
    false,
    true,
    true,
    true,
    true,
  ]);
  const b = bytes("GET /b HTTP/1.1\r\n\r\n");
  parseHead(b, 0, b.length, head);
  assert.deepEqual([head.get, head.http10, head.close, head.keepAlive, head.body], [
    true,
    false,
    false,
    false,
    false,
  ]);
  assert.equal(target(head), "/b");
});

test("parseHead: a head in the middle of a buffer", () => {
  const first = "GET /1 HTTP/1.1\r\nA: 1\r\n\r\n";
  const buf = bytes(`${first}GET /2 HTTP/1.1\r\nA: 2\r\n\r\nGET /3`);
  const end = findHeadEnd(buf, first.length, first.length, buf.length);
  const head = new RequestHead();
  assert.equal(parseHead(buf, first.length, end, head), end);
  assert.equal(target(head), "/2");
  assert.equal(head.header("a"), "2", "lines of the next or previous request are not looked at");
});

test("RequestHead.header: case-insensitive, repeats joined, values trimmed, missing → null", () => {
  const h = ok(
    "GET / HTTP/1.1\r\n" +
      "Host: tracker\r\n" +
      "X-Forwarded-For: 203.0.113.7\r\n" +
      "x-forwarded-for:10.0.0.1  \r\n" +
      "X-Empty:\r\n" +
      "X-Tabs:\t a b \t\r\n" +
      "X-Real-IP-Extra: no\r\n" +
      "User-Agent: qBittorrent/4.6.0\r\n" +
      "\r\n",
  );
  assert.equal(h.header("host"), "tracker");
  assert.equal(h.header("HOST"), "tracker");
  assert.equal(h.header("X-FORWARDED-FOR"), "203.0.113.7, 10.0.0.1");
  assert.equal(h.header("x-empty"), "");
  assert.equal(h.header("x-tabs"), "a b");
  assert.equal(h.header("user-agent"), "qBittorrent/4.6.0");
  assert.equal(h.header("x-real-ip"), null, "a longer name is not a match");
  assert.equal(h.header("x-forwarded"), null, "a prefix is not a match");
  assert.equal(h.header("accept"), null);
  assert.equal(h.header(""), null);
  assert.equal(h.lookup("Host"), "tracker");
  // bare LF lines
  const lf = ok("GET / HTTP/1.1\nA: x \nB:y\n\n");
  assert.equal(lf.header("a"), "x");
  assert.equal(lf.header("b"), "y");
  // latin1 bytes come back one char per byte
  assert.equal(ok("GET / HTTP/1.1\r\nX: caf\u00e9\r\n\r\n").header("x"), "caf\u00e9");
});

test("RequestHead.persistent: HTTP/1.1 unless close or a body; HTTP/1.0 only with keep-alive", () => {
  const cases: [string, boolean][] = [
    ["GET / HTTP/1.1\r\n\r\n", true],
    ["GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false],
    ["GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true],
    ["POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true],
    ["POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n", false],
    ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", false],
    ["GET / HTTP/1.0\r\n\r\n", false],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true],
    ["GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false],
    ["POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", false],
  ];
  for (const [s, want] of cases) assert.equal(ok(s).persistent(), want, JSON.stringify(s));
});

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const DATE = "Tue, 02 Jan 2024 03:04:05 GMT";

test("ResponseHeads.ok: exact bytes for bodies of 0, 9, 10 and 12345 bytes", () => {
  const heads = new ResponseHeads();
  for (const n of [0, 1, 9, 10, 99, 100, 12345]) {
    const body = new Uint8Array(n).fill(0x61);
    assert.equal(
      text(heads.ok(body, "open", NOW)),
      "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\n" +
        `date: ${DATE}\r\ncontent-length: ${n}\r\n\r\n${"a".repeat(n)}`,
      `${n} bytes`,
    );
  }
});

test("ResponseHeads.ok: connection variants", () => {
  const heads = new ResponseHeads();
  const body = bytes("d8:intervali1800ee");
  const pre =
    `HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ndate: ${DATE}\r\ncontent-length: 18\r\n`;
  assert.equal(text(heads.ok(body, "open", NOW)), `${pre}\r\nd8:intervali1800ee`);
  assert.equal(text(heads.ok(body, "close", NOW)), `${pre}connection: close\r\n\r\nd8:intervali1800ee`);
  assert.equal(
    text(heads.ok(body, "keep-alive", NOW)),
    `${pre}connection: keep-alive\r\n\r\nd8:intervali1800ee`,
  );
});

test("ResponseHeads: the date changes with the second, not within it", () => {
  const heads = new ResponseHeads();
  const date = (ms: number) => /date: ([^\r]*)\r\n/.exec(text(heads.ok(new Uint8Array(0), "open", ms)))![1];
  assert.equal(date(NOW), DATE);
  assert.equal(date(NOW + 321), DATE);
  assert.equal(date(NOW + 322), "Tue, 02 Jan 2024 03:04:06 GMT");
  assert.equal(date(NOW), DATE, "and back");
  assert.match(
    text(heads.head(404, [], 0, "open", false, NOW + 5000)),
    /\r\ndate: Tue, 02 Jan 2024 03:04:10 GMT\r\n/,
  );
});

test("ResponseHeads.head: content-length, chunked, HTTP/1.0 close-delimited", () => {
  const heads = new ResponseHeads();
  const h = new Headers({
    "content-type": "text/plain",
    allow: "GET",
    "content-length": "99",
    connection: "x",
  });
  assert.equal(
    text(heads.head(405, h, 19, "open", false, NOW)),
    `HTTP/1.1 405 Method Not Allowed\r\ndate: ${DATE}\r\nallow: GET\r\ncontent-type: text/plain\r\n` +
      "content-length: 19\r\n\r\n",
    "the Response's own content-length and connection are replaced",
  );
  assert.equal(
    text(heads.head(200, [["content-encoding", "gzip"]], undefined, "open", false, NOW)),
    `HTTP/1.1 200 OK\r\ndate: ${DATE}\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n`,
  );
  assert.equal(
    text(heads.head(404, [], undefined, "close", false, NOW)),
    `HTTP/1.1 404 Not Found\r\ndate: ${DATE}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`,
  );
  assert.equal(
    text(heads.head(200, [], undefined, "close", true, NOW)),
    `HTTP/1.1 200 OK\r\ndate: ${DATE}\r\nconnection: close\r\n\r\n`,
    "HTTP/1.0: neither length nor chunked",
  );
  assert.equal(
    text(heads.head(431, [], 5, "keep-alive", true, NOW)),
    `HTTP/1.1 431 Request Header Fields Too Large\r\ndate: ${DATE}\r\ncontent-length: 5\r\n` +
      "connection: keep-alive\r\n\r\n",
  );
  assert.equal(text(heads.head(418, [], 0, "open", false, NOW)).split("\r\n")[0], "HTTP/1.1 418 Unknown");
});
