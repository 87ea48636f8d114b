/**
 * The revocation feed of a SQLite store: the `revocations` table (an `AUTOINCREMENT` sequence),
 * snapshots of the active entries, long-polled changes, point checks, the recorded token lifetimes,
 * and the purge of expired rows (on demand and on a timer).
 *
 * Writers commit in sequence order (one write lock), so a reader resuming after `seq` never skips an
 * entry. A waiting `changes()` reads the sequence every `pollInterval` ms, so other processes'
 * revocations arrive within it; this instance's own writes wake it at once.
 */

import { errorText } from "../../core/error-text.js";
import { StoreUnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
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
import type { SqliteConnection } from "./connection.js";
import { cutoffFromRow, entryFromRow, userEntryFromRow } from "./rows.js";
import type { Statements } from "./statements.js";

/** Rows per page of {@link snapshotInto}. */
const SNAPSHOT_PAGE = 50_000;

// ---- reading and writing feed state (inside the caller's transaction) ---------------------------

/** Appends `entry` to the feed; returns its `seq`. */
export function appendEntry(q: Statements, entry: NewRevocation): string {
  const { lastInsertRowid } = q.insertRevocation.run(
    entry.kind,
    entry.subject,
    entry.cutoff ?? null,
    entry.exceptSessionId ?? null,
    entry.expiresAt,
    entry.reason,
    entry.actor,
    entry.at,
  );
  return String(lastInsertRowid);
}

/** The global cutoff (ms), 0 when none. */
export function globalCutoff(q: Statements): number {
  const v = q.getMeta.get("global_cutoff")?.value;
  return v === undefined ? 0 : Number(v);
}

/** The user's recorded cutoff, `null` when none. */
export function userCutoff(q: Statements, userId: string): UserCutoff | null {
  const r = q.getUserCutoff.get(userId);
  return r ? cutoffFromRow(r) : null;
}

// ---- the contract's feed calls ------------------------------------------------------------------

/** Records a `jti` (keeping the later expiry) or `global` (forward only) revocation. `null` when nothing changed. */
export function addRevocation(db: SqliteConnection, entry: NewRevocation): RevocationEntry | null {
  if (entry.kind !== "jti" && entry.kind !== "global") {
    throw new TypeError(`addRevocation takes jti or global entries, not ${String(entry.kind)}`);
  }
  const recorded = db.write("addRevocation", ({ q }): RevocationEntry | null => {
    let cutoff: number | null = null;
    if (entry.kind === "global") {
      cutoff = entry.cutoff ?? 0;
      if (cutoff <= globalCutoff(q)) return null;
      q.setMeta.run("global_cutoff", String(cutoff));
    } else {
      const prev = q.jtiExpiry.get(entry.subject)?.expires_at ?? null;
      if (prev !== null && prev >= entry.expiresAt) return null;
    }
    const next: NewRevocation = {
      kind: entry.kind,
      subject: entry.subject,
      ...(cutoff === null ? {} : { cutoff }),
      expiresAt: entry.expiresAt,
      reason: entry.reason,
      actor: entry.actor,
      at: entry.at,
    };
    return { seq: appendEntry(q, next), ...next };
  });
  if (recorded) db.appended();
  return recorded;
}

/** The active jti and session entries, the user cutoffs, the global cutoff and the feed position, in one read. */
export function snapshot(db: SqliteConnection, now: number): RevocationSnapshot {
  db.seen(now);
  return db.read("snapshot", ({ q, epoch }) => ({
    entries: [
      ...q.activeEntries.all(now).map(entryFromRow),
      ...q.activeUserCutoffs.all(now).map(userEntryFromRow),
    ],
    globalCutoff: globalCutoff(q),
    cursor: String(q.headSeq.get()?.seq ?? 0),
    epoch,
  }));
}

/**
 * The lean snapshot: reads the head (cursor, cutoff, epoch) first, then the active entries up to that
 * cursor in pages of {@link SNAPSHOT_PAGE} rows (by seq; rows are only appended, or purged once
 * expired), yielding to the event loop between pages. Anything recorded later is after the cursor.
 */
export async function snapshotInto(
  db: SqliteConnection,
  now: number,
  apply: SnapshotSink,
): Promise<SnapshotHead> {
  db.seen(now);
  const head = db.read("snapshot", ({ q, epoch }) => ({
    globalCutoff: globalCutoff(q),
    cursor: String(q.headSeq.get()?.seq ?? 0),
    epoch,
  }));
  const last = Number(head.cursor);
  let after = 0;
  for (;;) {
    const rows = db.run("snapshot", ({ q }) => q.activePage.all(after, last, now, SNAPSHOT_PAGE));
    for (const r of rows) apply(r[1] as "jti" | "session", r[2], r[3]);
    const tail = rows.at(-1);
    if (rows.length < SNAPSHOT_PAGE || !tail) break;
    after = tail[0];
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Read after the head: a cutoff recorded meanwhile comes twice, which is harmless (later wins).
  for (const u of db.run("snapshot", ({ q }) => q.activeUserCutoffs.all(now))) {
    apply("user", u.user_id, u.expires_at, cutoffFromRow(u));
  }
  return head;
}

/**
 * Entries after `cursor`, in order, at most `limit`. With none, waits (see {@link FeedWaiters}) until
 * one arrives, `waitMs` passes or the store closes.
 */
export async function changes(
  db: SqliteConnection,
  waiters: FeedWaiters,
  cursor: string,
  options: { waitMs: number; limit: number },
): Promise<ChangeBatch> {
  const after = parseCursor(cursor);
  const limit = Number.isFinite(options.limit) ? Math.max(1, Math.floor(options.limit)) : 1000;
  const read = (): ChangeBatch | null => {
    const open = db.current;
    if (!open) return null;
    const entries = db.run("changes", ({ q }) => q.changes.all(after, limit).map(entryFromRow));
    return { entries, cursor: entries.at(-1)?.seq ?? String(after), epoch: open.epoch };
  };
  const first = read();
  if (!first) throw new StoreUnavailableError("the sqlite store is not open (changes)");
  if (first.entries.length > 0 || !(options.waitMs > 0)) return first;
  await waiters.wait(after, options.waitMs);
  return read() ?? { entries: [], cursor: String(after), epoch: first.epoch };
}

/** Point lookup straight from the file. */
export function check(
  db: SqliteConnection,
  query: { jti?: string; sessionId?: string; userId?: string },
  now: number,
): RevocationCheck {
  db.seen(now);
  return db.read("check", ({ q }) => ({
    jtiRevoked: query.jti !== undefined && q.jtiRevoked.get(query.jti, now) !== undefined,
    sessionRevoked:
      query.sessionId !== undefined &&
      q.sessionRevoked.get(query.sessionId, query.sessionId, now)?.revoked === 1,
    globalCutoff: globalCutoff(q),
    user: query.userId === undefined ? null : userCutoff(q, query.userId),
  }));
}

/** The longest lifetimes ever used (meta rows), raised in one write transaction when `record` is larger. */
export function tokenLifetimes(db: SqliteConnection, record?: TokenLifetimes): TokenLifetimes {
  const read = (q: Statements): TokenLifetimes => ({
    accessTokenTtlMs: Number(q.getMeta.get("max_access_ttl")?.value ?? 0),
    sessionTtlMs: Number(q.getMeta.get("max_session_ttl")?.value ?? 0),
  });
  const stored = db.read("tokenLifetimes", ({ q }) => read(q));
  if (
    !record ||
    (record.accessTokenTtlMs <= stored.accessTokenTtlMs && record.sessionTtlMs <= stored.sessionTtlMs)
  )
    return stored;
  return db.write("tokenLifetimes", ({ q }) => {
    const cur = read(q);
    const next = {
      accessTokenTtlMs: Math.max(cur.accessTokenTtlMs, record.accessTokenTtlMs),
      sessionTtlMs: Math.max(cur.sessionTtlMs, record.sessionTtlMs),
    };
    q.setMeta.run("max_access_ttl", String(next.accessTokenTtlMs));
    q.setMeta.run("max_session_ttl", String(next.sessionTtlMs));
    return next;
  });
}

/** Deletes expired entries and cutoffs, ended sessions with their refresh tokens, and ended rate-limit windows. */
export function purge(db: SqliteConnection, now: number): number {
  return db.write("purge", ({ q }) => {
    let n = q.purgeRevocations.run(now).changes;
    n += q.purgeTokens.run(now).changes;
    n += q.purgeSessions.run(now).changes;
    n += q.purgeRates.run(now).changes;
    n += q.purgeUserCutoffs.run(now).changes;
    return n;
  });
}

/**
 * Purges every `intervalMs` with the callers' clock (never later than the last `now` a caller
 * passed). A failed run is logged and the next one retries. Returns the function that stops it.
 */
export function startAutoPurge(db: SqliteConnection, intervalMs: number, log: Logger): () => void {
  const timer = setInterval(() => {
    const now = db.lastNow;
    if (now === undefined || !db.current) return;
    try {
      purge(db, Math.min(now, Date.now()));
    } catch (error) {
      log.warn(
        { store: "sqlite", op: "purge", err: errorText(error) },
        "the sqlite store could not purge expired rows; the next run retries",
      );
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function parseCursor(cursor: string): number {
  return typeof cursor === "string" && /^\d{1,15}$/.test(cursor) ? Number(cursor) : 0;
}

// ---- long polls ---------------------------------------------------------------------------------

/** A long poll waiting for the feed to pass `after`. */
interface Waiter {
  after: number;
  wake: () => void;
}

/**
 * The long polls of one store instance: while any waits, one timer reads the feed's sequence every
 * `pollMs` and wakes those it has passed; {@link wakeAll} wakes every one at once (own writes, close).
 */
export class FeedWaiters {
  readonly #db: SqliteConnection;
  readonly #pollMs: number;
  readonly #log: Logger;
  readonly #waiters = new Set<Waiter>();
  #timer: NodeJS.Timeout | undefined;
  /** Whether the last read of the sequence failed (a failing streak is logged once). */
  #failing = false;

  constructor(db: SqliteConnection, pollMs: number, log: Logger) {
    this.#db = db;
    this.#pollMs = pollMs;
    this.#log = log;
  }

  /** Waits until the feed passes `after`, `waitMs` passes, or {@link wakeAll}. */
  wait(after: number, waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        after,
        wake: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (this.#waiters.size === 0 && this.#timer) {
            clearInterval(this.#timer);
            this.#timer = undefined;
          }
          resolve();
        },
      };
      // A long poll must not keep the process alive: a script that forgets close() still ends.
      const timer = setTimeout(waiter.wake, waitMs);
      timer.unref();
      this.#waiters.add(waiter);
      if (!this.#timer) {
        this.#timer = setInterval(() => this.#poll(), this.#pollMs);
        this.#timer.unref();
      }
    });
  }

  /** Wakes every waiting long poll (they read the feed again). */
  wakeAll(): void {
    for (const w of [...this.#waiters]) w.wake();
  }

  /** One cheap read of the feed's sequence; wakes the waiters it has passed. */
  #poll(): void {
    const open = this.#db.current;
    if (!open) {
      this.wakeAll();
      return;
    }
    let head: number;
    try {
      head = open.q.headSeq.get()?.seq ?? 0;
    } catch (error) {
      // Busy (another process holds the lock) or worse: the next tick retries; log a streak once.
      if (!this.#failing) {
        this.#log.warn(
          { store: "sqlite", op: "changes", err: errorText(error) },
          "the sqlite store cannot read the feed sequence; waiting long polls retry every poll interval",
        );
      }
      this.#failing = true;
      return;
    }
    this.#failing = false;
    for (const w of [...this.#waiters]) if (head > w.after) w.wake();
  }
}
