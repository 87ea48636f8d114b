/**
 * A bounded cache of verified access tokens, so that a token presented again skips its signature
 * check. Keyed by the whole token string (the exact bytes whose signature was checked). An entry is
 * never returned at or after its `exp`. It caches verification only: revocation is not cached and
 * must be checked by the caller on every use.
 *
 * Eviction is first-in first-out, with no reordering on a hit: access tokens are short-lived and used
 * from issue to expiry, so the oldest entry is also the one closest to expiring, and a hit costs one
 * `Map` lookup and nothing else.
 */
export class TokenCache<V extends { readonly exp: number }> {
  /** Most entries held. */
  readonly maxEntries: number;
  /**
   * Entries by the token's last part (its signature: short, and unique to the token), each holding the
   * whole token, which a hit must equal exactly. Hashing a few dozen characters instead of the whole
   * token keeps a hit cheap; the comparison keeps the cache keyed by the whole token.
   */
  readonly #map = new Map<string, { token: string; value: V }>();

  /** `maxEntries` must be a positive integer. */
  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError("maxEntries must be a positive integer");
    this.maxEntries = maxEntries;
  }

  /** The cached value for `token`, unless absent or expired at `nowMs` (an expired entry is dropped). */
  get(token: string, nowMs: number): V | undefined {
    if (typeof token !== "string") return undefined; // verify() is reached with anything at runtime
    const key = lastPart(token);
    const entry = this.#map.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.value.exp * 1000 <= nowMs) {
      this.#map.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Caches `value` for `token`, evicting the oldest entry when full. The caller must not mutate `value` afterwards. */
  set(token: string, value: V): void {
    const key = lastPart(token);
    if (this.#map.size >= this.maxEntries && !this.#map.has(key)) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, { token, value });
  }

  /** Forgets every entry (when keys change). */
  clear(): void {
    this.#map.clear();
  }

  /** Entries held (expired ones not yet met included). */
  get size(): number {
    return this.#map.size;
  }
}

function lastPart(token: string): string {
  const dot = token.lastIndexOf(".");
  return dot < 0 ? token : token.slice(dot + 1);
}

/** Freezes `value` and everything reachable from it, so a cached value can be shared safely. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
