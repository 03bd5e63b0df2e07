import { test } from "node:test";
import assert from "node:assert/strict";
import { isClientError } from "../../../src/bittorrent/errors.ts";
import { toHex } from "../../../src/bittorrent/peer.ts";
import { ConfigError } from "../../../src/config/options.ts";
import { Context, hookDriver } from "../../../src/middleware/hook.ts";
import {
  ErrInvalidJWT,
  ErrMissingJWT,
  importJWKSet,
  type JWTConfig,
  JWTHook,
  keyAlgorithms,
  readJWTConfig,
} from "../../../src/middleware/jwt/jwt.ts";
import "../../../src/middleware/drivers.ts";
import {
  announce,
  hash,
  hookContext,
  hookOptions,
  type LogLine,
  response,
  scrape,
  scrapeResponse,
} from "../helpers.ts";
import { AUDIENCE, ISSUER, makeKey, type TestKey, token } from "./keys.ts";

const IH = "0102030405060708090a0b0c0d0e0f1011121314";
const OTHER = "ffffffffffffffffffffffffffffffffffffffff";
const URL_ = "http://127.0.0.1:1/keys";

const [rsa, ec, ed] = await Promise.all([
  makeKey("rsa-1", "RS256"),
  makeKey("ec-1", "ES256"),
  makeKey("ed-1", "EdDSA"),
]);

/** A fetch serving whatever `body()` returns; counts calls. */
function fakeFetch(body: () => unknown, status = 200) {
  const calls: string[] = [];
  const fn = ((input: string | URL | Request) => {
    calls.push(String(input));
    const b = body();
    if (b instanceof Error) return Promise.reject(b);
    return Promise.resolve(new Response(typeof b === "string" ? b : JSON.stringify(b), { status }));
  }) as typeof fetch;
  return { fn, calls };
}

function config(over: Partial<JWTConfig> = {}): JWTConfig {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwkSetURL: URL_,
    jwkSetUpdateInterval: 3_600_000,
    leeway: 30_000,
    checkScrape: false,
    ...over,
  };
}

async function hookWith(keys: TestKey[], over: Partial<JWTConfig> = {}, lines: LogLine[] = []) {
  const f = fakeFetch(() => ({ keys: keys.map((k) => k.jwk) }));
  const hook = await JWTHook.create(config(over), {
    log: (level, msg, fields) => void lines.push({ level, msg, fields }),
    fetch: f.fn,
  });
  return { hook, fetch: f };
}

/** The ClientError message of an announce with `query`, or "ok". */
async function announceWith(hook: JWTHook, query: string, ih = IH): Promise<string> {
  try {
    await hook.handleAnnounce(new Context(), announce({ infoHash: hash(ih) }, query), response());
    return "ok";
  } catch (err) {
    assert.ok(isClientError(err), `not a ClientError: ${err}`);
    return (err as Error).message;
  }
}

const q = (t: string) => `jwt=${encodeURIComponent(t)}`;

test("jwt is registered under chihaya's name; the error strings are chihaya's", () => {
  assert.ok(hookDriver("jwt"));
  assert.equal(ErrMissingJWT.message, "unapproved request: missing jwt");
  assert.equal(ErrInvalidJWT.message, "unapproved request: invalid jwt");
});

test("a good token is accepted: RS256, ES256 and EdDSA keys", async () => {
  const { hook } = await hookWith([rsa, ec, ed]);
  try {
    for (const key of [rsa, ec, ed]) {
      assert.equal(await announceWith(hook, q(await token(key, { infohash: IH }))), "ok", key.alg);
    }
    // Ed25519 keys also take the fully-specified alg name (RFC 9864).
    assert.equal(await announceWith(hook, q(await token(ed, { infohash: IH, alg: "Ed25519" }))), "ok");
    // aud may be a list containing the audience.
    assert.equal(await announceWith(hook, q(await token(rsa, { infohash: IH, aud: ["x", AUDIENCE] }))), "ok");
  } finally {
    await hook.stop();
  }
});

