/**
 * Loading a replica from the store's newest checkpoint: the compact snapshot some node wrote at one
 * feed position, then the feed after that position, until a short batch proves it current.
 */
import type { RevocationEntry, SnapshotHead } from "../core/model.js";
import type { RevocationFeed } from "./feed.js";
import { SnapshotDecoder, type SnapshotTarget } from "./snapshot-codec.js";

/** Where a checkpoint and the feed after it go. */
export interface CheckpointTarget extends SnapshotTarget {
  /** One feed entry after the checkpoint. */
  put(entry: RevocationEntry): void;
}

/** A checkpoint loaded and caught up: its head, the cursor after the feed read, and when that read began. */
export interface LoadedCheckpoint {
  head: SnapshotHead;
  cursor: string;
  confirmedAt: number;
}

/**
 * Reads the newest checkpoint of `feed` into `target` and the feed after it, `batch` entries a call.
 * `undefined` when the store keeps none or has none, or `closed()` turned true meanwhile. Throws when
 * the checkpoint is malformed or of another epoch than the feed: the caller clears what was loaded
 * and reads the full snapshot.
 */
export async function loadCheckpoint(
  feed: RevocationFeed,
  target: CheckpointTarget,
  options: { now: () => number; closed: () => boolean; batch: number },
): Promise<LoadedCheckpoint | undefined> {
  const checkpoint = await feed.readCheckpoint?.();
  if (!checkpoint || options.closed()) return undefined;
  const decoder = new SnapshotDecoder(target);
  decoder.push(Buffer.from(checkpoint.data.buffer, checkpoint.data.byteOffset, checkpoint.data.byteLength));
  const head = decoder.end();
  let cursor = head.cursor;
  for (;;) {
    const started = options.now();
    const batch = await feed.changes(cursor, { waitMs: 0, limit: options.batch });
    if (options.closed()) return undefined;
    if (batch.epoch !== head.epoch) throw new Error("the checkpoint is of another epoch than the feed");
    for (const e of batch.entries) target.put(e);
    cursor = batch.cursor;
    // Only a short batch proves that nothing was left behind.
    if (batch.entries.length < options.batch) return { head, cursor, confirmedAt: started };
  }
}
