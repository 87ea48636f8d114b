/**
 * The user grain as one fact: a per-user cutoff. Logging a user out everywhere, a password change,
 * disabling and deleting a user each record one cutoff (a constant-size write, whatever the number
 * of sessions): every session whose credentials were checked before it is over, except the one
 * session a password change keeps. Pure: no I/O, no clock.
 */

/** The cutoff of one user, as recorded in the store and held by every replica. */
export interface UserCutoff {
  /** Sessions authenticated before this time (ms) are over, with their tokens. */
  cutoff: number;
  /** The one session the cutoff spares (the caller's, on a password change); `null` for none. */
  exceptSessionId: string | null;
}

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
