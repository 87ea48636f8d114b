/** Rules of the change feed that every store follows. Pure. */
import type { ChangeBatch, RevocationSnapshot } from "./model.js";

/**
 * The batch a change feed answers to a reader whose place in the feed is gone (trimmed or purged):
 * every active entry and the global cutoff again (as a `global` entry at `seq`), with the snapshot's
 * cursor. Entries may arrive twice; a replica applies them idempotently.
 * @example return resyncBatch(await snapshot(now), snap.cursor);
 */
export function resyncBatch(snap: RevocationSnapshot, seq: string): ChangeBatch {
  const entries = [...snap.entries];
  if (snap.globalCutoff > 0) {
    entries.push({
      seq,
      kind: "global",
      subject: "",
      cutoff: snap.globalCutoff,
      expiresAt: Number.MAX_SAFE_INTEGER,
      reason: "feed_resync",
      actor: "system",
      at: snap.globalCutoff,
    });
  }
  return { entries, cursor: snap.cursor, epoch: snap.epoch };
}