test("no token → missing jwt; an empty one too", async () => {
  const { hook } = await hookWith([rsa]);
  try {
    assert.equal(await announceWith(hook, ""), "unapproved request: missing jwt");
    assert.equal(await announceWith(hook, "jwt="), "unapproved request: missing jwt");
  } finally {
    await hook.stop();
  }
});

test("every bad token → invalid jwt", async () => {
  const lines: LogLine[] = [];
  const { hook } = await hookWith([rsa, ec], {}, lines);
  const stranger = await makeKey("rsa-1", "RS256"); // same kid, other key
  const pss = await makeKey("rsa-1", "PS256"); // an RSA key too, but RS256 is what rsa-1 allows
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, string | Promise<string>][] = [
    ["garbage", "not.a.jwt"],
    ["wrong infohash", token(rsa, { infohash: OTHER })],
    ["uppercase infohash claim", token(rsa, { infohash: IH.toUpperCase() })],
    ["no infohash claim", token(rsa, {})],
    ["wrong issuer", token(rsa, { infohash: IH, iss: "https://evil.example" })],
    ["wrong audience", token(rsa, { infohash: IH, aud: "https://other.example" })],
    ["expired", token(rsa, { infohash: IH, exp: now - 3600 })],
    ["expired beyond the leeway", token(rsa, { infohash: IH, exp: now - 31 })],
    ["not yet valid", token(rsa, { infohash: IH, nbf: now + 3600 })],
    ["no kid", token(rsa, { infohash: IH, kid: null })],
    ["unknown kid", token(rsa, { infohash: IH, kid: "nope" })],
    ["signed by another key", token(stranger, { infohash: IH })],
    ["alg the key does not allow (PS256 with an RSA key)", token(pss, { infohash: IH })],
    ["kid of an RSA key, signed with the EC key", token(ec, { infohash: IH, kid: "rsa-1" })],
    [
      "unsecured (alg none)",
      `${btoa(JSON.stringify({ alg: "none", kid: "rsa-1" }))}.${
        btoa(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, infohash: IH }))
      }.`,
    ],
  ];
  try {
    for (const [name, t] of cases) {
      assert.equal(await announceWith(hook, q(await t)), "unapproved request: invalid jwt", name);
    }
    // The reason is logged at debug, never the token.
    const tokens = await Promise.all(cases.map(([, t]) => t));
    const logged = JSON.stringify(lines);
    for (const t of tokens) assert.ok(!logged.includes(t), "a token was logged");
    assert.ok(lines.some((l) => l.level === "debug" && l.msg === "jwt: token refused"));
    assert.ok(
      lines.every((l) => l.level !== "error"),
      JSON.stringify(lines.filter((l) => l.level === "error")),
    );
  } finally {
    await hook.stop();
  }
});

test("exp and nbf allow the leeway; leeway 0 is strict", async () => {
  const now = Math.floor(Date.now() / 1000);
  const { hook } = await hookWith([rsa], { leeway: 30_000 });
  const strict = (await hookWith([rsa], { leeway: 0 })).hook;
  try {
    const justExpired = await token(rsa, { infohash: IH, exp: now - 10 });
    const soonValid = await token(rsa, { infohash: IH, nbf: now + 10 });
    assert.equal(await announceWith(hook, q(justExpired)), "ok");
    assert.equal(await announceWith(hook, q(soonValid)), "ok");
    assert.equal(await announceWith(strict, q(justExpired)), "unapproved request: invalid jwt");
    assert.equal(await announceWith(strict, q(soonValid)), "unapproved request: invalid jwt");
    // A token without exp is accepted, as chihaya accepts it.
    assert.equal(await announceWith(strict, q(await token(rsa, { infohash: IH, exp: null }))), "ok");
  } finally {
    await hook.stop();
    await strict.stop();
  }
});

