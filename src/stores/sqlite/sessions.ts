/**
 * Sessions, their refresh-token chains and the user grain (cutoffs, the disabled flag) of a SQLite
 * store. The rules are the core's: each write executes a plan of `src/core/refresh.ts` or
 * `src/core/user-cutoff.ts` inside one `BEGIN IMMEDIATE` transaction, so across threads and processes
 * two redemptions of one token can never both win.
 */
import type {
  NewRevocation,
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
  type RotationPlan,
} from "../../core/refresh.js";
import { planUserCutoff } from "../../core/user-cutoff.js";
import type { SqliteConnection } from "./connection.js";
import { appendEntry, globalCutoff, userCutoff } from "./feed.js";
import { cutoffFromRow, sessionFromRow } from "./rows.js";
import type { Statements } from "./statements.js";

/**
 * Creates a session and its first refresh-token hash, in one transaction with the user's cutoff and
 * disabled flag.
 */
export function createSession(
  db: SqliteConnection,
  session: SessionRecord,
  refreshHash: string,
): "created" | "user_disabled" | "cut_off" {
  return db.write("createSession", ({ q }) => {
    const cut = q.getUserCutoff.get(session.userId);
    if (cut && session.createdAt <= cut.cutoff) return "cut_off";
    if (q.isDisabled.get(session.userId)) return "user_disabled";
    q.insertSession.run(
      session.id,
      session.userId,
      session.clientId,
      session.createdAt,
      session.lastUsedAt,
      session.expiresAt,
      session.idleExpiresAt,
      session.userAgent,
      session.ip,
      session.claims === null ? null : JSON.stringify(session.claims),
      session.scope,
      session.generation,
      session.rotatedAt,
      session.revokedAt,
      session.revokeReason,
      session.expiresAt,
    );
    q.insertToken.run(refreshHash, session.id, session.generation);
    return "created";
  });
}

/** A session by id, revoked or not; `null` when unknown or purged. */
export function getSession(db: SqliteConnection, id: string): SessionRecord | null {
  return db.run("getSession", ({ q }) => {
    const row = q.getSession.get(id);
    return row ? sessionFromRow(row) : null;
  });
}

/** The user's live sessions at `now` (the core's `isSessionLive`, cutoffs included), newest first. */
export function listUserSessions(db: SqliteConnection, userId: string, now: number): SessionRecord[] {
  db.seen(now);
  return db.read("listUserSessions", ({ q }) => {
    const cutoff = globalCutoff(q);
    const user = userCutoff(q, userId);
    // After a logout-all, only the sessions authenticated since (an index range), not every old one.
    const rows = user
      ? q.listUserSessionsAfter.all(userId, user.cutoff, user.exceptSessionId ?? "", user.cutoff)
      : q.listUserSessions.all(userId, now, now, cutoff);
    return rows.map(sessionFromRow).filter((s) => s.userId === userId && isSessionLive(s, now, cutoff, user));
  });
}

/** The sessions the user cutoff ended (`isEndedByUserCutoff`), newest first; a read (an index range). */
export function listSessionsCutOff(
  db: SqliteConnection,
  userId: string,
  cutoff: UserCutoff,
): SessionRecord[] {
  return db.read("listSessionsCutOff", ({ q }) =>
    q.listUserSessionsUpTo
      .all(userId, cutoff.cutoff)
      .map(sessionFromRow)
      .filter((s) => s.userId === userId && isEndedByUserCutoff(s, cutoff)),
  );
}

/** Rotates a refresh token: plans (`planRotation`) and writes it in one `BEGIN IMMEDIATE` transaction. */
export function rotateRefreshToken(db: SqliteConnection, input: RotateInput): RotateResult {
  db.seen(input.now);
  const plan = db.write("rotateRefreshToken", ({ q }): RotationPlan | null => {
    const token = q.getToken.get(input.presentedHash);
    const row = token && q.getSession.get(token.session_id);
    if (!token || !row) return null;
    const session = sessionFromRow(row);
    const plan = planRotation(
      session,
      token.generation,
      input,
      globalCutoff(q),
      userCutoff(q, session.userId),
    );
    writeRotation(q, session.id, input.newHash, plan);
    return plan;
  });
  if (!plan) return { status: "unknown" };
  if (plan.write === "revoke") db.appended();
  return plan.result;
}

