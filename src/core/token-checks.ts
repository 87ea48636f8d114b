import { type AccessTokenClaims, type ClaimExpectations, checkClaims } from "./access-token.js";
import { TokenInvalidError } from "./errors.js";
import { type JwsVerifyOptions, verifyCompactJws } from "./jws.js";
import { deepFreeze, type TokenCache } from "./token-cache.js";

/** What {@link checkedClaims} checks a token with: one set per verifier, built once. */
export interface TokenChecks {
  /** The verified-token cache, or `undefined` when it is off. */
  readonly cache: TokenCache<AccessTokenClaims> | undefined;
  readonly jws: JwsVerifyOptions;
  readonly claims: ClaimExpectations;
  /** Told of every token refused here (to count it), before the error is thrown. */
  readonly refused: (error: unknown) => void;
}

/**
 * The signature and claims step of every verify path (a node's and a remote verifier's): the claims
 * of `token` at `now`, from the verified-token cache (its time claims checked again at `now`) or
 * from the signature check, which then caches them when the cache admits the token. Throws the
 * refusal, except that a `kid` not among the loaded keys gives `undefined` when `mayReloadKeys` is
 * true: the caller reads the keys again (or asks for a retry) before deciding.
 * @example
 * const claims = checkedClaims(token, now, checks, now - keysLoadedAt >= 1000);
 * if (claims === undefined) await reloadKeys(); // then check again
 */
export function checkedClaims(
  token: string,
  now: number,
  checks: TokenChecks,
  mayReloadKeys: boolean,
): AccessTokenClaims | undefined {
  const cached = checks.cache?.get(token, now);
  try {
    return cached ? checkClaims(cached, checks.claims, now / 1000) : verifiedClaims(token, now, checks);
  } catch (error) {
    if (mayReloadKeys && error instanceof TokenInvalidError && error.reason === "kid") return undefined;
    checks.refused(error);
    throw error;
  }
}

/** The signature check and the claims of `token` (no cache lookup); caches them when the cache admits it. */
export function verifiedClaims(token: string, now: number, checks: TokenChecks): AccessTokenClaims {
  const { payload } = verifyCompactJws(token, checks.jws);
  const claims = checkClaims(payload, checks.claims, now / 1000);
  const cache = checks.cache;
  // Only what the cache keeps is shared between calls, so only that is frozen (freezing costs a
  // few hundred nanoseconds, a tenth of an HS256 check).
  if (cache?.admits()) cache.set(token, deepFreeze(claims));
  return claims;
}
