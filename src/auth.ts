/**
 * The `Auth` class and `createAuth`: one node of revokit. `Auth` is a façade; the work is done by its
 * parts in `src/auth/`: the options resolver (`options.ts`), the keys (`key-manager.ts`), sessions
 * (`sessions.ts`), revocations (`revocations.ts`) and the verify path (`verifier.ts`), which share one
 * {@link AuthContext} (store, replica, clock, logger, counters, recorded lifetimes).
 */

import { AuthContext } from "./auth/context.js";
import { KeyManager } from "./auth/key-manager.js";
import { resolveAuthOptions } from "./auth/options.js";
import { Revocations } from "./auth/revocations.js";
import { Sessions } from "./auth/sessions.js";
import type {
  AuthOptions,
  AuthStatus,
  LoginOptions,
  RefreshTokenInfo,
  RevokeOptions,
  SessionInfo,
  TokenSet,
  VerifyOptions,
} from "./auth/types.js";
import { Verifier } from "./auth/verifier.js";
import type { AccessTokenClaims } from "./core/access-token.js";
import type { Decision, TokenRef } from "./core/evaluate.js";
import type { Algorithm } from "./core/keys.js";
import type { UserCutoff } from "./core/model.js";
import { TokenCache } from "./core/token-cache.js";
import { verifyNow } from "./core/token-verifier.js";
import { AuthMetrics } from "./metrics.js";
import type { Replica, ReplicaSnapshot } from "./replica/replica.js";
import type { RevocationStore } from "./stores/contract.js";

