import type { ChangeBatch, RevocationEntry } from "../core/model.js";
import type { RevocationStore } from "../stores/contract.js";
import type { FailureLog } from "./failures.js";

/**
 * Pause between two reads of the store, ms. The hub polls (reads that never block) so it never queues
 * behind the node's own replica on a store's single feed connection; 100 cheap reads a second while
 * some verifier follows, none when none does.
 */
const HUB_WAIT_MS = 10;
/** The hub stops reading the store this long after the last reader came, ms. */
const IDLE_MS = 60_000;
/** Entries kept in memory for readers that are a little behind. */
const BUFFER_ENTRIES = 20_000;
/** Entries per answer. */
const LIMIT = 1000;

/** One completed read of the store by the hub. */
interface Read {
  /** When the read started: the store's state as of then (or later) is in the buffer. */
  startedAt: number;
}

/** A batch as the hub keeps it: entries between two feed positions. */
interface Span {
  from: string;
  to: string;
  entries: RevocationEntry[];
}

/**
 * Serves the revocation feed to many remote readers with ONE follower of the store: the hub reads the
 * store's change feed in a loop, keeps the recent entries in memory, and answers each long poll from
 * there. Every answer is backed by a read of the store that started after the reader's request
 * arrived, so a reader that notes the time before its request may count itself current as of then
 * (the same rule as a node's replica). Readers whose cursor the hub does not know (too far behind, or
 * from before a restart) are answered from the store directly.
 */
export class FeedHub {
  readonly #store: RevocationStore;
  readonly #now: () => number;
  readonly #failures: FailureLog;
  #head: string | undefined;
  #epoch = "";
  #spans: Span[] = [];
  #buffered = 0;
  /** Index of spans by their `from` position. */
  #byFrom = new Map<string, number>();
  #base = 0;
  #lastRead: Read | undefined;
  #loop: Promise<void> | undefined;
  #closed = false;
  #waiters = new Set<() => void>();
  #lastRequestAt = 0;

  /**
   * Reads the feed of `store`. The loop retries a failed read by itself; `failures` logs and counts
   * each failure, and the recovery.
   */
  constructor(store: RevocationStore, now: () => number, failures: FailureLog) {
    this.#store = store;
    this.#now = now;
    this.#failures = failures;
  }

  /** The store's epoch as last read by the hub (`""` before its first read). */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * Entries after `cursor`, waiting up to `waitMs` for some. Resolves with an empty batch (a
   * heartbeat: nothing was recorded after `cursor` as of the request) when none came.
   */
  async read(cursor: string, waitMs: number): Promise<ChangeBatch> {
    const arrived = this.#now();
    this.#lastRequestAt = arrived;
    const deadline = arrived + waitMs;
    if (this.#head === undefined) {
      this.#head = (await this.#direct(cursor)).cursor;
      this.#startLoop();
    }
    for (;;) {
      if (this.#closed) throw new Error("the feed is closing");
      const read = this.#lastRead;
      if (read && read.startedAt >= arrived) {
        const known = this.#from(cursor);
        if (known === undefined) return this.#directUntil(cursor, deadline);
        if (known.entries.length > 0 || this.#now() >= deadline) return known;
      }
      if (!this.#loop) this.#startLoop();
      await this.#next(Math.max(1, deadline - this.#now()) + HUB_WAIT_MS * 2);
    }
  }

  /** Entries after `cursor` from the buffer, or `undefined` when `cursor` is not a known position. */
  #from(cursor: string): ChangeBatch | undefined {
    if (cursor === this.#head) return { epoch: this.#epoch, cursor, entries: [] };
    const at = this.#byFrom.get(cursor);
    if (at === undefined) return undefined;
    const entries: RevocationEntry[] = [];
    let to = cursor;
    for (let i = at - this.#base; i < this.#spans.length && entries.length < LIMIT; i++) {
      const span = this.#spans[i] as Span;
      entries.push(...span.entries);
      to = span.to;
    }
    return { epoch: this.#epoch, cursor: to, entries };
  }

  /** A reader the buffer cannot serve: the store directly, without waiting on it (polling instead). */
  async #directUntil(cursor: string, deadline: number): Promise<ChangeBatch> {
    for (;;) {
      const batch = await this.#direct(cursor);
      if (batch.entries.length > 0 || batch.epoch !== this.#epoch || this.#now() >= deadline) return batch;
      if (batch.cursor === this.#head) return this.read(batch.cursor, Math.max(0, deadline - this.#now()));
      await this.#next(Math.min(HUB_WAIT_MS, Math.max(1, deadline - this.#now())));
    }
  }

  async #direct(cursor: string): Promise<ChangeBatch> {
    const batch = await this.#store.changes(cursor, { waitMs: 0, limit: LIMIT });
    return { epoch: batch.epoch, cursor: batch.cursor, entries: batch.entries };
  }

  /** Resolves at the hub's next completed read, or after `ms`. */
  #next(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #startLoop(): void {
    if (this.#loop || this.#closed) return;
    // The loop handles the store's failures itself; anything else that ends it is logged here.
    this.#loop = this.#follow()
      .catch((error: unknown) => this.#failures.failed(error))
      .finally(() => {
        this.#loop = undefined;
      });
  }

  async #follow(): Promise<void> {
    let backoff = 10;
    let pause = 0;
    while (!this.#closed && this.#head !== undefined) {
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      if (this.#closed) return;
      const startedAt = this.#now();
      if (startedAt - this.#lastRequestAt > IDLE_MS) return;
      try {
        const batch = await this.#store.changes(this.#head, { waitMs: 0, limit: LIMIT });
        if (this.#closed) return;
        if (batch.epoch !== this.#epoch) this.#reset(batch.epoch);
        if (batch.entries.length > 0)
          this.#append({ from: this.#head, to: batch.cursor, entries: batch.entries });
        this.#head = batch.cursor;
        // Entries came: read again at once, so the answer is backed by a read that started after
        // every request waiting now.
        pause = batch.entries.length > 0 ? 0 : HUB_WAIT_MS;
        this.#lastRead = { startedAt };
        backoff = 10;
        this.#failures.recovered();
      } catch (error) {
        if (this.#closed) return;
        this.#failures.failed(error);
        pause = backoff;
        backoff = Math.min(backoff * 2, 500);
      }
      for (const wake of [...this.#waiters]) wake();
    }
  }

  #reset(epoch: string): void {
    this.#epoch = epoch;
    this.#spans = [];
    this.#byFrom.clear();
    this.#base = 0;
    this.#buffered = 0;
  }

  #append(span: Span): void {
    this.#byFrom.set(span.from, this.#base + this.#spans.length);
    this.#spans.push(span);
    this.#buffered += span.entries.length;
    while (this.#buffered > BUFFER_ENTRIES && this.#spans.length > 1) {
      const old = this.#spans.shift() as Span;
      this.#byFrom.delete(old.from);
      this.#buffered -= old.entries.length;
      this.#base++;
    }
  }

  /** Stops the loop and releases waiting readers. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of [...this.#waiters]) wake();
    await this.#loop;
  }
}