test("scrapes are not checked unless check_scrape; then every infohash must match the claim", async () => {
  const run = async (hook: JWTHook, query: string, ...ihs: string[]) => {
    try {
      await hook.handleScrape(new Context(), scrape(ihs.map(hash), query), scrapeResponse());
      return "ok";
    } catch (err) {
      return (err as Error).message;
    }
  };
  const { hook: lax } = await hookWith([rsa]);
  const { hook: strict } = await hookWith([rsa], { checkScrape: true });
  try {
    const t = q(await token(rsa, { infohash: IH }));
    assert.equal(await run(lax, "", IH), "ok");
    assert.equal(await run(strict, "", IH), "unapproved request: missing jwt");
    assert.equal(await run(strict, t, IH), "ok");
    assert.equal(await run(strict, t, IH, OTHER), "unapproved request: invalid jwt");
  } finally {
    await lax.stop();
    await strict.stop();
  }
});

test("a rotated key is picked up at the refresh; the old one stops working", async () => {
  const next = await makeKey("rsa-2", "RS256");
  let served = [rsa];
  const f = fakeFetch(() => ({ keys: served.map((k) => k.jwk) }));
  const hook = await JWTHook.create(config(), { log: () => {}, fetch: f.fn });
  try {
    const oldToken = q(await token(rsa, { infohash: IH }));
    const newToken = q(await token(next, { infohash: IH }));
    assert.equal(await announceWith(hook, newToken), "unapproved request: invalid jwt");
    served = [next];
    await hook.refresh();
    assert.deepEqual(hook.keyIDs, ["rsa-2"]);
    assert.equal(await announceWith(hook, newToken), "ok");
    assert.equal(await announceWith(hook, oldToken), "unapproved request: invalid jwt");
  } finally {
    await hook.stop();
  }
});

test("the timer refreshes every jwk_set_update_interval, and stop() clears it", async () => {
  const f = fakeFetch(() => ({ keys: [rsa.jwk] }));
  const hook = await JWTHook.create(config({ jwkSetUpdateInterval: 20 }), { log: () => {}, fetch: f.fn });
  const deadline = Date.now() + 3000;
  while (f.calls.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(f.calls.length >= 3, `refreshed ${f.calls.length - 1} times`);
  assert.deepEqual(new Set(f.calls), new Set([URL_]));
  await hook.stop();
  const after = f.calls.length;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(f.calls.length, after, "no fetch after stop()");
});

test("a failed refresh keeps the old keys and logs", async () => {
  let fail: Error | string | null = null;
  const lines: LogLine[] = [];
  const f = fakeFetch(() => fail ?? { keys: [rsa.jwk] });
  const hook = await JWTHook.create(config(), {
    log: (level, msg, fields) => void lines.push({ level, msg, fields }),
    fetch: f.fn,
  });
  try {
    const good = q(await token(rsa, { infohash: IH }));
    for (const f of [new TypeError("connection refused"), "not json", '{"no": "keys"}']) {
      fail = f;
      await hook.refresh();
      assert.deepEqual(hook.keyIDs, ["rsa-1"]);
      assert.equal(await announceWith(hook, good), "ok");
    }
    const errors = lines.filter((l) => l.level === "error");
    assert.equal(errors.length, 3);
    assert.equal(errors[0].msg, "jwt: failed to refresh the JWK Set; keeping the previous keys");
    assert.deepEqual(errors.map((e) => e.fields?.error), [
      `${URL_}: connection refused`,
      `${URL_} did not answer JSON`,
      `the response is not a JWK Set (no "keys" list)`,
    ]);
  } finally {
    await hook.stop();
  }
  // An HTTP error status is a failure too.
  const e500 = fakeFetch(() => ({ keys: [] }), 500);
  await assert.rejects(JWTHook.create(config(), { log: () => {}, fetch: e500.fn }), {
    message: `failed to fetch initial JWK Set: ${URL_} answered HTTP 500`,
  });
});

test("the initial fetch failing fails the start: failed to fetch initial JWK Set", async () => {
  const f = fakeFetch(() => new TypeError("connection refused"));
  await assert.rejects(JWTHook.create(config(), { log: () => {}, fetch: f.fn }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `failed to fetch initial JWK Set: ${URL_}: connection refused`);
    return true;
  });
  // Through the registered driver, against a port nothing listens on: the key path is named.
  await assert.rejects(
    async () =>
      await hookDriver("jwt")!(
        { issuer: ISSUER, audience: AUDIENCE, jwk_set_url: "http://127.0.0.1:1/keys" },
        hookContext(),
      ),
    /^ConfigError: prehooks\[0\]\.options\.jwk_set_url: failed to fetch initial JWK Set: http:\/\/127\.0\.0\.1:1\/keys: /,
  );
});

