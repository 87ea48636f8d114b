/**
 * Signing keys: listed oldest first; added atomically against concurrent first starts.
 * @module
 */
import type { StoredKey } from "../../core/model.js";
import type { PgDb } from "./db.js";
import { ms, toKey } from "./rows.js";

/** The key part of the PostgreSQL store (see `RevocationStore` for each method's guarantees). */
export class PostgresKeys {
  readonly #db: PgDb;
  readonly #s: string;

  constructor(db: PgDb) {
    this.#db = db;
    this.#s = db.config.s;
  }

  async listKeys(): Promise<StoredKey[]> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(
        `SELECT kid, alg, private_jwk::text AS private_jwk, public_jwk::text AS public_jwk, created_at, activate_at
         FROM ${this.#s}.keys ORDER BY created_at, pos`,
      );
      return rows.map(toKey);
    });
  }

  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    const db = this.#db;
    const s = this.#s;
    const values = [
      key.kid,
      key.alg,
      JSON.stringify(key.privateJwk),
      key.publicJwk === null ? null : JSON.stringify(key.publicJwk),
      ms(key.createdAt),
      ms(key.activateAt),
    ];
    return db.run(async () => {
      const only = options?.ifNoKeyFor;
      if (!only) {
        const rows = await db.query(
          `INSERT INTO ${s}.keys (kid, alg, private_jwk, public_jwk, created_at, activate_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING RETURNING kid`,
          values,
        );
        return rows.length > 0;
      }
      // Concurrent first starts: the lock makes "no key of this algorithm yet" and the insert one step.
      return db.tx(async (c) => {
        await db.exec(c, "SELECT pg_advisory_xact_lock(hashtext($1))", [`revokit:${db.config.schema}:keys`]);
        const { rows } = await db.exec(
          c,
          `INSERT INTO ${s}.keys (kid, alg, private_jwk, public_jwk, created_at, activate_at)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE NOT EXISTS (SELECT 1 FROM ${s}.keys WHERE alg = $7)
           ON CONFLICT (kid) DO NOTHING RETURNING kid`,
          [...values, only],
        );
        return rows.length > 0;
      });
    });
  }

  async deleteKey(kid: string): Promise<void> {
    await this.#db.run(() => this.#db.query(`DELETE FROM ${this.#s}.keys WHERE kid = $1`, [kid]));
  }
}
