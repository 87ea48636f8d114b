/**
 * How long each revocation is remembered: derived from the longest lifetimes recorded in the store
 * (this node's own while none are), and the clock tolerance.
 */
import { describe, expect, it } from "vitest";
import {
  bareJtiTtlMs,
  keyRetentionMs,
  keyWithdrawalTtlMs,
  type LifetimeBasis,
  longestAccessTtlMs,
  revocationTtlMs,
  signedJtiExpiresAt,
  userCutoffTtlMs,
} from "../../src/core/lifetimes.js";

const S = 1000;
const M = 60 * S;
const D = 24 * 60 * M;
const basis = (stored: [number, number], own: [number, number], toleranceMs: number): LifetimeBasis => ({
  stored: { accessTokenTtlMs: stored[0], sessionTtlMs: stored[1] },
  own: { accessTokenTtlMs: own[0], sessionTtlMs: own[1] },
  toleranceMs,
});

describe("revocation lifetimes", () => {
  it.each([
    // name, basis, longest access, session revocation, user cutoff, bare jti
    [
      "nothing stored yet: this node's own",
      basis([0, 0], [15 * M, 30 * D], 5 * S),
      15 * M,
      15 * M + 11 * S,
      30 * D + 15 * M + 11 * S,
      15 * M + 10 * S,
    ],
    [
      "the store's longer maxima win",
      basis([60 * M, 90 * D], [15 * M, 30 * D], 5 * S),
      60 * M,
      60 * M + 11 * S,
      90 * D + 60 * M + 11 * S,
      60 * M + 10 * S,
    ],
    [
      "the store's maxima win even when shorter",
      basis([5 * M, 7 * D], [15 * M, 30 * D], 5 * S),
      5 * M,
      5 * M + 11 * S,
      7 * D + 5 * M + 11 * S,
      5 * M + 10 * S,
    ],
    [
      "only the session life stored",
      basis([0, 90 * D], [15 * M, 30 * D], 5 * S),
      15 * M,
      15 * M + 11 * S,
      90 * D + 15 * M + 11 * S,
      15 * M + 10 * S,
    ],
    ["no tolerance: one second for exp's rounding", basis([0, 0], [M, D], 0), M, M + S, D + M + S, M],
  ] as const)("%s", (_name, b, longest, session, user, jti) => {
    expect(longestAccessTtlMs(b)).toBe(longest);
    expect(revocationTtlMs(b)).toBe(session);
    expect(userCutoffTtlMs(b)).toBe(user);
    expect(bareJtiTtlMs(b)).toBe(jti);
  });

  const now = 1_800_000_000_000;
  const exp = now / 1000;
  it.each([
    ["a live token: until the tolerance past exp", exp + 60, 5 * S, now + 65 * S],
    ["just expired: still accepted by a node within the tolerance", exp, 5 * S, now + 5 * S],
    ["expired by less than twice the tolerance", exp - 9, 5 * S, now - 4 * S],
    ["expired by twice the tolerance: nothing to revoke", exp - 10, 5 * S, null],
    ["no tolerance, expired now", exp, 0, null],
  ] as const)("a signed token's jti revocation: %s", (_name, expSec, tolerance, expected) => {
    expect(signedJtiExpiresAt(expSec, tolerance, now)).toBe(expected);
  });

  it.each([
    // access life, tolerance, key refresh, retention, withdrawal
    [15 * M, 5 * S, 5 * S, 15 * M + 15 * S, 15 * M + 11 * S],
    [M, 0, 30 * S, 2 * M, M + S],
  ] as const)(
    "keys: access %i ms, tolerance %i ms, refresh %i ms",
    (access, tolerance, refresh, retention, withdrawal) => {
      expect(keyRetentionMs(access, tolerance, refresh)).toBe(retention);
      expect(keyWithdrawalTtlMs(access, tolerance)).toBe(withdrawal);
    },
  );
});