test("keyAlgorithms: what each key may verify", () => {
  assert.deepEqual(keyAlgorithms(rsa.jwk), ["RS256"]);
  assert.deepEqual(keyAlgorithms(ec.jwk), ["ES256"]);
  assert.deepEqual(keyAlgorithms(ed.jwk), ["EdDSA", "Ed25519"]);
  assert.deepEqual(keyAlgorithms({ ...ed.jwk, alg: "EdDSA" }), ["EdDSA"]);
  assert.deepEqual(keyAlgorithms({ ...rsa.jwk, alg: "RS256" }), ["RS256"]);
  assert.match(keyAlgorithms({ ...rsa.jwk, alg: "PS256" }) as string, /alg "PS256" is not supported/);
  assert.match(keyAlgorithms({ ...rsa.jwk, alg: "ES256" }) as string, /alg "ES256" is not supported/);
  assert.match(keyAlgorithms({ ...ec.jwk, crv: "P-384" }) as string, /kty "EC" crv "P-384" is not supported/);
  assert.match(keyAlgorithms({ kty: "oct", k: "c2VjcmV0" }) as string, /kty "oct" is not supported/);
  assert.equal(
    keyAlgorithms({ kty: "RSA", n: "AQAB", e: "AQAB" }),
    "the RSA key has 24 bits; at least 2048 are needed",
  );
  assert.match(keyAlgorithms({ ...rsa.jwk, use: "enc" }) as string, /use is "enc", not "sig"/);
  assert.match(keyAlgorithms({ ...rsa.jwk, key_ops: ["encrypt"] }) as string, /key_ops lacks "verify"/);
});

test("importJWKSet: unusable keys are skipped with a reason; private parts are ignored", async () => {
  const skipped: { kid: string; reason: string }[] = [];
  const priv = await makeKey("full", "ES256");
  const { exportJWK } = await import("jose");
  const full = { ...(await exportJWK(priv.privateKey)), kid: "full" };
  const keys = await importJWKSet({
    keys: [rsa.jwk, { ...ec.jwk, kid: undefined }, { kty: "oct", k: "c2VjcmV0", kid: "hmac" }, full, {
      kty: "RSA",
      kid: "broken",
      n: "AQAB",
      e: "AQAB",
    }],
  }, skipped);
  assert.deepEqual([...keys.keys()], ["rsa-1", "full"]);
  assert.deepEqual(skipped.map((s) => s.kid), ["", "hmac", "broken"]);
  await assert.rejects(importJWKSet([1, 2]), /not a JWK Set/);
  // A token signed by the key whose private JWK was published verifies with its public half.
  assert.equal((await keys.get("full")!.key as CryptoKey).type, "public");
});

test("skipped keys are logged once, not at every refresh", async () => {
  const lines: LogLine[] = [];
  const f = fakeFetch(() => ({ keys: [rsa.jwk, { kty: "oct", k: "c2VjcmV0", kid: "hmac" }] }));
  const hook = await JWTHook.create(config(), {
    log: (level, msg, fields) => void lines.push({ level, msg, fields }),
    fetch: f.fn,
  });
  await hook.refresh();
  await hook.refresh();
  await hook.stop();
  const ignored = lines.filter((l) => l.msg === "jwt: a key of the JWK Set is ignored");
  assert.equal(ignored.length, 1);
  assert.equal(ignored[0].fields?.kid, "hmac");
});

