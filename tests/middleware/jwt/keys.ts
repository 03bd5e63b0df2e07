/** Signing keys and tokens for the jwt tests, made with jose. */
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

export const ISSUER = "https://issuer.example";
export const AUDIENCE = "https://tracker.example";

/** A key pair with its public JWK (carrying `kid`). */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

/** A fresh key pair for `alg` (RS256, ES256, EdDSA, PS256, ES384...). */
export async function makeKey(kid: string, alg: string, withAlg = false): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, use: "sig" };
  if (withAlg) jwk.alg = alg;
  return { kid, alg, privateKey, jwk };
}

/** Options of {@link token}. */
export interface TokenOptions {
  infohash?: string;
  iss?: string;
  aud?: string | string[];
  /** Seconds since the epoch; `null` leaves the claim out. */
  exp?: number | null;
  nbf?: number;
  kid?: string | null;
  alg?: string;
  claims?: JWTPayload;
}

/** A signed token for `infohash` (lowercase hex) valid for an hour unless told otherwise. */
export async function token(key: TestKey, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const header: { alg: string; kid?: string } = { alg: o.alg ?? key.alg };
  if (o.kid !== null) header.kid = o.kid ?? key.kid;
  const jwt = new SignJWT({ infohash: o.infohash, ...o.claims })
    .setProtectedHeader(header)
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt(now);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? now + 3600);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return await jwt.sign(key.privateKey);
}
