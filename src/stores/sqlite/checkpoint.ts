/** The checkpoint of a SQLite store (the one-row `checkpoint` table): see `RevocationStore.readCheckpoint`. */
import type { RevocationCheckpoint } from "../../core/model.js";
import type { SqliteConnection } from "./connection.js";

/** The newest checkpoint, or `null`. */
export function readCheckpoint(db: SqliteConnection): RevocationCheckpoint | null {
  return db.run("readCheckpoint", ({ q }) => {
    const row = q.readCheckpoint.get();
    return row ? { takenAt: row.taken_at, data: row.data } : null;
  });
}

/** When the newest checkpoint was taken, 0 when none. */
export function checkpointTakenAt(db: SqliteConnection): number {
  return db.run("checkpointTakenAt", ({ q }) => q.checkpointTakenAt.get()?.taken_at ?? 0);
}

/** Stores `checkpoint` unless the stored one was taken at the same time or later (one statement). */
export function writeCheckpoint(db: SqliteConnection, checkpoint: RevocationCheckpoint): boolean {
  const data = Buffer.from(checkpoint.data.buffer, checkpoint.data.byteOffset, checkpoint.data.byteLength);
  return db.run("writeCheckpoint", ({ q }) => q.writeCheckpoint.run(checkpoint.takenAt, data).changes > 0);
}
