/**
 * The store contract. Every store (memory, SQLite, Redis, PostgreSQL) implements {@link Store};
 * one contract suite (`test/contract/`) runs the same checks against each.
 *
 * Units: every time is milliseconds since the Unix epoch (`number`), every duration milliseconds.
 * Times are always passed in by the caller (the core owns the clock); a store never reads its own
 * clock for a decision, except to expire rows, which it may do with the `now` it was last given or
 * its own clock, whichever is earlier.
 *
 * Errors: a store throws `StoreUnavailableError` (code `ERR_STORE_UNAVAILABLE`) when it cannot
 * complete a call; a call that threw may or may not have happened, and every write is idempotent so
 * that the caller can retry it.
 */

/** A signing key as kept in the store. The private part never leaves the store and this process. */
export interface StoredKey {
  /** Key id, unique in the store. */
  kid: string;
  /** The one algorithm this key may be used with. */
  alg: "EdDSA" | "ES256" | "RS256" | "HS256";
  /** Private (or, for HS256, secret) key as a JWK. */
  privateJwk: Record<string, unknown>;
  /** Public key as a JWK; `null` for HS256. */
  publicJwk: Record<string, unknown> | null;
  /** When the key was created. */
  createdAt: number;
  /** From when nodes sign with it (it is published before then). */
  activateAt: number;
}

/** A login session (one device). Its refresh tokens form one chain of generations. */
export interface SessionRecord {
  /** Session id (`sid` claim), >= 128 random bits. */
  id: string;
  userId: string;
  /** OAuth client the session belongs to (`client_id` claim); `default` for first-party logins. */
  clientId: string;
  createdAt: number;
  /** Last login or refresh. */
  lastUsedAt: number;
  /** Absolute end of the session. */
  expiresAt: number;
  /** End of the session if it stays unused (min of lastUsedAt + idle TTL and expiresAt). */
  idleExpiresAt: number;
  /** As received at login, `null` when absent. */
  userAgent: string | null;
  ip: string | null;
  /** Custom claims copied into every access token of the session. */
  claims: Record<string, unknown> | null;
  /** Space-separated scope, or `null`. */
  scope: string | null;
  /** Generation of the current refresh token (the first one is 0). */
  generation: number;
  /** When the current refresh token superseded its predecessor; `null` before the first rotation. */
  rotatedAt: number | null;
  /** When the session was revoked, `null` while live. */
  revokedAt: number | null;
  /** Why it was revoked (`logout`, `logout_all`, `password_change`, `refresh_token_reuse`, ...). */
  revokeReason: string | null;
}

/** Who revoked what, why, and for how long the denylist entry must live. */
export interface RevocationMeta {
  /** Machine-readable reason: `logout`, `logout_all`, `password_change`, `user_disabled`, ... */
  reason: string;
  /** Who did it: a user id, `admin`, `system`, a client id. */
  actor: string;
  /** When. */
  at: number;
  /**
   * For session and user grains: how long after `at` an access token of the session can still be
   * valid (the access-token TTL plus clock tolerance). The feed entry expires at `at + ttl`.
   */
  ttl: number;
}

/** One revocation as recorded and delivered by the change feed. */
export interface RevocationEntry {
  /** Position in the feed, assigned by the store; increasing in feed order. */
  seq: string;
  /**
   * `jti`: one access token. `session`: every token of a session. `user`: an audit record of a
   * user-wide revocation (its sessions arrive as `session` entries). `global`: every token issued
   * before `cutoff`.
   */
  kind: "jti" | "session" | "user" | "global";
  /** The jti, session id or user id; `""` for global. */
  subject: string;
  /** For `global`: the cutoff (ms); tokens with `iat * 1000 < cutoff` rounded up to the second are revoked. */
  cutoff?: number;
  /** After this time the entry covers no valid token and may be forgotten. */
  expiresAt: number;
  reason: string;
  actor: string;
  at: number;
}

/** A revocation to record (the store assigns `seq`). */
export type NewRevocation = Omit<RevocationEntry, "seq">;

/** What `rotateRefreshToken` needs; every decision input is passed in. */
export interface RotateInput {
  /** SHA-256 (base64url) of the refresh token presented. */
  presentedHash: string;
  /** Hash of the new refresh token to store if the rotation wins. */
  newHash: string;
  now: number;
  /** For this long after a rotation (exclusive), the immediate predecessor may still be used; 0 turns the window off. */
  graceMs: number;
  /** Idle lifetime: the session ends this long after its last use (capped by `expiresAt`). */
  idleTtlMs: number;
  /** The revocation to record if this is a reuse (theft): the store revokes the session with it. */
  reuseMeta: RevocationMeta;
}

