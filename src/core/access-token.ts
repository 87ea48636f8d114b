import * as jose from "jose";
import { TokenExpiredError, TokenInvalidError } from "./errors.js";
import type { KeyEntry } from "./keys.js";

/** The claims of a revokit access token (RFC 9068 profile) plus any custom claims. */
export interface AccessTokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  client_id: string;
  /** Session id. */
  sid: string;
  /** Token id, 128 random bits. */
  jti: string;
  /** Issued at, seconds. */
  iat: number;
  /** Expires at, seconds. */
  exp: number;
  scope?: string;
  [claim: string]: unknown;
}

/** Claims that revokit sets itself; custom claims may not set them. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  "iss",
  "sub",
  "aud",
  "exp",
  "nbf",
  "iat",
  "jti",
  "sid",
  "client_id",
  "scope",
  "cnf",
  "auth_time",
  "typ",
  "status",
]);

/** Throws a `TypeError` naming the first reserved claim found among custom claims. */
export function assertNoReservedClaims(claims: Record<string, unknown> | undefined | null): void {
  if (claims === undefined || claims === null) return;
  if (typeof claims !== "object" || Array.isArray(claims))
    throw new TypeError("claims must be a plain object");
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) throw new TypeError(`claims may not set the reserved claim "${name}"`);
  }
}

/** Signs an access token with `key`: header `{alg, kid, typ: "at+jwt"}`. */
export async function signAccessToken(claims: AccessTokenClaims, key: KeyEntry): Promise<string> {
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
    .sign(key.signingKey);
}

/** What {@link checkClaims} checks against. */
export interface ClaimExpectations {
  issuer: string;
  audience: string;
  /** Allowed clock skew, seconds. */
  toleranceSec: number;
}

/**
 * Checks the registered claims of a verified payload at `nowSec` and narrows its type. Expiry is
 * checked here too, so that an expired token is reported as expired, never as revoked.
 */
export function checkClaims(
  payload: Record<string, unknown>,
  expect: ClaimExpectations,
  nowSec: number,
): AccessTokenClaims {
  const { iss, aud, sub, jti, sid, iat, exp, nbf } = payload;
  if (
    typeof sub !== "string" ||
    sub.length === 0 ||
    typeof jti !== "string" ||
    jti.length === 0 ||
    typeof sid !== "string" ||
    sid.length === 0 ||
    typeof payload.client_id !== "string" ||
    !isNumericDate(iat) ||
    !isNumericDate(exp) ||
    (nbf !== undefined && !isNumericDate(nbf))
  ) {
    throw new TokenInvalidError("claims");
  }
  if (iss !== expect.issuer) throw new TokenInvalidError("iss");
  if (!(aud === expect.audience || (Array.isArray(aud) && aud.includes(expect.audience)))) {
    throw new TokenInvalidError("aud");
  }
  if (exp <= nowSec - expect.toleranceSec) throw new TokenExpiredError();
  // Like jose, `nbf` is compared to the whole current second (the cautious side for a "not before").
  if (nbf !== undefined && (nbf as number) > Math.floor(nowSec) + expect.toleranceSec) {
    throw new TokenInvalidError("nbf");
  }
  if (iat > nowSec + expect.toleranceSec) throw new TokenInvalidError("iat");
  return payload as AccessTokenClaims;
}

function isNumericDate(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}
