import type { AccessTokenClaims } from "../core/access-token.js";
import { errorText } from "../core/error-text.js";
import type { JwsVerifyOptions } from "../core/jws.js";
import {
  type Algorithm,
  generateKey,
  importKey,
  type KeyEntry,
  type KeyInput,
  KeyRing,
  keyWithdrawalSubject,
  loadKey,
} from "../core/keys.js";
import { keyRetentionMs, keyWithdrawalTtlMs } from "../core/lifetimes.js";
import type { StoredKey } from "../core/model.js";
import type { TokenCache } from "../core/token-cache.js";
import type { AuthContext } from "./context.js";
import type { AuthStatus, RevokeOptions } from "./types.js";

/**
 * The signing and verification keys of one `Auth`: loaded from the store (one is created on a first
 * start), reloaded every `keyRefreshInterval` and on demand, rotated, withdrawn, published as a JWKS,
 * and deleted from the store once every token they signed has expired. A withdrawn key (a `jti` feed
 * entry `key:<kid>`) neither signs nor verifies nor is published, whatever the store still lists.
 * @internal
 */
export class KeyManager {
  readonly #ctx: AuthContext;
  readonly #algorithm: Algorithm;
  readonly #inputs: KeyInput[];
  /** Verified tokens: emptied whenever a key that verified them goes or changes. */
  readonly #cache: TokenCache<AccessTokenClaims> | undefined;
  readonly #retentionMs: number;
  #ring = new KeyRing([]);
  #loadedAt = Number.NEGATIVE_INFINITY;
  #reload: Promise<void> | undefined;
  /** What `verifyCompactJws` is given for an access token (built once: verify passes it on every call). */
  readonly jwsRules: JwsVerifyOptions;

  constructor(ctx: AuthContext, cache: TokenCache<AccessTokenClaims> | undefined) {
    const o = ctx.options;
    this.#ctx = ctx;
    this.#algorithm = o.algorithm;
    this.#inputs = o.keys;
    this.#cache = cache;
    this.#retentionMs = keyRetentionMs(o.accessTokenTtlMs, o.clockToleranceMs, o.keyRefreshIntervalMs);
    this.jwsRules = {
      algorithms: o.algorithms,
      key: (kid) => this.#ring.get(kid),
      maxLength: o.maxTokenLength,
      typ: "at+jwt",
    };
  }

  /** When the keys were last read from the store (ms; -Infinity before the first time). */
  get loadedAt(): number {
    return this.#loadedAt;
  }

  /** At start: imports the configured keys into the store, then loads every stored key. */
  async load(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.now();
    for (const input of this.#inputs) {
      const key = await importKey(input, now);
      await ctx.call(() => ctx.store.addKey(key));
    }
    this.#set((await this.#storedKeys()).map(loadKey), now);
  }

