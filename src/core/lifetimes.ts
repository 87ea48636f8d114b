import type { TokenLifetimes } from "./model.js";

/**
 * What a revocation's lifetime derives from. Revocation lifetimes come from the longest token
 * lifetimes ever used with the store (every node records its own before its first token), never from
 * the configuration of whichever process revokes: a CLI with other defaults must cover every token.
 * @example
 * const basis = { stored: await store.tokenLifetimes(), own: { accessTokenTtlMs: 900_000, sessionTtlMs: 2_592_000_000 }, toleranceMs: 5000 };
 * revocationTtlMs(basis); // 911_000 while the store holds nothing longer
 */
export interface LifetimeBasis {
  /** The maxima recorded in the store (`tokenLifetimes()`), zeros while none are recorded. */
  stored: TokenLifetimes;
  /** This node's own lifetimes: the fallback while the store has none recorded. */
  own: TokenLifetimes;
  /** The allowed clock skew between nodes, ms. */
  toleranceMs: number;
}

/** The longest access-token life ever used with the store; this node's own while none is recorded. */
export function longestAccessTtlMs(basis: LifetimeBasis): number {
  return basis.stored.accessTokenTtlMs || basis.own.accessTokenTtlMs;
}

/**
 * How long a session revocation (and a replica's copy of a user cutoff, which only access tokens
 * consult) is remembered: the longest access-token life, counted on the revoking node's clock. Another
 * node's clock may be ahead by up to the tolerance when it mints a token, and a verifier accepts up to
 * the tolerance past `exp`: hence twice the tolerance, and a second for `exp`'s rounding.
 */
export function revocationTtlMs(basis: LifetimeBasis): number {
  return longestAccessTtlMs(basis) + 2 * basis.toleranceMs + 1000;
}

/**
 * How long a user cutoff is remembered in the store: a session authenticated just before it may be
 * refreshed until its absolute end, and the last access token minted then lives its whole life after.
 */
export function userCutoffTtlMs(basis: LifetimeBasis): number {
  return (basis.stored.sessionTtlMs || basis.own.sessionTtlMs) + revocationTtlMs(basis);
}

/** How long the revocation of a bare jti (no token to read `exp` from) is remembered. */
export function bareJtiTtlMs(basis: LifetimeBasis): number {
  return longestAccessTtlMs(basis) + 2 * basis.toleranceMs;
}

/**
 * When the revocation of a token expiring at `expSec` (its `exp`, seconds) may be forgotten: once
 * verifiers stop accepting it, up to the tolerance past `exp`. A token is already past revoking at
 * `now` when even a node whose clock is behind by the tolerance refuses it: then `null`.
 * @example signedJtiExpiresAt(1_700_000_000, 5000, Date.now())
 */
export function signedJtiExpiresAt(expSec: number, toleranceMs: number, now: number): number | null {
  const expiresAt = expSec * 1000 + toleranceMs;
  return expiresAt + toleranceMs <= now ? null : expiresAt;
}

/**
 * How long a superseded signing key stays published (and stored): every token it signed must have
 * expired, with the tolerance, and every node must have reloaded its keys twice since.
 */
export function keyRetentionMs(accessTokenTtlMs: number, toleranceMs: number, keyRefreshMs: number): number {
  return accessTokenTtlMs + toleranceMs + 2 * keyRefreshMs;
}

/**
 * How long a key withdrawal is remembered: every token the key signed has expired by then, even on a
 * node whose clock is behind by the tolerance.
 */
export function keyWithdrawalTtlMs(accessTokenTtlMs: number, toleranceMs: number): number {
  return accessTokenTtlMs + 2 * toleranceMs + 1000;
}
