/**
 * The `jwt` hook (chihaya's `middleware/jwt`, as Quay uses it): an announce must
 * carry a JSON Web Token, signed by a key of the issuer's JWK Set, that approves
 * the announced infohash.
 *
 * ```yaml
 * prehooks:
 *   - name: jwt
 *     options:
 *       issuer: https://issuer.example.com
 *       audience: https://tracker.example.com
 *       jwk_set_url: https://issuer.example.com/keys
 *       jwk_set_update_interval: 5m
 *       leeway: 30s          # hayate only: clock skew allowed on exp/nbf
 *       check_scrape: false  # hayate only: also require a token on scrapes
 * ```
 *
 * The token is the `jwt` query parameter over HTTP, or the `jwt` parameter of the
 * BEP 41 URL data (`/?jwt=…`) over UDP. A missing token is refused with
 * `unapproved request: missing jwt`; any other problem with
 * `unapproved request: invalid jwt` (the reason is logged at debug, never the
 * token). A token is valid when:
 * - its protected header names a `kid` found in the JWK Set and an `alg` that key
 *   allows (RS256 for RSA keys, ES256 for P-256 keys, EdDSA/Ed25519 for Ed25519
 *   keys, or exactly the key's own `alg` when the JWK has one);
 * - the signature verifies;
 * - `iss` equals `issuer` and `aud` is or contains `audience`;
 * - the `infohash` claim equals the infohash in lowercase hex;
 * - unlike chihaya, `exp` and `nbf`, when present, hold within `leeway`.
 *
 * The JWK Set is fetched when the hook is built: the tracker does not start when
 * that fails (`failed to fetch initial JWK Set: …`). It is fetched again every
 * `jwk_set_update_interval`; a failed refresh is logged and the previous keys
 * stay in use. Scrapes are not checked (as in chihaya) unless `check_scrape`.
 *
 * @module
 */
import {
  base64url,
  type CryptoKey,
  errors as joseErrors,
  importJWK,
  type JWK,
  jwtVerify,
  type KeyObject,
} from "jose";
import { ClientError } from "../../bittorrent/errors.ts";
import { toHex } from "../../bittorrent/peer.ts";
import type { Params } from "../../bittorrent/params.ts";
import { ConfigError, OptionsReader } from "../../config/options.ts";
import { type Hook, type HookContext, registerHook } from "../hook.ts";

/** The refusal when the request carries no token. */
export const ErrMissingJWT: ClientError = new ClientError("unapproved request: missing jwt");
/** The refusal for any token that does not check out. */
export const ErrInvalidJWT: ClientError = new ClientError("unapproved request: invalid jwt");

/** The validated options. Durations in ms. */
export interface JWTConfig {
  issuer: string;
  audience: string;
  jwkSetURL: string;
  /** Pause between two fetches of the JWK Set. */
  jwkSetUpdateInterval: number;
  /** Clock skew allowed when checking `exp` and `nbf`. */
  leeway: number;
  checkScrape: boolean;
}

/** Default of `jwk_set_update_interval` (chihaya has none: 0 made it refetch in a busy loop). */
export const DEFAULT_UPDATE_INTERVAL = 5 * 60_000;
/** Default of `leeway`. */
export const DEFAULT_LEEWAY = 30_000;
/** How long one fetch of the JWK Set may take. */
export const FETCH_TIMEOUT = 10_000;

/** The signature algorithms accepted at all. */
export const SUPPORTED_ALGORITHMS: readonly string[] = ["RS256", "ES256", "EdDSA", "Ed25519"];

/**
 * Reads and validates the `options:` map.
 *
 * @example
 * ```ts
 * readJWTConfig({ issuer: "i", audience: "a", jwk_set_url: "https://i/keys" }, "prehooks[0].options", []);
 * ```
 */
