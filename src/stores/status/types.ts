/**
 * Index allocation for Token Status Lists, kept in the store so that every node sharing it hands out
 * each index of a list once: a list per time window, a counter per list, and for each index the
 * token it stands for (so any node can tell its status from the revocations). Implemented for every store.
 */

/** The token an index of a status list stands for. */
export interface StatusEntry {
  idx: number;
  jti: string;
  sid: string;
  /** The token's `sub` (user id). */
  sub: string;
  /** `iat` and `exp` of the token, seconds. */
  iat: number;
  exp: number;
  /** When the session's credentials were checked, ms (the token's `auth_time`), for user cutoffs. */
  authTime: number;
}

/** The store side of status lists. */
export interface StatusRegistry {
  /** Creates what the registry needs in the store. Idempotent. */
  init(): Promise<void>;
  /**
   * Gives the token the next index of `list` and records it. Atomic across nodes: concurrent callers
   * never get the same index of one list. `keepUntil` (ms) is when the list may be forgotten.
   */
  allocate(list: number, token: Omit<StatusEntry, "idx">, keepUntil: number): Promise<number>;
  /** The entries of `list` with an index above `afterIdx`, by index, at most `limit`. */
  entries(list: number, afterIdx: number, limit: number): Promise<StatusEntry[]>;
  /** Forgets the lists whose `keepUntil` has passed. */
  purge(now: number): Promise<void>;
}
