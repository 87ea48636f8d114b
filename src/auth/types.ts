/**
 * The public option and result types of `createAuth` and `Auth`. `revokit` exports them from
 * its entry point (through `src/auth.ts`); the parts of an `Auth` in `src/auth/` share them from here.
 */
import type { Duration } from "../core/duration.js";
import type { TokenRef } from "../core/evaluate.js";
import type { Algorithm, KeyInput } from "../core/keys.js";
import type { Logger } from "../core/logger.js";
import type { RevocationIndex } from "../replica/index.js";
import type { ReplicaStatus } from "../replica/replica.js";
import type { RevocationStore } from "../stores/contract.js";

/** Options of `createAuth`. Durations are seconds or strings like `"15m"`. */
export interface AuthOptions {
  /** `iss` of every token, and the only issuer accepted. */
  issuer: string;
  /** `aud` of every token, and the audience a token must carry to be accepted. */
  audience: string;
  /**
   * Where sessions, keys and revocations live: `memoryStore()`, `sqliteStore()`, `redisStore()`,
   * `postgresStore()`, or any {@link RevocationStore} (an `Auth` needs no account methods).
   */
  store: RevocationStore;
  /** Access-token life. Default `"15m"`. */
  accessTokenTtl?: Duration;
  /** Absolute session (refresh-token chain) life. Default `"30d"`. */
  refreshTokenTtl?: Duration;
  /** A session unused this long ends. Default `"7d"`. */
  refreshIdleTtl?: Duration;
  /** How long after a rotation the immediate predecessor may still be used (concurrent tabs). Default `"10s"`. */
  refreshGrace?: Duration;
  /**
   * Algorithm new tokens are signed with. Default `"RS256"`: every JWT library and resource server
   * verifies it (RFC 9068 makes it the one to support), and it verifies fastest on node:crypto.
   */
  algorithm?: Algorithm;
  /** Algorithms accepted on verification (each key is also bound to one). Default: `[algorithm]`. */
  algorithms?: Algorithm[];
  /** Keys to import into the store at start (otherwise one is generated on first start). */
  keys?: KeyInput[];
  /** How old the replica may be before `verify` asks the store. Default `"1s"`. */
  maxStaleness?: Duration;
  /** `"closed"` (default): refuse with `ERR_REVOCATION_UNAVAILABLE` when revocation state cannot be checked. `"open"`: accept, log, count. */
  failMode?: "closed" | "open";
  /** Allowed clock skew for `exp`, `nbf` and `iat`. Default `"5s"`. */
  clockTolerance?: Duration;
  /** Longest access token accepted, in characters. Default 8192. */
  maxTokenLength?: number;
  /** How often the node re-reads the keys from the store. Default `"5s"`. */
  keyRefreshInterval?: Duration;
  /**
   * How long `Auth.rotateKeys` publishes a new key before signing with it, so that resource
   * servers that cache the JWKS (jose refetches for an unknown `kid` at most every 30 s, others cache
   * for minutes) know it before the first token it signs. Default `"10m"`.
   */
  keyPublicationLead?: Duration;
  /** How often the node purges expired rows from the store. Default `"1m"`; 0 turns it off. */
  purgeInterval?: Duration;
  /**
   * How often a node writes a checkpoint of its replica to the store (a compact snapshot of the
   * active revocations, about 24 bytes each, at one feed position) when the newest there is older,
   * so that a node starting later loads the revocations in one read plus the feed after it. Nodes
   * share the work: one checkpoint per interval, whichever node writes it. Default `"5m"`; 0: this
   * node writes none (it still loads them).
   */
  checkpointInterval?: Duration;
  /** The clock, milliseconds since the epoch. Default `Date.now`. */
  clock?: () => number;
  /** Where warnings go. Default: JSON lines on stderr. */
  logger?: Logger;
  /** Replica index factory (advanced). Default: the compact typed-array index, about 40 bytes an entry. */
  createIndex?: () => RevocationIndex;
  /**
   * How many verified access tokens to remember, so that a token presented again skips its signature
   * check (keyed by the whole token, never past its `exp`, emptied when a key is removed; revocation
   * is still checked on every call). `false` or 0 turns it off. Default 10000 (about 10 MB with
   * tokens of 1 KB). Once full, it admits one new token in eight (at random), so that with many more
   * users than entries it keeps a stable share of them instead of evicting every token before its
   * next use; a token it does not hold costs one lookup more than no cache. Claims it holds are
   * frozen and shared between calls: treat the claims `verify` returns as read-only.
   */
  verifyCache?: number | false;
  /**
   * Most live sessions (devices) one user may have; past it, a login ends the user's oldest session
   * (recorded as a revocation with reason `session_limit`). Default 100.
   */
  maxSessionsPerUser?: number;
  /**
   * Called for every access token before it is signed; returns the value of its `status` claim (a
   * Token Status List reference, `{ status_list: { idx, uri } }`), or `undefined` for none. The
   * standalone server sets it.
   */
  tokenStatus?: (token: TokenRef) => Promise<unknown>;
}

/** Options of `Auth.login`. */
export interface LoginOptions {
  /** The device's User-Agent, kept as received. */
  userAgent?: string | null;
  /** The device's IP address, kept as received. */
  ip?: string | null;
  /** Custom claims copied into every access token of the session; may not set reserved claims. */
  claims?: Record<string, unknown>;
  /** Space-separated scope for the `scope` claim. */
  scope?: string;
  /** OAuth client of the session. Default `"default"`. */
  clientId?: string;
  /**
   * When the credentials were checked (a `Date` or ms). Default: now. Record it BEFORE checking the
   * password: when the user's sessions were revoked after that moment (logout-all, password change,
   * disable, delete), the login gets no session and throws `ERR_LOGIN_STALE`, whatever the
   * interleaving. It may not be in the future.
   * @example
   * const authenticatedAt = new Date();
   * if (!(await checkPassword(user, password))) throw new Error("invalid credentials");
   * const tokens = await auth.login(user.id, { authenticatedAt });
   */
  authenticatedAt?: Date | number;
}

/** What `login` and `refresh` return. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  /** Seconds until the access token expires. */
  expiresIn: number;
  sessionId: string;
}

/** A session as shown to its user. */
export interface SessionInfo {
  sessionId: string;
  userId: string;
  clientId: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** When the session ends if nothing else happens (the earlier of the absolute and idle ends). */
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/** Who revoked and why; recorded with every revocation. */
export interface RevokeOptions {
  /** Machine-readable reason. Defaults per method (`logout`, `logout_all`, ...). */
  reason?: string;
  /** Who: a user id, `admin`, a client id. Default `"system"`. */
  actor?: string;
}

/** Options of `Auth.verify`. */
export interface VerifyOptions {
  /** Also ask the store, on top of the replica (for the most sensitive routes). */
  strict?: boolean;
}

/** What a refresh token is, for introspection and RFC 7009 revocation. */
export interface RefreshTokenInfo {
  session: SessionInfo;
  /** Whether it is the session's current token and the session is live. */
  active: boolean;
  /** When the token stops working if nothing else happens (ms). */
  expiresAt: number;
}

/** Diagnostics of one node. */
export interface AuthStatus {
  store: string;
  replica: ReplicaStatus;
  keys: { kid: string; alg: Algorithm; activateAt: number; signing: boolean }[];
  failMode: "closed" | "open";
}