/** Outcome of a rotation attempt. */
export type RotateResult =
  /** The presented token was current (or the immediate predecessor within the grace window); `session` is the updated session. */
  | { status: "rotated"; session: SessionRecord; grace: boolean }
  /** No refresh token has that hash. */
  | { status: "unknown" }
  /** The session is revoked, or ended by its absolute or idle lifetime. Nothing changed. */
  | { status: "revoked" | "expired" | "idle_expired"; session: SessionRecord }
  /** Reuse of a superseded token: the store revoked the session in the same atomic step. */
  | { status: "reused"; session: SessionRecord };

/** A point answer from the store, used when the replica is stale and by strict routes. */
export interface RevocationCheck {
  jtiRevoked: boolean;
  sessionRevoked: boolean;
  /** The global cutoff in ms (0 when none). */
  globalCutoff: number;
}

/** A user account of the standalone server. Library users may keep their users elsewhere. */
export interface UserRecord {
  id: string;
  /** Unique, compared case-insensitively (stored lower-cased). */
  username: string;
  /** An encoded password hash (`scrypt$...`); never the password. */
  passwordHash: string;
  createdAt: number;
  /** `null` while enabled. */
  disabledAt: number | null;
}

/** An OAuth client. Public clients have no secret. */
export interface ClientRecord {
  clientId: string;
  /** An encoded hash of the client secret, `null` for public clients. */
  secretHash: string | null;
  createdAt: number;
}

/** Snapshot of the active revocations, and the feed position it corresponds to. */
export interface RevocationSnapshot {
  /** Active (unexpired) `jti` and `session` entries. */
  entries: RevocationEntry[];
  /** Current global cutoff (0 when none). */
  globalCutoff: number;
  /** Feed position: `changes(cursor)` returns everything recorded after the snapshot. */
  cursor: string;
  /** Identity of the store's data (the first-start marker); changes when the store lost its data. */
  epoch: string;
}

/** The feed position, cutoff and epoch of a streamed snapshot ({@link Store.snapshotInto}). */
export type SnapshotHead = Omit<RevocationSnapshot, "entries">;

/** Receives one active entry of a streamed snapshot: only what a replica needs. */
export type SnapshotSink = (kind: "jti" | "session", subject: string, expiresAt: number) => void;

/** A batch of feed entries. */
export interface ChangeBatch {
  entries: RevocationEntry[];
  cursor: string;
  epoch: string;
}

/** Options of {@link Store.open}. */
export interface StoreOpenOptions {
  /**
   * `true` (default): create and initialise the store when it does not exist. `false`: open only an
   * existing, initialised store (what admin tools want: a mistyped address must not make a new one).
   */
  create?: boolean;
}

/** The contract between the core and a storage backend. */
export interface Store {
  /** Short name for logs and metrics: `memory`, `sqlite`, `redis`, `postgres`. */
  readonly kind: string;
  /** Whether data survives a restart of this process. */
  readonly durable: boolean;

  /**
   * Connects, migrates, runs start-up checks, writes the first-start marker. Idempotent. With
   * `{ create: false }` it opens only a store that exists and was initialised, creating nothing (no
   * file, folder, schema, key or marker), and throws `StoreMissingError` otherwise.
   */
  open(options?: StoreOpenOptions): Promise<void>;
  /** Releases connections and timers. Idempotent. Pending `changes` calls resolve or reject promptly. */
  close(): Promise<void>;

  // ---- keys -------------------------------------------------------------------------------------
  /** Every stored key, oldest first. */
  listKeys(): Promise<StoredKey[]>;
  /**
   * Adds a key. With `ifNoKeyFor`, adds it only if no key of that algorithm exists yet (atomic:
   * of concurrent first starts exactly one key wins). Returns whether it was added. Idempotent by kid.
   */
  addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean>;
  /** Deletes a key by kid. Idempotent. */
  deleteKey(kid: string): Promise<void>;

