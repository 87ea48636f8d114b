/**
 * Sessions on Redis: creation (atomic with the user's disabled flag and cutoff), reads and listings
 * (the core's liveness rules), single-session revocation, the disabled flag.
 */

import { errorText } from "../../core/error-text.js";
import { StoreUnavailableError } from "../../core/errors.js";
import type { RevocationMeta, SessionRecord, UserCutoff } from "../../core/model.js";
import { isEndedByUserCutoff, isSessionLive } from "../../core/refresh.js";
import { type Arg, MARGIN_MS } from "./connection.js";
import type { RedisContext } from "./context.js";
import { encodeKeyPart as enc } from "./layout.js";
import { SESSION_FIELDS } from "./lua/lib.js";
import { CREATE_SESSION, FIND_TOKEN, LIST_SESSIONS, LIST_SESSIONS_UP_TO, REVOKE } from "./lua/sessions.js";
import { newestFirst, revokeReply, sessionPairs, sessionRows, toSession } from "./records.js";
import { cell, cells, int, str, tuple } from "./replies.js";

const CREATE_OUTCOMES = ["created", "user_disabled", "cut_off"] as const;
type CreateOutcome = (typeof CREATE_OUTCOMES)[number];

function createOutcome(reply: unknown): CreateOutcome {
  const text = str(reply);
  const outcome = CREATE_OUTCOMES.find((o) => o === text);
  if (outcome === undefined)
    throw new StoreUnavailableError("unexpected session creation outcome from redis");
  return outcome;
}

/** The `[userId, sessionId]` a refresh-token lookup holds. */
export function tokenOwner(lookup: string): { userId: string; sessionId: string } {
  const [userId, sessionId] = tuple(JSON.parse(lookup), 2).map(str);
  return { userId: userId ?? "", sessionId: sessionId ?? "" };
}

/** Creates a session with its first refresh token, atomic with the user's disabled flag and cutoff. */
export async function createSession(
  { conn, keys, log }: RedisContext,
  session: SessionRecord,
  refreshHash: string,
): Promise<CreateOutcome> {
  const U = keys.user(session.userId);
  const es = enc(session.id);
  const ttl = Math.max(session.expiresAt - session.createdAt, 0) + MARGIN_MS;
  const rtValue = JSON.stringify([session.userId, session.id]);
  const slot = [`${U}s:${es}`, `${U}idx`, `${U}dis`, `${U}seq`, `${U}cut`];
  const sidKey = keys.sid(session.id);
  const rtKey = keys.rt(refreshHash);
  const args: Arg[] = [
    es,
    session.createdAt,
    ttl,
    refreshHash,
    session.generation,
    session.userId,
    rtValue,
    rtValue,
    session.expiresAt,
    ...sessionPairs(session),
  ];
  if (!conn.cluster) {
    return createOutcome(await conn.run(CREATE_SESSION, [...slot, sidKey, rtKey, keys.expiries], args));
  }
  // Cluster: the lookups live in other slots; written first (harmless if the session is refused).
  await Promise.all([
    conn.send("SET", sidKey, session.userId, "PX", ttl),
    conn.send("SET", rtKey, rtValue, "PX", ttl),
    conn.send("ZADD", keys.expiries, session.expiresAt, rtValue),
  ]);
  const outcome = createOutcome(await conn.run(CREATE_SESSION, slot, args, "deferred"));
  if (outcome !== "created" && int(await conn.send("EXISTS", slot[0] ?? "")) === 0) {
    // A cleanup only: unreferenced lookups expire with their TTL, and purge drops the expiry entry.
    await Promise.all([
      conn.send("DEL", sidKey),
      conn.send("DEL", rtKey),
      conn.send("ZREM", keys.expiries, rtValue),
    ]).catch((error: unknown) => {
      log.warn(
        { store: "redis", err: errorText(error) },
        "redis: could not remove the lookups of a refused session (they expire by themselves)",
      );
    });
  }
  return outcome;
}

/** A session by id, revoked or not; `null` when unknown or purged. */
export async function getSession({ conn, keys }: RedisContext, id: string): Promise<SessionRecord | null> {
  const userId = cell(await conn.send("GET", keys.sid(id)));
  if (userId === null) return null;
  return toSession(cells(await conn.send("HMGET", keys.session(userId, id), ...SESSION_FIELDS)));
}

