/**
 * Sessions, their refresh-token chains and the user grain (cutoffs, the disabled flag) of a memory
 * store. The rules are the core's: each write executes a plan of `src/core/refresh.ts` or
 * `src/core/user-cutoff.ts`. Records are copied in and out, so callers never share the stored objects.
 */
import type {
  RevocationMeta,
  RotateInput,
  RotateResult,
  SessionRecord,
  UserCutoff,
} from "../../core/model.js";
import {
  isEndedByUserCutoff,
  isSessionLive,
  planRotation,
  planSessionRevocation,
} from "../../core/refresh.js";
import { planUserCutoff } from "../../core/user-cutoff.js";
import { append, userCutoff } from "./feed.js";
import type { MemoryTables } from "./tables.js";

/** Creates a session with its first refresh token, unless the user's cutoff or disabled flag forbids it. */
export function createSession(
  t: MemoryTables,
  session: SessionRecord,
  refreshHash: string,
): "created" | "user_disabled" | "cut_off" {
  const cut = t.cutoffs.get(session.userId);
  if (cut && session.createdAt <= cut.cutoff) return "cut_off";
  if (t.disabled.has(session.userId)) return "user_disabled";
  t.sessions.set(session.id, structuredClone(session));
  t.newest.set(session.userId, Math.max(t.newest.get(session.userId) ?? 0, session.createdAt));
  let set = t.userSessions.get(session.userId);
  if (!set) t.userSessions.set(session.userId, (set = new Set()));
  set.add(session.id);
  t.tokens.set(refreshHash, { sessionId: session.id, generation: session.generation });
  return "created";
}

/** A session by id, revoked or not; `null` when unknown or purged. */
export function getSession(t: MemoryTables, id: string): SessionRecord | null {
  const s = t.sessions.get(id);
  return s ? structuredClone(s) : null;
}

/** The user's live sessions at `now` (the core's `isSessionLive`, cutoffs included), newest first. */
export function listUserSessions(t: MemoryTables, userId: string, now: number): SessionRecord[] {
  const user = userCutoff(t, userId);
  const out: SessionRecord[] = [];
  for (const id of t.userSessions.get(userId) ?? []) {
    const s = t.sessions.get(id);
    if (s && isSessionLive(s, now, t.globalCutoff, user)) out.push(structuredClone(s));
  }
  return out.sort((a, b) => b.createdAt - a.createdAt);
}

/** The sessions the user cutoff ended (`isEndedByUserCutoff`), newest first; a read. */
export function listSessionsCutOff(t: MemoryTables, userId: string, cutoff: UserCutoff): SessionRecord[] {
  const out: SessionRecord[] = [];
  for (const id of t.userSessions.get(userId) ?? []) {
    const s = t.sessions.get(id);
    if (s && isEndedByUserCutoff(s, cutoff)) out.push(structuredClone(s));
  }
  return out.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1));
}

/** Rotates a refresh token: writes what `planRotation` plans on the stored session. */
export function rotateRefreshToken(t: MemoryTables, input: RotateInput): RotateResult {
  const row = t.tokens.get(input.presentedHash);
  const session = row && t.sessions.get(row.sessionId);
  if (!row || !session) return { status: "unknown" };
  const plan = planRotation(session, row.generation, input, t.globalCutoff, userCutoff(t, session.userId));
  switch (plan.write) {
    case "advance":
      t.sessions.set(session.id, plan.session);
      t.tokens.set(input.newHash, { sessionId: session.id, generation: plan.generation });
      break;
    case "add_token":
      t.tokens.set(input.newHash, { sessionId: session.id, generation: plan.generation });
      break;
    case "revoke":
      t.sessions.set(session.id, plan.session);
      append(t, plan.entry);
      break;
    case "none":
      break;
  }
  return structuredClone(plan.result);
}

/** The session and generation of a refresh-token hash, changing nothing. */
export function findRefreshToken(
  t: MemoryTables,
  hash: string,
): { session: SessionRecord; generation: number } | null {
  const row = t.tokens.get(hash);
  const session = row && t.sessions.get(row.sessionId);
  return row && session ? { session: structuredClone(session), generation: row.generation } : null;
}

/** Revokes a session (`planSessionRevocation`) and records its feed entry. `false` when unknown or already revoked. */
export function revokeSession(t: MemoryTables, sessionId: string, meta: RevocationMeta): boolean {
  const s = t.sessions.get(sessionId);
  if (!s || s.revokedAt !== null) return false;
  const { revoked, entry } = planSessionRevocation(s, meta);
  t.sessions.set(sessionId, revoked);
  append(t, entry);
  return true;
}

/**
 * Records the user's cutoff as `planUserCutoff` plans it on the stored state (and with `disable` sets
 * the flag) and its feed entry: constant size, whatever the number of sessions.
 */
export function cutOffUser(
  t: MemoryTables,
  userId: string,
  meta: RevocationMeta,
  options?: { exceptSessionId?: string; disable?: boolean },
): UserCutoff {
  if (options?.disable && !t.disabled.has(userId)) t.disabled.set(userId, meta.at);
  const except = options?.exceptSessionId ?? null;
  const kept = except === null ? undefined : t.sessions.get(except);
  const plan = planUserCutoff(
    userId,
    meta,
    t.cutoffs.get(userId) ?? null,
    t.newest.get(userId) ?? null,
    kept ?? null,
    except,
  );
  t.cutoffs.set(userId, { ...plan.cutoff, expiresAt: plan.expiresAt });
  append(t, plan.entry);
  return { ...plan.cutoff };
}

/** Clears the user's disabled flag. Idempotent. */
export function enableUser(t: MemoryTables, userId: string): void {
  t.disabled.delete(userId);
}

/** Whether the user's disabled flag is set. */
export function isUserDisabled(t: MemoryTables, userId: string): boolean {
  return t.disabled.has(userId);
}
