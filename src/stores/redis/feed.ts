/**
 * The revocation feed on Redis: recording `jti` and `global` revocations, the change feed (a Redis
 * Stream, long-polled on the dedicated connection), snapshots of the active index, point checks, the
 * recorded token lifetimes, and purging what expired.
 */
import { resyncBatch } from "../../core/feed.js";
import type {
  ChangeBatch,
  NewRevocation,
  RevocationCheck,
  RevocationEntry,
  RevocationSnapshot,
  SnapshotHead,
  SnapshotSink,
  TokenLifetimes,
} from "../../core/model.js";
import { type Client, newEpoch, sleep } from "./connection.js";
import type { RedisContext } from "./context.js";
import { encodeKeyPart as enc } from "./layout.js";
import {
  ADD_REVOCATION,
  CHECK,
  LIFETIMES,
  POLL,
  PURGE_ACTIVE,
  SNAPSHOT_HEAD,
  SNAPSHOT_PAGE,
} from "./lua/feed.js";
import { DROP_SESSION } from "./lua/sessions.js";
import { recordToEntry, streamToEntry } from "./records.js";
import {
  cell,
  cells,
  int,
  list,
  pairs,
  scanPage,
  str,
  streamEntries,
  strings,
  tuple,
  xreadEntries,
} from "./replies.js";
import { tokenOwner, userCutoff } from "./sessions.js";

const SNAPSHOT_PAGE_SIZE = 2_000;
/** ZSCAN COUNT of the lean snapshot (`snapshotInto`): members only, so larger pages. */
const SCAN_PAGE = 10_000;
const PURGE_BATCH = 1_000;

/** Records a `jti` revocation (keeping the later expiry) or moves the global cutoff forward. */
export async function addRevocation(
  { conn, keys }: RedisContext,
  entry: NewRevocation,
): Promise<RevocationEntry | null> {
  const cutoff = entry.kind === "global" ? (entry.cutoff ?? 0) : undefined;
  const seq = cell(
    await conn.run(
      ADD_REVOCATION,
      [keys.global("feed")],
      [entry.kind, entry.subject, cutoff ?? "", entry.expiresAt, entry.reason, entry.actor, entry.at],
    ),
  );
  if (seq === null) return null;
  const recorded: RevocationEntry = {
    seq,
    kind: entry.kind,
    subject: entry.subject,
    expiresAt: entry.expiresAt,
    reason: entry.reason,
    actor: entry.actor,
    at: entry.at,
  };
  if (cutoff !== undefined) recorded.cutoff = cutoff;
  return recorded;
}

/** Epoch, cutoff and feed position, read together in one script. */
async function head({ conn, keys }: RedisContext): Promise<SnapshotHead> {
  const reply = await conn.do(() => conn.run(SNAPSHOT_HEAD, [keys.global("epoch")], [newEpoch()]));
  const [epoch, cutoff, cursor] = strings(tuple(reply, 3));
  return { epoch: epoch ?? "", globalCutoff: Number(cutoff), cursor: cursor ?? "0-0" };
}

/**
 * The head (epoch, cutoff, feed position) is read first in one script, then the active index page by
 * page (ZSCAN returns every member present throughout the scan), each page its own bounded call.
 * Every entry recorded before the head is in the index (index and feed are written by one script);
 * anything later arrives through the feed from the head's cursor. So nothing falls in between.
 */
export async function snapshot(ctx: RedisContext, now: number): Promise<RevocationSnapshot> {
  const { conn, keys } = ctx;
  const top = await head(ctx);
  const byMember = new Map<string, RevocationEntry>();
  let scan = "0";
  do {
    const page = list(
      await conn.do(() => conn.run(SNAPSHOT_PAGE, [keys.global("active")], [scan, SNAPSHOT_PAGE_SIZE, now])),
    );
    scan = str(page[0]);
    for (const rec of page.slice(1)) {
      const e = recordToEntry(pairs(rec));
      const id = `${e.kind}:${e.subject}`;
      const seen = byMember.get(id);
      if (!seen || seen.expiresAt < e.expiresAt) byMember.set(id, e);
    }
  } while (scan !== "0");
  return { entries: [...byMember.values()], ...top };
}

/** One ZSCAN page of the active index. */
function scanActive({ conn, keys }: RedisContext, cursor: string) {
  return conn.do(async () =>
    scanPage(await conn.send("ZSCAN", keys.global("active"), cursor, "COUNT", SCAN_PAGE)),
  );
}

