import type { StatusEntry, StatusRegistry } from "../status/types.js";
import type { PostgresOutboxAccess } from "./outbox.js";

/** The {@link StatusRegistry} of a PostgreSQL store: a counter row per list, locked by its update. */
export class PostgresStatusRegistry implements StatusRegistry {
  readonly #q: PostgresOutboxAccess["query"];
  readonly #s: string;

  constructor(access: PostgresOutboxAccess) {
    this.#q = access.query;
    this.#s = access.schema;
  }

  /** Nothing to do: the tables come with the store's schema (its migrations, under their lock). */
  async init(): Promise<void> {}

  async allocate(list: number, t: Omit<StatusEntry, "idx">, keepUntil: number): Promise<number> {
    const rows = await this.#q(
      `WITH c AS (
         INSERT INTO ${this.#s}.status_lists AS l (list, next, keep_until) VALUES ($1, 1, $6)
         ON CONFLICT (list) DO UPDATE SET next = l.next + 1, keep_until = GREATEST(l.keep_until, excluded.keep_until)
         RETURNING next - 1 AS idx)
       INSERT INTO ${this.#s}.status_entries (list, idx, jti, sid, sub, iat, exp, auth_time)
       SELECT $1, c.idx, $2, $3, $7, $4, $5, $8 FROM c RETURNING idx`,
      [list, t.jti, t.sid, t.iat, t.exp, keepUntil, t.sub, Math.round(t.authTime)],
    );
    return Number(rows[0]?.idx);
  }

  async entries(list: number, afterIdx: number, limit: number): Promise<StatusEntry[]> {
    const rows = await this.#q(
      `SELECT idx, jti, sid, sub, iat, exp, auth_time FROM ${this.#s}.status_entries WHERE list = $1 AND idx > $2 ORDER BY idx LIMIT $3`,
      [list, afterIdx, limit],
    );
    return rows.map((r) => ({
      idx: Number(r.idx),
      jti: String(r.jti),
      sid: String(r.sid),
      sub: String(r.sub),
      iat: Number(r.iat),
      exp: Number(r.exp),
      authTime: Number(r.auth_time),
    }));
  }

  async purge(now: number): Promise<void> {
    await this.#q(
      `WITH gone AS (DELETE FROM ${this.#s}.status_lists WHERE keep_until <= $1 RETURNING list)
       DELETE FROM ${this.#s}.status_entries WHERE list IN (SELECT list FROM gone)`,
      [now],
    );
  }
}