export function readJWTConfig(options: unknown, where: string, warnings: string[]): JWTConfig {
  const r = new OptionsReader(options, where, warnings);
  const issuer = r.string("issuer", "");
  const audience = r.string("audience", "");
  const jwkSetURL = r.string("jwk_set_url", "").trim();
  const jwkSetUpdateInterval = r.duration("jwk_set_update_interval", DEFAULT_UPDATE_INTERVAL, { min: 1_000 });
  const leeway = r.duration("leeway", DEFAULT_LEEWAY, { allowZero: true });
  const checkScrape = r.bool("check_scrape", false);
  r.finish();
  if (issuer === "") throw r.error("issuer", "missing; set the iss every token must carry");
  if (audience === "") throw r.error("audience", "missing; set the aud every token must carry");
  if (jwkSetURL === "") {
    throw r.error("jwk_set_url", "missing; set the URL of the issuer's JWK Set, e.g. https://issuer/keys");
  }
  let url: URL;
  try {
    url = new URL(jwkSetURL);
  } catch {
    throw r.error("jwk_set_url", `${JSON.stringify(jwkSetURL)} is not a URL; write e.g. https://issuer/keys`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw r.error("jwk_set_url", `${JSON.stringify(jwkSetURL)} must be an http:// or https:// URL`);
  }
  return { issuer, audience, jwkSetURL, jwkSetUpdateInterval, leeway, checkScrape };
}

/** A verification key and the algorithms it may be used with. */
interface VerificationKey {
  key: CryptoKey | KeyObject | Uint8Array;
  algorithms: ReadonlySet<string>;
}

/**
 * The algorithms a JWK may verify: its own `alg` when it has one (and it is
 * supported), else the one its type implies. Returns a reason string for keys
 * that cannot verify tokens here.
 */
export function keyAlgorithms(jwk: JWK): string[] | string {
  if (jwk.use !== undefined && jwk.use !== "sig") return `use is ${JSON.stringify(jwk.use)}, not "sig"`;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes("verify")) return `key_ops lacks "verify"`;
  let implied: string[];
  if (jwk.kty === "RSA") implied = ["RS256"];
  else if (jwk.kty === "EC" && jwk.crv === "P-256") implied = ["ES256"];
  else if (jwk.kty === "OKP" && jwk.crv === "Ed25519") implied = ["EdDSA", "Ed25519"];
  else {return `kty ${JSON.stringify(jwk.kty)}${
      jwk.crv ? ` crv ${JSON.stringify(jwk.crv)}` : ""
    } is not supported`;}
  if (jwk.kty === "RSA") {
    // jose refuses to verify with keys under 2048 bits; say so once, at load.
    let bits = 0;
    try {
      const n = base64url.decode(typeof jwk.n === "string" ? jwk.n : "");
      let i = 0;
      while (i < n.length && n[i] === 0) i++;
      bits = (n.length - i) * 8;
    } catch {
      return "n is not base64url";
    }
    if (bits < 2048) return `the RSA key has ${bits} bits; at least 2048 are needed`;
  }
  if (jwk.alg === undefined) return implied;
  if (!implied.includes(jwk.alg)) return `alg ${JSON.stringify(jwk.alg)} is not supported for this key type`;
  return [jwk.alg];
}

/** Turns the JSON of a JWK Set into verification keys by `kid`; `skipped` gets why others were left out. */
export async function importJWKSet(
  body: unknown,
  skipped: { kid: string; reason: string }[] = [],
): Promise<Map<string, VerificationKey>> {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`the response is not a JWK Set (no "keys" list)`);
  const out = new Map<string, VerificationKey>();
  for (const jwk of keys as JWK[]) {
    const kid = typeof jwk?.kid === "string" ? jwk.kid : "";
    if (kid === "") {
      skipped.push({ kid, reason: "no kid, so no token can name it" });
      continue;
    }
    const algs = keyAlgorithms(jwk);
    if (typeof algs === "string") {
      skipped.push({ kid, reason: algs });
      continue;
    }
    try {
      // Private members are dropped: only the public key is needed.
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
      out.set(kid, { key: await importJWK(pub, algs[0]), algorithms: new Set(algs) });
    } catch (err) {
      skipped.push({ kid, reason: (err as Error).message });
    }
  }
  return out;
}

/** What the hook needs besides its config (injectable for tests). */
export interface JWTDeps {
  log: HookContext["log"];
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Current time in ms, for exp/nbf; defaults to `Date.now`. */
  now?: () => number;
}

/**
 * The hook. Build it with {@link JWTHook.create}, which fetches the JWK Set once
 * and schedules the refreshes; {@link JWTHook.stop} cancels them.
 *
 * @example
 * ```ts
 * const hook = await JWTHook.create(readJWTConfig(options, "prehooks[0].options", []), { log });
 * await hook.stop();
 * ```
 */
export class JWTHook implements Hook {
  private keys = new Map<string, VerificationKey>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: AbortController | undefined;
  private refreshing: Promise<void> | undefined;
  private stopped = false;
  private readonly reported = new Set<string>();
  private readonly fetch: typeof fetch;

