/**
 * The revocation feed of a memory store: the log of entries, snapshots, long-polled changes, point
 * checks, the recorded token lifetimes, and the purge of expired data.
 */
import type {
  ChangeBatch,
  NewRevocation,
  RevocationCheck,
  RevocationEntry,
  RevocationSnapshot,
  SnapshotHead,
  SnapshotSink,
  TokenLifetimes,
  UserCutoff,
} from "../../core/model.js";
import type { MemoryTables } from "./tables.js";

/** Appends `entry` to the feed with the next `seq` and wakes the long polls; returns a copy. */
export function append(t: MemoryTables, entry: NewRevocation): RevocationEntry {
  const full: RevocationEntry = { ...entry, seq: String(++t.seq) };
  t.log.push(full);
  wakeAll(t);
  return structuredClone(full);
}

/** The user's recorded cutoff, `null` when none. */
export function userCutoff(t: MemoryTables, userId: string): UserCutoff | null {
  const c = t.cutoffs.get(userId);
  return c ? { cutoff: c.cutoff, exceptSessionId: c.exceptSessionId } : null;
}

/** Wakes every waiting long poll (they read the feed again). */
export function wakeAll(t: MemoryTables): void {
  for (const w of t.waiters) w();
  t.waiters.clear();
}

/** Records a `jti` (keeping the later expiry) or `global` (forward only) revocation. `null` when nothing changed. */
export function addRevocation(t: MemoryTables, entry: NewRevocation): RevocationEntry | null {
  if (entry.kind === "global") {
    const cutoff = entry.cutoff ?? 0;
    if (cutoff <= t.globalCutoff) return null;
    t.globalCutoff = cutoff;
    return append(t, entry);
  }
  if (entry.kind !== "jti")
    throw new TypeError(`addRevocation takes jti or global entries, not ${entry.kind}`);
  const prev = t.jtis.get(entry.subject);
  if (prev !== undefined && prev >= entry.expiresAt) return null;
  t.jtis.set(entry.subject, entry.expiresAt);
  return append(t, entry);
}

/** The active jti and session entries, the user cutoffs, the global cutoff and the feed position. */
export function snapshot(t: MemoryTables, now: number): RevocationSnapshot {
  const entries = t.log.filter((e) => (e.kind === "jti" || e.kind === "session") && e.expiresAt > now);
  for (const [userId, c] of t.cutoffs) if (c.expiresAt > now) entries.push(userEntry(userId, c));
  return {
    entries: structuredClone(entries),
    globalCutoff: t.globalCutoff,
    cursor: String(t.seq),
    epoch: t.epoch,
  };
}

/** The lean snapshot: every active jti and session entry and user cutoff to `apply`, then the head. */
export function snapshotInto(t: MemoryTables, now: number, apply: SnapshotSink): SnapshotHead {
  for (const e of t.log) {
    if ((e.kind === "jti" || e.kind === "session") && e.expiresAt > now)
      apply(e.kind, e.subject, e.expiresAt);
  }
  for (const [userId, c] of t.cutoffs) {
    if (c.expiresAt > now)
      apply("user", userId, c.expiresAt, { cutoff: c.cutoff, exceptSessionId: c.exceptSessionId });
  }
  return { globalCutoff: t.globalCutoff, cursor: String(t.seq), epoch: t.epoch };
}

/** Entries after `cursor`, at most `limit`; with none, waits for an append, `waitMs` or close. */
export async function changes(
  t: MemoryTables,
  cursor: string,
  options: { waitMs: number; limit: number },
): Promise<ChangeBatch> {
  const after = Number(cursor) || 0;
  if (after >= t.seq && options.waitMs > 0 && !t.closed) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        t.waiters.delete(done);
        resolve();
      };
      // A long poll must not keep the process alive: a script that forgets close() still ends.
      const timer = setTimeout(done, options.waitMs);
      timer.unref();
      t.waiters.add(done);
    });
  }
  const entries = t.log.filter((e) => Number(e.seq) > after).slice(0, options.limit);
  const last = entries.at(-1);
  return {
    entries: structuredClone(entries),
    cursor: last ? last.seq : String(Math.max(after, 0)),
    epoch: t.epoch,
  };
}

/** A point lookup of revocation state. */
export function check(
  t: MemoryTables,
  query: { jti?: string; sessionId?: string; userId?: string },
  now: number,
): RevocationCheck {
  const jtiExp = query.jti === undefined ? undefined : t.jtis.get(query.jti);
  const s = query.sessionId === undefined ? undefined : t.sessions.get(query.sessionId);
  return {
    jtiRevoked: jtiExp !== undefined && jtiExp > now,
    sessionRevoked: s !== undefined && s.revokedAt !== null,
    globalCutoff: t.globalCutoff,
    user: query.userId === undefined ? null : userCutoff(t, query.userId),
  };
}

/** The longest lifetimes ever used, raised to `record` where it is larger. */
export function tokenLifetimes(t: MemoryTables, record?: TokenLifetimes): TokenLifetimes {
  if (record) {
    t.lifetimes.accessTokenTtlMs = Math.max(t.lifetimes.accessTokenTtlMs, record.accessTokenTtlMs);
    t.lifetimes.sessionTtlMs = Math.max(t.lifetimes.sessionTtlMs, record.sessionTtlMs);
  }
  return { ...t.lifetimes };
}

/** Deletes expired entries and cutoffs, ended sessions with their refresh tokens, and ended rate-limit windows. */
export function purge(t: MemoryTables, now: number): number {
  let n = 0;
  for (let i = t.log.length - 1; i >= 0; i--) {
    const e = t.log[i] as RevocationEntry;
    if (e.kind !== "global" && e.expiresAt <= now) {
      t.log.splice(i, 1);
      n++;
    }
  }
  for (const [jti, exp] of t.jtis) if (exp <= now) t.jtis.delete(jti) && n++;
  for (const [userId, c] of t.cutoffs) if (c.expiresAt <= now) t.cutoffs.delete(userId) && n++;
  // A revoked session stays until its feed entry expires too: its access tokens may outlive it.
  const revokedLive = new Set<string>();
  for (const e of t.log) if (e.kind === "session") revokedLive.add(e.subject);
  const gone = new Set<string>();
  for (const [id, s] of t.sessions) {
    if (s.expiresAt <= now && !revokedLive.has(id)) {
      t.sessions.delete(id);
      t.userSessions.get(s.userId)?.delete(id);
      gone.add(id);
      n++;
    }
  }
  for (const [hash, row] of t.tokens) if (gone.has(row.sessionId)) t.tokens.delete(hash) && n++;
  for (const [key, r] of t.rates) if (r.resetAt <= now) t.rates.delete(key);
  return n;
}

/** The feed form of a user's recorded cutoff (as in a snapshot: no seq of its own). */
function userEntry(userId: string, c: UserCutoff & { expiresAt: number }): RevocationEntry {
  return {
    seq: "",
    kind: "user",
    subject: userId,
    cutoff: c.cutoff,
    ...(c.exceptSessionId === null ? {} : { exceptSessionId: c.exceptSessionId }),
    expiresAt: c.expiresAt,
    reason: "user_cutoff",
    actor: "system",
    at: c.cutoff,
  };
}
