/**
 * The revocation feed: recording `jti` and `global` revocations, snapshots (one REPEATABLE READ
 * transaction, so entries and cursor describe one instant), the long-polled change feed checked
 * against the hash chain, point checks, token lifetimes, and the purge of expired rows.
 * @module
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
import {
  appendParams,
  appendSql,
  type Cursor,
  checkChain,
  cursorOf,
  parseCursor,
  withSeqs,
} from "./chain.js";
import { type PgDb, SchemaGoneError } from "./db.js";
import type { FeedListener } from "./listen.js";
import {
  liveKind,
  ms,
  num,
  strOrNull,
  toEntry,
  toEntryFromArray,
  toUserCutoff,
  toUserEntry,
} from "./rows.js";

const MAX_LIMIT = 10_000;
/** Long-poll re-check interval while the LISTEN connection is down: catch-up by seq keeps working. */
const DEAF_POLL_MS = 100;
/** Rows per page of `snapshotInto`. */
const SNAPSHOT_PAGE = 50_000;
const SNAPSHOT_TX = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/** The feed part of the PostgreSQL store (see `RevocationStore` for each method's guarantees). */
export class PostgresFeed {
  readonly #db: PgDb;
  readonly #listener: FeedListener;
  readonly #s: string;
  /** Every active user cutoff ($1: now). */
  readonly #activeUserCutoffs: string;
  readonly #head: string;