  private constructor(private readonly cfg: JWTConfig, private readonly deps: JWTDeps) {
    this.fetch = deps.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Fetches the JWK Set and starts the refresh timer. Throws a ConfigError
   * `failed to fetch initial JWK Set: …` when the first fetch fails.
   */
  static async create(cfg: JWTConfig, deps: JWTDeps): Promise<JWTHook> {
    const hook = new JWTHook(cfg, deps);
    try {
      await hook.load();
    } catch (err) {
      throw new ConfigError(`failed to fetch initial JWK Set: ${(err as Error).message}`);
    }
    if (hook.keys.size === 0) {
      deps.log(
        "error",
        "jwt: the JWK Set has no usable key; every token is refused until a refresh adds one",
        {
          url: cfg.jwkSetURL,
        },
      );
    }
    hook.schedule();
    return hook;
  }

  /** The `kid`s currently known. */
  get keyIDs(): string[] {
    return [...this.keys.keys()];
  }

  /** Fetches the JWK Set now; a failure is logged and the keys stay. Resolves when done. */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.load()
      .catch((err) => {
        if (this.stopped) return;
        this.deps.log("error", "jwt: failed to refresh the JWK Set; keeping the previous keys", {
          url: this.cfg.jwkSetURL,
          error: (err as Error).message,
          keys: this.keys.size,
        });
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  handleAnnounce: NonNullable<Hook["handleAnnounce"]> = (_ctx, req) => {
    return this.check(req.params, [req.infoHash], "announce");
  };

  handleScrape: NonNullable<Hook["handleScrape"]> = (_ctx, req) => {
    if (!this.cfg.checkScrape) return;
    return this.check(req.params, req.infoHashes, "scrape");
  };

  /** Cancels the refresh timer and any fetch in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight?.abort();
    await this.refreshing;
  }

  /**
   * Verifies the token of a request for `infoHashes` (every one must equal the
   * token's `infohash` claim). Rejects with ErrMissingJWT or ErrInvalidJWT.
   */
  async check(params: Params, infoHashes: Uint8Array[], action: string): Promise<void> {
    const token = params.string("jwt");
    if (token === undefined || token === "") throw ErrMissingJWT;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, (header) => {
        const k = header.kid === undefined ? undefined : this.keys.get(header.kid);
        if (k === undefined) {
          throw new joseErrors.JWKSNoMatchingKey(
            header.kid === undefined ? "the token has no kid" : "no key with the token's kid",
          );
        }
        if (!k.algorithms.has(header.alg)) {
          throw new joseErrors.JOSEAlgNotAllowed("the token's alg is not one its key allows");
        }
        return k.key;
      }, {
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        algorithms: [...SUPPORTED_ALGORITHMS],
        clockTolerance: this.cfg.leeway / 1000,
        currentDate: this.deps.now ? new Date(this.deps.now()) : undefined,
      }));
    } catch (err) {
      this.deps.log("debug", "jwt: token refused", { action, reason: reason(err) });
      throw ErrInvalidJWT;
    }
    const claim = payload.infohash;
    for (const ih of infoHashes) {
      if (claim !== toHex(ih)) {
        this.deps.log("debug", "jwt: token refused", { action, reason: "infohash claim does not match" });
        throw ErrInvalidJWT;
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh().then(() => this.schedule());
    }, this.cfg.jwkSetUpdateInterval);
  }

  private async load(): Promise<void> {
    const abort = new AbortController();
    this.inflight = abort;
    const timeout = setTimeout(
      () => abort.abort(new Error(`timed out after ${FETCH_TIMEOUT / 1000}s`)),
      FETCH_TIMEOUT,
    );
    let body: unknown;
    try {
      const res = await this.fetch(this.cfg.jwkSetURL, {
        headers: { accept: "application/jwk-set+json, application/json" },
        signal: abort.signal,
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`${this.cfg.jwkSetURL} answered HTTP ${res.status}`);
      }
      const text = await res.text();
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${this.cfg.jwkSetURL} did not answer JSON`);
      }
    } catch (err) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) {
        throw new Error(`${this.cfg.jwkSetURL}: ${abort.signal.reason.message}`);
      }
      const e = err as Error & { cause?: unknown };
      const msg = e.message.includes(this.cfg.jwkSetURL) ? e.message : `${this.cfg.jwkSetURL}: ${e.message}`;
      throw new Error(msg);
    } finally {
      clearTimeout(timeout);
      if (this.inflight === abort) this.inflight = undefined;
    }
    const skipped: { kid: string; reason: string }[] = [];
    const keys = await importJWKSet(body, skipped);
    for (const s of skipped) {
      const key = `${s.kid}\u0000${s.reason}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.deps.log("error", "jwt: a key of the JWK Set is ignored", { kid: s.kid, reason: s.reason });
    }
    if (this.stopped) return;
    this.keys = keys;
    this.deps.log("debug", "jwt: JWK Set loaded", { url: this.cfg.jwkSetURL, keys: keys.size });
  }
}

/** A short reason for logs: jose's error code and message, never the token. */
function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

/** The driver registered as `jwt`. */
export async function newJWTHook(options: Record<string, unknown>, ctx: HookContext): Promise<JWTHook> {
  const cfg = readJWTConfig(options, ctx.where, ctx.warnings);
  try {
    return await JWTHook.create(cfg, { log: ctx.log });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new OptionsReader(options, ctx.where, []).error("jwk_set_url", err.message);
  }
}

registerHook("jwt", newJWTHook);
