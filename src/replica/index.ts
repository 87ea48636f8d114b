/**
 * A set of revoked identifiers, each with an expiry. `has` answers only for unexpired entries, so an
 * entry stops mattering the moment it expires even before a sweep removes it.
 */
export interface RevocationIndex {
  /** Adds `key` until `expiresAt` (ms); keeps the later expiry when the key is already present. */
  add(key: string, expiresAt: number): void;
  /** Whether `key` is present and `expiresAt > now`. */
  has(key: string, now: number): boolean;
  /** Removes up to `budget` expired entries, resuming where the last sweep stopped. Returns how many went. */
  sweep(now: number, budget: number): number;
  /** Entries held, expired-but-unswept ones included. */
  readonly size: number;
  /** Drops everything. */
  clear(): void;
  /** Optional: prepares room for `entries` more entries (called before a snapshot is loaded). */
  reserve?(entries: number): void;
  /**
   * Adds an entry given as the four 32-bit words of a 128-bit id (see {@link idWords}), for indexes
   * that store ids that way (a snapshot in the compact binary form); same rules as `add`.
   */
  addWords?(w0: number, w1: number, w2: number, w3: number, expiresAt: number): void;
}

/** A {@link RevocationIndex} on a JS `Map`: simple, and fine up to some hundred thousand entries. */
export class MapIndex implements RevocationIndex {
  readonly #map = new Map<string, number>();
  #cursor: MapIterator<[string, number]> | undefined;

  add(key: string, expiresAt: number): void {
    const prev = this.#map.get(key);
    if (prev === undefined || prev < expiresAt) this.#map.set(key, expiresAt);
  }

  has(key: string, now: number): boolean {
    const exp = this.#map.get(key);
    return exp !== undefined && exp > now;
  }

  sweep(now: number, budget: number): number {
    let removed = 0;
    this.#cursor ??= this.#map.entries();
    for (let i = 0; i < budget; i++) {
      const next = this.#cursor.next();
      if (next.done) {
        this.#cursor = undefined;
        break;
      }
      const [key, exp] = next.value;
      if (exp <= now) {
        this.#map.delete(key);
        removed++;
      }
    }
    return removed;
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
    this.#cursor = undefined;
  }
}
