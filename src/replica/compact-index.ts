import { randomBytes } from "node:crypto";
import type { RevocationIndex } from "./index.js";

/**
 * Where a 128-bit key lands in the table: any function of its four 32-bit words returning a 32-bit
 * unsigned integer. Only placement depends on it; keys are always compared on all 128 bits.
 */
export type SlotHash = (w0: number, w1: number, w2: number, w3: number) => number;

/** Options of {@link CompactIndex}. */
export interface CompactIndexOptions {
  /** Slots to start with (rounded up to at least 16). Default 1024. */
  initialCapacity?: number;
  /**
   * Placement hash (advanced; tests inject a constant one to force every key into one cluster).
   * Default: a seeded 32-bit finalizer, with a random seed per index.
   */
  hash?: SlotHash;
}

/** Words per slot: the key's four 32-bit words, then the expiry as a float64 (two words). */
const SLOT_WORDS = 6;
const MAX_LOAD = 0.8;
/** Load after `reserve`: room to grow by a third before the next resize. */
const RESERVE_LOAD = 0.6;
const GROWTH = 1.5;
const MIN_CAPACITY = 16;
/** Below this many slots a resize is done at once (it takes microseconds). */
const SYNC_RESIZE_SLOTS = 4096;
/** Old-table slots moved per `add` while a resize is in progress; enough to finish before the new table fills. */
const MIGRATE_PER_ADD = 8;
const TWO_POW_32 = 4294967296;

