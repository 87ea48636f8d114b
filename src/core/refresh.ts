import type { SessionRecord } from "../stores/types.js";

/** What a store does with a presented refresh token; see {@link decideRotation}. */
export type RotationDecision = "rotate" | "grace" | "reuse" | "revoked" | "expired" | "idle_expired";

/**
 * The refresh-token rules, decided on the stored session state (pure):
 * - a revoked session (or one created before the global cutoff) refuses every token;
 * - absolute and idle lifetimes both end the session;
 * - the current generation rotates;
 * - the immediate predecessor rotates too while the grace window after the last rotation is open
 *   (concurrent tabs), superseding the current token so that only one chain stays live;
 * - anything else is reuse of a superseded token: theft, and the whole session is revoked.
 */
export function decideRotation(
  session: SessionRecord,
  tokenGeneration: number,
  now: number,
  graceMs: number,
  globalCutoff = 0,
): RotationDecision {
  if (session.revokedAt !== null || (globalCutoff > 0 && session.createdAt < globalCutoff)) return "revoked";
  if (now >= session.expiresAt) return "expired";
  if (now >= session.idleExpiresAt) return "idle_expired";
  if (tokenGeneration === session.generation) return "rotate";
  if (
    tokenGeneration === session.generation - 1 &&
    session.rotatedAt !== null &&
    now - session.rotatedAt < graceMs
  ) {
    return "grace";
  }
  return "reuse";
}

/** The session after a winning rotation at `now`: next generation, last use now, idle end pushed out. */
export function applyRotation(session: SessionRecord, now: number, idleTtlMs: number): SessionRecord {
  return {
    ...session,
    generation: session.generation + 1,
    rotatedAt: now,
    lastUsedAt: now,
    idleExpiresAt: Math.min(now + idleTtlMs, session.expiresAt),
  };
}

/** The session after it is revoked at `at` for `reason`. */
export function applyRevocation(session: SessionRecord, at: number, reason: string): SessionRecord {
  return { ...session, revokedAt: at, revokeReason: reason };
}

/** Whether a session is neither revoked nor ended at `now` (and not created before the global cutoff). */
export function isSessionLive(s: SessionRecord, now: number, globalCutoff: number): boolean {
  return (
    s.revokedAt === null &&
    now < s.expiresAt &&
    now < s.idleExpiresAt &&
    !(globalCutoff > 0 && s.createdAt < globalCutoff)
  );
}
