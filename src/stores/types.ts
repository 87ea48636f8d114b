/**
 * The store contract. Every store (memory, SQLite, Redis, PostgreSQL) implements {@link Store};
 * one contract suite (`test/contract/`) runs the same checks against each.
 *
 * Units: every time is milliseconds since the Unix epoch (`number`), every duration milliseconds.
 * Times are always passed in by the caller (the core owns the clock); a store never reads its own
 * clock for a decision, except to expire rows, which it may do with the `now` it was last given or
 * its own clock, whichever is earlier.
 *
 * The user grain is one fact: a per-user cutoff ({@link Store.cutOffUser}). Every place that decides
 * whether a session still stands (rotation, listing, `check`) applies it with the core's rules
 * (`isSessionLive`, `decideRotation`), and session creation is atomic against it.
 *
 * Errors: a store throws `StoreUnavailableError` (code `ERR_STORE_UNAVAILABLE`) when it cannot
 * complete a call; a call that threw may or may not have happened, and every write is idempotent so
 * that the caller can retry it.
 */

import type { UserCutoff } from "../core/user-cutoff.js";

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
  /**
   * When the session's credentials were checked (the login's `authenticatedAt`, at most the time the
   * session was written). A user cutoff ends the session when this is before it.
   */
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
   * How long after `at` the entry must live. For a session: as long as an access token of the session
   * can still be valid (the longest access-token life plus clock tolerance). For a user cutoff: as long
   * as a session authenticated before it could still be refreshed, plus that access-token life. The
   * feed entry expires at `at + ttl`.
   */
  ttl: number;
}

/** One revocation as recorded and delivered by the change feed. */
export interface RevocationEntry {
  /** Position in the feed, assigned by the store; increasing in feed order. */
  seq: string;
  /**
   * `jti`: one access token. `session`: every token of a session. `user`: the user's cutoff: every
   * session (and its tokens) authenticated before `cutoff`, except `exceptSessionId`; it replaces the
   * user's earlier cutoff. `global`: every token issued before `cutoff`.
   */
  kind: "jti" | "session" | "user" | "global";
  /** The jti, session id or user id; `""` for global. */
  subject: string;
  /**
   * For `global`: the cutoff (ms); tokens with `iat * 1000 < cutoff` rounded up to the second are
   * revoked. For `user`: sessions authenticated before it (ms) are over.
   */
  cutoff?: number;
  /** For `user`: the one session the cutoff spares (a password change keeps the caller's session). */
  exceptSessionId?: string;
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
  /**
   * Hash of the new refresh token to store: at the next generation when the presented token is current,
   * at the current generation when it is a concurrent redemption within the grace window.
   */
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
  /**
   * The presented token was current (the session moved to the next generation), or, with `grace`, the
   * immediate predecessor within the grace window (the new token joins the current generation and
   * nothing else changes); `session` is the session after the call.
   */
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
  /** The cutoff of the user asked about, `null` when none (or no user was asked about). */
  user: UserCutoff | null;
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
  /** Active (unexpired) `jti`, `session` and `user` entries (one `user` entry per user: its latest cutoff). */
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
export type SnapshotSink = (
  kind: "jti" | "session" | "user",
  subject: string,
  expiresAt: number,
  /** For `user`: the cutoff. */
  user?: UserCutoff,
) => void;

/** The longest token lifetimes ever used with a store (ms); revocations are kept this long. */
export interface TokenLifetimes {
  /** The longest access-token life any node issuing tokens on this store was configured with. */
  accessTokenTtlMs: number;
  /** The longest absolute session (refresh-token chain) life. */
  sessionTtlMs: number;
}

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
