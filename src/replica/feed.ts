import type { Store } from "../stores/types.js";

/**
 * Where a {@link Replica} reads revocations from: the few calls it makes. Every `Store` is one; the
 * remote verifier (`revokit/verifier`) provides one that follows a server's revocation feed over HTTP.
 * The guarantees are those of the same methods of `Store`: a snapshot and its cursor, then every
 * entry after that cursor, never skipping one, with the store's epoch so a data loss is seen.
 */
export type RevocationFeed = Pick<Store, "check" | "snapshot" | "changes" | "addRevocation"> &
  Partial<Pick<Store, "snapshotInto">>;
