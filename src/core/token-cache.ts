/**
 * A bounded cache of verified access tokens, so that a token presented again skips its signature
 * check. Keyed by the whole token string (the exact bytes whose signature was checked). An entry is
 * never returned at or after its `exp`. It caches verification only: revocation is not cached and
 * must be checked by the caller on every use.
 *
 * Cost on a miss: one `Map` lookup. With many more distinct tokens than entries (many users, each
 * with their own token), a cache that took every token would evict each one before it came back, and
 * pay an insertion and an eviction on every call for no hit. So, once full, it admits only one miss in
 * {@link ADMIT_ONE_IN} (chosen at random): the tokens it holds then stay long enough to be hit again,
 * and the tokens it does not hold cost nothing more than the lookup.
 *
 * Eviction is first-in first-out through a ring of the entries, with no reordering on a hit: access
 * tokens are short-lived and used from issue to expiry, so the oldest entry is also the one closest
 * to expiring, and a hit costs one `Map` lookup and nothing else.
 */
export class TokenCache<V extends { readonly exp: number }> {
  /** Most entries held. */
  readonly maxEntries: number;
  /**
   * Entries by the token's last characters (its signature: unique to the token), each holding the
   * whole token, which a hit must equal exactly. Hashing a few dozen characters instead of the whole
   * token keeps a lookup cheap; the comparison keeps the cache keyed by the whole token.
   */
  readonly #map = new Map<string, Entry<V>>();
  /** Entries in insertion order, oldest at `#next` once the ring is full. */
  readonly #ring: Entry<V>[] = [];
  #next = 0;
  /** xorshift32 state for the admission draw (placement only: no security depends on it). */
  #seed = 0x9e3779b9;

  /** `maxEntries` must be a positive integer. */
  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError("maxEntries must be a positive integer");
    this.maxEntries = maxEntries;
  }

  /** The cached value for `token`, unless absent or expired at `nowMs` (an expired entry is dropped). */
  get(token: string, nowMs: number): V | undefined {
    if (typeof token !== "string") return undefined; // verify() is reached with anything at runtime
    const key = keyOf(token);
    const entry = this.#map.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.value.exp * 1000 <= nowMs) {
      this.#map.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /**
   * Whether a token just verified (a miss) should be cached: always while there is room, else one
   * in {@link ADMIT_ONE_IN} at random. Call {@link set} only when it says so.
   */
  admits(): boolean {
    if (this.#map.size < this.maxEntries) return true;
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x;
    return (x & (ADMIT_ONE_IN - 1)) === 0;
  }

  /** Caches `value` for `token`, evicting the oldest entry when full. The caller must not mutate `value` afterwards. */
  set(token: string, value: V): void {
    const key = keyOf(token);
    const previous = this.#map.get(key);
    if (previous !== undefined) {
      // Replaced in place: it keeps the place of the entry it replaces, and evicts nothing.
      const entry: Entry<V> = { key, token, value, slot: previous.slot };
      this.#map.set(key, entry);
      this.#ring[entry.slot] = entry;
      return;
    }
    if (this.#ring.length < this.maxEntries) {
      const entry: Entry<V> = { key, token, value, slot: this.#ring.length };
      this.#map.set(key, entry);
      this.#ring.push(entry);
      return;
    }
    const slot = this.#next;
    const oldest = this.#ring[slot];
    // The oldest may be gone already (expired and dropped by `get`): then nothing else is evicted.
    if (oldest !== undefined && this.#map.get(oldest.key) === oldest) this.#map.delete(oldest.key);
    const entry: Entry<V> = { key, token, value, slot };
    this.#map.set(key, entry);
    this.#ring[slot] = entry;
    if (++this.#next === this.maxEntries) this.#next = 0;
  }

  /** Forgets every entry (when keys change). */
  clear(): void {
    this.#map.clear();
    this.#ring.length = 0;
    this.#next = 0;
  }

  /** Entries held (expired ones not yet met included). */
  get size(): number {
    return this.#map.size;
  }
}

/** Once the cache is full, one miss in this many (a power of two) is cached. */
export const ADMIT_ONE_IN = 8;

interface Entry<V> {
  readonly key: string;
  readonly token: string;
  readonly value: V;
  /** Its index in the ring. */
  readonly slot: number;
}

/** The last 43 characters (256 bits of any signature), or the whole token when shorter. */
function keyOf(token: string): string {
  return token.length <= 43 ? token : token.slice(-43);
}

/** Freezes `value` and everything reachable from it, so a cached value can be shared safely. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