/**
 * The lean snapshot replicas start from: the head first (as {@link snapshot}), then the active index
 * itself, ZSCAN pages of about {@link SCAN_PAGE} members (`j:<jti>` / `s:<sid>`, scored by expiry),
 * each its own bounded call, so no command grows with the number of revocations. An entry may come
 * twice (ZSCAN may repeat members); entries added meanwhile also arrive through the feed.
 */
export async function snapshotInto(
  ctx: RedisContext,
  now: number,
  apply: SnapshotSink,
): Promise<SnapshotHead> {
  const { conn, keys } = ctx;
  const top = await head(ctx);
  const users: string[] = [];
  let pending = scanActive(ctx, "0");
  for (;;) {
    const { next, items } = await pending;
    // The next page is asked for before this one is applied, so Redis and this process work at once.
    if (next !== "0") pending = scanActive(ctx, next);
    try {
      for (const [member, score] of items) {
        const expiresAt = Number(score);
        if (!(expiresAt > now)) continue;
        const tag = member.charCodeAt(0);
        if (member.charCodeAt(1) !== 58 /* : */) continue;
        if (tag === 106 /* j */) apply("jti", member.slice(2), expiresAt);
        else if (tag === 115 /* s */) apply("session", member.slice(2), expiresAt);
        else if (tag === 117 /* u */) users.push(member);
      }
    } catch (error) {
      // The page asked for ahead is abandoned: the failure that matters is this one, thrown below.
      if (next !== "0") pending.catch(() => undefined);
      throw error;
    }
    if (next === "0") break;
  }
  // User cutoffs (one per user) carry more than an expiry: read their records, a page at a time.
  for (let i = 0; i < users.length; i += SCAN_PAGE) {
    const page = users.slice(i, i + SCAN_PAGE);
    const recs = await conn.do(() =>
      Promise.all(
        page.map(async (m) => cells(await conn.send("HMGET", keys.activeRecord(m), "c", "p", "x"))),
      ),
    );
    recs.forEach(([c, p, x], k) => {
      if (c === null || c === undefined || !(Number(x) > now)) return;
      apply("user", (page[k] ?? "").slice(2), Number(x), { cutoff: Number(c), exceptSessionId: p ?? null });
    });
  }
  return top;
}

function batch(entries: RevocationEntry[], from: string, epoch: string): ChangeBatch {
  return { entries, cursor: entries.at(-1)?.seq ?? from, epoch };
}

function normalizeCursor(cursor: string): string {
  if (cursor === "" || cursor === "0") return "0-0";
  if (!/^\d+-\d+$/.test(cursor)) throw new TypeError("not a cursor of the redis store");
  return cursor;
}

async function poll(
  { conn, keys }: RedisContext,
  from: string,
  limit: number,
): Promise<{ epoch: string; resync: boolean; entries: RevocationEntry[] }> {
  const [epoch, status, raw] = list(await conn.run(POLL, [keys.global("epoch")], [newEpoch(), from, limit]));
  const entries = raw === undefined || raw === null ? [] : streamEntries(raw).map(streamToEntry);
  return { epoch: str(epoch), resync: status === "resync", entries };
}

/** A reader whose cursor points before trimmed entries gets every active entry and the cutoff again. */
async function resync(ctx: RedisContext): Promise<ChangeBatch> {
  const snap = await snapshot(ctx, 0);
  return resyncBatch(snap, snap.cursor);
}

/** XREAD BLOCK on the dedicated connection; guarded so a silent server cannot hold it forever. */
async function blockingRead(
  { conn, keys }: RedisContext,
  feed: Client,
  from: string,
  limit: number,
  waitMs: number,
): Promise<RevocationEntry[]> {
  const guardMs = waitMs + conn.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = feed.call("XREAD", "COUNT", limit, "BLOCK", waitMs, "STREAMS", keys.global("feed"), from);
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        feed.disconnect(true);
        reject(new Error(`the feed read got no answer within ${guardMs} ms`));
      }, guardMs);
      // A background long poll: it must not keep a script that forgot close() running.
      timer.unref();
    });
    return xreadEntries(await Promise.race([read, guard])).map(streamToEntry);
  } catch (error) {
    throw conn.unavailable("feed", error);
  } finally {
    clearTimeout(timer);
  }
}

