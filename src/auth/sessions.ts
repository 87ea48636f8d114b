import { type AccessTokenClaims, assertNoReservedClaims, signAccessToken } from "../core/access-token.js";
import {
  LoginStaleError,
  RefreshInvalidError,
  RefreshReusedError,
  StoreUnavailableError,
  UserDisabledError,
} from "../core/errors.js";
import { cutoffSecond } from "../core/evaluate.js";
import {
  hashRefreshToken,
  isRefreshTokenShape,
  newRefreshToken,
  randomId,
  refreshTokenBinding,
} from "../core/ids.js";
import type { SessionRecord } from "../core/model.js";
import { isSessionLive, sessionRevocationEntry } from "../core/refresh.js";
import { laterUserCutoff } from "../core/user-cutoff.js";
import type { AuthContext } from "./context.js";
import type { KeyManager } from "./key-manager.js";
import type { LoginOptions, RefreshTokenInfo, SessionInfo, TokenSet } from "./types.js";

const USER_ID_MAX = 256;

/**
 * Sessions of one `Auth`: login (with the per-user cap), refresh-token rotation, minting access
 * tokens, and reading sessions back. The rotation rules are the store's to execute (the core's
 * `planRotation`); this class turns their results into tokens and errors.
 * @internal
 */
export class Sessions {
  readonly #ctx: AuthContext;
  readonly #keys: KeyManager;
  /** Binds refresh-token hashes to this issuer and audience. */
  readonly #binding: string;

  constructor(ctx: AuthContext, keys: KeyManager) {
    this.#ctx = ctx;
    this.#keys = keys;
    this.#binding = refreshTokenBinding(ctx.options.issuer, ctx.options.audience);
  }