test("an empty JWK Set starts (logged) and refuses every token", async () => {
  const lines: LogLine[] = [];
  const { hook } = await hookWith([], {}, lines);
  try {
    assert.equal(
      await announceWith(hook, q(await token(rsa, { infohash: IH }))),
      "unapproved request: invalid jwt",
    );
    assert.ok(lines.some((l) => l.level === "error" && /no usable key/.test(l.msg)));
  } finally {
    await hook.stop();
  }
});

test("options: defaults, required keys, URL checks, key paths with file:line", () => {
  assert.deepEqual(readJWTConfig({ issuer: "i", audience: "a", jwk_set_url: "https://i/keys" }, "p", []), {
    issuer: "i",
    audience: "a",
    jwkSetURL: "https://i/keys",
    jwkSetUpdateInterval: 300_000,
    leeway: 30_000,
    checkScrape: false,
  });
  assert.deepEqual(
    readJWTConfig(
      {
        issuer: "i",
        audience: "a",
        jwk_set_url: "http://i/keys",
        jwk_set_update_interval: "1m",
        leeway: "0s",
        check_scrape: true,
      },
      "p",
      [],
    ),
    {
      issuer: "i",
      audience: "a",
      jwkSetURL: "http://i/keys",
      jwkSetUpdateInterval: 60_000,
      leeway: 0,
      checkScrape: true,
    },
  );
  const opts = hookOptions(`    - name: jwt
      options:
        issuer: https://issuer.example
        audience: https://tracker.example
        jwk_set_url: ftp://issuer.example/keys
`);
  assert.throws(() => readJWTConfig(opts, "x", []), {
    name: "ConfigError",
    message:
      `prehooks[0].options.jwk_set_url: "ftp://issuer.example/keys" must be an http:// or https:// URL (config.yaml:9)`,
  });
  assert.throws(
    () => readJWTConfig({ audience: "a", jwk_set_url: "https://i/k" }, "p", []),
    /^ConfigError: p.issuer: missing/,
  );
  assert.throws(
    () => readJWTConfig({ issuer: "i", jwk_set_url: "https://i/k" }, "p", []),
    /p.audience: missing/,
  );
  assert.throws(() => readJWTConfig({ issuer: "i", audience: "a" }, "p", []), /p.jwk_set_url: missing/);
  assert.throws(
    () => readJWTConfig({ issuer: "i", audience: "a", jwk_set_url: "keys" }, "p", []),
    /"keys" is not a URL/,
  );
  assert.throws(
    () =>
      readJWTConfig(
        { issuer: "i", audience: "a", jwk_set_url: "https://i/k", jwk_set_update_interval: "10ms" },
        "p",
        [],
      ),
    /p.jwk_set_update_interval: "10ms" is too short; use at least 1s/,
  );
  const warnings: string[] = [];
  readJWTConfig(
    { issuer: "i", audience: "a", jwk_set_url: "https://i/k", jwk_set_update_interval: 0, leway: "1s" },
    "p",
    warnings,
  );
  assert.deepEqual(warnings, [
    "p.jwk_set_update_interval: 0 is not positive; falling back to the default 5m",
    "unknown key p.leway is ignored; did you mean p.leeway?",
  ]);
});

test("the infohash claim is compared with the lowercase hex of the raw infohash", async () => {
  const { hook } = await hookWith([ec]);
  try {
    const raw = hash("abcdef0000000000000000000000000000000001");
    assert.equal(toHex(raw), "abcdef0000000000000000000000000000000001");
    const t = q(await token(ec, { infohash: toHex(raw) }));
    assert.equal(await announceWith(hook, t, toHex(raw)), "ok");
  } finally {
    await hook.stop();
  }
});
