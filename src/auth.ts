import {
  type AccessTokenClaims,
  assertNoReservedClaims,
  checkClaims,
  signAccessToken,
} from "./core/access-token.js";
import type { Duration } from "./core/duration.js";
import {
  AuthError,
  ClosedError,
  LoginStaleError,
  RefreshInvalidError,
  RefreshReusedError,
  RevocationUnavailableError,
  SessionRevokedError,
  StoreUnavailableError,
  TokenExpiredError,
  TokenInvalidError,
  TokenRevokedError,
  UserDisabledError,
} from "./core/errors.js";
import {
  cutoffSecond,
  type Decision,
  evaluate,
  type RevocationFacts,
  type TokenRef,
} from "./core/evaluate.js";
import {
  hashRefreshToken,
  isRefreshTokenShape,
  newRefreshToken,
  randomId,
  refreshTokenBinding,
} from "./core/ids.js";
import { type JwsVerifyOptions, verifyCompactJws } from "./core/jws.js";
import {
  type Algorithm,
  generateKey,
  importKey,
  type KeyInput,
  KeyRing,
  keyWithdrawalSubject,
  loadKey,
  withdrawnKid,
} from "./core/keys.js";
import type { Logger } from "./core/logger.js";
import type {
  RevocationEntry,
  RevocationMeta,
  SessionRecord,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
} from "./core/model.js";
import { resolveAuthOptions } from "./core/options.js";
import { isSessionLive } from "./core/refresh.js";
import { deepFreeze, TokenCache } from "./core/token-cache.js";
import { verifyNow } from "./core/token-verifier.js";
import { laterUserCutoff } from "./core/user-cutoff.js";
import { STDERR_LOGGER } from "./loggers.js";
import { AuthMetrics } from "./metrics.js";
import type { RevocationIndex } from "./replica/index.js";
import { Replica, type ReplicaSnapshot, type ReplicaStatus } from "./replica/replica.js";
import type { Store } from "./stores/contract.js";

/** Options of {@link createAuth}. Durations are seconds or strings like `"15m"`. */
export interface AuthOptions {
  /** `iss` of every token, and the only issuer accepted. */
  issuer: string;
  /** `aud` of every token, and the audience a token must carry to be accepted. */
  audience: string;
  /** Where sessions, keys and revocations live: `memoryStore()`, `sqliteStore()`, `redisStore()`, `postgresStore()`. */
  store: Store;
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
   * How long {@link Auth.rotateKeys} publishes a new key before signing with it, so that resource
   * servers that cache the JWKS (jose refetches for an unknown `kid` at most every 30 s, others cache
   * for minutes) know it before the first token it signs. Default `"10m"`.
   */
  keyPublicationLead?: Duration;
  /** How often the node purges expired rows from the store. Default `"1m"`; 0 turns it off. */
  purgeInterval?: Duration;
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

/** Options of {@link Auth.login}. */
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

/** Options of {@link Auth.verify}. */
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

const USER_ID_MAX = 256;

/**
 * Creates an {@link Auth}: validates the options (bad ones throw `ConfigInvalidError` here, not at the
 * first request), opens the store, loads or creates the signing keys, and starts the revocation replica.
 * It resolves without waiting for the replica's snapshot, which loads in the background (retried until
 * it does); until then `verify` asks the store. `await auth.ready()` waits for the snapshot.
 * @example
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: memoryStore() });
 * const t = await auth.login("user-1");
 * await auth.verify(t.accessToken); // claims
 * await auth.logout(t.sessionId);
 * await auth.verify(t.accessToken); // throws ERR_SESSION_REVOKED
 */
export async function createAuth(options: AuthOptions): Promise<Auth> {
  const auth = new Auth(options);
  await auth.start();
  return auth;
}

/** One node of revokit: issues, verifies, refreshes and revokes tokens. Create it with {@link createAuth}. */
export class Auth {
  /** Counters of this node (plain fields, cheap to bump); expose them with `collectMetrics(auth)`. */
  readonly metrics = new AuthMetrics();
  readonly issuer: string;
  readonly audience: string;
  readonly store: Store;
  readonly algorithm: Algorithm;
  readonly failMode: "closed" | "open";
  /** Access-token life, ms. */
  readonly accessTokenTtlMs: number;
  /** Default refresh grace window, ms. */
  readonly refreshGraceMs: number;
  readonly #refreshTtlMs: number;
  /** Binds refresh-token hashes to this issuer and audience. */
  readonly #binding: string;
  readonly #maxSessions: number;
  readonly #idleTtlMs: number;
  readonly #toleranceMs: number;
  readonly #maxStalenessMs: number;
  readonly #maxTokenLength: number;
  readonly #keyRefreshMs: number;
  readonly #keyLeadMs: number;
  readonly #purgeMs: number;
  readonly #algorithms: ReadonlySet<Algorithm>;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #replica: Replica;
  readonly #keyInputs: KeyInput[];
  readonly #cache: TokenCache<AccessTokenClaims> | undefined;
  /** What `verifyCompactJws` and `checkClaims` are given on every call (built once). */
  readonly #jwsRules: JwsVerifyOptions;
  readonly #claimRules: { issuer: string; audience: string; toleranceSec: number };
  #ring = new KeyRing([]);
  #keysLoadedAt = Number.NEGATIVE_INFINITY;
  #keyReload: Promise<void> | undefined;
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  /** The longest lifetimes ever used with the store, as last read (zeros until read). */
  #lifetimes: TokenLifetimes = { accessTokenTtlMs: 0, sessionTtlMs: 0 };
  /** Set once this node's own lifetimes are recorded in the store (before its first token). */
  #recorded: Promise<void> | undefined;
  #lastFailOpenLog = 0;
  readonly #tokenStatus: AuthOptions["tokenStatus"];