/** UTF-16 code unit to its base64url value, -1 outside the alphabet (64 KiB, so no range check). */
const B64 = new Int8Array(65536).fill(-1);
for (let i = 0; i < 64; i++) {
  B64["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
}

/** Scratch space for the key being looked at (the index is single-threaded and never re-entrant). */
const K = new Uint32Array(4);

/**
 * Writes the 128 bits of a canonical 22-character base64url string (what `randomId()` makes for
 * every jti and session id) into `K`, and returns `true`; returns `false` for any other string. The
 * mapping is injective on the strings it accepts: 21 characters carry 6 bits each, the 22nd the
 * last 2 (its low 4 bits must be zero, as in a canonical encoding of 16 bytes).
 */
function encodeKey(key: string): boolean {
  if (key.length !== 22) return false;
  const w0 = chars5(key, 0);
  const w1 = chars5(key, 5);
  const w2 = chars5(key, 10);
  const w3 = chars5(key, 15);
  const v20 = B64[key.charCodeAt(20)]!;
  const v21 = B64[key.charCodeAt(21)]!;
  if ((w0 | w1 | w2 | w3 | v20 | v21) < 0 || (v21 & 15) !== 0) return false;
  K[0] = w0 + ((v20 >>> 4) & 3) * 0x40000000;
  K[1] = w1 + ((v20 >>> 2) & 3) * 0x40000000;
  K[2] = w2 + (v20 & 3) * 0x40000000;
  K[3] = w3 + (v21 >>> 4) * 0x40000000;
  return true;
}

/**
 * The four 32-bit words of a 128-bit id (a canonical 22-character base64url string, what
 * `randomId()` makes), written to `out[at..at+3]`; returns `false` (writing nothing) for any other
 * string. These are the words {@link CompactIndex} stores, {@link CompactIndex.exportWords} returns
 * and {@link CompactIndex.addWords} takes.
 */
export function idWords(key: string, out: Uint32Array, at = 0): boolean {
  if (!encodeKey(key)) return false;
  out[at] = K[0]!;
  out[at + 1] = K[1]!;
  out[at + 2] = K[2]!;
  out[at + 3] = K[3]!;
  return true;
}

/** Five base64url characters as 30 bits, or a negative number when one is outside the alphabet. */
function chars5(key: string, at: number): number {
  const a = B64[key.charCodeAt(at)]!;
  const b = B64[key.charCodeAt(at + 1)]!;
  const c = B64[key.charCodeAt(at + 2)]!;
  const d = B64[key.charCodeAt(at + 3)]!;
  const e = B64[key.charCodeAt(at + 4)]!;
  return (a | b | c | d | e) < 0 ? -1 : (a << 24) | (b << 18) | (c << 12) | (d << 6) | e;
}

/** A seeded murmur3-style mix of four words (placement only; fast, no cryptographic claim). */
function seededHash(seed: number): SlotHash {
  return (w0, w1, w2, w3) => {
    let h = seed;
    h = Math.imul(h ^ w0, 0xcc9e2d51);
    h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
    h = Math.imul(h ^ w1, 0xcc9e2d51);
    h = Math.imul((h << 13) | (h >>> 19), 0x1b873593);
    h = Math.imul(h ^ w2, 0xcc9e2d51);
    h = Math.imul((h << 15) | (h >>> 17), 0x1b873593);
    h ^= w3;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
}

/** A slot's tag: the hash's low 8 bits (the home slot comes from its high bits), never 0. */
function tagOf(h: number): number {
  return h & 255 || 1;
}

/**
 * One open-addressing table with linear probing: slot `i` holds the key's words at `u32[6i..6i+3]`
 * and its expiry (ms) at `f64[3i+2]`, `0` meaning empty. Deletion shifts the rest of the cluster
 * back, so there are no tombstones and probe chains never grow from churn.
 *
 * Beside it, one byte per slot, `tags[i]`: 0 for an empty slot, else 8 bits of the key's hash (never
 * 0). A probe walks these bytes (a table 24 times smaller, that stays in the CPU caches) and reads a
 * slot's words only when its tag matches, so a key that is absent, the common case (a token that is
 * not revoked), usually costs no access to the large table at all.
 */
class Table {
  readonly capacity: number;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly tags: Uint8Array;
  count = 0;
  readonly #hash: SlotHash;

  constructor(capacity: number, hash: SlotHash) {
    this.capacity = capacity;
    const buffer = new ArrayBuffer(capacity * SLOT_WORDS * 4);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.tags = new Uint8Array(capacity);
    this.#hash = hash;
  }

  /** Home slot of a key: the hash scaled onto `[0, capacity)` (no power-of-two capacity needed). */
  home(w0: number, w1: number, w2: number, w3: number): number {
    return Math.floor((this.#hash(w0, w1, w2, w3) * this.capacity) / TWO_POW_32);
  }

  /** The slot holding the key, or -1. */
  find(w0: number, w1: number, w2: number, w3: number): number {
    const { u32, tags, capacity } = this;
    const h = this.#hash(w0, w1, w2, w3);
    const tag = tagOf(h);
    let i = Math.floor((h * capacity) / TWO_POW_32);
    for (;;) {
      const t = tags[i];
      if (t === 0) return -1;
      if (t === tag) {
        const b = SLOT_WORDS * i;
        if (u32[b] === w0 && u32[b + 1] === w1 && u32[b + 2] === w2 && u32[b + 3] === w3) return i;
      }
      if (++i === capacity) i = 0;
    }
  }

  /** Inserts the key or raises its expiry; the caller keeps the load below 1. */
  put(w0: number, w1: number, w2: number, w3: number, expiresAt: number): void {
    const { u32, f64, tags, capacity } = this;
    const h = this.#hash(w0, w1, w2, w3);
    const tag = tagOf(h);
    let i = Math.floor((h * capacity) / TWO_POW_32);
    for (;;) {
      const t = tags[i];
      const e = 3 * i + 2;
      const b = SLOT_WORDS * i;
      if (t === 0) {
        u32[b] = w0;
        u32[b + 1] = w1;
        u32[b + 2] = w2;
        u32[b + 3] = w3;
        f64[e] = expiresAt;
        tags[i] = tag;
        this.count++;
        return;
      }
      if (t === tag && u32[b] === w0 && u32[b + 1] === w1 && u32[b + 2] === w2 && u32[b + 3] === w3) {
        if (f64[e]! < expiresAt) f64[e] = expiresAt;
        return;
      }
      if (++i === capacity) i = 0;
    }
  }

  /** Empties slot `i` and shifts later members of its cluster back (Knuth's algorithm R). */
  remove(i: number): void {
    const { u32, f64, tags, capacity } = this;
    let hole = i;
    let j = i;
    for (;;) {
      if (++j === capacity) j = 0;
      if (tags[j] === 0) break;
      const b = SLOT_WORDS * j;
      const k = this.home(u32[b]!, u32[b + 1]!, u32[b + 2]!, u32[b + 3]!);
      // The entry at j may fill the hole only if its home is not cyclically within (hole, j].
      const stays = hole <= j ? hole < k && k <= j : hole < k || k <= j;
      if (stays) continue;
      u32.copyWithin(SLOT_WORDS * hole, b, b + SLOT_WORDS);
      tags[hole] = tags[j]!;
      hole = j;
    }
    f64[3 * hole + 2] = 0;
    tags[hole] = 0;
    this.count--;
  }
}

/**
 * A {@link RevocationIndex} in typed arrays, for the replica's jti and session sets: 25 bytes per
 * slot, at most 80% of slots used, so 31 to 47 bytes per entry (a `Map` of the same strings
 * takes well over 100).
 *
 * Exactness: revokit's ids (`randomId()`, 22 base64url characters, 128 bits) are stored whole,
 * as four 32-bit words: the hash only chooses where a key goes and every match compares all 128 bits,
 * so a hash collision can neither revoke a valid token nor un-revoke a revoked one. Any other string
 * (a hand-typed jti, an id from another issuer) is kept exactly in a side `Map`.
 *
 * Growth: past 80% load the table is rebuilt 1.5 times larger, a few slots at a time (`add` and
 * `sweep` each move some), so no call stalls the event loop; meanwhile lookups read both tables.
 *
 * @example
 * const index = new CompactIndex();
 * index.add(jti, exp * 1000);
 * index.has(jti, Date.now()); // true until exp
 */
export class CompactIndex implements RevocationIndex {
  readonly #hash: SlotHash;
  readonly #initialCapacity: number;
  #table: Table;
  /** The table being drained into `#table` during a resize, else `undefined`. Never written to. */
  #old: Table | undefined;
  /** Next slot of `#old` to move. */
  #migrated = 0;
  /** Occupied slots of `#old` not yet moved. */
  #oldLeft = 0;
  #sweepAt = 0;
  /** Keys that are not 128-bit ids, kept exactly. */
  readonly #other = new Map<string, number>();
  #otherCursor: MapIterator<[string, number]> | undefined;

  /** Creates an empty index. */
  constructor(options: CompactIndexOptions = {}) {
    this.#hash = options.hash ?? seededHash(randomBytes(4).readUInt32LE(0));
    this.#initialCapacity = Math.max(MIN_CAPACITY, Math.ceil(options.initialCapacity ?? 1024));
    this.#table = new Table(this.#initialCapacity, this.#hash);
  }

  add(key: string, expiresAt: number): void {
    // Expiry 0 marks an empty slot; an entry that expired before 1970 covers nothing anyway.
    if (!(expiresAt > 0)) return;
    if (!encodeKey(key)) {
      const prev = this.#other.get(key);
      if (prev === undefined || prev < expiresAt) this.#other.set(key, expiresAt);
      return;
    }
    const w0 = K[0]!;
    const w1 = K[1]!;
    const w2 = K[2]!;
    const w3 = K[3]!;
    if (this.#old) this.#migrate(MIGRATE_PER_ADD);
    if (this.#table.count + 1 > this.#table.capacity * MAX_LOAD) this.#grow();
    this.#table.put(w0, w1, w2, w3, expiresAt);
  }

  /**
   * Adds an entry given as an id's four words (see {@link idWords}): what `add(key, expiresAt)` does
   * for the id those words encode, without building the string (to load a binary snapshot).
   */
  addWords(w0: number, w1: number, w2: number, w3: number, expiresAt: number): void {
    if (!(expiresAt > 0)) return;
    if (this.#old) this.#migrate(MIGRATE_PER_ADD);
    if (this.#table.count + 1 > this.#table.capacity * MAX_LOAD) this.#grow();
    this.#table.put(w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0, expiresAt);
  }

  /**
   * The entries active at `now`, as raw words, copied at one synchronous moment: `words` holds four
   * 32-bit words per 128-bit id (see {@link idWords}), `expiresAt` the matching expiries (ms), and
   * `others` the keys that are not 128-bit ids. {@link addWords} (or `add` for `others`) loads them
   * into another index.
   */
  exportWords(now: number): { words: Uint32Array; expiresAt: Float64Array; others: [string, number][] } {
    const max = this.#table.count + this.#oldLeft;
    const words = new Uint32Array(4 * max);
    const expiresAt = new Float64Array(max);
    let n = 0;
    const copy = (t: Table, from: number) => {
      const { u32, f64, capacity } = t;
      for (let i = from; i < capacity; i++) {
        const exp = f64[3 * i + 2]!;
        if (!(exp > now)) continue;
        const b = SLOT_WORDS * i;
        words[4 * n] = u32[b]!;
        words[4 * n + 1] = u32[b + 1]!;
        words[4 * n + 2] = u32[b + 2]!;
        words[4 * n + 3] = u32[b + 3]!;
        expiresAt[n++] = exp;
      }
    };
    copy(this.#table, 0);
    // During a resize, the slots of the old table not yet moved (a moved key is in the new table).
    if (this.#old) copy(this.#old, this.#migrated);
    const others: [string, number][] = [];
    for (const [key, exp] of this.#other) if (exp > now) others.push([key, exp]);
    return { words: words.subarray(0, 4 * n), expiresAt: expiresAt.subarray(0, n), others };
  }

  has(key: string, now: number): boolean {
    if (!encodeKey(key)) {
      const exp = this.#other.get(key);
      return exp !== undefined && exp > now;
    }
    const w0 = K[0]!;
    const w1 = K[1]!;
    const w2 = K[2]!;
    const w3 = K[3]!;
    const t = this.#table;
    const i = t.find(w0, w1, w2, w3);
    if (i >= 0 && t.f64[3 * i + 2]! > now) return true;
    const old = this.#old;
    if (old === undefined) return false;
    const j = old.find(w0, w1, w2, w3);
    return j >= 0 && old.f64[3 * j + 2]! > now;
  }

  sweep(now: number, budget: number): number {
    let removed = 0;
    let left = Math.max(0, Math.floor(budget));
    if (this.#old) left -= this.#migrate(Math.ceil(left / 4));
    if (this.#other.size > 0) {
      const [gone, examined] = this.#sweepOther(now, Math.ceil(left / 4));
      removed += gone;
      left -= examined;
    }
    const t = this.#table;
    const f64 = t.f64;
    let i = this.#sweepAt;
    // At most one full pass per call; a removal counts against the budget but does not advance.
    for (let passed = 0; left > 0 && passed < t.capacity && t.count > 0; left--) {
      if (i >= t.capacity) i = 0;
      const exp = f64[3 * i + 2]!;
      if (exp !== 0 && exp <= now) {
        // The backward shift may pull a later entry into slot i: look at slot i again.
        t.remove(i);
        removed++;
      } else {
        i++;
        passed++;
      }
    }
    this.#sweepAt = i;
    return removed;
  }

  #sweepOther(now: number, budget: number): [removed: number, examined: number] {
    let removed = 0;
    let examined = 0;
    this.#otherCursor ??= this.#other.entries();
    while (examined < budget) {
      const next = this.#otherCursor.next();
      if (next.done) {
        this.#otherCursor = undefined;
        break;
      }
      examined++;
      const [key, exp] = next.value;
      if (exp <= now) {
        this.#other.delete(key);
        removed++;
      }
    }
    return [removed, examined];
  }

  /**
   * Prepares room for `entries` more entries, so that loading a snapshot does not resize again and
   * again (at 60% load: 40 bytes an entry). Only an empty index is resized here; otherwise the
   * usual incremental growth applies.
   */
  reserve(entries: number): void {
    if (this.#table.count > 0 || this.#old || !(entries > 0)) return;
    const capacity = Math.ceil(entries / RESERVE_LOAD);
    if (capacity > this.#table.capacity) this.#table = new Table(capacity, this.#hash);
  }

  get size(): number {
    return this.#table.count + this.#oldLeft + this.#other.size;
  }

  /** Bytes held by the typed arrays (the side `Map` not counted). For diagnostics and the bench. */
  get tableBytes(): number {
    const bytes = (t: Table | undefined) => (t === undefined ? 0 : t.u32.byteLength + t.tags.byteLength);
    return bytes(this.#table) + bytes(this.#old);
  }

  clear(): void {
    this.#table = new Table(this.#initialCapacity, this.#hash);
    this.#old = undefined;
    this.#oldLeft = 0;
    this.#migrated = 0;
    this.#sweepAt = 0;
    this.#other.clear();
    this.#otherCursor = undefined;
  }

  #grow(): void {
    if (this.#old) this.#migrate(Number.POSITIVE_INFINITY); // only if adds outran the migration
    const old = this.#table;
    this.#table = new Table(Math.ceil(old.capacity * GROWTH), this.#hash);
    this.#old = old;
    this.#oldLeft = old.count;
    this.#migrated = 0;
    this.#sweepAt = 0;
    if (old.capacity <= SYNC_RESIZE_SLOTS) this.#migrate(Number.POSITIVE_INFINITY);
  }

  /** Moves up to `slots` slots of the old table into the new one; returns how many were looked at. */
  #migrate(slots: number): number {
    const old = this.#old;
    if (!old) return 0;
    const { u32, f64, capacity } = old;
    const end = Math.min(capacity, this.#migrated + slots);
    const t = this.#table;
    for (let i = this.#migrated; i < end; i++) {
      const exp = f64[3 * i + 2]!;
      if (exp === 0) continue;
      const b = SLOT_WORDS * i;
      t.put(u32[b]!, u32[b + 1]!, u32[b + 2]!, u32[b + 3]!, exp);
      this.#oldLeft--;
    }
    const looked = end - this.#migrated;
    this.#migrated = end;
    if (end === capacity) {
      this.#old = undefined;
      this.#oldLeft = 0;
    }
    return looked;
  }
}
