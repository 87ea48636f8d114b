/**
 * The checkpoint of a PostgreSQL store: one row (see `RevocationStore.readCheckpoint`).
 * @module
 */
import type { RevocationCheckpoint } from "../../core/model.js";
import type { PgDb } from "./db.js";

/** The checkpoint part of the PostgreSQL store. */
export class PostgresCheckpoints {
  readonly #db: PgDb;
  readonly #s: string;

  constructor(db: PgDb) {
    this.#db = db;
    this.#s = db.config.s;
  }

  /** The newest checkpoint, or `null` (a read allowed four query timeouts: it may be megabytes). */
  async readCheckpoint(): Promise<RevocationCheckpoint | null> {
    return this.#db.run(() =>
      this.#db.withClient(async (c) => {
        const rows = await this.#db.execArrays(
          c,
          `SELECT taken_at, data FROM ${this.#s}.checkpoint WHERE id = 1`,
          [],
        );
        const row = rows[0];
        if (!row) return null;
        const [takenAt, data] = row;
        if (!Buffer.isBuffer(data)) throw new TypeError("postgres store: a checkpoint row is malformed");
        return { takenAt: Number(takenAt), data };
      }),
    );
  }

  /** When the newest checkpoint was taken, 0 when none. */
  async checkpointTakenAt(): Promise<number> {
    return this.#db.run(async () => {
      const rows = await this.#db.query(`SELECT taken_at FROM ${this.#s}.checkpoint WHERE id = 1`);
      return rows[0] ? Number(rows[0].taken_at) : 0;
    });
  }

  /** Stores `checkpoint` unless the stored one was taken at the same time or later (one statement). */
  async writeCheckpoint(checkpoint: RevocationCheckpoint): Promise<boolean> {
    const data = Buffer.from(checkpoint.data.buffer, checkpoint.data.byteOffset, checkpoint.data.byteLength);
    return this.#db.run(() =>
      this.#db.withClient(async (c) => {
        const result = await this.#db.exec(
          c,
          `INSERT INTO ${this.#s}.checkpoint (id, taken_at, data) VALUES (1, $1, $2)
           ON CONFLICT (id) DO UPDATE SET taken_at = EXCLUDED.taken_at, data = EXCLUDED.data
           WHERE ${this.#s}.checkpoint.taken_at < EXCLUDED.taken_at`,
          [checkpoint.takenAt, data],
        );
        return (result.rowCount ?? 0) > 0;
      }),
    );
  }
}
