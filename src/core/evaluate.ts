/**
 * The revocation rules: a pure decision over a token's claims and what is known about revocations.
 * No I/O, no clock: `now` is passed in.
 */

/** What is known about the revocations that could cover one token. */
export interface RevocationFacts {
  /** The token's jti is on the denylist. */
  jtiRevoked: boolean;
  /** The token's session is revoked. */
  sessionRevoked: boolean;
  /** Tokens issued before this time (ms) are revoked; 0 when there is no cutoff. */
  globalCutoff: number;
}

/** The outcome of {@link evaluate}. */
export type Decision = "valid" | "expired" | "revoked_global" | "revoked_session" | "revoked_token";

/** The claims {@link evaluate} reads (seconds). */
export interface EvaluatedClaims {
  iat: number;
  exp: number;
}

/**
 * Decides whether a token whose signature and claims have been checked is still valid at `now` (ms):
 * expired beats revoked (an expired token is reported as expired); then the global cutoff, the
 * session, and the token itself. A global cutoff revokes every token whose `iat` second is not after
 * it: `iat < ceil(cutoff / 1000)`, so a token issued in the cutoff's own second counts as before it.
 */
export function evaluate(
  claims: EvaluatedClaims,
  facts: RevocationFacts,
  now: number,
  toleranceMs = 0,
): Decision {
  if (claims.exp * 1000 <= now - toleranceMs) return "expired";
  if (facts.globalCutoff > 0 && claims.iat < cutoffSecond(facts.globalCutoff)) return "revoked_global";
  if (facts.sessionRevoked) return "revoked_session";
  if (facts.jtiRevoked) return "revoked_token";
  return "valid";
}

/** The first `iat` second not covered by a global cutoff at `cutoff` ms. */
export function cutoffSecond(cutoff: number): number {
  return Math.ceil(cutoff / 1000);
}