export type {
  AuthOptions,
  AuthStatus,
  LoginOptions,
  RefreshTokenInfo,
  RevokeOptions,
  SessionInfo,
  TokenSet,
  VerifyOptions,
} from "./auth/types.js";
export { decisionError } from "./core/evaluate.js";

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
  /** The store this node works on (the revocation contract: keys, sessions, the feed). */
  readonly store: RevocationStore;
  readonly algorithm: Algorithm;
  readonly failMode: "closed" | "open";
  /** Access-token life, ms. */
  readonly accessTokenTtlMs: number;
  /** Default refresh grace window, ms. */
  readonly refreshGraceMs: number;
  readonly #ctx: AuthContext;
  readonly #replica: Replica;
  readonly #keys: KeyManager;
  readonly #sessions: Sessions;
  readonly #revocations: Revocations;
  readonly #verifier: Verifier;
  #timers: NodeJS.Timeout[] = [];

  /** Use {@link createAuth}; the constructor only validates options. */
  constructor(options: AuthOptions) {
    const o = resolveAuthOptions(options);
    this.issuer = o.issuer;
    this.audience = o.audience;
    this.store = o.store;
    this.algorithm = o.algorithm;
    this.failMode = o.failMode;
    this.accessTokenTtlMs = o.accessTokenTtlMs;
    this.refreshGraceMs = o.refreshGraceMs;
    // The replica (in the context) reports withdrawals to the keys, which need the context: a hook.
    const ctx = new AuthContext(o, this.metrics, { onKeyWithdrawn: (kid) => this.#keys.withdrawn(kid) });
    const cache = o.verifyCacheSize === 0 ? undefined : new TokenCache<AccessTokenClaims>(o.verifyCacheSize);
    this.#ctx = ctx;
    this.#replica = ctx.replica;
    this.#keys = new KeyManager(ctx, cache);
    this.#sessions = new Sessions(ctx, this.#keys);
    this.#revocations = new Revocations(ctx, this.#keys);
    this.#verifier = new Verifier(ctx, this.#keys, cache);
  }

  /** Opens the store, loads keys and starts the replica (its snapshot loads in the background). Called by {@link createAuth}. */
  async start(): Promise<void> {
    const ctx = this.#ctx;
    const o = ctx.options;
    await ctx.call(() => this.store.open());
    await this.#keys.load();
    await ctx.readLifetimes();
    await ctx.call(() => this.#replica.start());
    if (this.failMode === "open") {
      ctx.log.warn(
        { failMode: "open" },
        'failMode "open": tokens are ACCEPTED when revocation state cannot be checked; revoked tokens may pass during an outage',
      );
    }
    this.#every("key reload", o.keyRefreshIntervalMs, () => this.#keys.reload());
    this.#every("token lifetimes read", o.keyRefreshIntervalMs, () => ctx.readLifetimes());
    if (o.purgeIntervalMs > 0) this.#every("purge", o.purgeIntervalMs, () => this.#maintain());
  }

  #every(task: string, ms: number, run: () => Promise<void>): void {
    const t = setInterval(() => {
      run().catch((error: unknown) => this.#ctx.backgroundFailed(task, error));
    }, ms);
    t.unref();
    this.#timers.push(t);
  }

  async #maintain(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.now();
    // Purge as of the earliest clock still within the tolerance: a node running ahead must not drop
    // an entry that a node running behind still needs.
    await ctx.call(() => this.store.purge(now - ctx.options.clockToleranceMs));
    await this.#keys.deleteRetired(now);
  }

  /**
   * Runs a call on `store` the way every method of this class does: a driver failure becomes
   * `StoreUnavailableError` (HTTP 503) and counts in `metrics.storeErrors`; other `AuthError`s pass.
   * For code that uses the store directly next to an `Auth` (the server's users, clients, rate limits).
   */
  storeCall<T>(fn: () => Promise<T>): Promise<T> {
    return this.#ctx.call(fn);
  }

  // ---- issuing ----------------------------------------------------------------------------------

  /**
   * Starts a session for `userId` (one device) and returns its first token pair.
   * Throws `ERR_USER_DISABLED` for a disabled user, `ERR_STORE_UNAVAILABLE` when the store fails.
   */
  async login(userId: string, options: LoginOptions = {}): Promise<TokenSet> {
    this.#ctx.assertOpen();
    return this.#sessions.login(userId, options);
  }

  /**
   * Exchanges a refresh token for a new pair, rotating it. A superseded token replayed outside the
   * grace window (or older than the immediate predecessor) revokes the whole session and throws
   * `ERR_REFRESH_REUSED`; unknown, expired or revoked tokens throw `ERR_REFRESH_INVALID`.
   */
  async refresh(refreshToken: string, options: { clientId?: string } = {}): Promise<TokenSet> {
    this.#ctx.assertOpen();
    return this.#sessions.refresh(refreshToken, options);
  }

  // ---- verifying --------------------------------------------------------------------------------

  /**
   * Verifies an access token: signature (allowlisted algorithms, key bound to its algorithm), then
   * claims (`typ`, `iss`, `aud`, `exp`, `nbf`), then revocation, read from the in-memory replica.
   * When the replica cannot show it is current within `maxStaleness` (or `strict` is set), the store
   * is asked; when that fails too: `ERR_REVOCATION_UNAVAILABLE` (or, with `failMode: "open"`, accept).
   */
  async verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims> {
    return this.#verifier.verify(token, Boolean(options?.strict));
  }

  /**
   * {@link verify} synchronously, without I/O and without a promise: the claims of a valid token, or
   * a throw with the same errors. It answers from the in-memory replica and the verified-token cache
   * only, so where `verify` would ask the store (the replica not current within `maxStaleness`, or a
   * key id this node has not loaded yet) it throws `RevocationUnavailableError`
   * (`ERR_REVOCATION_UNAVAILABLE`, retry after a second) instead, whatever `failMode` says; a key
   * reload is then started in the background. No `strict` option: strict means asking the store.
   * @example
   * try {
   *   const claims = auth.verifySync(token); // e.g. in a WebSocket upgrade or a sync callback
   * } catch (e) {
   *   if (e instanceof RevocationUnavailableError) retryLater(e.retryAfter); else refuse(e.code);
   * }
   */
  verifySync(token: string): AccessTokenClaims {
    return this.#verifier.verifySync(token);
  }

  /**
   * For revokit's middleware: {@link verify} without a promise when the answer needs no I/O (the
   * usual case: a fresh replica, a known key, not strict). Returns the claims, or a promise of them
   * when the store or the key set must be read; throws what `verify` rejects with.
   * @internal
   */
  [verifyNow](token: string, strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    return this.#verifier.verify(token, strict);
  }

  // ---- revoking ---------------------------------------------------------------------------------

  /** Logs one device out: revokes the session, its refresh token and its access tokens. Returns whether it was live. */
  async logout(sessionId: string, options?: RevokeOptions): Promise<boolean> {
    this.#ctx.assertOpen();
    return this.#revocations.logout(sessionId, options);
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
    this.#ctx.assertOpen();
    return this.#revocations.revokeUser(userId, options, "logout_all", false);
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
    this.#ctx.assertOpen();
    const withExcept = { ...options, exceptSessionId: currentSessionId };
    return this.#revocations.revokeUser(userId, withExcept, "password_change", false);
  }

  /** Disables a user: ends every session and refuses new ones until {@link enableUser}; one write. */
  async disableUser(userId: string, options?: RevokeOptions): Promise<UserCutoff> {
    this.#ctx.assertOpen();
    return this.#revocations.revokeUser(userId, options, "user_disabled", true);
  }

  /** Lets a disabled user log in again (revoked sessions stay revoked). */
  async enableUser(userId: string): Promise<void> {
    this.#ctx.assertOpen();
    await this.#revocations.enableUser(userId);
  }

  /** Whether the user is disabled. */
  async isUserDisabled(userId: string): Promise<boolean> {
    this.#ctx.assertOpen();
    return this.#revocations.isUserDisabled(userId);
  }

  /**
   * Deletes a user: ends every session (one write, as {@link disableUser}: a login racing the delete
   * gets no session) and then removes the user record (if the store holds one).
   */
  async deleteUser(userId: string, options?: RevokeOptions): Promise<UserCutoff> {
    this.#ctx.assertOpen();
    return this.#revocations.deleteUser(userId, options);
  }

  /**
   * Revokes one access token until its `exp`. Takes the token (its signature is checked, its expiry
   * read) or a bare jti (then remembered for the longest access-token life).
   */
  async revokeAccessToken(tokenOrJti: string, options?: RevokeOptions): Promise<void> {
    this.#ctx.assertOpen();
    return this.#revocations.revokeAccessToken(tokenOrJti, options);
  }

  /**
   * Revokes everything issued before `date`: access tokens (by `iat`, to the second) and sessions
   * created before it. The cutoff only moves forward. `date` may not be in the future.
   */
  async revokeIssuedBefore(date: Date, options?: RevokeOptions): Promise<void> {
    this.#ctx.assertOpen();
    return this.#revocations.revokeIssuedBefore(date, options);
  }

  /**
   * What a refresh token is (for introspection and RFC 7009): its session and whether it is the live
   * one. `null` when unknown. Changes nothing.
   */
  async inspectRefreshToken(refreshToken: string): Promise<RefreshTokenInfo | null> {
    this.#ctx.assertOpen();
    return this.#sessions.inspectRefreshToken(refreshToken);
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** The user's live sessions (devices), newest first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    this.#ctx.assertOpen();
    return this.#sessions.list(userId);
  }

  /** One session, or `null` when unknown, revoked or ended (by any grain: session, user, global). */
  async getSession(sessionId: string): Promise<SessionInfo | null> {
    this.#ctx.assertOpen();
    return this.#sessions.get(sessionId);
  }

  // ---- keys -------------------------------------------------------------------------------------

  /** The public JWKS (no private or secret key, ever). */
  jwks(): { keys: Record<string, unknown>[] } {
    return this.#keys.jwks(this.#ctx.now());
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
    this.#ctx.assertOpen();
    return this.#keys.rotate(options);
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
    this.#ctx.assertOpen();
    return this.#keys.revoke(kid, options);
  }

  // ---- the replica and diagnostics --------------------------------------------------------------

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
    return this.#verifier.decide(token);
  }

  /** Whether the replica is current enough to answer without the store. */
  isFresh(): boolean {
    return this.#replica.isFresh(this.#ctx.now());
  }

  /**
   * The active revocations as this node's replica holds them, taken at one synchronous moment with
   * the cursor they lead to (ids as raw words; see {@link Replica.exportSnapshot}), or `undefined`
   * when the replica is not loaded or not fresh (then read the store). For the revocation feed.
   */
  replicaSnapshot(): ReplicaSnapshot | undefined {
    const now = this.#ctx.now();
    if (!this.#replica.loaded || !this.#replica.isFresh(now)) return undefined;
    return this.#replica.exportSnapshot(now);
  }

  /**
   * Writes a checkpoint of this node's replica to the store now (nodes also do it every
   * `checkpointInterval`): the active revocations at one feed position, which nodes starting later
   * load in one read. `false` when the store keeps no checkpoints, the replica is not loaded yet, or
   * a newer checkpoint is there already.
   * @example await auth.checkpoint(); // e.g. before scaling out
   */
  async checkpoint(): Promise<boolean> {
    this.#ctx.assertOpen();
    return this.#ctx.call(() => this.#replica.checkpoint());
  }

  /** Diagnostics: replica size and lag, keys, fail mode. */
  status(): AuthStatus {
    const now = this.#ctx.now();
    return {
      store: this.store.kind,
      replica: this.#replica.status(now),
      keys: this.#keys.status(now),
      failMode: this.failMode,
    };
  }

  /** Stops the background work and closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#ctx.closed) return;
    this.#ctx.closed = true;
    for (const t of this.#timers) clearInterval(t);
    const replicaDone = this.#replica.close();
    await this.store.close();
    await replicaDone;
  }
}
