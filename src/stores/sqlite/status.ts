import type Database from "better-sqlite3";
import type { StatusEntry, StatusRegistry } from "../status/types.js";

/** The {@link StatusRegistry} of a SQLite store (writes are serialized, so one statement allocates). */
export class SqliteStatusRegistry implements StatusRegistry {
  readonly #db: () => Database.Database;

  constructor(db: () => Database.Database) {
    this.#db = db;
  }

  async init(): Promise<void> {
    this.#db().exec(`CREATE TABLE IF NOT EXISTS status_entries (
      list INTEGER NOT NULL, idx INTEGER NOT NULL, jti TEXT NOT NULL, sid TEXT NOT NULL, sub TEXT NOT NULL,
      iat INTEGER NOT NULL, exp INTEGER NOT NULL, auth_time INTEGER NOT NULL, keep_until INTEGER NOT NULL, PRIMARY KEY (list, idx))`);
  }

  async allocate(list: number, t: Omit<StatusEntry, "idx">, keepUntil: number): Promise<number> {
    const row = this.#db()
      .prepare(
        `INSERT INTO status_entries (list, idx, jti, sid, sub, iat, exp, auth_time, keep_until)
         SELECT @list, COALESCE(MAX(idx) + 1, 0), @jti, @sid, @sub, @iat, @exp, @authTime, @keepUntil FROM status_entries WHERE list = @list
         RETURNING idx`,
      )
      .get({
        list,
        jti: t.jti,
        sid: t.sid,
        sub: t.sub,
        iat: t.iat,
        exp: t.exp,
        authTime: Math.round(t.authTime),
        keepUntil,
      }) as {
      idx: number;
    };
    return row.idx;
  }

  async entries(list: number, afterIdx: number, limit: number): Promise<StatusEntry[]> {
    return this.#db()
      .prepare(
        "SELECT idx, jti, sid, sub, iat, exp, auth_time AS authTime FROM status_entries WHERE list = ? AND idx > ? ORDER BY idx LIMIT ?",
      )
      .all(list, afterIdx, limit) as StatusEntry[];
  }

  async purge(now: number): Promise<void> {
    this.#db().prepare("DELETE FROM status_entries WHERE keep_until <= ?").run(now);
  }
}