  /** Reads the keys again (one read at a time: concurrent callers share it). A key that cannot be loaded is logged and skipped. */
  reload(): Promise<void> {
    this.#reload ??= (async () => {
      try {
        const stored = await this.#storedKeys();
        const entries = [];
        for (const k of stored) {
          try {
            entries.push(loadKey(k));
          } catch (error) {
            this.#ctx.log.error(
              { kid: k.kid, err: errorText(error) },
              "a stored key cannot be loaded; skipped",
            );
          }
        }
        this.#set(entries, this.#ctx.now());
      } finally {
        this.#reload = undefined;
      }
    })();
    return this.#reload;
  }

  /** The replica learnt of a withdrawal: refuse the key here at once; the reload picks up its replacement. */
  withdrawn(kid: string): void {
    this.#set([...this.#ring.entries], this.#ctx.now());
    this.#ctx.log.info?.({ kid }, "signing key withdrawn: every token it signed is refused");
    this.reload().catch((error: unknown) =>
      this.#ctx.backgroundFailed("key reload after a withdrawal", error),
    );
  }

  /**
   * The key to sign with at `now`. A node whose clock is behind (within the tolerance) still signs
   * with a key just created elsewhere.
   */
  signingKey(now: number): KeyEntry | undefined {
    return (
      this.#ring.signingKey(this.#algorithm, now) ??
      this.#ring.signingKey(this.#algorithm, now + this.#ctx.options.clockToleranceMs)
    );
  }

  /** The public JWKS: the keys that sign or may still have signed a live token. */
  jwks(now: number): { keys: Record<string, unknown>[] } {
    return this.#ring.jwks(now, this.#retentionMs);
  }

  /** The loaded keys, for `Auth.status`. */
  status(now: number): AuthStatus["keys"] {
    const signing = this.#ring.signingKey(this.#algorithm, now);
    return this.#ring.entries.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      activateAt: k.activateAt,
      signing: k === signing,
    }));
  }

  /** Publishes a new key, signing from `activateAt`, after the publication lead, or at once. */
  async rotate(options: {
    activateAt?: Date;
    immediate?: boolean;
  }): Promise<{ kid: string; activateAt: Date }> {
    const ctx = this.#ctx;
    const now = ctx.now();
    if (options.activateAt !== undefined && options.immediate)
      throw new TypeError("give activateAt or immediate, not both");
    if (options.activateAt !== undefined && !Number.isFinite(options.activateAt.getTime()))
      throw new TypeError("activateAt must be a valid Date");
    const key = await generateKey(this.#algorithm, now, now);
    // The lead counts from publication (an RSA key takes a moment to generate).
    const published = ctx.now();
    const activateAt = options.activateAt
      ? options.activateAt.getTime()
      : options.immediate
        ? published
        : published + ctx.options.keyPublicationLeadMs;
    key.activateAt = activateAt;
    await ctx.call(() => ctx.store.addKey(key));
    await this.reload();
    return { kid: key.kid, activateAt: new Date(activateAt) };
  }

  /**
   * Withdraws a key: a replacement first when it signs (so that no node is ever left without one),
   * then the withdrawal on the feed, then the key leaves the store. `null` when no key has that kid.
   */
  async revoke(
    kid: string,
    options: RevokeOptions | undefined,
  ): Promise<{ kid: string; replacedBy: { kid: string; activateAt: Date } | null } | null> {
    if (typeof kid !== "string" || kid.length === 0 || kid.length > 256)
      throw new TypeError("kid must be a string of 1 to 256 characters");
    const ctx = this.#ctx;
    const now = ctx.now();
    const stored = await ctx.call(() => ctx.store.listKeys());
    const target = stored.find((k) => k.kid === kid);
    if (!target) return null;
    const withdrawn = ctx.replica.withdrawnKeys;
    const ring = new KeyRing(stored.filter((k) => !withdrawn.has(k.kid)).map(loadKey));
    const signing = ring.signingKey(target.alg, now);
    const othersActive = ring.entries.filter(
      (e) => e.kid !== kid && e.alg === target.alg && e.activateAt <= now,
    );
    let replacedBy: { kid: string; activateAt: Date } | null = null;
    if (target.alg === this.#algorithm && (signing?.kid === kid || othersActive.length === 0)) {
      const next = await generateKey(this.#algorithm, now, now);
      await ctx.call(() => ctx.store.addKey(next));
      replacedBy = { kid: next.kid, activateAt: new Date(now) };
    }
    const withdrawal = {
      kind: "jti" as const,
      subject: keyWithdrawalSubject(kid),
      expiresAt: now + keyWithdrawalTtlMs(ctx.options.accessTokenTtlMs, ctx.options.clockToleranceMs),
      reason: options?.reason ?? "key_withdrawn",
      actor: options?.actor ?? "admin",
      at: now,
    };
    const entry = await ctx.call(() => ctx.store.addRevocation(withdrawal));
    // Applied here even when the store had it already: this node must refuse the key now.
    ctx.replica.apply(entry ?? { seq: "", ...withdrawal });
    await ctx.call(() => ctx.store.deleteKey(kid));
    await this.reload();
    ctx.metrics.count(ctx.metrics.revocations, `key|${withdrawal.reason}`);
    return { kid, replacedBy };
  }

  /** Deletes from the store the keys past their retention and the withdrawn ones (background). */
  async deleteRetired(now: number): Promise<void> {
    const ctx = this.#ctx;
    for (const k of this.#ring.expired(now, this.#retentionMs))
      await ctx.call(() => ctx.store.deleteKey(k.kid));
    for (const kid of ctx.replica.withdrawnKeys.keys()) await ctx.call(() => ctx.store.deleteKey(kid));
  }

  #set(entries: KeyEntry[], now: number): void {
    const withdrawn = this.#ctx.replica.withdrawnKeys;
    const ring = new KeyRing(withdrawn.size === 0 ? entries : entries.filter((e) => !withdrawn.has(e.kid)));
    // A cached token stays valid only while the key that verified it is still there, unchanged.
    if (this.#cache && !keepsEveryKey(this.#ring, ring)) this.#cache.clear();
    this.#ring = ring;
    this.#loadedAt = now;
  }

  /**
   * The stored keys, after publishing one for `algorithm` if there is none: on a first start, or when
   * the store lost its data (of concurrent nodes exactly one key wins).
   */
  async #storedKeys(): Promise<StoredKey[]> {
    const ctx = this.#ctx;
    const stored = await ctx.call(() => ctx.store.listKeys());
    if (stored.some((k) => k.alg === this.#algorithm)) return stored;
    // The store has no key to sign with (a first start, or it lost its data): stop signing with keys it
    // no longer holds at once, not only when the new key is ready (an RSA key takes a while), so no
    // token is minted with a key that other nodes cannot load.
    const held = new Set(stored.map((k) => k.kid));
    const kept = this.#ring.entries.filter((e) => held.has(e.kid));
    if (kept.length < this.#ring.entries.length) this.#set(kept, ctx.now());
    const key = await generateKey(this.#algorithm, ctx.now());
    await ctx.call(() => ctx.store.addKey(key, { ifNoKeyFor: this.#algorithm }));
    return ctx.call(() => ctx.store.listKeys());
  }
}

/** Whether every key of `before` is in `after` with the same algorithm and verification key. */
function keepsEveryKey(before: KeyRing, after: KeyRing): boolean {
  return before.entries.every((k) => {
    const now = after.get(k.kid);
    return now !== undefined && now.alg === k.alg && now.verifyKey.equals(k.verifyKey);
  });
}
