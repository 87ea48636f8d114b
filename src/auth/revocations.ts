import { TokenInvalidError } from "../core/errors.js";
import { verifyCompactJws } from "../core/jws.js";
import { withdrawnKid } from "../core/keys.js";
import { signedJtiExpiresAt } from "../core/lifetimes.js";
import type { UserCutoff } from "../core/model.js";
import { sessionRevocationEntry } from "../core/refresh.js";
import type { AccountStore, RevocationStore } from "../stores/contract.js";
import type { AuthContext } from "./context.js";
import type { KeyManager } from "./key-manager.js";
import type { RevokeOptions } from "./types.js";

/**
 * Every revocation one `Auth` makes, at each grain: a session (logout), a user (logout-all, password
 * change, disable, delete: one cutoff write each), an access token (its jti), everything issued
 * before a date. Each is written to the store, which records a feed entry, and applied to this node's
 * replica at once; its lifetime comes from the lifetimes recorded in the store (read first).
 * @internal
 */
export class Revocations {
  readonly #ctx: AuthContext;
  readonly #keys: KeyManager;

  constructor(ctx: AuthContext, keys: KeyManager) {
    this.#ctx = ctx;
    this.#keys = keys;
  }

  async logout(sessionId: string, options: RevokeOptions | undefined): Promise<boolean> {
    const ctx = this.#ctx;
    if (typeof sessionId !== "string" || sessionId.length === 0)
      throw new TypeError("sessionId must be a string");
    await ctx.readLifetimes();
    const meta = ctx.meta(options, "logout", ctx.now());
    const done = await ctx.call(() => ctx.store.revokeSession(sessionId, meta));
    if (done) ctx.applied({ seq: "", ...sessionRevocationEntry(sessionId, meta) }, "session", meta.reason);
    return done;
  }

  async enableUser(userId: string): Promise<void> {
    const ctx = this.#ctx;
    await ctx.call(() => ctx.store.enableUser(userId));
  }

  async isUserDisabled(userId: string): Promise<boolean> {
    const ctx = this.#ctx;
    return ctx.call(() => ctx.store.isUserDisabled(userId));
  }

  /**
   * Ends every session of the user (one cutoff write), then removes the user record when the store
   * keeps accounts too (every built-in store does; a `RevocationStore` alone holds no user record).
   */
  async deleteUser(userId: string, options: RevokeOptions | undefined): Promise<UserCutoff> {
    const ctx = this.#ctx;
    const cut = await this.revokeUser(userId, options, "user_deleted", true);
    const store = ctx.store;
    if (keepsAccounts(store)) await ctx.call(() => store.deleteUser(userId));
    return cut;
  }

  /**
   * Records the user's cutoff (`logoutAll`, `passwordChanged`, `disableUser`, `deleteUser`): every
   * session authenticated up to now ends, but `exceptSessionId`; with `disable`, the user is disabled
   * in the same write.
   */
  async revokeUser(
    userId: string,
    options: (RevokeOptions & { exceptSessionId?: string | undefined }) | undefined,
    reason: string,
    disable: boolean,
  ): Promise<UserCutoff> {
    const ctx = this.#ctx;
    if (typeof userId !== "string" || userId.length === 0) throw new TypeError("userId must be a string");
    await ctx.readLifetimes();
    const now = ctx.now();
    // After every session this node stamped past the user's previous cutoff (see login).
    const known = ctx.replica.userCutoff(userId, now)?.cutoff ?? Number.NEGATIVE_INFINITY;
    const meta = { ...ctx.meta(options, reason, Math.max(now, known + 1)), ttl: ctx.userCutoffTtlMs };
    const except = options?.exceptSessionId;
    const cut = await ctx.call(() =>
      ctx.store.cutOffUser(userId, meta, { ...(except ? { exceptSessionId: except } : {}), disable }),
    );
    const entry = {
      seq: "",
      kind: "user" as const,
      subject: userId,
      cutoff: cut.cutoff,
      ...(cut.exceptSessionId === null ? {} : { exceptSessionId: cut.exceptSessionId }),
      expiresAt: meta.at + meta.ttl,
      reason: meta.reason,
      actor: meta.actor,
      at: meta.at,
    };
    ctx.applied(entry, "user", meta.reason);
    // The cutoff's own millisecond is cut off too. A node that has not heard of this cutoff yet stamps
    // a login with its clock, so a login started after this returns must not start in that
    // millisecond: wait for the clock to pass it (under a millisecond, and only when it has not).
    await untilPast(ctx.now, cut.cutoff);
    return cut;
  }