  async login(userId: string, options: LoginOptions): Promise<TokenSet> {
    const ctx = this.#ctx;
    const o = ctx.options;
    if (typeof userId !== "string" || userId.length === 0 || userId.length > USER_ID_MAX) {
      throw new TypeError(`userId must be a string of 1 to ${USER_ID_MAX} characters`);
    }
    assertNoReservedClaims(options.claims);
    if (options.scope !== undefined && typeof options.scope !== "string")
      throw new TypeError("scope must be a string");
    const now = ctx.now();
    const given =
      options.authenticatedAt instanceof Date ? options.authenticatedAt.getTime() : options.authenticatedAt;
    if (given !== undefined) {
      if (typeof given !== "number" || !Number.isFinite(given) || given < 0) {
        throw new TypeError("authenticatedAt must be a valid Date or a time in ms");
      }
      if (given > now + o.clockToleranceMs) throw new TypeError("authenticatedAt may not be in the future");
    }
    // Checked now, so after any cutoff this node already knows: stamped past it (a cutoff ends the
    // sessions of its own millisecond too), so that a login right after a logout-all works.
    const known = ctx.replica.userCutoff(userId, now)?.cutoff ?? Number.NEGATIVE_INFINITY;
    const authenticatedAt = given === undefined ? Math.max(now, known + 1) : Math.min(given, now);
    await ctx.recordLifetimes();
    const refreshToken = newRefreshToken();
    const session: SessionRecord = {
      id: randomId(),
      userId,
      clientId: options.clientId ?? "default",
      createdAt: authenticatedAt,
      lastUsedAt: now,
      expiresAt: now + o.refreshTokenTtlMs,
      idleExpiresAt: now + Math.min(o.refreshIdleTtlMs, o.refreshTokenTtlMs),
      userAgent: options.userAgent ?? null,
      ip: options.ip ?? null,
      claims: options.claims && Object.keys(options.claims).length > 0 ? { ...options.claims } : null,
      scope: options.scope ?? null,
      generation: 0,
      rotatedAt: null,
      revokedAt: null,
      revokeReason: null,
    };
    const created = await ctx.call(() =>
      ctx.store.createSession(session, hashRefreshToken(refreshToken, this.#binding)),
    );
    if (created === "user_disabled") throw new UserDisabledError();
    if (created === "cut_off") throw new LoginStaleError();
    ctx.metrics.logins++;
    await this.#capSessions(userId, session.id, now);
    return { ...(await this.#mint(session, now)), refreshToken };
  }

  /**
   * Past the cap, ends the user's oldest live sessions (never the one just created). Converges under
   * concurrent logins: each one ends what it sees over the cap, and ending a session is idempotent.
   */
  async #capSessions(userId: string, createdId: string, now: number): Promise<void> {
    const ctx = this.#ctx;
    const max = ctx.options.maxSessionsPerUser;
    const live = await ctx.call(() => ctx.store.listUserSessions(userId, now));
    if (live.length <= max) return;
    // Newest first: the new session counts first, then the others down to the cap.
    const over = live.filter((s) => s.id !== createdId).slice(max - 1);
    const meta = ctx.meta(undefined, "session_limit", now);
    for (const s of over) {
      if (await ctx.call(() => ctx.store.revokeSession(s.id, meta))) {
        ctx.applied({ seq: "", ...sessionRevocationEntry(s.id, meta) }, "session", meta.reason);
      }
    }
  }

  async #mint(session: SessionRecord, now: number): Promise<Omit<TokenSet, "refreshToken">> {
    const ctx = this.#ctx;
    const o = ctx.options;
    const key = this.#keys.signingKey(now);
    if (!key) throw new StoreUnavailableError("no active signing key");
    const nowSec = Math.floor(now / 1000);
    // A token minted in the same second as a global cutoff would count as issued before it; stamp it
    // with the cutoff's second instead so that a login right after `revokeIssuedBefore` works.
    const iat = Math.max(nowSec, cutoffSecond(ctx.replica.globalCutoff));
    const ttlSec = Math.floor(o.accessTokenTtlMs / 1000);
    const claims: AccessTokenClaims = {
      ...(session.claims ?? {}),
      iss: o.issuer,
      aud: o.audience,
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
    const hook = o.tokenStatus;
    if (hook) {
      const status = await ctx.call(() => hook({ ...claims, auth_time: session.createdAt / 1000 }));
      if (status !== undefined) claims.status = status;
    }
    const accessToken = await signAccessToken(claims, key);
    return { accessToken, tokenType: "Bearer", expiresIn: ttlSec, sessionId: session.id };
  }

  async refresh(refreshToken: string, options: { clientId?: string }): Promise<TokenSet> {
    const ctx = this.#ctx;
    if (!isRefreshTokenShape(refreshToken)) throw new RefreshInvalidError("unknown");
    const now = ctx.now();
    const presentedHash = hashRefreshToken(refreshToken, this.#binding);
    if (options.clientId !== undefined) {
      const found = await ctx.call(() => ctx.store.findRefreshToken(presentedHash));
      if (!found || found.session.clientId !== options.clientId) throw new RefreshInvalidError("unknown");
    }
    await ctx.recordLifetimes();
    const next = newRefreshToken();
    const meta = ctx.meta(undefined, "refresh_token_reuse", now);
    const result = await ctx.call(() =>
      ctx.store.rotateRefreshToken({
        presentedHash,
        newHash: hashRefreshToken(next, this.#binding),
        now,
        graceMs: ctx.options.refreshGraceMs,
        idleTtlMs: ctx.options.refreshIdleTtlMs,
        reuseMeta: meta,
      }),
    );
    switch (result.status) {
      case "rotated":
        ctx.metrics.refreshes++;
        return { ...(await this.#mint(result.session, now)), refreshToken: next };
      case "reused":
        ctx.metrics.refreshReuse++;
        ctx.applied({ seq: "", ...sessionRevocationEntry(result.session.id, meta) }, "session", meta.reason);
        ctx.log.warn(
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

  async inspectRefreshToken(refreshToken: string): Promise<RefreshTokenInfo | null> {
    const ctx = this.#ctx;
    if (!isRefreshTokenShape(refreshToken)) return null;
    const found = await ctx.call(() =>
      ctx.store.findRefreshToken(hashRefreshToken(refreshToken, this.#binding)),
    );
    if (!found) return null;
    const { session, generation } = found;
    const live = await this.#isLive(session, ctx.now());
    return {
      session: sessionInfo(session),
      active: live && generation === session.generation,
      expiresAt: Math.min(session.expiresAt, session.idleExpiresAt),
    };
  }

  async list(userId: string): Promise<SessionInfo[]> {
    const ctx = this.#ctx;
    const sessions = await ctx.call(() => ctx.store.listUserSessions(userId, ctx.now()));
    return sessions.map(sessionInfo);
  }

  async get(sessionId: string): Promise<SessionInfo | null> {
    const ctx = this.#ctx;
    const s = await ctx.call(() => ctx.store.getSession(sessionId));
    if (!s || !(await this.#isLive(s, ctx.now()))) return null;
    return sessionInfo(s);
  }

  /** The one liveness rule, on the store's cutoffs (and this node's, which may be ahead). */
  async #isLive(s: SessionRecord, now: number): Promise<boolean> {
    const ctx = this.#ctx;
    const remote = await ctx.call(() => ctx.store.check({ userId: s.userId }, now));
    const localUser = ctx.replica.userCutoff(s.userId, now);
    const user = remote.user ? laterUserCutoff(localUser, remote.user) : localUser;
    return isSessionLive(s, now, Math.max(remote.globalCutoff, ctx.replica.globalCutoff), user);
  }
}

/** A session as its user sees it. */
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
