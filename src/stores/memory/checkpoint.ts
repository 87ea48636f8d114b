/** The checkpoint of a memory store: see `RevocationStore.readCheckpoint`. */
import type { RevocationCheckpoint } from "../../core/model.js";
import type { MemoryTables } from "./tables.js";

/** The newest checkpoint (a copy), or `null`. */
export function readCheckpoint(t: MemoryTables): RevocationCheckpoint | null {
  return t.checkpoint && { takenAt: t.checkpoint.takenAt, data: t.checkpoint.data.slice() };
}

/** When the newest checkpoint was taken, 0 when none. */
export function checkpointTakenAt(t: MemoryTables): number {
  return t.checkpoint?.takenAt ?? 0;
}

/** Keeps a copy of `checkpoint` unless the stored one was taken at the same time or later. */
export function writeCheckpoint(t: MemoryTables, checkpoint: RevocationCheckpoint): boolean {
  if (t.checkpoint && t.checkpoint.takenAt >= checkpoint.takenAt) return false;
  t.checkpoint = { takenAt: checkpoint.takenAt, data: checkpoint.data.slice() };
  return true;
}
