import { errorText } from "../core/error-text.js";
import { AuthError, ClosedError, StoreUnavailableError } from "../core/errors.js";
import { bareJtiTtlMs, type LifetimeBasis, revocationTtlMs, userCutoffTtlMs } from "../core/lifetimes.js";
import type { Logger } from "../core/logger.js";
import type { RevocationEntry, RevocationMeta, TokenLifetimes } from "../core/model.js";
import type { AuthMetrics } from "../metrics.js";
import { Replica } from "../replica/replica.js";
import type { RevocationStore } from "../stores/contract.js";
import type { ResolvedAuthOptions } from "./options.js";
import type { RevokeOptions } from "./types.js";

/** While the revocation feed keeps failing, its errors are logged at most this often (it retries within a second). */
const FEED_ERROR_LOG_MS = 60_000;

/**
 * What the parts of one `Auth` share: its store and the one way to call it, its replica, clock,
 * logger and counters, whether it is closed, and the token lifetimes recorded in the store, from
 * which every revocation's lifetime derives (the rules are the core's, `src/core/lifetimes.ts`).
 * @internal
 */
export class AuthContext {
  readonly options: ResolvedAuthOptions;
  readonly store: RevocationStore;
  readonly replica: Replica;
  readonly metrics: AuthMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Set by `Auth.close`; every public method refuses to run after. */
  closed = false;
  /** The stored maxima as last read (zeros until read), this node's own, and the tolerance. */
  readonly #basis: LifetimeBasis;
  /** Set once this node's own lifetimes are recorded in the store (before its first token). */
  #recorded: Promise<void> | undefined;
  #feedLoggedAt = Number.NEGATIVE_INFINITY;
  #feedUnlogged = 0;

  constructor(
    o: ResolvedAuthOptions,
    metrics: AuthMetrics,
    hooks: { onKeyWithdrawn: (kid: string) => void },
  ) {
    this.options = o;
    this.store = o.store;
    this.metrics = metrics;
    this.log = o.logger;
    this.now = o.clock;
    this.#basis = {
      stored: { accessTokenTtlMs: 0, sessionTtlMs: 0 },
      own: { accessTokenTtlMs: o.accessTokenTtlMs, sessionTtlMs: o.refreshTokenTtlMs },
      toleranceMs: o.clockToleranceMs,
    };
    this.replica = new Replica(this.store, {
      now: this.now,
      maxStalenessMs: o.maxStalenessMs,
      createIndex: o.createIndex,
      checkpointIntervalMs: o.checkpointIntervalMs,
      // Access tokens only: none of a cut-off session outlives the longest access-token life after it.
      userCutoffTtlMs: () => this.revocationTtlMs,
      onFeedEntry: (entry, remote, arrivedAt) => metrics.feedEntry(entry, remote, arrivedAt),
      onError: (error) => this.#feedFailed(error),
      onKeyWithdrawn: hooks.onKeyWithdrawn,
      onDataLoss: (cutoff) =>
        this.log.error(
          { store: this.store.kind, cutoff: new Date(cutoff).toISOString() },
          "the store lost its data: every token issued before now is treated as revoked",
        ),
    });
  }

  /**
   * Runs a call on the store: a driver failure becomes `StoreUnavailableError` (HTTP 503) and counts
   * in `metrics.storeErrors`; other `AuthError`s pass unchanged.
   */
  async call<T>(fn: () => Promise<T>): Promise<T> {
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

  assertOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  /** A background task failed (it retries by itself): logged once, with what it was, and counted. */
  backgroundFailed(task: string, error: unknown): void {
    this.metrics.backgroundErrors++;
    this.log.warn(
      { task, store: this.store.kind, err: errorText(error) },
      "background task failed; will retry",
    );
  }

  /**
   * The replica's feed failed (it retries within a second, so an outage fails many times): counted
   * every time, logged on the first failure and then at most once a minute while it lasts.
   */
  #feedFailed(error: unknown): void {
    this.metrics.storeErrors++;
    this.metrics.backgroundErrors++;
    const now = this.now();
    if (now - this.#feedLoggedAt < FEED_ERROR_LOG_MS) {
      this.#feedUnlogged++;
      return;
    }
    this.log.warn(
      {
        task: "revocation feed",
        store: this.store.kind,
        err: errorText(error),
        ...(this.#feedUnlogged > 0 ? { failuresSinceLastLog: this.#feedUnlogged } : {}),
      },
      "revocation feed failed; retrying (verify asks the store once the replica is stale)",
    );
    this.#feedLoggedAt = now;
    this.#feedUnlogged = 0;
  }

  // ---- lifetimes --------------------------------------------------------------------------------

  /** How long a session revocation (and a replica's copy of a user cutoff) is remembered, ms. */
  get revocationTtlMs(): number {
    return revocationTtlMs(this.#basis);
  }

  /** How long a user cutoff is remembered in the store, ms. */
  get userCutoffTtlMs(): number {
    return userCutoffTtlMs(this.#basis);
  }

  /** How long the revocation of a bare jti is remembered, ms. */
  get bareJtiTtlMs(): number {
    return bareJtiTtlMs(this.#basis);
  }

  /** Reads the longest lifetimes ever used with the store (before a revocation derives its own from them). */
  async readLifetimes(): Promise<void> {
    this.#basis.stored = await this.call(() => this.store.tokenLifetimes());
  }

  /** Records this node's lifetimes in the store, once, before it issues its first token. */
  recordLifetimes(): Promise<void> {
    this.#recorded ??= (async () => {
      const own: TokenLifetimes = { ...this.#basis.own };
      this.#basis.stored = await this.call(() => this.store.tokenLifetimes(own));
    })().catch((error: unknown) => {
      this.#recorded = undefined;
      throw error;
    });
    return this.#recorded;
  }

  // ---- revocations ------------------------------------------------------------------------------

  /** Who revoked, why and when, with the session-revocation lifetime. */
  meta(options: RevokeOptions | undefined, reason: string, at: number): RevocationMeta {
    return {
      reason: options?.reason ?? reason,
      actor: options?.actor ?? "system",
      at,
      ttl: this.revocationTtlMs,
    };
  }

  /**
   * A revocation this node made takes effect here at once (the feed brings it back later; `null`:
   * the store recorded nothing new) and counts in `metrics.revocations` as `grain|reason`.
   */
  applied(entry: RevocationEntry | null, grain: string, reason: string): void {
    if (entry) this.replica.apply(entry);
    this.metrics.count(this.metrics.revocations, `${grain}|${reason}`);
  }
}