/** The user's recorded cutoff, `null` when none. */
export async function userCutoff({ conn, keys }: RedisContext, userId: string): Promise<UserCutoff | null> {
  const [c, p] = cells(await conn.send("HMGET", `${keys.user(userId)}cut`, "c", "p"));
  return c === null || c === undefined ? null : { cutoff: Number(c), exceptSessionId: p ?? null };
}

/** The global cutoff (0 when none). */
export async function globalCutoff({ conn, keys }: RedisContext): Promise<number> {
  return Number(cell(await conn.send("GET", keys.global("cutoff"))) ?? 0);
}

/** The user's live sessions (the core's `isSessionLive`), newest first. */
export async function listUserSessions(
  ctx: RedisContext,
  userId: string,
  now: number,
): Promise<SessionRecord[]> {
  const U = ctx.keys.user(userId);
  const [rows, cutoff, user] = await Promise.all([
    ctx.conn.run(LIST_SESSIONS, [`${U}idx`, `${U}cut`], [U]).then(sessionRows),
    globalCutoff(ctx),
    userCutoff(ctx, userId),
  ]);
  return newestFirst(rows, (s) => isSessionLive(s, now, cutoff, user));
}

/**
 * The sessions the user cutoff ended (`isEndedByUserCutoff`), newest first: one read-only script on
 * the user's slot (index range up to the cutoff, then the records).
 */
export async function listSessionsCutOff(
  { conn, keys }: RedisContext,
  userId: string,
  cutoff: UserCutoff,
): Promise<SessionRecord[]> {
  const U = keys.user(userId);
  const rows = sessionRows(await conn.run(LIST_SESSIONS_UP_TO, [`${U}idx`], [U, cutoff.cutoff]));
  return newestFirst(rows, (s) => s.userId === userId && isEndedByUserCutoff(s, cutoff));
}

/** The session and generation of a refresh-token hash, changing nothing. */
export async function findRefreshToken(
  { conn, keys }: RedisContext,
  hash: string,
): Promise<{ session: SessionRecord; generation: number } | null> {
  const lookup = cell(await conn.send("GET", keys.rt(hash)));
  if (lookup === null) return null;
  const { userId, sessionId } = tokenOwner(lookup);
  const [row, generation] = tuple(await conn.run(FIND_TOKEN, [keys.session(userId, sessionId)], [hash]), 2);
  const session = toSession(cells(row));
  const g = str(generation);
  return session && g !== "" ? { session, generation: Number(g) } : null;
}

/**
 * Revokes one session. Standalone: one script does it all, feed entry included. Cluster: intent,
 * revoke (deferred), publish, mark, clear the intent. `false` when unknown or already revoked.
 */
export async function revokeSession(
  { conn, keys, publication }: RedisContext,
  sessionId: string,
  meta: RevocationMeta,
): Promise<boolean> {
  const userId = cell(await conn.send("GET", keys.sid(sessionId)));
  if (userId === null) return false;
  const U = keys.user(userId);
  const subject = enc(sessionId);
  const slot = [`${U}idx`, `${U}dis`];
  const args: Arg[] = ["one", subject, "0", meta.at, meta.reason, meta.actor, meta.ttl, userId, U, "0"];
  if (!conn.cluster) {
    const { changed, pending } = revokeReply(await conn.run(REVOKE, slot, args));
    return changed.length > 0 || pending.length > 0;
  }
  return publication.withIntent(userId, null, subject, async () => {
    const { changed, pending } = revokeReply(await conn.run(REVOKE, slot, args, "deferred"));
    await publication.publish(userId, pending, null);
    return changed.length > 0 || pending.length > 0;
  });
}

/** Clears the user's disabled flag. Idempotent. */
export async function enableUser({ conn, keys }: RedisContext, userId: string): Promise<void> {
  await conn.send("DEL", `${keys.user(userId)}dis`);
}

/** Whether the user's disabled flag is set. */
export async function isUserDisabled({ conn, keys }: RedisContext, userId: string): Promise<boolean> {
  return int(await conn.send("EXISTS", `${keys.user(userId)}dis`)) === 1;
}