  /** Use {@link createAuth}; the constructor only validates options. */
  constructor(options: AuthOptions) {
    const o = resolveAuthOptions(options);
    this.issuer = o.issuer;
    this.audience = o.audience;
    this.store = o.store;
    this.algorithm = o.algorithm;
    this.#algorithms = o.algorithms;
    this.accessTokenTtlMs = o.accessTokenTtlMs;
    this.#refreshTtlMs = o.refreshTokenTtlMs;
    this.#idleTtlMs = o.refreshIdleTtlMs;
    this.refreshGraceMs = o.refreshGraceMs;
    this.#maxStalenessMs = o.maxStalenessMs;
    this.#toleranceMs = o.clockToleranceMs;
    this.#keyRefreshMs = o.keyRefreshIntervalMs;
    this.#purgeMs = o.purgeIntervalMs;
    this.failMode = o.failMode;
    this.#maxTokenLength = o.maxTokenLength;
    this.#now = o.clock ?? Date.now;
    this.#log = o.logger ?? STDERR_LOGGER;
    this.#keyInputs = o.keys;
    this.#cache = o.verifyCacheSize === 0 ? undefined : new TokenCache(o.verifyCacheSize);
    this.#binding = refreshTokenBinding(this.issuer, this.audience);
    this.#maxSessions = o.maxSessionsPerUser;
    this.#tokenStatus = o.tokenStatus;
    this.#keyLeadMs = o.keyPublicationLeadMs;
    this.#jwsRules = {
      algorithms: this.#algorithms,
      key: (kid) => this.#ring.get(kid),
      maxLength: this.#maxTokenLength,
      typ: "at+jwt",
    };
    this.#claimRules = {
      issuer: this.issuer,
      audience: this.audience,
      toleranceSec: this.#toleranceMs / 1000,
    };
    this.#replica = new Replica(this.store, {
      now: this.#now,
      maxStalenessMs: this.#maxStalenessMs,
      createIndex: o.createIndex,
      // Access tokens only: none of a cut-off session outlives the longest access-token life after it.
      userCutoffTtlMs: () => this.#revocationTtlMs,
      onFeedEntry: (entry, remote, arrivedAt) => this.metrics.feedEntry(entry, remote, arrivedAt),
      onError: () => {
        this.metrics.storeErrors++;
      },
      onKeyWithdrawn: (kid) => {
        // Refused here at once; the reload picks up the key that replaces it.
        this.#setKeys([...this.#ring.entries], this.#now());
        this.#log.info?.({ kid }, "signing key withdrawn: every token it signed is refused");
        this.#reloadKeys().catch(() => undefined);
      },
      onDataLoss: (cutoff) =>
        this.#log.error(
          { store: this.store.kind, cutoff: new Date(cutoff).toISOString() },
          "the store lost its data: every token issued before now is treated as revoked",
        ),
    });
  }

  /** Opens the store, loads keys and starts the replica (its snapshot loads in the background). Called by {@link createAuth}. */
  async start(): Promise<void> {
    await this.storeCall(() => this.store.open());
    const now = this.#now();
    for (const input of this.#keyInputs) {
      const key = await importKey(input, now);
      await this.storeCall(() => this.store.addKey(key));
    }
    this.#setKeys((await this.#storedKeys()).map(loadKey), now);
    this.#lifetimes = await this.storeCall(() => this.store.tokenLifetimes());
    await this.storeCall(() => this.#replica.start());
    if (this.failMode === "open") {
      this.#log.warn(
        { failMode: "open" },
        'failMode "open": tokens are ACCEPTED when revocation state cannot be checked; revoked tokens may pass during an outage',
      );
    }
    this.#every(this.#keyRefreshMs, () => this.#reloadKeys());
    this.#every(this.#keyRefreshMs, () => this.#readLifetimes().then(() => undefined));
    if (this.#purgeMs > 0) this.#every(this.#purgeMs, () => this.#maintain());
  }

  #every(ms: number, task: () => Promise<void>): void {
    const t = setInterval(() => {
      task().catch((error: unknown) => {
        this.metrics.storeErrors++;
        this.#log.warn({ err: errorText(error) }, "background task failed; will retry");
      });
    }, ms);
    t.unref();
    this.#timers.push(t);
  }

  #setKeys(entries: ReturnType<typeof loadKey>[], now: number): void {
    // A withdrawn key neither signs nor verifies, nor is it published, whatever the store still lists.
    const withdrawn = this.#replica.withdrawnKeys;
    const ring = new KeyRing(withdrawn.size === 0 ? entries : entries.filter((e) => !withdrawn.has(e.kid)));
    // A cached token stays valid only while the key that verified it is still there, unchanged.
    if (this.#cache && !keepsEveryKey(this.#ring, ring)) this.#cache.clear();
    this.#ring = ring;
    this.#keysLoadedAt = now;
  }

  /**
   * The stored keys, after publishing one for `algorithm` if there is none: on a first start, or when
   * the store lost its data (of concurrent nodes exactly one key wins).
   */
  async #storedKeys(): Promise<StoredKey[]> {
    const stored = await this.storeCall(() => this.store.listKeys());
    if (stored.some((k) => k.alg === this.algorithm)) return stored;
    // The store has no key to sign with (a first start, or it lost its data): stop signing with keys it
    // no longer holds at once, not only when the new key is ready (an RSA key takes a while), so no
    // token is minted with a key that other nodes cannot load.
    const held = new Set(stored.map((k) => k.kid));
    const kept = this.#ring.entries.filter((e) => held.has(e.kid));
    if (kept.length < this.#ring.entries.length) this.#setKeys(kept, this.#now());
    const key = await generateKey(this.algorithm, this.#now());
    await this.storeCall(() => this.store.addKey(key, { ifNoKeyFor: this.algorithm }));
    return this.storeCall(() => this.store.listKeys());
  }

  #reloadKeys(): Promise<void> {
    this.#keyReload ??= (async () => {
      try {
        const stored = await this.#storedKeys();
        const entries = [];
        for (const k of stored) {
          try {
            entries.push(loadKey(k));
          } catch (error) {
            this.#log.error({ kid: k.kid, err: errorText(error) }, "a stored key cannot be loaded; skipped");
          }
        }
        this.#setKeys(entries, this.#now());
      } finally {
        this.#keyReload = undefined;
      }
    })();
    return this.#keyReload;
  }

  async #maintain(): Promise<void> {
    const now = this.#now();
    // Purge as of the earliest clock still within the tolerance: a node running ahead must not drop
    // an entry that a node running behind still needs.
    await this.store.purge(now - this.#toleranceMs);
    for (const k of this.#ring.expired(now, this.#keyRetentionMs)) await this.store.deleteKey(k.kid);
    for (const kid of this.#replica.withdrawnKeys.keys()) await this.store.deleteKey(kid);
  }

  /** How long a superseded key stays published: every token it signed must have expired by then. */
  get #keyRetentionMs(): number {
    return this.accessTokenTtlMs + this.#toleranceMs + 2 * this.#keyRefreshMs;
  }

  /**
   * How long a session or user revocation must be remembered: the longest access-token life, counted
   * on this node's clock. Another node's clock may be ahead by up to the tolerance when it mints a
   * token, and a verifier accepts up to the tolerance past `exp`: hence twice the tolerance.
   */
  get #revocationTtlMs(): number {
    return this.#longestAccessTtlMs + 2 * this.#toleranceMs + 1000;
  }

  /**
   * How long a user cutoff must be remembered: a session authenticated just before it may be refreshed
   * until its absolute end, and the last access token minted then lives its whole life after that.
   */
  get #userCutoffTtlMs(): number {
    return (this.#lifetimes.sessionTtlMs || this.#refreshTtlMs) + this.#revocationTtlMs;
  }

  /**
   * The longest access-token life ever used with the store (recorded by every node before its first
   * token), so that a revocation written by any process (a CLI with another default included) covers
   * every token it may concern. This node's own life only while the store has none recorded.
   */
  get #longestAccessTtlMs(): number {
    return this.#lifetimes.accessTokenTtlMs || this.accessTokenTtlMs;
  }

  async #readLifetimes(): Promise<TokenLifetimes> {
    this.#lifetimes = await this.storeCall(() => this.store.tokenLifetimes());
    return this.#lifetimes;
  }

  /** Records this node's lifetimes in the store, once, before it issues its first token. */
  #recordLifetimes(): Promise<void> {
    this.#recorded ??= (async () => {
      this.#lifetimes = await this.storeCall(() =>
        this.store.tokenLifetimes({
          accessTokenTtlMs: this.accessTokenTtlMs,
          sessionTtlMs: this.#refreshTtlMs,
        }),
      );
    })().catch((error: unknown) => {
      this.#recorded = undefined;
      throw error;
    });
    return this.#recorded;
  }

  /**
   * Runs a call on `store` the way every method of this class does: a driver failure becomes
   * `StoreUnavailableError` (HTTP 503) and counts in `metrics.storeErrors`; other `AuthError`s pass.
   * For code that uses the store directly next to an `Auth` (the server's users, clients, rate limits).
   */
  async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof AuthError && !(error instanceof StoreUnavailableError)) throw error;
      this.metrics.storeErrors++;
      if (error instanceof StoreUnavailableError) throw error;
      // The driver's message is kept as the cause only: it may quote values.
      throw new StoreUnavailableError(`the ${this.store.kind} store failed`, { cause: error });
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  #meta(options: RevokeOptions | undefined, reason: string, now: number): RevocationMeta {
    return {
      reason: options?.reason ?? reason,
      actor: options?.actor ?? "system",
      at: now,
      ttl: this.#revocationTtlMs,
    };
  }

  #applyLocal(entry: RevocationEntry | null): void {
    if (entry) this.#replica.apply(entry);
  }

  #sessionEntry(sessionId: string, meta: RevocationMeta): RevocationEntry {
    return {
      seq: "",
      kind: "session",
      subject: sessionId,
      expiresAt: meta.at + meta.ttl,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    };
  }

  // ---- issuing ----------------------------------------------------------------------------------

  /**
   * Starts a session for `userId` (one device) and returns its first token pair.
   * Throws `ERR_USER_DISABLED` for a disabled user, `ERR_STORE_UNAVAILABLE` when the store fails.
   */
  async login(userId: string, options: LoginOptions = {}): Promise<TokenSet> {
    this.#assertOpen();
    if (typeof userId !== "string" || userId.length === 0 || userId.length > USER_ID_MAX) {
      throw new TypeError(`userId must be a string of 1 to ${USER_ID_MAX} characters`);
    }
    assertNoReservedClaims(options.claims);
    if (options.scope !== undefined && typeof options.scope !== "string")
      throw new TypeError("scope must be a string");
    const now = this.#now();
    const given =
      options.authenticatedAt instanceof Date ? options.authenticatedAt.getTime() : options.authenticatedAt;
    if (given !== undefined) {
      if (typeof given !== "number" || !Number.isFinite(given) || given < 0) {
        throw new TypeError("authenticatedAt must be a valid Date or a time in ms");
      }
      if (given > now + this.#toleranceMs) throw new TypeError("authenticatedAt may not be in the future");
    }
    // Checked now, so after any cutoff this node already knows: stamped past it (a cutoff ends the
    // sessions of its own millisecond too), so that a login right after a logout-all works.
    const known = this.#replica.userCutoff(userId, now)?.cutoff ?? Number.NEGATIVE_INFINITY;
    const authenticatedAt = given === undefined ? Math.max(now, known + 1) : Math.min(given, now);
    await this.#recordLifetimes();
    const refreshToken = newRefreshToken();
    const session: SessionRecord = {
      id: randomId(),
      userId,
      clientId: options.clientId ?? "default",
      createdAt: authenticatedAt,
      lastUsedAt: now,
      expiresAt: now + this.#refreshTtlMs,
      idleExpiresAt: now + Math.min(this.#idleTtlMs, this.#refreshTtlMs),
      userAgent: options.userAgent ?? null,
      ip: options.ip ?? null,
      claims: options.claims && Object.keys(options.claims).length > 0 ? { ...options.claims } : null,
      scope: options.scope ?? null,
      generation: 0,
      rotatedAt: null,
      revokedAt: null,
      revokeReason: null,
    };
    const created = await this.storeCall(() =>
      this.store.createSession(session, hashRefreshToken(refreshToken, this.#binding)),
    );
    if (created === "user_disabled") throw new UserDisabledError();
    if (created === "cut_off") throw new LoginStaleError();
    this.metrics.logins++;
    await this.#capSessions(userId, session.id, now);
    return { ...(await this.#mint(session, now)), refreshToken };
  }

  /**
   * Past the cap, ends the user's oldest live sessions (never the one just created). Converges under
   * concurrent logins: each one ends what it sees over the cap, and ending a session is idempotent.
   */
  async #capSessions(userId: string, createdId: string, now: number): Promise<void> {
    const live = await this.storeCall(() => this.store.listUserSessions(userId, now));
    if (live.length <= this.#maxSessions) return;
    // Newest first: the new session counts first, then the others down to the cap.
    const over = live.filter((s) => s.id !== createdId).slice(this.#maxSessions - 1);
    const meta = this.#meta({ reason: "session_limit", actor: "system" }, "session_limit", now);
    for (const s of over) {
      if (await this.storeCall(() => this.store.revokeSession(s.id, meta))) {
        this.#replica.apply(this.#sessionEntry(s.id, meta));
        this.metrics.count(this.metrics.revocations, "session|session_limit");
      }
    }
  }

  async #mint(session: SessionRecord, now: number): Promise<Omit<TokenSet, "refreshToken">> {
    // A node whose clock is behind (within the tolerance) still signs with a key just created elsewhere.
    const key =
      this.#ring.signingKey(this.algorithm, now) ??
      this.#ring.signingKey(this.algorithm, now + this.#toleranceMs);
    if (!key) throw new StoreUnavailableError("no active signing key");
    const nowSec = Math.floor(now / 1000);
    // A token minted in the same second as a global cutoff would count as issued before it; stamp it
    // with the cutoff's second instead so that a login right after `revokeIssuedBefore` works.
    const iat = Math.max(nowSec, cutoffSecond(this.#replica.globalCutoff));
    const ttlSec = Math.floor(this.accessTokenTtlMs / 1000);
    const claims: AccessTokenClaims = {
      ...(session.claims ?? {}),
      iss: this.issuer,
      aud: this.audience,
      sub: session.userId,
      client_id: session.clientId,
      sid: session.id,
      jti: randomId(),
      iat,
      // When the session's credentials were checked, to the millisecond: a user cutoff compares it.
      auth_time: session.createdAt / 1000,
      exp: nowSec + ttlSec,
      ...(session.scope ? { scope: session.scope } : {}),
    };
    if (this.#tokenStatus) {
      const hook = this.#tokenStatus;
      const status = await this.storeCall(() => hook({ ...claims, auth_time: session.createdAt / 1000 }));
      if (status !== undefined) claims.status = status;
    }
    const accessToken = await signAccessToken(claims, key);
    return { accessToken, tokenType: "Bearer", expiresIn: ttlSec, sessionId: session.id };
  }

  /**
   * Exchanges a refresh token for a new pair, rotating it. A superseded token replayed outside the
   * grace window (or older than the immediate predecessor) revokes the whole session and throws
   * `ERR_REFRESH_REUSED`; unknown, expired or revoked tokens throw `ERR_REFRESH_INVALID`.
   */
  async refresh(refreshToken: string, options: { clientId?: string } = {}): Promise<TokenSet> {
    this.#assertOpen();
    if (!isRefreshTokenShape(refreshToken)) throw new RefreshInvalidError("unknown");
    const now = this.#now();
    const presentedHash = hashRefreshToken(refreshToken, this.#binding);
    if (options.clientId !== undefined) {
      const found = await this.storeCall(() => this.store.findRefreshToken(presentedHash));
      if (!found || found.session.clientId !== options.clientId) throw new RefreshInvalidError("unknown");
    }
    await this.#recordLifetimes();
    const next = newRefreshToken();
    const meta = this.#meta({ reason: "refresh_token_reuse", actor: "system" }, "refresh_token_reuse", now);
    const result = await this.storeCall(() =>
      this.store.rotateRefreshToken({
        presentedHash,
        newHash: hashRefreshToken(next, this.#binding),
        now,
        graceMs: this.refreshGraceMs,
        idleTtlMs: this.#idleTtlMs,
        reuseMeta: meta,
      }),
    );
    switch (result.status) {
      case "rotated":
        this.metrics.refreshes++;
        return { ...(await this.#mint(result.session, now)), refreshToken: next };
      case "reused":
        this.metrics.refreshReuse++;
        this.metrics.count(this.metrics.revocations, "session|refresh_token_reuse");
        this.#replica.apply(this.#sessionEntry(result.session.id, meta));
        this.#log.warn(
          { sessionId: result.session.id, userId: result.session.userId, reason: "refresh_token_reuse" },
          "refresh token reuse detected: session revoked",
        );
        throw new RefreshReusedError();
      case "unknown":
        throw new RefreshInvalidError("unknown");
      default:
        throw new RefreshInvalidError(result.status);
    }
  }

  // ---- verifying --------------------------------------------------------------------------------

  /**
   * Verifies an access token: signature (allowlisted algorithms, key bound to its algorithm), then
   * claims (`typ`, `iss`, `aud`, `exp`, `nbf`), then revocation, read from the in-memory replica.
   * When the replica cannot show it is current within `maxStaleness` (or `strict` is set), the store
   * is asked; when that fails too: `ERR_REVOCATION_UNAVAILABLE` (or, with `failMode: "open"`, accept).
   */
  async verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims> {
    return this.#verifyNow(token, Boolean(options?.strict));
  }

  /**
   * For revokit's middleware: {@link verify} without a promise when the answer needs no I/O (the
   * usual case: a fresh replica, a known key, not strict). Returns the claims, or a promise of them
   * when the store or the key set must be read; throws what `verify` rejects with.
   * @internal
   */
  [verifyNow](token: string, strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    return this.#verifyNow(token, strict);
  }

  #verifyNow(token: string, strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    this.#assertOpen();
    const now = this.#now();
    // A stale replica may have missed a key withdrawal: read the keys again first (at most once per
    // maxStaleness; a withdrawn key is gone from the store).
    if (now - this.#keysLoadedAt > this.#maxStalenessMs && !this.#replica.isFresh(now)) {
      return this.#reloadKeys()
        .catch(() => undefined)
        .then(() => this.#verifyKeysLoaded(token, strict, this.#now()));
    }
    return this.#verifyKeysLoaded(token, strict, now);
  }

  #verifyKeysLoaded(
    token: string,
    strict: boolean,
    now: number,
  ): AccessTokenClaims | Promise<AccessTokenClaims> {
    let claims: AccessTokenClaims;
    const cached = this.#cache?.get(token, now);
    try {
      // A cached token skips the signature check; its time claims are checked again, at `now`.
      claims = cached ? checkClaims(cached, this.#claimRules, now / 1000) : this.#checkToken(token, now);
    } catch (error) {
      if (error instanceof TokenInvalidError && error.reason === "kid" && this.#mayReloadKeys(now)) {
        return this.#verifyAfterKeyReload(token, strict, now);
      }
      this.#countFailure(error);
      throw error;
    }
    if (strict || !this.#replica.isFresh(now)) return this.#decideWithStore(claims, now);
    return this.#decide(claims, this.#replicaFacts(claims, now), now);
  }

  /** An unknown kid may be a key published since the last reload: reload (at most once a second) and retry. */
  async #verifyAfterKeyReload(token: string, strict: boolean, now: number): Promise<AccessTokenClaims> {
    await this.#reloadKeys().catch(() => undefined);
    let claims: AccessTokenClaims;
    try {
      claims = this.#checkToken(token, now);
    } catch (again) {
      this.#countFailure(again);
      throw again;
    }
    if (strict || !this.#replica.isFresh(now)) return this.#decideWithStore(claims, now);
    return this.#decide(claims, this.#replicaFacts(claims, now), now);
  }

  /** What the replica knows about the revocations that could cover a token (no I/O). */
  #replicaFacts(claims: AccessTokenClaims, now: number): RevocationFacts {
    return this.#replica.facts(claims.jti, claims.sid, now, claims.sub);
  }

  async #decideWithStore(claims: AccessTokenClaims, now: number): Promise<AccessTokenClaims> {
    const { facts, failedOpen } = await this.#factsFromStore(claims, now);
    const valid = this.#decide(claims, facts, now);
    // Counted only for tokens actually accepted without the store's answer.
    if (failedOpen) this.metrics.failOpen++;
    return valid;
  }

  /** Applies the revocation rules: returns the claims of a valid token, throws the decision's error otherwise. */
  #decide(claims: AccessTokenClaims, facts: RevocationFacts, now: number): AccessTokenClaims {
    const decision = evaluate(claims, facts, now, this.#toleranceMs);
    this.metrics.count(this.metrics.verify, decision);
    if (decision !== "valid") throw decisionError(decision);
    return claims;
  }

  #countFailure(error: unknown): void {
    this.metrics.count(this.metrics.verify, error instanceof TokenExpiredError ? "expired" : "invalid");
  }

  #mayReloadKeys(now: number): boolean {
    return now - this.#keysLoadedAt >= 1000;
  }

  #checkToken(token: string, now: number): AccessTokenClaims {
    const { payload } = verifyCompactJws(token, this.#jwsRules);
    const claims = checkClaims(payload, this.#claimRules, now / 1000);
    const cache = this.#cache;
    // Only what the cache keeps is shared between calls, so only that is frozen (freezing costs a
    // few hundred nanoseconds, a tenth of an HS256 check).
    if (cache?.admits()) cache.set(token, deepFreeze(claims));
    return claims;
  }

  async #factsFromStore(
    claims: AccessTokenClaims,
    now: number,
  ): Promise<{ facts: RevocationFacts; failedOpen: boolean }> {
    this.metrics.storeChecks++;
    const local = this.#replicaFacts(claims, now);
    try {
      const remote = await this.store.check(
        { jti: claims.jti, sessionId: claims.sid, userId: claims.sub },
        now,
      );
      const facts = {
        jtiRevoked: local.jtiRevoked || remote.jtiRevoked,
        sessionRevoked: local.sessionRevoked || remote.sessionRevoked,
        globalCutoff: Math.max(local.globalCutoff, remote.globalCutoff),
        user: remote.user ? laterUserCutoff(local.user, remote.user) : (local.user ?? null),
      };
      return { facts, failedOpen: false };
    } catch (error) {
      this.metrics.storeErrors++;
      // Failing open needs a replica to fall back on: one still loading its snapshot fails closed.
      if (this.failMode === "open" && this.#replica.loaded) {
        if (now - this.#lastFailOpenLog > 10_000) {
          this.#lastFailOpenLog = now;
          this.#log.error(
            { err: errorText(error), failMode: "open" },
            "revocation state unavailable: FAILING OPEN, tokens are accepted on the stale replica",
          );
        }
        return { facts: local, failedOpen: true };
      }
      this.metrics.count(this.metrics.verify, "unavailable");
      throw new RevocationUnavailableError("revocation state is unavailable", 1, { cause: error });
    }
  }

  // ---- revoking ---------------------------------------------------------------------------------

  /** Logs one device out: revokes the session, its refresh token and its access tokens. Returns whether it was live. */
  async logout(sessionId: string, options?: RevokeOptions): Promise<boolean> {
    this.#assertOpen();
    if (typeof sessionId !== "string" || sessionId.length === 0)
      throw new TypeError("sessionId must be a string");
    await this.#readLifetimes();
    const meta = this.#meta(options, "logout", this.#now());
    const done = await this.storeCall(() => this.store.revokeSession(sessionId, meta));
    if (done) {
      this.#replica.apply(this.#sessionEntry(sessionId, meta));
      this.metrics.count(this.metrics.revocations, `session|${meta.reason}`);
    }
    return done;
  }

  /**
   * Logs a user out of every device (`exceptSessionId` keeps one): records the user's cutoff, one
   * constant-size store write whatever the number of sessions, replicated to every node. Every session
   * authenticated before now ends, with its refresh and access tokens; a login racing it whose
   * credentials were checked before it gets no session. A login right after it works, even within the
   * same second. Returns the cutoff as recorded.
   */
  async logoutAll(
    userId: string,
    options?: RevokeOptions & { exceptSessionId?: string },
  ): Promise<UserCutoff> {
    return this.#revokeUser(userId, options, "logout_all", false);
  }

  /**
   * After a password change (call it once the new password is stored): ends every session of the
   * user authenticated before now except `currentSessionId`, in one write like {@link logoutAll}.
   */
  async passwordChanged(
    userId: string,
    currentSessionId?: string,
    options?: RevokeOptions,
  ): Promise<UserCutoff> {
    return this.#revokeUser(
      userId,
      { ...options, exceptSessionId: currentSessionId },
      "password_change",
      false,
    );
  }

  /** Disables a user: ends every session and refuses new ones until {@link enableUser}; one write. */
  async disableUser(userId: string, options?: RevokeOptions): Promise<UserCutoff> {
    return this.#revokeUser(userId, options, "user_disabled", true);
  }

  /** Lets a disabled user log in again (revoked sessions stay revoked). */
  async enableUser(userId: string): Promise<void> {
    this.#assertOpen();
    await this.storeCall(() => this.store.enableUser(userId));
  }

  /** Whether the user is disabled. */
  async isUserDisabled(userId: string): Promise<boolean> {
    this.#assertOpen();
    return this.storeCall(() => this.store.isUserDisabled(userId));
  }

  /**
   * Deletes a user: ends every session (one write, as {@link disableUser}: a login racing the delete
   * gets no session) and then removes the user record (if the store holds one).
   */
  async deleteUser(userId: string, options?: RevokeOptions): Promise<UserCutoff> {
    const cut = await this.#revokeUser(userId, options, "user_deleted", true);
    await this.storeCall(() => this.store.deleteUser(userId));
    return cut;
  }

  async #revokeUser(
    userId: string,
    options: (RevokeOptions & { exceptSessionId?: string }) | undefined,
    reason: string,
    disable: boolean,
  ): Promise<UserCutoff> {
    this.#assertOpen();
    if (typeof userId !== "string" || userId.length === 0) throw new TypeError("userId must be a string");
    await this.#readLifetimes();
    const now = this.#now();
    // After every session this node stamped past the user's previous cutoff (see login).
    const known = this.#replica.userCutoff(userId, now)?.cutoff ?? Number.NEGATIVE_INFINITY;
    const meta = { ...this.#meta(options, reason, Math.max(now, known + 1)), ttl: this.#userCutoffTtlMs };
    const except = options?.exceptSessionId;
    const cut = await this.storeCall(() =>
      this.store.cutOffUser(userId, meta, { ...(except ? { exceptSessionId: except } : {}), disable }),
    );
    this.#replica.apply({
      seq: "",
      kind: "user",
      subject: userId,
      cutoff: cut.cutoff,
      ...(cut.exceptSessionId === null ? {} : { exceptSessionId: cut.exceptSessionId }),
      expiresAt: meta.at + meta.ttl,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    });
    this.metrics.count(this.metrics.revocations, `user|${meta.reason}`);
    return cut;
  }

  /**
   * Revokes one access token until its `exp`. Takes the token (its signature is checked, its expiry
   * read) or a bare jti (then remembered for the longest access-token life).
   */
  async revokeAccessToken(tokenOrJti: string, options?: RevokeOptions): Promise<void> {
    this.#assertOpen();
    if (
      typeof tokenOrJti !== "string" ||
      tokenOrJti.length === 0 ||
      tokenOrJti.length > this.#maxTokenLength
    ) {
      throw new TypeError("expected an access token or a jti");
    }
    const now = this.#now();
    let jti = tokenOrJti;
    await this.#readLifetimes();
    // A bare jti: for the longest access-token life ever used with the store.
    let expiresAt = now + this.#longestAccessTtlMs + 2 * this.#toleranceMs;
    if (tokenOrJti.includes(".")) {
      const { payload } = verifyCompactJws(tokenOrJti, {
        algorithms: this.#algorithms,
        key: (kid) => this.#ring.get(kid),
        maxLength: this.#maxTokenLength,
        typ: "at+jwt",
      });
      if (typeof payload.jti !== "string" || typeof payload.exp !== "number")
        throw new TokenInvalidError("claims");
      jti = payload.jti;
      expiresAt = payload.exp * 1000 + this.#toleranceMs;
      // Already expired even on a node whose clock is behind (within the tolerance): nothing to revoke.
      if (expiresAt + this.#toleranceMs <= now) return;
    }
    if (withdrawnKid(jti) !== undefined) throw new TypeError("expected an access token or a jti");
    const reason = options?.reason ?? "revoked";
    const entry = await this.storeCall(() =>
      this.store.addRevocation({
        kind: "jti",
        subject: jti,
        expiresAt,
        reason,
        actor: options?.actor ?? "system",
        at: now,
      }),
    );
    this.#applyLocal(entry);
    this.metrics.count(this.metrics.revocations, `jti|${reason}`);
  }

  /**
   * Revokes everything issued before `date`: access tokens (by `iat`, to the second) and sessions
   * created before it. The cutoff only moves forward. `date` may not be in the future.
   */
  async revokeIssuedBefore(date: Date, options?: RevokeOptions): Promise<void> {
    this.#assertOpen();
    const cutoff = date instanceof Date ? date.getTime() : Number.NaN;
    const now = this.#now();
    if (!Number.isFinite(cutoff)) throw new TypeError("date must be a valid Date");
    if (cutoff > now + this.#toleranceMs) throw new TypeError("date may not be in the future");
    const reason = options?.reason ?? "revoke_issued_before";
    const entry = await this.storeCall(() =>
      this.store.addRevocation({
        kind: "global",
        subject: "",
        cutoff,
        expiresAt: cutoff + this.#revocationTtlMs,
        reason,
        actor: options?.actor ?? "system",
        at: now,
      }),
    );
    this.#applyLocal(entry);
    this.metrics.count(this.metrics.revocations, `global|${reason}`);
  }

  /**
   * What a refresh token is (for introspection and RFC 7009): its session and whether it is the live
   * one. `null` when unknown. Changes nothing.
   */
  async inspectRefreshToken(refreshToken: string): Promise<RefreshTokenInfo | null> {
    this.#assertOpen();
    if (!isRefreshTokenShape(refreshToken)) return null;
    const found = await this.storeCall(() =>
      this.store.findRefreshToken(hashRefreshToken(refreshToken, this.#binding)),
    );
    if (!found) return null;
    const { session, generation } = found;
    const now = this.#now();
    const live = await this.#isLive(session, now);
    return {
      session: sessionInfo(session),
      active: live && generation === session.generation,
      expiresAt: Math.min(session.expiresAt, session.idleExpiresAt),
    };
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** The user's live sessions (devices), newest first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    this.#assertOpen();
    const sessions = await this.storeCall(() => this.store.listUserSessions(userId, this.#now()));
    return sessions.map(sessionInfo);
  }

  /** One session, or `null` when unknown, revoked or ended (by any grain: session, user, global). */
  async getSession(sessionId: string): Promise<SessionInfo | null> {
    this.#assertOpen();
    const s = await this.storeCall(() => this.store.getSession(sessionId));
    if (!s || !(await this.#isLive(s, this.#now()))) return null;
    return sessionInfo(s);
  }

  /** The one liveness rule, on the store's cutoffs (and this node's, which may be ahead). */
  async #isLive(s: SessionRecord, now: number): Promise<boolean> {
    const remote = await this.storeCall(() => this.store.check({ userId: s.userId }, now));
    const localUser = this.#replica.userCutoff(s.userId, now);
    const user = remote.user ? laterUserCutoff(localUser, remote.user) : localUser;
    return isSessionLive(s, now, Math.max(remote.globalCutoff, this.#replica.globalCutoff), user);
  }

  /** The public JWKS (no private or secret key, ever). */
  jwks(): { keys: Record<string, unknown>[] } {
    return this.#ring.jwks(this.#now(), this.#keyRetentionMs);
  }

  /**
   * Publishes a new signing key at once (every node's JWKS has it within `keyRefreshInterval`) and
   * signs with it from `activateAt`: by default after `keyPublicationLead` (10 minutes), so resource
   * servers that cache the JWKS know the key before its first token; `immediate: true` signs with it
   * at once (an emergency). Old keys stay published until every token they signed has expired.
   * @example
   * const { kid, activateAt } = await auth.rotateKeys();           // signs from now + 10 min
   * await auth.rotateKeys({ immediate: true });                    // signs now
   */
  async rotateKeys(
    options: { activateAt?: Date; immediate?: boolean } = {},
  ): Promise<{ kid: string; activateAt: Date }> {
    this.#assertOpen();
    const now = this.#now();
    if (options.activateAt !== undefined && options.immediate)
      throw new TypeError("give activateAt or immediate, not both");
    if (options.activateAt !== undefined && !Number.isFinite(options.activateAt.getTime()))
      throw new TypeError("activateAt must be a valid Date");
    const key = await generateKey(this.algorithm, now, now);
    // The lead counts from publication (an RSA key takes a moment to generate).
    const published = this.#now();
    const activateAt = options.activateAt
      ? options.activateAt.getTime()
      : options.immediate
        ? published
        : published + this.#keyLeadMs;
    key.activateAt = activateAt;
    await this.storeCall(() => this.store.addKey(key));
    await this.#reloadKeys();
    return { kid: key.kid, activateAt: new Date(activateAt) };
  }

  /**
   * Withdraws a key (leaked, or no longer trusted): every token it signed is refused on every node
   * within the propagation bound (the withdrawal travels on the revocation feed), it leaves the JWKS,
   * and it is deleted from the store. When it was signing, a new key is created and signs at once.
   * Returns `null` when no key has that kid.
   * @example
   * await auth.revokeKey("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"); // { kid, replacedBy }
   */
  async revokeKey(
    kid: string,
    options?: RevokeOptions,
  ): Promise<{ kid: string; replacedBy: { kid: string; activateAt: Date } | null } | null> {
    this.#assertOpen();
    if (typeof kid !== "string" || kid.length === 0 || kid.length > 256)
      throw new TypeError("kid must be a string of 1 to 256 characters");
    const now = this.#now();
    const stored = await this.storeCall(() => this.store.listKeys());
    const target = stored.find((k) => k.kid === kid);
    if (!target) return null;
    const ring = new KeyRing(stored.filter((k) => !this.#replica.withdrawnKeys.has(k.kid)).map(loadKey));
    const signing = ring.signingKey(target.alg, now);
    const othersActive = ring.entries.filter(
      (e) => e.kid !== kid && e.alg === target.alg && e.activateAt <= now,
    );
    // A new key first, so that no node is ever left without one; it signs at once.
    let replacedBy: { kid: string; activateAt: Date } | null = null;
    if (target.alg === this.algorithm && (signing?.kid === kid || othersActive.length === 0)) {
      const next = await generateKey(this.algorithm, now, now);
      await this.storeCall(() => this.store.addKey(next));
      replacedBy = { kid: next.kid, activateAt: new Date(now) };
    }
    // Every token the key signed has expired by then, even on a node whose clock is behind.
    const expiresAt = now + this.accessTokenTtlMs + 2 * this.#toleranceMs + 1000;
    const reason = options?.reason ?? "key_withdrawn";
    const entry = await this.storeCall(() =>
      this.store.addRevocation({
        kind: "jti",
        subject: keyWithdrawalSubject(kid),
        expiresAt,
        reason,
        actor: options?.actor ?? "admin",
        at: now,
      }),
    );
    this.#applyLocal(
      entry ?? {
        seq: "",
        kind: "jti",
        subject: keyWithdrawalSubject(kid),
        expiresAt,
        reason,
        actor: options?.actor ?? "admin",
        at: now,
      },
    );
    await this.storeCall(() => this.store.deleteKey(kid));
    await this.#reloadKeys();
    this.metrics.count(this.metrics.revocations, `key|${reason}`);
    return { kid, replacedBy };
  }

  /**
   * Resolves once the revocation replica has loaded its first snapshot (from then on `verify` reads
   * memory); rejects with `ERR_STORE_UNAVAILABLE` if this Auth is closed before that.
   */
  ready(): Promise<void> {
    return this.#replica.ready();
  }

  /**
   * The revocation decision for a token whose signature and claims were checked, from the in-memory
   * replica only (no I/O): the rule `verify` applies. Used to render status lists.
   */
  decide(token: TokenRef): Decision {
    const now = this.#now();
    return evaluate(token, this.#replica.facts(token.jti, token.sid, now, token.sub), now, this.#toleranceMs);
  }

  /** Whether the replica is current enough to answer without the store. */
  isFresh(): boolean {
    return this.#replica.isFresh(this.#now());
  }

  /**
   * The active revocations as this node's replica holds them, taken at one synchronous moment with
   * the cursor they lead to (ids as raw words; see {@link Replica.exportSnapshot}), or `undefined`
   * when the replica is not loaded or not fresh (then read the store). For the revocation feed.
   */
  replicaSnapshot(): ReplicaSnapshot | undefined {
    const now = this.#now();
    if (!this.#replica.loaded || !this.#replica.isFresh(now)) return undefined;
    return this.#replica.exportSnapshot(now);
  }

  /** Diagnostics: replica size and lag, keys, fail mode. */
  status(): AuthStatus {
    const now = this.#now();
    const signing = this.#ring.signingKey(this.algorithm, now);
    return {
      store: this.store.kind,
      replica: this.#replica.status(now),
      keys: this.#ring.entries.map((k) => ({
        kid: k.kid,
        alg: k.alg,
        activateAt: k.activateAt,
        signing: k === signing,
      })),
      failMode: this.failMode,
    };
  }

  /** Stops the background work and closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    const replicaDone = this.#replica.close();
    await this.store.close();
    await replicaDone;
  }
}

/** The error `verify` throws for a decision other than `valid` (shared with the remote verifier). */
export function decisionError(decision: Exclude<Decision, "valid">): AuthError {
  switch (decision) {
    case "expired":
      return new TokenExpiredError();
    case "revoked_session":
    case "revoked_user":
      return new SessionRevokedError();
    case "revoked_token":
    case "revoked_global":
      return new TokenRevokedError();
  }
}

/** Whether every key of `before` is in `after` with the same algorithm and verification key. */
function keepsEveryKey(before: KeyRing, after: KeyRing): boolean {
  return before.entries.every((k) => {
    const now = after.get(k.kid);
    return now !== undefined && now.alg === k.alg && now.verifyKey.equals(k.verifyKey);
  });
}

function sessionInfo(s: SessionRecord): SessionInfo {
  return {
    sessionId: s.id,
    userId: s.userId,
    clientId: s.clientId,
    createdAt: new Date(s.createdAt),
    lastUsedAt: new Date(s.lastUsedAt),
    expiresAt: new Date(Math.min(s.expiresAt, s.idleExpiresAt)),
    userAgent: s.userAgent,
    ip: s.ip,
  };
}

/**
 * What a log line says about an error: our own errors by message (they never quote a token or a
 * value), anything else (a driver's error, whose message may quote the values of a query) by type
 * and code only.
 */
function errorText(error: unknown): string {
  if (error instanceof AuthError) return error.message;
  if (!(error instanceof Error)) return typeof error;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${error.name} (${code})` : error.name;
}
