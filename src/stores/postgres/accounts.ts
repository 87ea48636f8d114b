/**
 * The `AccountStore` part: the standalone server's users, OAuth clients and rate-limit counters.
 * (A user's disabled flag and cutoff live on its flag row, with the sessions: `sessions.ts`.)
 * @module
 */
import type { ClientRecord, UserRecord } from "../../core/model.js";
import type { AccountStore, StoreLifecycle } from "../contract.js";
import type { PgDb } from "./db.js";
import { ms, num, toClient, toUser } from "./rows.js";

type Accounts = Omit<AccountStore, keyof StoreLifecycle>;

/** Users, clients and rate limits of the PostgreSQL store (see `AccountStore` for the guarantees). */
export class PostgresAccounts implements Accounts {
  readonly #db: PgDb;
  readonly #s: string;

  constructor(db: PgDb) {
    this.#db = db;
    this.#s = db.config.s;
  }

  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `INSERT INTO ${this.#s}.users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id`,
        [user.id, user.username.toLowerCase(), user.passwordHash, ms(user.createdAt)],
      );
      return rows.length > 0 ? "created" : "taken";
    });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.#db.run(async () => (await this.#users("u.id = $1", [id]))[0] ?? null);
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    return this.#db.run(
      async () => (await this.#users("u.username = $1", [username.toLowerCase()]))[0] ?? null,
    );
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.#db.run(async () =>
      (await this.#users("true", [])).sort((a, b) => a.username.localeCompare(b.username)),
    );
  }

  async #users(where: string, values: unknown[]): Promise<UserRecord[]> {
    const rows = await this.#db.query(
      `SELECT u.id, u.username, u.password_hash, u.created_at, f.disabled_at
       FROM ${this.#s}.users u LEFT JOIN ${this.#s}.user_flags f ON f.user_id = u.id WHERE ${where}`,
      values,
    );
    return rows.map(toUser);
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `UPDATE ${this.#s}.users SET password_hash = $2 WHERE id = $1 RETURNING id`,
        [userId, passwordHash],
      );
      return rows.length > 0;
    });
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#db.run(() => this.#db.query(`DELETE FROM ${this.#s}.users WHERE id = $1`, [userId]));
  }

  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `INSERT INTO ${this.#s}.clients (client_id, secret_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
        [client.clientId, client.secretHash, ms(client.createdAt)],
      );
      return rows.length > 0 ? "created" : "exists";
    });
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT client_id, secret_hash, created_at FROM ${this.#s}.clients WHERE client_id = $1`,
        [clientId],
      );
      return rows[0] ? toClient(rows[0]) : null;
    });
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(`SELECT client_id, secret_hash, created_at FROM ${this.#s}.clients`);
      return rows.map(toClient).sort((a, b) => a.clientId.localeCompare(b.clientId));
    });
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `DELETE FROM ${this.#s}.clients WHERE client_id = $1 RETURNING client_id`,
        [clientId],
      );
      return rows.length > 0;
    });
  }

  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    return this.#db.run(async () => {
      // One statement: a window that ended restarts at this hit; otherwise the count goes up.
      const rows = await this.#db.query(
        `INSERT INTO ${this.#s}.rate_limits AS r (key, count, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN r.reset_at <= $2::bigint THEN 1 ELSE r.count + 1 END,
           reset_at = CASE WHEN r.reset_at <= $2::bigint THEN $2::bigint + $3::bigint ELSE r.reset_at END
         RETURNING count, reset_at`,
        [key, ms(now), ms(windowMs)],
      );
      const r = rows[0];
      if (!r) throw new Error("the rate-limit upsert returned no row");
      return { count: Number(r.count), resetAt: num(r.reset_at) };
    });
  }

  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT count, reset_at FROM ${this.#s}.rate_limits WHERE key = $1 AND reset_at > $2`,
        [key, ms(now)],
      );
      const r = rows[0];
      return r ? { count: Number(r.count), resetAt: num(r.reset_at) } : { count: 0, resetAt: now };
    });
  }

  async resetRateLimit(key: string): Promise<void> {
    await this.#db.run(() => this.#db.query(`DELETE FROM ${this.#s}.rate_limits WHERE key = $1`, [key]));
  }
}
