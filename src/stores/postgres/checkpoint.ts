/**
 * The checkpoint of a PostgreSQL store (see `RevocationStore.readCheckpoint`): one row holding when
 * it was taken and how many chunks it has, and the bytes in chunks of {@link CHUNK_BYTES} in
 * `checkpoint_chunks`, keyed by the same `taken_at`. A write replaces the row and the chunks in one
 * transaction; a read is one statement (one snapshot), so it never mixes two checkpoints.
 *
 * Why chunks: a single value of tens of megabytes comes through the driver in over a second (its
 * message is reassembled from many socket reads); the same bytes in rows of 16 KiB take a tenth of
 * that. A checkpoint written by the previous version (all in `checkpoint.data`, no chunks) is still
 * read.
 * @module
 */
import type { RevocationCheckpoint } from "../../core/model.js";
import type { PgDb } from "./db.js";

/** Bytes per chunk row. */
export const CHUNK_BYTES = 16 * 1024;
/** Chunks per INSERT statement (1 MiB of parameters). */
const CHUNKS_PER_INSERT = 64;
const EMPTY = Buffer.alloc(0);

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
    const s = this.#s;
    return this.#db.run(() =>
      this.#db.withClient(async (c) => {
        const rows = await this.#db.execArrays(
          c,
          `SELECT c.taken_at, c.chunks, length(c.data), k.i, k.data
           FROM ${s}.checkpoint c LEFT JOIN ${s}.checkpoint_chunks k ON k.taken_at = c.taken_at
           WHERE c.id = 1 ORDER BY k.i`,
          [],
        );
        const first = rows[0];
        if (!first) return null;
        const takenAt = Number(first[0]);
        const chunks = Number(first[1]);
        if (first[4] === null && Number(first[2]) > 0) {
          // Written by the previous version: the bytes in the row itself (its chunk count is stale).
          const legacy = await this.#db.execArrays(
            c,
            `SELECT data FROM ${s}.checkpoint WHERE id = 1 AND taken_at = $1`,
            [takenAt],
          );
          const data = legacy[0]?.[0];
          // Replaced between the two reads (only during a rolling upgrade): read as none, so the
          // replica reads every revocation instead.
          if (data === undefined) return null;
          return { takenAt, data: bytes(data) };
        }
        if (chunks === 0 && first[4] === null) return { takenAt, data: EMPTY };
        if (rows.length !== chunks) {
          throw new TypeError(`postgres store: the checkpoint has ${rows.length} of its ${chunks} chunks`);
        }
        const parts = rows.map((r, i) => {
          if (Number(r[3]) !== i) throw new TypeError("postgres store: a checkpoint chunk is missing");
          return bytes(r[4]);
        });
        return { takenAt, data: Buffer.concat(parts) };
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

  /**
   * Stores `checkpoint` unless the stored one was taken at the same time or later: one transaction
   * whose first statement updates the row only when newer (and holds its lock), so concurrent
   * writers queue and the newest stays; the older chunks go in the same transaction.
   */
  async writeCheckpoint(checkpoint: RevocationCheckpoint): Promise<boolean> {
    const s = this.#s;
    const data = Buffer.from(checkpoint.data.buffer, checkpoint.data.byteOffset, checkpoint.data.byteLength);
    const chunks = Math.ceil(data.byteLength / CHUNK_BYTES);
    return this.#db.run(() =>
      this.#db.tx(async (c) => {
        const won = await this.#db.exec(
          c,
          `INSERT INTO ${s}.checkpoint (id, taken_at, data, chunks) VALUES (1, $1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET taken_at = EXCLUDED.taken_at, data = EXCLUDED.data, chunks = EXCLUDED.chunks
           WHERE ${s}.checkpoint.taken_at < EXCLUDED.taken_at`,
          [checkpoint.takenAt, EMPTY, chunks],
        );
        if ((won.rowCount ?? 0) === 0) return false;
        await this.#db.exec(c, `DELETE FROM ${s}.checkpoint_chunks WHERE taken_at <> $1`, [
          checkpoint.takenAt,
        ]);
        for (let from = 0; from < chunks; from += CHUNKS_PER_INSERT) {
          const to = Math.min(chunks, from + CHUNKS_PER_INSERT);
          const values: unknown[] = [checkpoint.takenAt];
          const tuples: string[] = [];
          for (let i = from; i < to; i++) {
            values.push(i, data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
            tuples.push(`($1, $${values.length - 1}, $${values.length})`);
          }
          await this.#db.exec(
            c,
            `INSERT INTO ${s}.checkpoint_chunks (taken_at, i, data) VALUES ${tuples.join(", ")}`,
            values,
          );
        }
        return true;
      }),
    );
  }
}

/** A `bytea` value as the driver returns it. */
function bytes(value: unknown): Buffer {
  if (!Buffer.isBuffer(value)) throw new TypeError("postgres store: a checkpoint row is malformed");
  return value;
}
