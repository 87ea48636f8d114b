import {
  type AccessTokenClaims,
  assertNoReservedClaims,
  checkClaims,
  signAccessToken,
} from "./core/access-token.js";
import { type Duration, parseDuration } from "./core/duration.js";
import {
  AuthError,
  ClosedError,
  ConfigInvalidError,
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
import { cutoffSecond, type Decision, evaluate, type RevocationFacts } from "./core/evaluate.js";
import { hashRefreshToken, isRefreshTokenShape, newRefreshToken, randomId } from "./core/ids.js";
import { type JwsVerifyOptions, verifyCompactJws } from "./core/jws.js";
import {
  type Algorithm,
  generateKey,
  importKey,
  isAlgorithm,
  type KeyInput,
  KeyRing,
  loadKey,
} from "./core/keys.js";
import { deepFreeze, TokenCache } from "./core/token-cache.js";
import { AuthMetrics } from "./metrics.js";
import type { RevocationIndex } from "./replica/index.js";
import { Replica, type ReplicaStatus } from "./replica/replica.js";
import type { RevocationEntry, RevocationMeta, SessionRecord, Store, StoredKey } from "./stores/types.js";

/** A pino-compatible logger; only `warn` and `error` are required. */
export interface Logger {
  info?(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

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
  /** Algorithm new tokens are signed with. Default `"EdDSA"`. */
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

/**
 * The key of {@link Auth}'s synchronous verification entry point, for revokit's own middleware
 * (not exported from the package).
 * @internal
 */
export const verifyNow: unique symbol = Symbol("revokit.verifyNow");

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

const STDERR_LOGGER: Logger = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "warn", ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: "error", ...obj, msg })}\n`),
};

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
  /** Counters for `/metrics`. */
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
  readonly #idleTtlMs: number;
  readonly #toleranceMs: number;
  readonly #maxStalenessMs: number;
  readonly #maxTokenLength: number;
  readonly #keyRefreshMs: number;
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
  #lastFailOpenLog = 0;

  /** Use {@link createAuth}; the constructor only validates options. */
  constructor(options: AuthOptions) {
    if (typeof options !== "object" || options === null)
      throw new ConfigInvalidError("options", "must be an object");
    const str = (name: "issuer" | "audience") => {
      const v = options[name];
      if (typeof v !== "string" || v.length === 0)
        throw new ConfigInvalidError(name, "must be a non-empty string");
      return v;
    };
    this.issuer = str("issuer");
    this.audience = str("audience");
    if (!isStore(options.store)) {
      throw new ConfigInvalidError(
        "store",
        "is required: memoryStore(), sqliteStore(), redisStore() or postgresStore()",
      );
    }
    this.store = options.store;
    this.algorithm = options.algorithm ?? "EdDSA";
    if (!isAlgorithm(this.algorithm))
      throw new ConfigInvalidError("algorithm", "must be EdDSA, ES256, RS256 or HS256");
    const algs = options.algorithms ?? [this.algorithm];
    if (
      !Array.isArray(algs) ||
      algs.length === 0 ||
      !algs.every(isAlgorithm) ||
      !algs.includes(this.algorithm)
    ) {
      throw new ConfigInvalidError("algorithms", "must list supported algorithms and include `algorithm`");
    }
    this.#algorithms = new Set(algs);
    const positive = (name: keyof AuthOptions, value: Duration, allowZero = false) => {
      const ms = parseDuration(value, name);
      if (!allowZero && ms <= 0) throw new ConfigInvalidError(name, "must be greater than zero");
      return ms;
    };
    this.accessTokenTtlMs = positive("accessTokenTtl", options.accessTokenTtl ?? "15m");
    if (this.accessTokenTtlMs < 1000) throw new ConfigInvalidError("accessTokenTtl", "must be at least 1s");
    this.#refreshTtlMs = positive("refreshTokenTtl", options.refreshTokenTtl ?? "30d");
    this.#idleTtlMs = positive("refreshIdleTtl", options.refreshIdleTtl ?? "7d");
    this.refreshGraceMs = positive("refreshGrace", options.refreshGrace ?? "10s", true);
    this.#maxStalenessMs = positive("maxStaleness", options.maxStaleness ?? "1s");
    this.#toleranceMs = positive("clockTolerance", options.clockTolerance ?? "5s", true);
    this.#keyRefreshMs = positive("keyRefreshInterval", options.keyRefreshInterval ?? "5s");
    this.#purgeMs = positive("purgeInterval", options.purgeInterval ?? "1m", true);
    this.failMode = options.failMode ?? "closed";
    if (this.failMode !== "closed" && this.failMode !== "open") {
      throw new ConfigInvalidError("failMode", 'must be "closed" or "open"');
    }
    this.#maxTokenLength = options.maxTokenLength ?? 8192;
    if (!Number.isInteger(this.#maxTokenLength) || this.#maxTokenLength < 256) {
      throw new ConfigInvalidError("maxTokenLength", "must be an integer of at least 256");
    }
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw new ConfigInvalidError("clock", "must be a function returning milliseconds");
    }
    this.#now = options.clock ?? Date.now;
    this.#log = options.logger ?? STDERR_LOGGER;
    this.#keyInputs = options.keys ?? [];
    if (!Array.isArray(this.#keyInputs)) throw new ConfigInvalidError("keys", "must be an array");
    const cacheSize = options.verifyCache ?? 10_000;
    if (cacheSize !== false && (!Number.isInteger(cacheSize) || cacheSize < 0)) {
      throw new ConfigInvalidError("verifyCache", "must be a number of entries (0 or more) or false");
    }
    this.#cache = cacheSize === false || cacheSize === 0 ? undefined : new TokenCache(cacheSize);
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
      createIndex: options.createIndex,
      onError: () => {
        this.metrics.storeErrors++;
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
    await this.storeCall(() => this.#replica.start());
    if (this.failMode === "open") {
      this.#log.warn(
        { failMode: "open" },
        'failMode "open": tokens are ACCEPTED when revocation state cannot be checked; revoked tokens may pass during an outage',
      );
    }
    this.#every(this.#keyRefreshMs, () => this.#reloadKeys());
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
    const ring = new KeyRing(entries);
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
    return this.accessTokenTtlMs + 2 * this.#toleranceMs + 1000;
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
    const refreshToken = newRefreshToken();
    const session: SessionRecord = {
      id: randomId(),
      userId,
      clientId: options.clientId ?? "default",
      createdAt: now,
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
      this.store.createSession(session, hashRefreshToken(refreshToken)),
    );
    if (created === "user_disabled") throw new UserDisabledError();
    this.metrics.logins++;
    return { ...(await this.#mint(session, now)), refreshToken };
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
      exp: nowSec + ttlSec,
      ...(session.scope ? { scope: session.scope } : {}),
    };
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
    const presentedHash = hashRefreshToken(refreshToken);
    if (options.clientId !== undefined) {
      const found = await this.storeCall(() => this.store.findRefreshToken(presentedHash));
      if (!found || found.session.clientId !== options.clientId) throw new RefreshInvalidError("unknown");
    }
    const next = newRefreshToken();
    const meta = this.#meta({ reason: "refresh_token_reuse", actor: "system" }, "refresh_token_reuse", now);
    const result = await this.storeCall(() =>
      this.store.rotateRefreshToken({
        presentedHash,
        newHash: hashRefreshToken(next),
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
    return this.#replica.facts(claims.jti, claims.sid, now);
  }

  async #decideWithStore(claims: AccessTokenClaims, now: number): Promise<AccessTokenClaims> {
    return this.#decide(claims, await this.#factsFromStore(claims, now), now);
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

  async #factsFromStore(claims: AccessTokenClaims, now: number): Promise<RevocationFacts> {
    this.metrics.storeChecks++;
    const local = this.#replicaFacts(claims, now);
    try {
      const remote = await this.store.check({ jti: claims.jti, sessionId: claims.sid }, now);
      return {
        jtiRevoked: local.jtiRevoked || remote.jtiRevoked,
        sessionRevoked: local.sessionRevoked || remote.sessionRevoked,
        globalCutoff: Math.max(local.globalCutoff, remote.globalCutoff),
      };
    } catch (error) {
      this.metrics.storeErrors++;
      // Failing open needs a replica to fall back on: one still loading its snapshot fails closed.
      if (this.failMode === "open" && this.#replica.loaded) {
        this.metrics.failOpen++;
        if (now - this.#lastFailOpenLog > 10_000) {
          this.#lastFailOpenLog = now;
          this.#log.error(
            { err: errorText(error), failMode: "open" },
            "revocation state unavailable: FAILING OPEN, tokens are accepted on the stale replica",
          );
        }
        return local;
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
    const meta = this.#meta(options, "logout", this.#now());
    const done = await this.storeCall(() => this.store.revokeSession(sessionId, meta));
    if (done) {
      this.#replica.apply(this.#sessionEntry(sessionId, meta));
      this.metrics.count(this.metrics.revocations, `session|${meta.reason}`);
    }
    return done;
  }

  /**
   * Logs a user out of every device (`exceptSessionId` keeps one). Returns the revoked session ids.
   * A login right after it works, even within the same second.
   */
  async logoutAll(userId: string, options?: RevokeOptions & { exceptSessionId?: string }): Promise<string[]> {
    return this.#revokeUser(userId, options, "logout_all", false);
  }

  /** After a password change: revokes every session of the user except `currentSessionId`. */
  async passwordChanged(
    userId: string,
    currentSessionId?: string,
    options?: RevokeOptions,
  ): Promise<string[]> {
    return this.#revokeUser(
      userId,
      { ...options, exceptSessionId: currentSessionId },
      "password_change",
      false,
    );
  }

  /** Disables a user: revokes every session and refuses new ones until {@link enableUser}. */
  async disableUser(userId: string, options?: RevokeOptions): Promise<string[]> {
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

  /** Deletes a user: revokes every session and removes the user record (if the store holds one). */
  async deleteUser(userId: string, options?: RevokeOptions): Promise<string[]> {
    const ids = await this.#revokeUser(userId, options, "user_deleted", false);
    await this.storeCall(() => this.store.deleteUser(userId));
    return ids;
  }

  async #revokeUser(
    userId: string,
    options: (RevokeOptions & { exceptSessionId?: string }) | undefined,
    reason: string,
    disable: boolean,
  ): Promise<string[]> {
    this.#assertOpen();
    if (typeof userId !== "string" || userId.length === 0) throw new TypeError("userId must be a string");
    const meta = this.#meta(options, reason, this.#now());
    const ids = await this.storeCall(() =>
      this.store.revokeUserSessions(userId, meta, { exceptSessionId: options?.exceptSessionId, disable }),
    );
    for (const id of ids) this.#replica.apply(this.#sessionEntry(id, meta));
    this.metrics.count(this.metrics.revocations, `user|${meta.reason}`);
    return ids;
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
    let expiresAt = now + this.accessTokenTtlMs + 2 * this.#toleranceMs;
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
    const found = await this.storeCall(() => this.store.findRefreshToken(hashRefreshToken(refreshToken)));
    if (!found) return null;
    const { session, generation } = found;
    const now = this.#now();
    const live =
      session.revokedAt === null &&
      now < session.expiresAt &&
      now < session.idleExpiresAt &&
      !(this.#replica.globalCutoff > 0 && session.createdAt < this.#replica.globalCutoff);
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

  /** One session, or `null` when unknown, revoked or ended. */
  async getSession(sessionId: string): Promise<SessionInfo | null> {
    this.#assertOpen();
    const s = await this.storeCall(() => this.store.getSession(sessionId));
    const now = this.#now();
    if (!s || s.revokedAt !== null || now >= s.expiresAt || now >= s.idleExpiresAt) return null;
    return sessionInfo(s);
  }

  /** The public JWKS (no private or secret key, ever). */
  jwks(): { keys: Record<string, unknown>[] } {
    return this.#ring.jwks(this.#now(), this.#keyRetentionMs);
  }

  /**
   * Publishes a new signing key at once; every node signs with it from `activateAt` (default now; the
   * other nodes pick it up within `keyRefreshInterval`). Old keys stay published until their tokens expire.
   */
  async rotateKeys(options: { activateAt?: Date } = {}): Promise<{ kid: string; activateAt: Date }> {
    this.#assertOpen();
    const now = this.#now();
    const activateAt = options.activateAt ? options.activateAt.getTime() : now;
    if (!Number.isFinite(activateAt)) throw new TypeError("activateAt must be a valid Date");
    const key = await generateKey(this.algorithm, now, activateAt);
    await this.storeCall(() => this.store.addKey(key));
    await this.#reloadKeys();
    return { kid: key.kid, activateAt: new Date(activateAt) };
  }

  /**
   * Resolves once the revocation replica has loaded its first snapshot (from then on `verify` reads
   * memory); rejects with `ERR_STORE_UNAVAILABLE` if this Auth is closed before that.
   */
  ready(): Promise<void> {
    return this.#replica.ready();
  }

  /** Whether the replica is current enough to answer without the store. */
  isFresh(): boolean {
    return this.#replica.isFresh(this.#now());
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

function decisionError(decision: Exclude<Decision, "valid">): AuthError {
  switch (decision) {
    case "expired":
      return new TokenExpiredError();
    case "revoked_session":
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

function isStore(value: unknown): value is Store {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Store).open === "function" &&
    typeof (value as Store).changes === "function"
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
