/**
 * The model: the records and facts the core reasons about and the stores keep (sessions, keys,
 * revocations, users, clients). Pure types, no behaviour.
 *
 * Units: every time is milliseconds since the Unix epoch (`number`), every duration milliseconds.
 */

/** The cutoff of one user, as recorded in the store and held by every replica. */
export interface UserCutoff {
  /** Sessions authenticated before this time (ms) are over, with their tokens. */
  cutoff: number;
  /** The one session the cutoff spares (the caller's, on a password change); `null` for none. */
  exceptSessionId: string | null;
}

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

/** The feed position, cutoff and epoch of a streamed snapshot (`RevocationStore.snapshotInto`). */
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

/**
 * A compact snapshot of the active revocations at one feed position, written to the store by a
 * node's replica now and then, so that a new node loads them in one read and then follows the feed
 * from the position it names. `data` is the binary snapshot form (about 24 bytes a revocation; its
 * last frame names the cursor and epoch).
 */
export interface RevocationCheckpoint {
  /** When it was taken (ms): a store keeps the newest. */
  takenAt: number;
  data: Uint8Array;
}
