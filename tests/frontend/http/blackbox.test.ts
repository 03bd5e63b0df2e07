/**
 * Black-box HTTP tests: a real tracker on real sockets, spoken to over HTTP.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../../../src/bittorrent/bencode.ts";
import type { HTTPConfig } from "../../../src/config/types.ts";
import { escapeBytes, id20 } from "../../helpers/fixtures.ts";
import { HTTP_TRANSPORTS, httpConfig, startTracker, testConfig } from "../../helpers/tracker.ts";

type Dict = Record<string, unknown>;
const latin1 = (b: unknown) => String.fromCharCode(...(b as Uint8Array));

function announceQuery(o: { ih?: string; id: string; port: number; left?: number; extra?: string }): string {
  return `info_hash=${escapeBytes(id20(o.ih ?? "ih"))}&peer_id=${escapeBytes(id20(o.id))}&port=${o.port}` +
    `&left=${o.left ?? 10}&downloaded=0&uploaded=0${o.extra ?? ""}`;
}

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Dict; res: Response }> {
  const res = await fetch(url, { headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body: res.status === 200 ? decode(bytes) as Dict : {}, res };
}

function compactPeers(b: unknown, size: number): { ip: number[]; port: number }[] {
  const bytes = b as Uint8Array;
  const out = [];
  for (let i = 0; i < bytes.length; i += size) {
    out.push({
      ip: Array.from(bytes.subarray(i, i + size - 2)),
      port: (bytes[i + size - 2] << 8) | bytes[i + size - 1],
    });
  }
  return out;
}

for (const { transport, label, skip } of HTTP_TRANSPORTS) {
  const prefix = `http (${label}): `;
  const config = (over: Partial<HTTPConfig> = {}) => httpConfig({ transport, ...over });

  test(prefix + "two IPv4 peers learn each other; scrape counts them", { skip }, async () => {
    const t = await startTracker(testConfig({ http: config() }));
    try {
      const base = t.url();
      const a = await get(
        `${base}/announce?${announceQuery({ id: "a", port: 1001, extra: "&compact=1&event=started" })}`,
      );
      assert.equal(a.status, 200);
      assert.equal(a.res.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(a.body.interval, 1800);
      assert.equal(a.body["min interval"], 900);
      assert.deepEqual(compactPeers(a.body.peers, 6), [{ ip: [127, 0, 0, 1], port: 1001 }], "alone: itself");
      assert.equal(a.body.incomplete, 1);

      const b = await get(
        `${base}/announce?${announceQuery({ id: "b", port: 1002, left: 0, extra: "&compact=1" })}`,
      );
      assert.deepEqual(compactPeers(b.body.peers, 6), [{ ip: [127, 0, 0, 1], port: 1001 }]);
      assert.equal(b.body.complete, 0);
      assert.equal(b.body.incomplete, 1);

      const a2 = await get(`${base}/announce?${announceQuery({ id: "a", port: 1001, extra: "&compact=1" })}`);
      assert.deepEqual(compactPeers(a2.body.peers, 6), [{ ip: [127, 0, 0, 1], port: 1002 }]);
      assert.equal(a2.body.complete, 1);
      assert.equal(a2.body.incomplete, 1);

      const s = await get(
        `${base}/scrape?info_hash=${escapeBytes(id20("ih"))}&info_hash=${escapeBytes(id20("none"))}`,
      );
      const files = s.body.files as Record<string, Dict>;
      assert.deepEqual({ ...files[latin1(id20("ih"))] }, { complete: 1, downloaded: 0, incomplete: 1 });
      assert.deepEqual({ ...files[latin1(id20("none"))] }, { complete: 0, downloaded: 0, incomplete: 0 });

      await get(
        `${base}/announce?${announceQuery({ id: "a", port: 1001, left: 0, extra: "&event=completed" })}`,
      );
      const s2 = await get(`${base}/scrape?info_hash=${escapeBytes(id20("ih"))}`);
      assert.deepEqual({ ...(s2.body.files as Record<string, Dict>)[latin1(id20("ih"))] }, {
        complete: 2,
        downloaded: 1,
        incomplete: 0,
      });

      await get(`${base}/announce?${announceQuery({ id: "a", port: 1001, extra: "&event=stopped" })}`);
      const b2 = await get(
        `${base}/announce?${announceQuery({ id: "b", port: 1002, left: 0, extra: "&compact=1" })}`,
      );
      assert.deepEqual(
        compactPeers(b2.body.peers, 6),
        [{ ip: [127, 0, 0, 1], port: 1002 }],
        "a stopped: b alone",
      );
    } finally {
      await t.stop();
    }
  });

  test(prefix + "IPv6 on [::1], compact peers6 and the dictionary form", { skip }, async () => {
    const t = await startTracker(testConfig({ http: config({ addr: "[::1]:0" }) }));
    try {
      const base = t.url();
      assert.match(base, /^http:\/\/\[::1\]:\d+$/);
      await get(`${base}/announce?${announceQuery({ id: "a", port: 2001 })}`);
      const b = await get(`${base}/announce?${announceQuery({ id: "b", port: 2002, extra: "&compact=1" })}`);
      assert.equal(b.body.peers, undefined);
      const loopback6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
      assert.deepEqual(compactPeers(b.body.peers6, 18), [{ ip: loopback6, port: 2001 }]);
      const c = await get(`${base}/announce?${announceQuery({ id: "c", port: 2003 })}`);
      const list = c.body.peers as Dict[];
      assert.equal(list.length, 2);
      for (const p of list) {
        assert.equal(latin1(p.ip), "::1");
        assert.equal((p["peer id"] as Uint8Array).length, 20);
      }
      const d = await get(
        `${base}/announce?${announceQuery({ id: "d", port: 2004, extra: "&no_peer_id=1" })}`,
      );
      for (const p of d.body.peers as Dict[]) assert.deepEqual(Object.keys(p), ["ip", "port"]);
      // IPv4 and IPv6 swarms are separate: an IPv6 scrape sees the IPv6 peers.
      const s = await get(`${base}/scrape?info_hash=${escapeBytes(id20("ih"))}`);
      assert.equal((s.body.files as Record<string, Dict>)[latin1(id20("ih"))].incomplete, 4);
    } finally {
      await t.stop();
    }
  });

  test(prefix + "spoofing off ignores ip; on honours ip/ipv4/ipv6; real_ip_header with X-Forwarded-For", {
    skip,
  }, async () => {
    const off = await startTracker(testConfig({ http: config() }));
    const on = await startTracker(testConfig({ http: config({ allowIPSpoofing: true }) }));
    const proxied = await startTracker(testConfig({ http: config({ realIPHeader: "X-Forwarded-For" }) }));
    try {
      const r1 = await get(
        `${off.url()}/announce?${announceQuery({ id: "a", port: 1, extra: "&compact=1&ip=9.9.9.9" })}`,
      );
      assert.deepEqual(compactPeers(r1.body.peers, 6)[0].ip, [127, 0, 0, 1]);
      const r2 = await get(
        `${on.url()}/announce?${announceQuery({ id: "a", port: 1, extra: "&compact=1&ip=9.9.9.9" })}`,
      );
      assert.deepEqual(compactPeers(r2.body.peers, 6)[0].ip, [9, 9, 9, 9]);
      const r3 = await get(
        `${on.url()}/announce?${announceQuery({ id: "b", port: 2, extra: "&compact=1&ipv6=2001:db8::7" })}`,
      );
      assert.equal(compactPeers(r3.body.peers6, 18)[0].ip.length, 16);
      const r4 = await get(
        `${proxied.url()}/announce?${announceQuery({ id: "c", port: 3, extra: "&compact=1" })}`,
        {
          "X-Forwarded-For": "203.0.113.9, 10.0.0.1",
        },
      );
      assert.deepEqual(compactPeers(r4.body.peers, 6)[0].ip, [203, 0, 113, 9]);
      // The scrape counts the client's family, not the proxy's.
      const r5 = await get(`${proxied.url()}/announce?${announceQuery({ id: "d", port: 4 })}`, {
        "X-Forwarded-For": "2001:db8::9",
      });
      assert.equal(r5.status, 200);
      const s6 = await get(`${proxied.url()}/scrape?info_hash=${escapeBytes(id20("ih"))}`, {
        "X-Forwarded-For": "2001:db8::10",
      });
      assert.equal((s6.body.files as Record<string, Dict>)[latin1(id20("ih"))].incomplete, 1);
    } finally {
      await Promise.all([off.stop(), on.stop(), proxied.stop()]);
    }
  });

  test(prefix + "every client error string comes back as a bencoded failure reason", { skip }, async () => {
    const t = await startTracker(testConfig({ http: config() }));
    try {
      const base = t.url();
      const ih = escapeBytes(id20("ih"));
      const good = announceQuery({ id: "a", port: 1 });
      const cases: [string, string][] = [
        [`${good}&x=%zz`, "invalid query escape"],
        [`info_hash=short`, "provided invalid infohash"],
        [`${good}&event=paused`, "failed to provide valid client event"],
        [`peer_id=x`, "no info_hash parameter supplied"],
        [`${good}&info_hash=${ih}`, "multiple info_hash parameters supplied"],
        [`info_hash=${ih}`, "failed to parse parameter: peer_id"],
        [`info_hash=${ih}&peer_id=abc`, "failed to provide valid peer_id"],
        [good.replace("left=10", "left=x"), "failed to parse parameter: left"],
        [good.replace("downloaded=0", "downloaded=x"), "failed to parse parameter: downloaded"],
        [good.replace("uploaded=0", "uploaded=x"), "failed to parse parameter: uploaded"],
        [`${good}&numwant=x`, "failed to parse parameter: numwant"],
        [good.replace("port=1", "port=x"), "failed to parse parameter: port"],
        [good.replace("port=1", "port=0"), "invalid port"],
      ];
      for (const [q, msg] of cases) {
        const r = await get(`${base}/announce?${q}`);
        assert.equal(r.status, 200, q);
        assert.equal(latin1(r.body["failure reason"]), msg, q);
        assert.deepEqual(Object.keys(r.body), ["failure reason"]);
      }
      const spoof = await startTracker(
        testConfig({ http: config({ allowIPSpoofing: true, realIPHeader: "x-real-ip" }) }),
      );
      try {
        const bad = await get(`${spoof.url()}/announce?${good}&ip=bogus`);
        assert.equal(latin1(bad.body["failure reason"]), "failed to parse peer IP address");
        const zero = await get(`${spoof.url()}/announce?${good}&ip=0.0.0.0`);
        assert.equal(latin1(zero.body["failure reason"]), "invalid IP");
        const hdr = await get(`${spoof.url()}/announce?${good}`, { "x-real-ip": "bogus" });
        assert.equal(latin1(hdr.body["failure reason"]), "failed to parse peer IP address");
      } finally {
        await spoof.stop();
      }
      const s = await get(`${base}/scrape`);
      assert.equal(latin1(s.body["failure reason"]), "no info_hash parameter supplied");
      const nf = await fetch(`${base}/nope`);
      assert.equal(nf.status, 404);
      await nf.body?.cancel();
      const post = await fetch(`${base}/announce`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET");
      await post.body?.cancel();
    } finally {
      await t.stop();
    }
  });

  test(
    prefix + "named route params reach the request; keepalive off closes connections",
    { skip },
    async () => {
      const t = await startTracker(testConfig({
        http: config({ announceRoutes: ["/announce", "/:passkey/announce"], enableKeepalive: false }),
      }));
      try {
        const r = await get(`${t.url()}/secret123/announce?${announceQuery({ id: "a", port: 1 })}`);
        assert.equal(r.status, 200);
        assert.equal(r.res.headers.get("connection"), "close");
        assert.ok(r.body.interval);
      } finally {
        await t.stop();
      }
    },
  );

  test(prefix + "TLS on https_addr alone (no plain addr) serves announces", { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "hayate-tls-"));
    try {
      const cert = join(dir, "cert.pem");
      const key = join(dir, "key.pem");
      execFileSync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ], { stdio: "ignore" });
      const t = await startTracker(testConfig({
        http: config({ addr: "", httpsAddr: "127.0.0.1:0", tlsCertPath: cert, tlsKeyPath: key }),
      }));
      try {
        assert.equal(t.tracker.address("http"), undefined);
        const url = `${t.url("https")}/announce?${announceQuery({ id: "a", port: 1, extra: "&compact=1" })}`;
        const body = await new Promise<Uint8Array>((resolve, reject) => {
          const req = httpsRequest(url, { ca: readFileSync(cert) }, (res) => {
            const chunks: Uint8Array[] = [];
            res.on("data", (c: Uint8Array) => chunks.push(c));
            res.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
          });
          req.on("error", reject);
          req.end();
        });
        const d = decode(body) as Dict;
        assert.equal(d.incomplete, 1);
        assert.deepEqual(compactPeers(d.peers, 6), [{ ip: [127, 0, 0, 1], port: 1 }]);
      } finally {
        await t.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