  /** Revokes one access token until its `exp` (read from the token, whose signature is checked), or a bare jti. */
  async revokeAccessToken(tokenOrJti: string, options: RevokeOptions | undefined): Promise<void> {
    const ctx = this.#ctx;
    if (
      typeof tokenOrJti !== "string" ||
      tokenOrJti.length === 0 ||
      tokenOrJti.length > ctx.options.maxTokenLength
    ) {
      throw new TypeError("expected an access token or a jti");
    }
    const now = ctx.now();
    let jti = tokenOrJti;
    await ctx.readLifetimes();
    // A bare jti: for the longest access-token life ever used with the store.
    let expiresAt = now + ctx.bareJtiTtlMs;
    if (tokenOrJti.includes(".")) {
      const { payload } = verifyCompactJws(tokenOrJti, this.#keys.jwsRules);
      if (typeof payload.jti !== "string" || typeof payload.exp !== "number")
        throw new TokenInvalidError("claims");
      jti = payload.jti;
      const until = signedJtiExpiresAt(payload.exp, ctx.options.clockToleranceMs, now);
      // Already expired even on a node whose clock is behind (within the tolerance): nothing to revoke.
      if (until === null) return;
      expiresAt = until;
    }
    if (withdrawnKid(jti) !== undefined) throw new TypeError("expected an access token or a jti");
    const reason = options?.reason ?? "revoked";
    const entry = await ctx.call(() =>
      ctx.store.addRevocation({
        kind: "jti",
        subject: jti,
        expiresAt,
        reason,
        actor: options?.actor ?? "system",
        at: now,
      }),
    );
    ctx.applied(entry, "jti", reason);
  }

  /** Revokes every access token issued, and every session created, before `date` (not in the future). */
  async revokeIssuedBefore(date: Date, options: RevokeOptions | undefined): Promise<void> {
    const ctx = this.#ctx;
    const cutoff = date instanceof Date ? date.getTime() : Number.NaN;
    const now = ctx.now();
    if (!Number.isFinite(cutoff)) throw new TypeError("date must be a valid Date");
    if (cutoff > now + ctx.options.clockToleranceMs) throw new TypeError("date may not be in the future");
    const reason = options?.reason ?? "revoke_issued_before";
    const entry = await ctx.call(() =>
      ctx.store.addRevocation({
        kind: "global",
        subject: "",
        cutoff,
        expiresAt: cutoff + ctx.revocationTtlMs,
        reason,
        actor: options?.actor ?? "system",
        at: now,
      }),
    );
    ctx.applied(entry, "global", reason);
  }
}

/** Whether the store keeps user records too (then a deleted user's record goes with the sessions). */
function keepsAccounts(store: RevocationStore): store is RevocationStore & Pick<AccountStore, "deleteUser"> {
  return typeof (store as Partial<AccountStore>).deleteUser === "function";
}

/**
 * Waits (a millisecond at a time, a few at most) until `now()` is past `t`. Gives up when `t` is
 * further ahead (a cutoff from a node whose clock runs ahead) or the clock does not move (a test's).
 */
async function untilPast(now: () => number, t: number): Promise<void> {
  for (let i = 0; i < 3 && now() <= t && t - now() < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
