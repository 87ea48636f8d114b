/** Counters an `Auth` keeps; the server renders them in Prometheus text format. */
export class AuthMetrics {
  /** `verify` outcomes by result: `valid`, `invalid`, `expired`, `revoked_token`, `revoked_session`, `revoked_user`, `revoked_global`, `unavailable`. */
  readonly verify = new Map<string, number>();
  /** Revocations by `grain` and `reason`, keyed `grain|reason`. */
  readonly revocations = new Map<string, number>();
  /** Refresh-token reuse detections (theft). */
  refreshReuse = 0;
  /** Successful refresh rotations. */
  refreshes = 0;
  /** Sessions created. */
  logins = 0;
  /** Store calls that failed. */
  storeErrors = 0;
  /** Verifications that let a token through without a current revocation check (`failMode: "open"`). */
  failOpen = 0;
  /** Verifications answered by the store because the replica was stale or the route strict. */
  storeChecks = 0;

  /** Adds one to a labelled counter. */
  count(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by);
  }
}
