import type {
  NewRevocation,
  RevocationMeta,
  RotateInput,
  RotateResult,
  SessionRecord,
  UserCutoff,
} from "./model.js";
import { isCutOff } from "./user-cutoff.js";

/** What a store does with a presented refresh token; see {@link decideRotation}. */
export type RotationDecision = "rotate" | "grace" | "reuse" | "revoked" | "expired" | "idle_expired";

/**
 * The refresh-token rules, decided on the stored session state (pure):
 * - a revoked session, one created before the global cutoff, or one ended by its user's cutoff
 *   (logout-all, password change, disable, delete) refuses every token;
 * - absolute and idle lifetimes both end the session;
 * - a token of the current generation rotates: the session moves to the next generation;
 * - a token of the immediate predecessor generation, while the grace window after the last rotation
 *   is open, is a concurrent redemption (tabs, parallel requests): `grace`. The store then issues
 *   another token of the *current* generation and changes nothing else, so any number of concurrent
 *   redemptions all succeed and the session keeps exactly one live generation;
 * - anything else is reuse of a superseded token: theft, and the whole session is revoked.
 */
export function decideRotation(
  session: SessionRecord,
  tokenGeneration: number,
  now: number,
  graceMs: number,
  globalCutoff = 0,
  user: UserCutoff | null = null,
): RotationDecision {
  if (!isSessionStanding(session, globalCutoff, user)) return "revoked";
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

/**
 * Whether no revocation covers the session: not revoked itself, not created before the global cutoff,
 * not authenticated before its user's cutoff (unless it is the session that cutoff spares).
 */
export function isSessionStanding(
  s: SessionRecord,
  globalCutoff: number,
  user: UserCutoff | null = null,
): boolean {
  return (
    s.revokedAt === null &&
    !(globalCutoff > 0 && s.createdAt < globalCutoff) &&
    !isCutOff(s.createdAt, s.id, user)
  );
}

/**
 * The one liveness rule (listing sessions, `getSession`, introspection, rotation): standing (see
 * {@link isSessionStanding}) and within its absolute and idle lifetimes at `now`.
 */
export function isSessionLive(
  s: SessionRecord,
  now: number,
  globalCutoff: number,
  user: UserCutoff | null = null,
): boolean {
  return isSessionStanding(s, globalCutoff, user) && now < s.expiresAt && now < s.idleExpiresAt;
}

/**
 * Whether the user cutoff `user` is what ended the session: live at the cutoff time but for that
 * cutoff (not revoked itself, within its absolute and idle lifetimes: {@link isSessionLive} at
 * `user.cutoff`), and ended by it ({@link isCutOff}: authenticated at or before the cutoff, not the
 * session it spares). The sessions a user-wide revocation ended, e.g. for security events.
 */
export function isEndedByUserCutoff(s: SessionRecord, user: UserCutoff): boolean {
  return isSessionLive(s, user.cutoff, 0) && isCutOff(s.createdAt, s.id, user);
}

/**
 * What a store writes for a revocation of `session` with `meta`: the session marked revoked and the
 * `session` feed entry, expiring `meta.ttl` after `meta.at`. The one shape of a session revocation.
 */
export function planSessionRevocation(
  session: SessionRecord,
  meta: RevocationMeta,
): { revoked: SessionRecord; entry: NewRevocation } {
  return {
    revoked: applyRevocation(session, meta.at, meta.reason),
    entry: sessionRevocationEntry(session.id, meta),
  };
}

/**
 * The `session` feed entry of a revocation of session `sessionId` with `meta`, expiring `meta.ttl`
 * after `meta.at`: what a store appends, and what a node applies to its own replica at once.
 */
export function sessionRevocationEntry(sessionId: string, meta: RevocationMeta): NewRevocation {
  return {
    kind: "session",
    subject: sessionId,
    expiresAt: meta.at + meta.ttl,
    reason: meta.reason,
    actor: meta.actor,
    at: meta.at,
  };
}

/**
 * The writes of one refresh-token redemption, decided by {@link decideRotation} on the stored state.
 * A store executes it atomically and returns `result`; it decides nothing itself.
 * - `advance`: replace the session with `session` and add the new token at `generation`;
 * - `add_token`: add the new token at `generation` (a grace redemption), nothing else;
 * - `revoke`: replace the session with `session` (revoked) and append `entry` to the feed (reuse);
 * - `none`: write nothing.
 */
export type RotationPlan =
  | { write: "advance"; session: SessionRecord; generation: number; result: RotateResult }
  | { write: "add_token"; generation: number; result: RotateResult }
  | { write: "revoke"; session: SessionRecord; entry: NewRevocation; result: RotateResult }
  | { write: "none"; result: RotateResult };

/**
 * Plans the redemption of a refresh token of generation `tokenGeneration` of `session`, with the
 * store's global cutoff and the user's cutoff as they are stored at that moment (pure).
 * @example
 * const plan = planRotation(session, token.generation, input, globalCutoff, userCutoff);
 * if (plan.write === "advance") { updateSession(plan.session); insertToken(input.newHash, plan.generation); }
 */
export function planRotation(
  session: SessionRecord,
  tokenGeneration: number,
  input: Pick<RotateInput, "now" | "graceMs" | "idleTtlMs" | "reuseMeta">,
  globalCutoff: number,
  user: UserCutoff | null,
): RotationPlan {
  const decision = decideRotation(session, tokenGeneration, input.now, input.graceMs, globalCutoff, user);
  switch (decision) {
    case "rotate": {
      const next = applyRotation(session, input.now, input.idleTtlMs);
      return {
        write: "advance",
        session: next,
        generation: next.generation,
        result: { status: "rotated", session: next, grace: false },
      };
    }
    case "grace":
      return {
        write: "add_token",
        generation: session.generation,
        result: { status: "rotated", session, grace: true },
      };
    case "reuse": {
      const { revoked, entry } = planSessionRevocation(session, input.reuseMeta);
      return { write: "revoke", session: revoked, entry, result: { status: "reused", session: revoked } };
    }
    default:
      return { write: "none", result: { status: decision, session } };
  }
}
