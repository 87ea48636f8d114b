import type { SnapshotHead, SnapshotSink } from "../core/model.js";
import type { RevocationStore } from "../stores/contract.js";
import type { RevocationIndex } from "./index.js";

/**
 * Where a {@link Replica} reads revocations from: the few calls it makes. Every `Store` is one; the
 * remote verifier (`revokit/verifier`) provides one that follows a server's revocation feed over HTTP.
 * The guarantees are those of the same methods of `Store`: a snapshot and its cursor, then every
 * entry after that cursor, never skipping one, with the store's epoch so a data loss is seen.
 */
export type RevocationFeed = Pick<
  RevocationStore,
  | "check"
  | "snapshot"
  | "changes"
  | "addRevocation"
  | "readCheckpoint"
  | "checkpointTakenAt"
  | "writeCheckpoint"
> & {
  /**
   * As `Store.snapshotInto`; a feed that receives ids as raw words (the remote verifier's binary
   * snapshot) may add `jti` and `session` entries straight into `indexes` instead of calling `apply`.
   */
  snapshotInto?(
    now: number,
    apply: SnapshotSink,
    indexes?: { jtis: RevocationIndex; sessions: RevocationIndex },
  ): Promise<SnapshotHead>;
};