/** The writes of a rotation plan (inside the caller's transaction). */
function writeRotation(q: Statements, sessionId: string, newHash: string, plan: RotationPlan): void {
  switch (plan.write) {
    case "advance": {
      const s = plan.session;
      q.rotateSession.run(s.generation, s.rotatedAt, s.lastUsedAt, s.idleExpiresAt, sessionId);
      q.insertToken.run(newHash, sessionId, plan.generation);
      return;
    }
    case "add_token":
      q.insertToken.run(newHash, sessionId, plan.generation);
      return;
    case "revoke":
      writeRevocation(q, plan.session, plan.entry);
      return;
    case "none":
      return;
  }
}

/** Marks `revoked` revoked and appends its feed `entry` (inside the caller's transaction). */
function writeRevocation(q: Statements, revoked: SessionRecord, entry: NewRevocation): void {
  q.revokeSession.run(revoked.revokedAt, revoked.revokeReason, entry.expiresAt, revoked.id);
  appendEntry(q, entry);
}

/** The session and generation of a refresh-token hash, changing nothing. */
export function findRefreshToken(
  db: SqliteConnection,
  hash: string,
): { session: SessionRecord; generation: number } | null {
  return db.read("findRefreshToken", ({ q }) => {
    const token = q.getToken.get(hash);
    const row = token && q.getSession.get(token.session_id);
    return token && row ? { session: sessionFromRow(row), generation: token.generation } : null;
  });
}

/**
 * Revokes a session (`planSessionRevocation`) and records its feed entry, in one transaction.
 * `false` when unknown or already revoked.
 */
export function revokeSession(db: SqliteConnection, sessionId: string, meta: RevocationMeta): boolean {
  const done = db.write("revokeSession", ({ q }) => {
    const row = q.getSession.get(sessionId);
    if (!row || row.revoked_at !== null) return false;
    const { revoked, entry } = planSessionRevocation(sessionFromRow(row), meta);
    writeRevocation(q, revoked, entry);
    return true;
  });
  if (done) db.appended();
  return done;
}

/**
 * Records the user's cutoff as `planUserCutoff` plans it on the stored state (and with `disable` sets
 * the flag) and its feed entry: one transaction, constant size, whatever the number of sessions.
 */
export function cutOffUser(
  db: SqliteConnection,
  userId: string,
  meta: RevocationMeta,
  options?: { exceptSessionId?: string; disable?: boolean },
): UserCutoff {
  const cut = db.write("cutOffUser", ({ q }) => {
    if (options?.disable) q.disable.run(userId, meta.at);
    const except = options?.exceptSessionId ?? null;
    const stored = q.getUserCutoff.get(userId);
    const kept = except === null ? undefined : q.getSession.get(except);
    const plan = planUserCutoff(
      userId,
      meta,
      stored ? { ...cutoffFromRow(stored), expiresAt: stored.expires_at } : null,
      q.newestSession.get(userId)?.newest ?? null,
      kept ? { userId: kept.user_id, createdAt: kept.created_at } : null,
      except,
    );
    q.putUserCutoff.run(userId, plan.cutoff.cutoff, plan.cutoff.exceptSessionId, plan.expiresAt);
    appendEntry(q, plan.entry);
    return plan.cutoff;
  });
  db.appended();
  return cut;
}

/** Clears the user's disabled flag. Idempotent. */
export function enableUser(db: SqliteConnection, userId: string): void {
  db.run("enableUser", ({ q }) => q.enable.run(userId));
}

/** Whether the user's disabled flag is set. */
export function isUserDisabled(db: SqliteConnection, userId: string): boolean {
  return db.run("isUserDisabled", ({ q }) => q.isDisabled.get(userId) !== undefined);
}
