/**
 * Sessions, their refresh-token chains and the user grain: creation (atomic with the user's flag
 * row), rotation, session revocation and user cutoffs. Each write executes the core's plan
 * (`planRotation`, `planSessionRevocation`, `planUserCutoff`) on state read under the row lock that
 * orders it; the store decides nothing itself.
 * @module
 */
import type pg from "pg";
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
  type RotationPlan,
} from "../../core/refresh.js";
import { planUserCutoff } from "../../core/user-cutoff.js";
import { appendParams, appendSql } from "./chain.js";
import { type PgDb, SchemaGoneError } from "./db.js";
import {
  ms,
  num,
  numOrNull,
  prefixed,
  SESSION_COLUMNS,
  sessionParams,
  toSession,
  toUserCutoff,
} from "./rows.js";

/** The session part of the PostgreSQL store (see `RevocationStore` for each method's guarantees). */
export class PostgresSessions {
  readonly #db: PgDb;
  readonly #s: string;
  /** Locks the user's flag row, creating it when missing; returns its disabled flag and cutoff. */
  readonly #lockUserFlag: string;

  constructor(db: PgDb) {
    this.#db = db;
    const s = (this.#s = db.config.s);
    this.#lockUserFlag = `INSERT INTO ${s}.user_flags (user_id) VALUES ($1)
                   ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
                   RETURNING disabled_at, cutoff, except_session, cutoff_expires_at`;
  }

  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    const db = this.#db;
    const values = sessionParams(session);
    return db.run(() =>
      db.tx(async (c) => {
        // Lock the user's flag row (creating it if needed): a concurrent disable or cutoff waits for
        // this transaction and then covers this session, or this one waits and sees it.
        const flag = (await db.exec(c, this.#lockUserFlag, [session.userId])).rows[0];
        const cut = flag?.cutoff;
        if (cut !== null && cut !== undefined && ms(session.createdAt) <= num(cut)) return "cut_off";
        if (flag?.disabled_at != null) return "user_disabled";
        await db.exec(
          c,
          `INSERT INTO ${this.#s}.sessions (id, user_id, client_id, created_at, last_used_at, expires_at,
             idle_expires_at, user_agent, ip, claims, scope, generation, rotated_at, revoked_at, revoke_reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (id) DO NOTHING`,
          values,
        );
        await db.exec(
          c,
          `INSERT INTO ${this.#s}.refresh_tokens (hash, session_id, generation) VALUES ($1, $2, $3)
           ON CONFLICT (hash) DO NOTHING`,
          [refreshHash, session.id, session.generation],
        );
        return "created";
      }),
    );
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(`SELECT ${SESSION_COLUMNS} FROM ${this.#s}.sessions WHERE id = $1`, [
        id,
      ]);
      return rows[0] ? toSession(rows[0]) : null;
    });
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const s = this.#s;
    this.#db.seen(now);
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT ${prefixed("s", SESSION_COLUMNS)},
           (SELECT global_cutoff FROM ${s}.state WHERE id = 1) AS global_cutoff,
           f.cutoff AS user_cutoff, f.except_session AS user_except
         FROM ${s}.sessions s LEFT JOIN ${s}.user_flags f ON f.user_id = s.user_id
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2
           AND (s.created_at > COALESCE(f.cutoff, -1) OR s.id = f.except_session)
         ORDER BY s.created_at DESC, s.id`,
        [userId, ms(now)],
      );
      const live: SessionRecord[] = [];
      for (const r of rows) {
        const session = toSession(r);
        const user = toUserCutoff(r.user_cutoff, r.user_except);
        if (isSessionLive(session, now, num(r.global_cutoff ?? 0), user)) live.push(session);
      }
      return live;
    });
  }

  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT ${SESSION_COLUMNS} FROM ${this.#s}.sessions
         WHERE user_id = $1 AND created_at <= $2 AND revoked_at IS NULL
         ORDER BY created_at DESC, id`,
        [userId, ms(cutoff.cutoff)],
      );
      return rows.map(toSession).filter((s) => isEndedByUserCutoff(s, cutoff));
    });
  }

  /** Plans the redemption on the locked session row (`planRotation`) and executes the plan. */
  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    const db = this.#db;
    const s = this.#s;
    const reuseMeta = wholeMs(input.reuseMeta);
    db.seen(input.now);
    return db.run(() =>
      db.tx(async (c): Promise<RotateResult> => {
        // Lock the session row: concurrent rotations of one chain queue here, and each decides on
        // the state the previous one committed.
        const { rows } = await db.exec(
          c,
          `SELECT t.generation AS token_generation, ${prefixed("s", SESSION_COLUMNS)}
           FROM ${s}.refresh_tokens t JOIN ${s}.sessions s ON s.id = t.session_id
           WHERE t.hash = $1
           FOR UPDATE OF s`,
          [input.presentedHash],
        );
        const row = rows[0];
        if (!row) return { status: "unknown" };
        const session = toSession(row);
        // Read after the lock was granted (a new statement sees every commit made while we waited).
        // A cutoff committed after this read covers the session anyway (it ends every session
        // authenticated before it, whatever their generation).
        const st = (
          await db.exec(
            c,
            `SELECT global_cutoff, f.cutoff AS user_cutoff, f.except_session AS user_except
             FROM ${s}.state LEFT JOIN ${s}.user_flags f ON f.user_id = $1 WHERE id = 1`,
            [session.userId],
          )
        ).rows[0];
        if (!st) throw new SchemaGoneError("state row missing");
        const plan = planRotation(
          session,
          Number(row.token_generation),
          { ...input, reuseMeta },
          num(st.global_cutoff),
          toUserCutoff(st.user_cutoff, st.user_except),
        );
        await this.#executeRotation(c, plan, input.newHash, session.id);
        return plan.result;
      }),
    );
  }

  /** The writes of a rotation plan, inside the transaction that holds the session row. */
  async #executeRotation(
    c: pg.PoolClient,
    plan: RotationPlan,
    newHash: string,
    sessionId: string,
  ): Promise<void> {
    const db = this.#db;
    const s = this.#s;
    const addToken = (generation: number) =>
      db.exec(c, `INSERT INTO ${s}.refresh_tokens (hash, session_id, generation) VALUES ($1, $2, $3)`, [
        newHash,
        sessionId,
        generation,
      ]);
    if (plan.write === "advance") {
      const next = plan.session;
      await db.exec(
        c,
        `UPDATE ${s}.sessions SET generation = $2, rotated_at = $3, last_used_at = $4, idle_expires_at = $5
         WHERE id = $1`,
        [
          next.id,
          next.generation,
          ms(next.rotatedAt ?? next.lastUsedAt),
          ms(next.lastUsedAt),
          ms(next.idleExpiresAt),
        ],
      );
      await addToken(plan.generation);
    } else if (plan.write === "add_token") {
      await addToken(plan.generation);
    } else if (plan.write === "revoke") {
      await db.exec(c, `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1`, [
        sessionId,
        plan.session.revokedAt,
        plan.session.revokeReason,
      ]);
      const appended = await db.exec(c, appendSql(s), appendParams([plan.entry], db.config.channel));
      if (appended.rows[0]?.last_seq === undefined) throw new SchemaGoneError("state row missing");
    }
  }

  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    const s = this.#s;
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT t.generation AS token_generation, ${prefixed("s", SESSION_COLUMNS)}
         FROM ${s}.refresh_tokens t JOIN ${s}.sessions s ON s.id = t.session_id
         WHERE t.hash = $1`,
        [hash],
      );
      const row = rows[0];
      return row ? { session: toSession(row), generation: Number(row.token_generation) } : null;
    });
  }

  /**
   * Executes `planSessionRevocation`. The plan depends only on the session's id and `meta`, so the
   * read needs no lock: the write is one statement that marks the session only if it is still not
   * revoked, and appends the feed entry only if that changed a row (idempotent, like before plans).
   */
  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    const db = this.#db;
    const s = this.#s;
    const m = wholeMs(meta);
    return db.run(async () => {
      const found = await db.query(`SELECT ${SESSION_COLUMNS} FROM ${s}.sessions WHERE id = $1`, [sessionId]);
      const session = found[0] ? toSession(found[0]) : null;
      if (!session || session.revokedAt !== null) return false;
      const plan = planSessionRevocation(session, m);
      const rows = await db.query(
        appendSql(
          s,
          `changed AS (UPDATE ${s}.sessions SET revoked_at = $12, revoke_reason = $13
                       WHERE id = $14 AND revoked_at IS NULL RETURNING id)`,
          "EXISTS (SELECT 1 FROM changed)",
        ),
        [
          ...appendParams([plan.entry], db.config.channel),
          plan.revoked.revokedAt,
          plan.revoked.revokeReason,
          sessionId,
        ],
      );
      return rows.length > 0;
    });
  }

  /**
   * Executes `planUserCutoff` on the user's flag row, locked (which orders it against session
   * creation, see {@link createSession}): the cutoff and its feed entry, one transaction, constant size.
   */
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    const db = this.#db;
    const s = this.#s;
    const m = wholeMs(meta);
    const except = options?.exceptSessionId ?? null;
    return db.run(() =>
      db.tx(async (c) => {
        const flag = (
          options?.disable
            ? await db.exec(
                c,
                `INSERT INTO ${s}.user_flags (user_id, disabled_at) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET disabled_at = COALESCE(user_flags.disabled_at, EXCLUDED.disabled_at)
                 RETURNING cutoff, except_session, cutoff_expires_at`,
                [userId, m.at],
              )
            : await db.exec(c, this.#lockUserFlag, [userId])
        ).rows[0];
        const prevCutoff = toUserCutoff(flag?.cutoff, flag?.except_session);
        const prev = prevCutoff && { ...prevCutoff, expiresAt: num(flag?.cutoff_expires_at ?? 0) };
        // Read after the lock was granted (a new statement sees every session committed meanwhile):
        // the newest session, so that the cutoff covers every session already written, even one
        // stamped by a node whose clock runs ahead; and the spared session's authentication time.
        const read = (
          await db.exec(
            c,
            `SELECT (SELECT max(created_at) FROM ${s}.sessions WHERE user_id = $1) AS newest,
                    (SELECT created_at FROM ${s}.sessions WHERE id = $2 AND user_id = $1) AS kept_at`,
            [userId, except],
          )
        ).rows[0];
        const keptAt = numOrNull(read?.kept_at);
        const plan = planUserCutoff(
          userId,
          m,
          prev,
          numOrNull(read?.newest),
          keptAt === null ? null : { userId, createdAt: keptAt },
          except,
        );
        // One statement: the flag row's cutoff and the feed entry.
        const appended = await db.exec(
          c,
          appendSql(
            s,
            `cut AS (UPDATE ${s}.user_flags SET cutoff = $13, except_session = $14, cutoff_expires_at = $15
                     WHERE user_id = $12 RETURNING 1)`,
          ),
          [
            ...appendParams([plan.entry], db.config.channel),
            userId,
            plan.cutoff.cutoff,
            plan.cutoff.exceptSessionId,
            plan.expiresAt,
          ],
        );
        if (appended.rows[0]?.last_seq === undefined) throw new SchemaGoneError("state row missing");
        return plan.cutoff;
      }),
    );
  }

  async enableUser(userId: string): Promise<void> {
    await this.#db.run(() =>
      this.#db.query(`UPDATE ${this.#s}.user_flags SET disabled_at = NULL WHERE user_id = $1`, [userId]),
    );
  }

  async isUserDisabled(userId: string): Promise<boolean> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT 1 FROM ${this.#s}.user_flags WHERE user_id = $1 AND disabled_at IS NOT NULL`,
        [userId],
      );
      return rows.length > 0;
    });
  }
}

/** `meta` with its time and lifetime in whole milliseconds (and checked to be finite numbers). */
function wholeMs(meta: RevocationMeta): RevocationMeta {
  return { ...meta, at: ms(meta.at), ttl: ms(meta.ttl) };
}