/** Entries after `cursor`; when none, a long poll on the dedicated connection. */
export async function changes(
  ctx: RedisContext,
  cursor: string,
  options: { waitMs: number; limit: number },
): Promise<ChangeBatch> {
  const { conn } = ctx;
  const from = normalizeCursor(cursor);
  const limit = Math.max(1, Math.floor(options.limit));
  const waitMs = Math.max(0, Math.floor(options.waitMs));
  const first = await conn.do(() => poll(ctx, from, limit));
  if (first.resync) return resync(ctx);
  if (first.entries.length > 0 || waitMs === 0) return batch(first.entries, from, first.epoch);
  const deadline = Date.now() + waitMs;
  while (!conn.closed) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const feed = conn.readyFeed;
    if (feed) return batch(await blockingRead(ctx, feed, from, limit, left), from, first.epoch);
    // The dedicated connection is reconnecting: poll on the main one meanwhile.
    await sleep(Math.min(left, 50));
    if (conn.closed) break;
    const next = await conn.do(() => poll(ctx, from, limit));
    if (next.resync) return resync(ctx);
    if (next.entries.length > 0 || next.epoch !== first.epoch) return batch(next.entries, from, next.epoch);
  }
  return batch([], from, first.epoch);
}

/** A point lookup: the active index, the session record itself, the user's cutoff. */
export async function check(
  ctx: RedisContext,
  query: { jti?: string; sessionId?: string; userId?: string },
  now: number,
): Promise<RevocationCheck> {
  const { conn, keys } = ctx;
  const sid = query.sessionId;
  const members = [query.jti === undefined ? "" : `j:${query.jti}`, sid === undefined ? "" : `s:${sid}`, now];
  const [reply, userId, user] = await Promise.all([
    conn.run(CHECK, [keys.global("active")], members).then((r) => tuple(r, 3)),
    sid === undefined ? null : conn.send("GET", keys.sid(sid)).then(cell),
    query.userId === undefined ? null : userCutoff(ctx, query.userId),
  ]);
  let sessionRevoked = int(reply[1]) === 1;
  if (!sessionRevoked && sid !== undefined && userId) {
    // The session record itself: revoked sessions whose feed entry has expired stay revoked.
    sessionRevoked = int(await conn.send("HEXISTS", keys.session(userId, sid), "rv")) === 1;
  }
  return { jtiRevoked: int(reply[0]) === 1, sessionRevoked, globalCutoff: int(reply[2]), user };
}

/** Raises the recorded longest token lifetimes (one script) and returns them. */
export async function tokenLifetimes(
  { conn, keys }: RedisContext,
  record?: TokenLifetimes,
): Promise<TokenLifetimes> {
  const args = [record?.accessTokenTtlMs ?? 0, record?.sessionTtlMs ?? 0];
  const [a, s] = tuple(await conn.run(LIFETIMES, [keys.global("lifetimes")], args), 2);
  return { accessTokenTtlMs: int(a), sessionTtlMs: int(s) };
}

/** Deletes expired index entries, then ended sessions with their lookups; on Cluster, reconciles. */
export async function purge(ctx: RedisContext, now: number): Promise<number> {
  const { conn, keys } = ctx;
  let removed = 0;
  for (;;) {
    const n = int(await conn.run(PURGE_ACTIVE, [keys.global("active")], [now, PURGE_BATCH]));
    removed += n;
    if (n < PURGE_BATCH) break;
  }
  for (;;) {
    const due = strings(await conn.send("ZRANGEBYSCORE", keys.expiries, "-inf", now, "LIMIT", 0, 200));
    for (const member of due) removed += await dropSession(ctx, member, now);
    if (due.length < 200) break;
  }
  if (conn.cluster) await ctx.publication.reconcile();
  return removed;
}

async function dropSession({ conn, keys }: RedisContext, member: string, now: number): Promise<number> {
  const { userId, sessionId } = tokenOwner(member);
  const U = keys.user(userId);
  const es = enc(sessionId);
  const [outcome, detail] = list(await conn.run(DROP_SESSION, [`${U}s:${es}`, `${U}idx`], [now, es]));
  if (outcome === "keep") {
    await conn.send("ZADD", keys.expiries, "XX", str(detail), member);
    return 0;
  }
  const hashes = outcome === "dropped" ? strings(detail) : [];
  await Promise.all([
    conn.send("DEL", keys.sid(sessionId)),
    ...hashes.map((h) => conn.send("DEL", keys.rt(h))),
  ]);
  await conn.send("ZREM", keys.expiries, member);
  return outcome === "dropped" ? 1 + hashes.length : 0;
}
