import type { AccessTokenClaims } from "../core/access-token.js";
import { errorText } from "../core/error-text.js";
import { ClosedError, RevocationUnavailableError, TokenExpiredError } from "../core/errors.js";
import {
  type Decision,
  decisionError,
  evaluate,
  type RevocationFacts,
  type TokenRef,
} from "../core/evaluate.js";
import type { TokenCache } from "../core/token-cache.js";
import { checkedClaims, type TokenChecks } from "../core/token-checks.js";
import { laterUserCutoff } from "../core/user-cutoff.js";
import type { AuthMetrics } from "../metrics.js";
import type { Replica } from "../replica/replica.js";
import type { AuthContext } from "./context.js";
import type { KeyManager } from "./key-manager.js";

/** While the store cannot be read in `failMode: "open"`, the failure is logged at most this often. */
const FAIL_OPEN_LOG_MS = 10_000;

/**
 * The verify path of one `Auth`: signature (or the verified-token cache), claims, then the revocation
 * rules on the replica, or on the store when the replica is stale or the route strict, with `failMode`
 * deciding when the store cannot answer. An unknown `kid` reloads the keys (at most once a second).
 * The usual case (fresh replica, known key, not strict) returns synchronously: no promise, no closure.
 * @internal
 */
export class Verifier {
  readonly #ctx: AuthContext;
  readonly #keys: KeyManager;
  readonly #replica: Replica;
  readonly #metrics: AuthMetrics;
  readonly #now: () => number;
  /** The signature and claims step's cache and rules (built once). */
  readonly #checks: TokenChecks;
  readonly #maxStalenessMs: number;
  readonly #toleranceMs: number;
  readonly #failOpen: boolean;
  #lastFailOpenLog = 0;