  constructor(db: PgDb, listener: FeedListener) {
    this.#db = db;
    this.#listener = listener;
    const s = (this.#s = db.config.s);
    this.#activeUserCutoffs = `SELECT user_id, cutoff, except_session, cutoff_expires_at FROM ${s}.user_flags
                        WHERE cutoff IS NOT NULL AND cutoff_expires_at > $1`;
    this.#head = `SELECT epoch, last_seq, last_tag, global_cutoff FROM ${s}.state WHERE id = 1`;
  }

  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind !== "jti" && entry.kind !== "global") {
      throw new TypeError(`addRevocation takes jti or global entries, not ${String(entry.kind)}`);
    }
    if (typeof entry.subject !== "string") throw new TypeError("subject must be a string");
    const db = this.#db;
    const s = this.#s;
    const clean: NewRevocation = {
      kind: entry.kind,
      subject: entry.subject,
      expiresAt: ms(entry.expiresAt),
      reason: entry.reason,
      actor: entry.actor,
      at: ms(entry.at),
    };
    if (entry.kind === "global") clean.cutoff = ms(entry.cutoff ?? 0);
    const params = appendParams([clean], db.config.channel);
    return db.run(async () => {
      // One statement each: the condition, the seq, the insert and the NOTIFY commit together.
      const rows =
        clean.kind === "global"
          ? await db.query(appendSql(s, null, "global_cutoff < $12", ", global_cutoff = $12"), [
              ...params,
              clean.cutoff,
            ])
          : await db.query(
              appendSql(
                s,
                `changed AS (INSERT INTO ${s}.revoked_jtis AS j (jti, expires_at) VALUES ($12, $13)
                             ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
                             WHERE j.expires_at < EXCLUDED.expires_at
                             RETURNING jti)`,
                "EXISTS (SELECT 1 FROM changed)",
              ),
              [...params, clean.subject, clean.expiresAt],
            );
      const last = rows[0]?.last_seq;
      return last === undefined ? null : (withSeqs([clean], String(last))[0] ?? null);
    });
  }

  async snapshot(now: number): Promise<RevocationSnapshot> {
    this.#db.seen(now);
    return this.#db.run(() => this.#snapshot(ms(now)));
  }

  /** The active jti and session entries, the cutoff and the cursor, in one REPEATABLE READ snapshot. */
  #snapshot(now: number): Promise<RevocationSnapshot> {
    const db = this.#db;
    return db.tx(async (c) => {
      const st = (await db.exec(c, this.#head)).rows[0];
      if (!st) throw new SchemaGoneError("state row missing");
      const rows = await db.execArrays(
        c,
        `SELECT seq, kind, subject, expires_at, reason, actor, at FROM ${this.#s}.revocations
         WHERE kind IN ('jti', 'session') AND expires_at > $1 ORDER BY seq`,
        [now],
      );
      const entries = rows.map(toEntryFromArray);
      for (const u of (await db.exec(c, this.#activeUserCutoffs, [now])).rows) entries.push(toUserEntry(u));
      return {
        entries,
        globalCutoff: num(st.global_cutoff),
        cursor: cursorOf(st.last_seq, st.last_tag),
        epoch: String(st.epoch),
      };
    }, SNAPSHOT_TX);
  }

  /**
   * The lean snapshot: in one REPEATABLE READ READ ONLY transaction, the state row, then the active
   * entries in pages of {@link SNAPSHOT_PAGE} rows by seq (each query within its own timeout), passed
   * straight to `apply`. Entries, cutoff and cursor describe the same instant.
   */
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    const db = this.#db;
    db.seen(now);
    const at = ms(now);
    return db.run(() =>
      db.tx(async (c) => {
        const st = (await db.exec(c, this.#head)).rows[0];
        if (!st) throw new SchemaGoneError("state row missing");
        let after = "0";
        for (;;) {
          const rows = await db.execArrays(
            c,
            `SELECT seq, kind, subject, expires_at FROM ${this.#s}.revocations
             WHERE seq > $1 AND kind IN ('jti', 'session') AND expires_at > $2 ORDER BY seq LIMIT $3`,
            [after, at, SNAPSHOT_PAGE],
          );
          for (const r of rows) apply(liveKind(r[1]), String(r[2]), num(r[3]));
          const tail = rows.at(-1);
          if (rows.length < SNAPSHOT_PAGE || !tail) break;
          after = String(tail[0]);
        }
        for (const u of (await db.exec(c, this.#activeUserCutoffs, [at])).rows) {
          apply("user", String(u.user_id), num(u.cutoff_expires_at), {
            cutoff: num(u.cutoff),
            exceptSessionId: strOrNull(u.except_session),
          });
        }
        return {
          globalCutoff: num(st.global_cutoff),
          cursor: cursorOf(st.last_seq, st.last_tag),
          epoch: String(st.epoch),
        };
      }, SNAPSHOT_TX),
    );
  }

  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const db = this.#db;
    const from = parseCursor(cursor);
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(Number(options?.limit) || 1)));
    const deadline = Date.now() + Math.max(0, Number(options?.waitMs) || 0);
    for (;;) {
      // Armed before the query: a NOTIFY arriving between the query and the wait is not lost.
      const waiter = this.#listener.waiter();
      try {
        const { batch, final } = await db.run(() => this.#readFeed(from, limit));
        const remaining = deadline - Date.now();
        if (final || remaining <= 0 || db.isClosed()) return batch;
        await waiter.wait(this.#listener.listening ? remaining : Math.min(remaining, DEAF_POLL_MS));
        if (db.isClosed()) return batch;
      } finally {
        waiter.cancel();
      }
    }
  }

  /**
   * One read of the feed after `from`, checked against the hash chain (see `checkChain`).
   * `final` says the answer must go back at once: entries, a lost history, or a resync.
   */
  async #readFeed(from: Cursor, limit: number): Promise<{ batch: ChangeBatch; final: boolean }> {
    const s = this.#s;
    // One statement, one snapshot: the state row and the entries are consistent with each other.
    const rows = await this.#db.query(
      `SELECT st.epoch, st.last_seq, st.last_tag,
              (SELECT tag FROM ${s}.revocations WHERE seq = $1::bigint) AS at_tag,
              r.seq, r.kind, r.subject, r.cutoff, r.expires_at, r.reason, r.actor, r.at, r.tag, r.prev_tag,
              r.except_session
       FROM ${s}.state st
       LEFT JOIN LATERAL (
         SELECT * FROM ${s}.revocations WHERE seq > $1::bigint ORDER BY seq LIMIT $2
       ) r ON true
       WHERE st.id = 1`,
      [from.seq.toString(), limit],
    );
    const head = rows[0];
    if (!head) throw new SchemaGoneError("state row missing");
    const epoch = String(head.epoch);
    const found = head.seq === null ? [] : rows;
    const first = found[0];
    const verdict = checkChain(
      from,
      {
        lastSeq: BigInt(String(head.last_seq)),
        lastTag: strOrNull(head.last_tag),
        atTag: strOrNull(head.at_tag),
      },
      first ? { seq: BigInt(String(first.seq)), prevTag: strOrNull(first.prev_tag) } : undefined,
    );
    if (verdict === "lost") {
      // The database went back in time and lost entries this reader had: a different epoch makes the
      // node handle it as data loss (every older token counts as revoked, then a new snapshot).
      return { batch: { entries: [], cursor: from.text, epoch: `${epoch}:rewound` }, final: true };
    }
    if (verdict === "unverifiable") return { batch: await this.#resync(), final: true };
    const entries = found.map(toEntry);
    const last = found.at(-1);
    return {
      batch: { entries, cursor: last ? cursorOf(last.seq, last.tag) : from.text, epoch },
      final: entries.length > 0,
    };
  }

  /**
   * For a reader whose place in the chain was purged: every active entry and the cutoff again, with
   * a fresh cursor (one batch, whatever the limit, like the Redis store's resync after a trim).
   * Entries may arrive twice; a replica applies them idempotently.
   */
  async #resync(): Promise<ChangeBatch> {
    const snap = await this.#snapshot(Math.min(this.#db.lastNow ?? 0, Date.now()));
    return resyncBatch(snap, snap.cursor.split(".")[0] ?? "0");
  }

  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    const db = this.#db;
    const s = this.#s;
    db.seen(now);
    return db.run(async () => {
      const rows = await db.query(
        `SELECT
           EXISTS (SELECT 1 FROM ${s}.revoked_jtis WHERE jti = $1 AND expires_at > $3) AS jti_revoked,
           (EXISTS (SELECT 1 FROM ${s}.sessions WHERE id = $2 AND revoked_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM ${s}.revocations
                       WHERE kind = 'session' AND subject = $2 AND expires_at > $3)) AS session_revoked,
           global_cutoff, f.cutoff AS user_cutoff, f.except_session AS user_except
         FROM ${s}.state LEFT JOIN ${s}.user_flags f ON f.user_id = $4 WHERE id = 1`,
        [query.jti ?? null, query.sessionId ?? null, ms(now), query.userId ?? null],
      );
      const r = rows[0];
      if (!r) throw new SchemaGoneError("state row missing");
      return {
        jtiRevoked: r.jti_revoked === true,
        sessionRevoked: r.session_revoked === true,
        globalCutoff: num(r.global_cutoff),
        user: toUserCutoff(r.user_cutoff, r.user_except),
      };
    });
  }

  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    const db = this.#db;
    const s = this.#s;
    return db.run(async () => {
      const rows = record
        ? await db.query(
            `UPDATE ${s}.state SET max_access_ttl = GREATEST(max_access_ttl, $1),
               max_session_ttl = GREATEST(max_session_ttl, $2)
             WHERE id = 1 AND (max_access_ttl < $1 OR max_session_ttl < $2)
             RETURNING max_access_ttl, max_session_ttl`,
            [ms(record.accessTokenTtlMs), ms(record.sessionTtlMs)],
          )
        : [];
      const r =
        rows[0] ?? (await db.query(`SELECT max_access_ttl, max_session_ttl FROM ${s}.state WHERE id = 1`))[0];
      if (!r) throw new SchemaGoneError("state row missing");
      return { accessTokenTtlMs: num(r.max_access_ttl), sessionTtlMs: num(r.max_session_ttl) };
    });
  }

  /** Deletes expired rows of every table; one node at a time (the others skip, returning 0). */
  async purge(now: number): Promise<number> {
    const db = this.#db;
    const s = this.#s;
    const at = ms(now);
    return db.run(() =>
      db.tx(async (c) => {
        const lock = await db.exec(c, "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [
          `revokit:${db.config.schema}:purge`,
        ]);
        if (lock.rows[0]?.ok !== true) return 0;
        const count = async (text: string) => (await db.exec(c, text, [at])).rowCount ?? 0;
        let n = await count(`DELETE FROM ${s}.revocations WHERE kind <> 'global' AND expires_at <= $1`);
        n += await count(`DELETE FROM ${s}.revoked_jtis WHERE expires_at <= $1`);
        const gone = await db.exec(
          c,
          `WITH gone AS (DELETE FROM ${s}.sessions WHERE expires_at <= $1 RETURNING id),
                tokens AS (DELETE FROM ${s}.refresh_tokens WHERE session_id IN (SELECT id FROM gone) RETURNING 1)
           SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM tokens) AS n`,
          [at],
        );
        n += Number(gone.rows[0]?.n ?? 0);
        await db.exec(c, `DELETE FROM ${s}.rate_limits WHERE reset_at <= $1`, [at]);
        // A cutoff that covers no session that could still be refreshed is forgotten.
        await db.exec(
          c,
          `UPDATE ${s}.user_flags SET cutoff = NULL, except_session = NULL, cutoff_expires_at = NULL
           WHERE cutoff IS NOT NULL AND cutoff_expires_at <= $1`,
          [at],
        );
        // Flag rows exist to order logins against disables and cutoffs; unused plain ones can go.
        await db.exec(
          c,
          `DELETE FROM ${s}.user_flags f WHERE f.disabled_at IS NULL AND f.cutoff IS NULL
           AND NOT EXISTS (SELECT 1 FROM ${s}.sessions s WHERE s.user_id = f.user_id)`,
        );
        return n;
      }),
    );
  }
}
