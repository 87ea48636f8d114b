/**
 * The store contracts. A {@link RevocationStore} is what `Auth` needs: keys, sessions and their
 * refresh-token chains, the revocation feed. An {@link AccountStore} is what the standalone server
 * needs besides: users, OAuth clients, rate limits. Every built-in backend (memory, SQLite, Redis,
 * PostgreSQL) implements both ({@link Store}); one contract suite (`test/contract/`) runs the same
 * checks against each. The rules are the core's (`src/core/refresh.ts`, `src/core/user-cutoff.ts`):
 * a store executes the plans they return, atomically, and decides nothing itself.
 *
 * Units: every time is milliseconds since the Unix epoch (`number`), every duration milliseconds.
 * Times are always passed in by the caller (the core owns the clock); a store never reads its own
 * clock for a decision, except to expire rows, which it may do with the `now` it was last given or
 * its own clock, whichever is earlier.
 *
 * The user grain is one fact: a per-user cutoff ({@link RevocationStore.cutOffUser}). Every place that decides
 * whether a session still stands (rotation, listing, `check`) applies it with the core's rules
 * (`isSessionLive`, `planRotation`), and session creation is atomic against it.
 *
 * Errors: a store throws `StoreUnavailableError` (code `ERR_STORE_UNAVAILABLE`) when it cannot
 * complete a call; a call that threw may or may not have happened, and every write is idempotent so
 * that the caller can retry it.
 */

import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationCheckpoint,
  RevocationEntry,
  RevocationMeta,
  RevocationSnapshot,
  RotateInput,
  RotateResult,
  SessionRecord,
  SnapshotHead,
  SnapshotSink,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
  UserRecord,
} from "../core/model.js";

/** Options of {@link StoreLifecycle.open}. */
export interface StoreOpenOptions {
  /**
   * `true` (default): create and initialise the store when it does not exist. `false`: open only an
   * existing, initialised store (what admin tools want: a mistyped address must not make a new one).
   */
  create?: boolean;
}

/** Opening and closing, shared by both contracts (one backend object usually serves both). */
export interface StoreLifecycle {
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
}

/** What `Auth` needs from storage: keys, sessions, rotation, the revocation feed. */
export interface RevocationStore extends StoreLifecycle {
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
   * Creates a session with its first refresh token (generation 0, hash `refreshHash`). Atomic with the
   * user's disabled flag and cutoff, whatever runs at the same moment on other nodes: returns
   * `"cut_off"` when `session.createdAt` (when the credentials were checked) is not after the user's
   * cutoff, else `"user_disabled"` when the user is disabled, and then creates nothing.
   */
  createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off">;
  /** A session by id, revoked or not; `null` when unknown or purged. */
  getSession(id: string): Promise<SessionRecord | null>;
  /** The user's live sessions at `now` (the core's `isSessionLive`, cutoffs included), newest first. */
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * Rotates a refresh token. Atomic: across concurrent callers presenting the same current token,
   * exactly one moves the session to the next generation (`rotated`); every other one, while the
   * grace window after that rotation is open, gets `rotated` with `grace: true` and its new token joins
   * that same generation (nothing else changes), so all of them succeed, every token handed out works,
   * and the session keeps exactly one live generation. Outside the window a superseded token is
   * `reused` (the session is revoked in the same step). The decision is `decideRotation` of the core,
   * taken on the stored state, global and user cutoffs included.
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
   * Ends every session of a user authenticated up to `meta.at` (except `exceptSessionId`, which is
   * spared only if the user's previous cutoff spared it too) by recording the user's cutoff: ONE
   * constant-size write and one `user` feed entry expiring at `meta.at + meta.ttl`, whatever the number
   * of sessions; nothing loops over sessions. The cutoff is at least the newest `createdAt` among the
   * user's sessions (an index lookup), so every session written before the cutoff is covered even when
   * it was stamped by a node whose clock runs ahead of the revoking node's. The cutoff only moves forward (an earlier one than the
   * recorded cutoff leaves it as it is). With `disable`, also sets the user's disabled flag in the same
   * atomic step. Returns the user's cutoff as recorded.
   */
  cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff>;
  /**
   * The sessions the user cutoff `cutoff` ended (the core's `isEndedByUserCutoff`): those of `userId`
   * not revoked themselves, within their lifetimes at `cutoff.cutoff`, authenticated at or before it,
   * except `cutoff.exceptSessionId`; newest first. Pass the cutoff as recorded (a `user` feed entry's
   * `cutoff` and `exceptSessionId`): the answer is then the same whenever it is read, as long as the
   * sessions are not purged (a session is purged only after it expired). A read: it writes nothing,
   * and never ends or changes a session. Its size is bounded by the sessions the user could hold at
   * the cutoff (the per-user session cap, `maxSessionsPerUser`, 100 by default).
   */
  listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]>;
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
  check(query: { jti?: string; sessionId?: string; userId?: string }, now: number): Promise<RevocationCheck>;
  /**
   * Records the lifetimes a node issues tokens with, only ever raising the stored maxima (atomic,
   * idempotent), and returns the maxima; without `record`, only reads them (zeros when none yet).
   * Revocation lifetimes come from these, never from the configuration of whichever process revokes.
   */
  tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes>;
  /** Deletes expired entries, sessions and refresh tokens. Returns how many rows went. */
  purge(now: number): Promise<number>;

  // ---- checkpoints (optional) -------------------------------------------------------------------
  /**
   * Optional: the newest checkpoint, or `null`. A replica that finds one loads it and follows the feed
   * from its cursor (checking the epoch) instead of reading every active revocation.
   */
  readCheckpoint?(): Promise<RevocationCheckpoint | null>;
  /** Optional (with {@link readCheckpoint}): when the newest checkpoint was taken, 0 when none. A cheap read. */
  checkpointTakenAt?(): Promise<number>;
  /**
   * Optional (with {@link readCheckpoint}): stores `checkpoint`, replacing the stored one, unless that
   * one was taken at the same time or later (atomic). Returns whether it was stored.
   */
  writeCheckpoint?(checkpoint: RevocationCheckpoint): Promise<boolean>;
}

/** What the standalone server needs besides: user accounts, OAuth clients, rate-limit counters. */
export interface AccountStore extends StoreLifecycle {
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

/** A backend serving both contracts, as every built-in store does. */
export interface Store extends RevocationStore, AccountStore {}
