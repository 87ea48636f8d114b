/**
 * The revocation rules: a pure decision over a token's claims and what is known about revocations.
 * No I/O, no clock: `now` is passed in.
 */

import { type AuthError, SessionRevokedError, TokenExpiredError, TokenRevokedError } from "./errors.js";
import type { UserCutoff } from "./model.js";
import { isCutOff, tokenAuthTime } from "./user-cutoff.js";

/** What is known about the revocations that could cover one token. */
export interface RevocationFacts {
  /** The token's jti is on the denylist. */
  jtiRevoked: boolean;
  /** The token's session is revoked. */
  sessionRevoked: boolean;
  /** Tokens issued before this time (ms) are revoked; 0 when there is no cutoff. */
  globalCutoff: number;
  /** The token's user's cutoff (logout-all, password change, disable, delete); `null` when none. */
  user?: UserCutoff | null;
}

/** What identifies a signed access token for a revocation decision without its signature (status lists). */
export interface TokenRef {
  jti: string;
  sid: string;
  sub: string;
  /** Seconds. */
  iat: number;
  exp: number;
  /** When the session's credentials were checked: seconds, milliseconds as a fraction. */
  auth_time: number;
}

/** The outcome of {@link evaluate}. */
export type Decision =
  | "valid"
  | "expired"
  | "revoked_global"
  | "revoked_user"
  | "revoked_session"
  | "revoked_token";

/** The claims {@link evaluate} reads (seconds). */
export interface EvaluatedClaims {
  iat: number;
  exp: number;
  /** Session id; needed for the user cutoff's spared session. */
  sid?: string;
  /** When the session's credentials were checked (seconds, milliseconds as a fraction). */
  auth_time?: unknown;
}

/**
 * Decides whether a token whose signature and claims have been checked is still valid at `now` (ms):
 * expired beats revoked (an expired token is reported as expired); then the global cutoff, the
 * user's cutoff, the session, and the token itself. The user's cutoff compares the session's
 * authentication time (`auth_time`, to the millisecond) so a login right after a logout-all works. A global cutoff revokes every token whose `iat` second is not after
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
  if (facts.user && isCutOff(tokenAuthTime(claims), claims.sid ?? "", facts.user)) return "revoked_user";
  if (facts.sessionRevoked) return "revoked_session";
  if (facts.jtiRevoked) return "revoked_token";
  return "valid";
}

/** The first `iat` second not covered by a global cutoff at `cutoff` ms. */
export function cutoffSecond(cutoff: number): number {
  return Math.ceil(cutoff / 1000);
}

/**
 * The error `verify` throws for a decision other than `valid` (`Auth` and the remote verifier).
 * @example decisionError("revoked_session").code // "ERR_SESSION_REVOKED"
 */
export function decisionError(decision: Exclude<Decision, "valid">): AuthError {
  switch (decision) {
    case "expired":
      return new TokenExpiredError();
    case "revoked_session":
    case "revoked_user":
      return new SessionRevokedError();
    case "revoked_token":
    case "revoked_global":
      return new TokenRevokedError();
  }
}