  constructor(ctx: AuthContext, keys: KeyManager, cache: TokenCache<AccessTokenClaims> | undefined) {
    const o = ctx.options;
    this.#ctx = ctx;
    this.#keys = keys;
    this.#replica = ctx.replica;
    this.#metrics = ctx.metrics;
    this.#now = ctx.now;
    this.#checks = {
      cache,
      jws: keys.jwsRules,
      claims: { issuer: o.issuer, audience: o.audience, toleranceSec: o.clockToleranceMs / 1000 },
      refused: (error) => this.#countFailure(error),
    };
    this.#maxStalenessMs = o.maxStalenessMs;
    this.#toleranceMs = o.clockToleranceMs;
    this.#failOpen = o.failMode === "open";
  }

  /** The claims of a valid token, or a promise of them when I/O is needed; throws what `Auth.verify` rejects with. */
  verify(token: string, strict: boolean): AccessTokenClaims | Promise<AccessTokenClaims> {
    if (this.#ctx.closed) throw new ClosedError();
    const now = this.#now();
    // A stale replica may have missed a key withdrawal: read the keys again first (at most once per
    // maxStaleness; a withdrawn key is gone from the store). A failed read is counted by the store
    // call; the token is then checked against the keys already loaded.
    if (now - this.#keys.loadedAt > this.#maxStalenessMs && !this.#replica.isFresh(now)) {
      return this.#keys
        .reload()
        .catch(() => undefined)
        .then(() => this.#verifyKeysLoaded(token, strict, this.#now()));
    }
    return this.#verifyKeysLoaded(token, strict, now);
  }

  /**
   * {@link verify} without I/O, ever: the claims, or a throw. Where `verify` would read the store (a
   * replica not shown current within `maxStaleness`, or a key id not loaded yet) it throws
   * `RevocationUnavailableError` instead, whatever `failMode` says; the key reload such a token calls
   * for is started in the background (at most once a second), so a retry finds the key.
   */
  verifySync(token: string): AccessTokenClaims {
    if (this.#ctx.closed) throw new ClosedError();
    const now = this.#now();
    const claims = checkedClaims(token, now, this.#checks, this.#mayReloadKeys(now));
    if (claims === undefined) {
      this.#keys.reload().catch(() => undefined);
      throw this.#unavailable("the token's signing key is not loaded yet (reloading the keys)");
    }
    // A bad or expired token is refused without revocation state; a good one needs it current.
    if (!this.#replica.isFresh(now)) throw this.#unavailable("the revocation replica is not current");
    return this.#decide(claims, this.#replicaFacts(claims, now), now);
  }

  /** An unknown kid may be a key published since the keys were read: read them again, at most once a second. */
  #mayReloadKeys(now: number): boolean {
    return now - this.#keys.loadedAt >= 1000;
  }

  #unavailable(message: string): RevocationUnavailableError {
    this.#metrics.count(this.#metrics.verify, "unavailable");
    return new RevocationUnavailableError(`${message}; verifySync does no I/O, retry or use verify`, 1);
  }

  /** The revocation decision for a token already checked, from the replica only (no I/O). */
  decide(token: TokenRef): Decision {
    const now = this.#now();
    return evaluate(token, this.#replica.facts(token.jti, token.sid, now, token.sub), now, this.#toleranceMs);
  }

  #verifyKeysLoaded(
    token: string,
    strict: boolean,
    now: number,
  ): AccessTokenClaims | Promise<AccessTokenClaims> {
    const claims = checkedClaims(token, now, this.#checks, this.#mayReloadKeys(now));
    if (claims === undefined) return this.#verifyAfterKeyReload(token, strict, now);
    if (strict || !this.#replica.isFresh(now)) return this.#decideWithStore(claims, now);
    return this.#decide(claims, this.#replicaFacts(claims, now), now);
  }

  /** An unknown kid may be a key published since the last reload: reload and retry, once. */
  async #verifyAfterKeyReload(token: string, strict: boolean, now: number): Promise<AccessTokenClaims> {
    await this.#keys.reload().catch(() => undefined);
    const claims = checkedClaims(token, now, this.#checks, false) as AccessTokenClaims;
    if (strict || !this.#replica.isFresh(now)) return this.#decideWithStore(claims, now);
    return this.#decide(claims, this.#replicaFacts(claims, now), now);
  }

  /** What the replica knows about the revocations that could cover a token (no I/O). */
  #replicaFacts(claims: AccessTokenClaims, now: number): RevocationFacts {
    return this.#replica.facts(claims.jti, claims.sid, now, claims.sub);
  }

  /** Applies the revocation rules: returns the claims of a valid token, throws the decision's error otherwise. */
  #decide(claims: AccessTokenClaims, facts: RevocationFacts, now: number): AccessTokenClaims {
    const decision = evaluate(claims, facts, now, this.#toleranceMs);
    this.#metrics.count(this.#metrics.verify, decision);
    if (decision !== "valid") throw decisionError(decision);
    return claims;
  }

  #countFailure(error: unknown): void {
    this.#metrics.count(this.#metrics.verify, error instanceof TokenExpiredError ? "expired" : "invalid");
  }

  async #decideWithStore(claims: AccessTokenClaims, now: number): Promise<AccessTokenClaims> {
    const { facts, failedOpen } = await this.#factsFromStore(claims, now);
    const valid = this.#decide(claims, facts, now);
    // Counted only for tokens actually accepted without the store's answer.
    if (failedOpen) this.#metrics.failOpen++;
    return valid;
  }

  async #factsFromStore(
    claims: AccessTokenClaims,
    now: number,
  ): Promise<{ facts: RevocationFacts; failedOpen: boolean }> {
    this.#metrics.storeChecks++;
    const local = this.#replicaFacts(claims, now);
    try {
      const remote = await this.#ctx.store.check(
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
      this.#metrics.storeErrors++;
      // Failing open needs a replica to fall back on: one still loading its snapshot fails closed.
      if (this.#failOpen && this.#replica.loaded) {
        if (now - this.#lastFailOpenLog > FAIL_OPEN_LOG_MS) {
          this.#lastFailOpenLog = now;
          this.#ctx.log.error(
            { err: errorText(error), failMode: "open" },
            "revocation state unavailable: FAILING OPEN, tokens are accepted on the stale replica",
          );
        }
        return { facts: local, failedOpen: true };
      }
      this.#metrics.count(this.#metrics.verify, "unavailable");
      throw new RevocationUnavailableError("revocation state is unavailable", 1, { cause: error });
    }
  }
}