  // ---- sessions and refresh tokens --------------------------------------------------------------
  /**
   * Creates a session with its first refresh token (generation 0, hash `refreshHash`).
   * Atomic with the user's disabled flag: returns `"user_disabled"` and creates nothing when the
   * user is disabled.
   */
  createSession(session: SessionRecord, refreshHash: string): Promise<"created" | "user_disabled">;
  /** A session by id, revoked or not; `null` when unknown or purged. */
  getSession(id: string): Promise<SessionRecord | null>;
  /** The user's sessions that are not revoked and not expired at `now`, newest first. */
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * Rotates a refresh token. Atomic: across concurrent callers presenting the same token exactly
   * one rotation wins (`rotated`); the others see `reused` (outside the grace window) or `rotated`
   * with `grace: true` only when their token is the immediate predecessor of the current one and
   * the grace window is open, and then the winner's token is superseded in turn, so there is never
   * more than one live chain. The decision is `decideRotation` of the core, taken on the stored state.
   */
  rotateRefreshToken(input: RotateInput): Promise<RotateResult>;
  /** The session and generation a refresh-token hash belongs to, without changing anything. */
  findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null>;
  /**
   * Revokes a session and records a `session` feed entry expiring at `meta.at + meta.ttl`.
   * Idempotent: returns `false` (and records nothing) when the session is unknown or already revoked.
   */
  revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean>;
  /**
   * Revokes every live session of a user except `exceptSessionId`, recording one `session` entry
   * per session and one `user` audit entry. With `disable`, also sets the user's disabled flag in the
   * same atomic step, so no session can be created afterwards. Returns the revoked session ids.
   */
  revokeUserSessions(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<string[]>;
  /** Clears the user's disabled flag. Idempotent. */
  enableUser(userId: string): Promise<void>;
  /** Whether the user's disabled flag is set. */
  isUserDisabled(userId: string): Promise<boolean>;

  // ---- revocations and the change feed ----------------------------------------------------------
  /**
   * Records a `jti` or `global` revocation (a `global` one only moves the cutoff forward: an older
   * cutoff than the current one records nothing). Idempotent: revoking a jti twice keeps the later
   * `expiresAt`. Returns the recorded entry, or `null` when nothing changed.
   */
  addRevocation(entry: NewRevocation): Promise<RevocationEntry | null>;
  /** Every active entry and the feed position after them (consistent: nothing falls in between). */
  snapshot(now: number): Promise<RevocationSnapshot>;
  /**
   * Optional, the lean form of {@link snapshot} that replicas use to start: passes every active `jti`
   * and `session` entry to `apply` (an entry may come twice) without building entry objects, in pages
   * that each stay well within the store's timeouts, and returns the head. Same guarantee: everything
   * recorded after the returned cursor comes from `changes(cursor)`; nothing falls in between.
   */
  snapshotInto?(now: number, apply: SnapshotSink): Promise<SnapshotHead>;
  /**
   * Entries recorded after `cursor`, in order, at most `limit`. When there are none, waits up to
   * `waitMs` for one (a long poll) and then returns an empty batch. Never skips an entry: a cursor
   * from an earlier call resumes exactly after what that call returned, across reconnects.
   */
  changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch>;
  /** A point lookup of revocation state, straight from the store (no replica). */
  check(query: { jti?: string; sessionId?: string }, now: number): Promise<RevocationCheck>;
  /** Deletes expired entries, sessions and refresh tokens. Returns how many rows went. */
  purge(now: number): Promise<number>;

  // ---- users, clients and rate limits (the standalone server) -----------------------------------
  /** Creates a user; returns `"taken"` when the username (case-insensitive) exists. */
  createUser(user: UserRecord): Promise<"created" | "taken">;
  /** A user by id or `null`. */
  getUser(id: string): Promise<UserRecord | null>;
  /** A user by username (case-insensitive) or `null`. */
  getUserByName(username: string): Promise<UserRecord | null>;
  /** Every user, by username. */
  listUsers(): Promise<UserRecord[]>;
  /** Replaces a user's password hash. Returns `false` when the user is unknown. */
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>;
  /** Deletes a user record (its sessions are revoked separately). Idempotent. */
  deleteUser(userId: string): Promise<void>;

  /** Adds a client; returns `"exists"` when the id is taken. */
  addClient(client: ClientRecord): Promise<"created" | "exists">;
  getClient(clientId: string): Promise<ClientRecord | null>;
  listClients(): Promise<ClientRecord[]>;
  /** Removes a client. Returns whether it existed. */
  removeClient(clientId: string): Promise<boolean>;

  /**
   * Counts one hit against `key` in a fixed window of `windowMs` starting at the first hit.
   * Atomic across nodes sharing the store. Returns the count including this hit and when the window ends.
   */
  hitRateLimit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }>;
  /** Reads the count without adding a hit. */
  peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }>;
  /** Clears a counter. Idempotent. */
  resetRateLimit(key: string): Promise<void>;
}
