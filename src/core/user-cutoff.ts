/**
 * The user grain as one fact: a per-user cutoff. Logging a user out everywhere, a password change,
 * disabling and deleting a user each record one cutoff (a constant-size write, whatever the number
 * of sessions): every session whose credentials were checked before it is over, except the one
 * session a password change keeps. Pure: no I/O, no clock.
 */

import type { NewRevocation, RevocationMeta, UserCutoff } from "./model.js";

/**
 * Whether a session authenticated at `authenticatedAt` (ms) is ended by the user's cutoff: when it was
 * authenticated before the cutoff or in its very millisecond (which cannot be told apart; the cautious
 * side). `Auth.login` stamps a login that starts after a cutoff it knows with a later millisecond, so
 * a login right after a logout-all works.
 */
export function isCutOff(
  authenticatedAt: number,
  sessionId: string,
  user: UserCutoff | null | undefined,
): boolean {
  return (
    user !== null &&
    user !== undefined &&
    authenticatedAt <= user.cutoff &&
    sessionId !== user.exceptSessionId
  );
}

/**
 * The cutoff to store when `next` is recorded over `prev`, and what a replica keeps when it applies
 * both in any order: the later cutoff wins. The session a new cutoff spares must itself have been
 * spared by the previous one (`keptAuthenticatedAt` is its authentication time, `null` when unknown):
 * a password change racing a logout-all can never bring a session back.
 */
export function mergeUserCutoff(
  prev: UserCutoff | null | undefined,
  next: UserCutoff,
  keptAuthenticatedAt: number | null = null,
): UserCutoff {
  if (prev && next.cutoff < prev.cutoff) return prev;
  let except = next.exceptSessionId;
  if (except !== null && (keptAuthenticatedAt === null || isCutOff(keptAuthenticatedAt, except, prev))) {
    except = null;
  }
  return { cutoff: next.cutoff, exceptSessionId: except };
}

/**
 * The authentication time (ms) an access token carries: its `auth_time` claim (seconds, with the
 * milliseconds as a fraction), or, for a token without one, its `iat` (whole seconds).
 */
export function tokenAuthTime(claims: { iat: number; auth_time?: unknown }): number {
  const t = claims.auth_time;
  return typeof t === "number" && Number.isFinite(t) ? Math.round(t * 1000) : claims.iat * 1000;
}

/** What a replica keeps when it applies two recorded cutoffs of one user: the later one. */
export function laterUserCutoff(prev: UserCutoff | null | undefined, next: UserCutoff): UserCutoff {
  return prev && prev.cutoff > next.cutoff ? prev : next;
}

/** What a store writes to record a user cutoff; see {@link planUserCutoff}. */
export interface UserCutoffPlan {
  /** The user's cutoff to store (it replaces the previous one). */
  cutoff: UserCutoff;
  /** Until when the stored cutoff must be kept (it never shortens). */
  expiresAt: number;
  /** The `user` feed entry to append. */
  entry: NewRevocation;
}

/**
 * Plans `cutOffUser` on the stored state (pure): `prev` is the user's recorded cutoff and until when
 * it is kept, `newestCreatedAt` the newest authentication time among the user's sessions (so every
 * session written before the cutoff is covered even when a node with a clock ahead stamped it),
 * `kept` the session to spare as stored (ignored unless it belongs to the user). The cutoff only moves
 * forward, and the spared session must have been spared by the previous cutoff ({@link mergeUserCutoff}).
 * @example
 * const plan = planUserCutoff(userId, meta, stored, newest, keptSession, { exceptSessionId });
 * putUserCutoff(userId, plan.cutoff, plan.expiresAt); appendFeed(plan.entry);
 */
export function planUserCutoff(
  userId: string,
  meta: RevocationMeta,
  prev: (UserCutoff & { expiresAt: number }) | null,
  newestCreatedAt: number | null,
  kept: { userId: string; createdAt: number } | null,
  exceptSessionId: string | null,
): UserCutoffPlan {
  const cutoff = mergeUserCutoff(
    prev && { cutoff: prev.cutoff, exceptSessionId: prev.exceptSessionId },
    { cutoff: Math.max(meta.at, newestCreatedAt ?? 0), exceptSessionId },
    kept && kept.userId === userId ? kept.createdAt : null,
  );
  const expiresAt = Math.max(meta.at + meta.ttl, prev?.expiresAt ?? 0);
  return {
    cutoff,
    expiresAt,
    entry: {
      kind: "user",
      subject: userId,
      cutoff: cutoff.cutoff,
      ...(cutoff.exceptSessionId === null ? {} : { exceptSessionId: cutoff.exceptSessionId }),
      expiresAt,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    },
  };
}
