/**
 * The store's one connection and how every call runs on it: in a read or a `BEGIN IMMEDIATE` write
 * transaction, with driver failures that mean "unavailable" turned into `StoreUnavailableError`.
 * Every module of the store (`sessions.ts`, `feed.ts`, `keys.ts`, `accounts.ts`) works through it.
 */

import { errorText } from "../../core/error-text.js";
import { StoreMissingError, StoreUnavailableError } from "../../core/errors.js";
import { type OpenDatabase, type OpenSettings, openDatabase } from "./schema.js";

/** SQLite result codes that mean "the database cannot be used right now", not a bug in the call. */
const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB|NOLFS|PERM|AUTH)/;

/** The connection of one store instance, open or not. */
export class SqliteConnection {
  readonly #settings: OpenSettings;
  readonly #appended: () => void;
  #open: OpenDatabase | null = null;
  /** The `now` last passed in; background purges never expire rows later than this. */
  #lastNow: number | undefined;

  /** `appended` is told after a write that added a feed entry (it wakes waiting long polls). */
  constructor(settings: OpenSettings, appended: () => void) {
    this.#settings = settings;
    this.#appended = appended;
  }

  /** The open connection, `null` when closed. */
  get current(): OpenDatabase | null {
    return this.#open;
  }

  /** The `now` last passed to a call, `undefined` before any. */
  get lastNow(): number | undefined {
    return this.#lastNow;
  }

  /** Opens the file (see `openDatabase`). Returns `false` when it was open already. */
  open(create: boolean): boolean {
    if (this.#open) return false;
    try {
      this.#open = openDatabase(this.#settings, create);
    } catch (error) {
      throw toStoreError(error, "open");
    }
    return true;
  }

  /** Closes the file. Idempotent. */
  close(): void {
    const open = this.#open;
    this.#open = null;
    open?.db.close();
  }

  /** Remembers the caller's clock (the store never expires rows by a later clock than its callers'). */
  seen(now: number): void {
    this.#lastNow = now;
  }

  /** Tells waiting long polls that a committed write added a feed entry. */
  appended(): void {
    this.#appended();
  }

  /** Runs `fn` on the open connection, turning availability failures into `StoreUnavailableError`. */
  run<T>(op: string, fn: (c: OpenDatabase) => T): T {
    const open = this.#open;
    if (!open) throw new StoreUnavailableError(`the sqlite store is not open (${op})`);
    try {
      return fn(open);
    } catch (error) {
      throw toStoreError(error, op);
    }
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction (the write lock is taken up front). */
  write<T>(op: string, fn: (c: OpenDatabase) => T): T {
    return this.run(op, (c) => c.db.transaction(() => fn(c)).immediate());
  }

  /** Runs `fn` in one read transaction: every read sees the same committed state. */
  read<T>(op: string, fn: (c: OpenDatabase) => T): T {
    return this.run(op, (c) => c.db.transaction(() => fn(c)).deferred());
  }
}

/** Maps a driver failure that means "unavailable" to `StoreUnavailableError`; other errors pass through. */
function toStoreError(error: unknown, op: string): unknown {
  if (error instanceof StoreMissingError) return error;
  if (error instanceof StoreUnavailableError || error instanceof TypeError) {
    if (error instanceof TypeError && /not open/i.test(error.message)) {
      return new StoreUnavailableError(`the sqlite store is closed (${op})`, { cause: error });
    }
    return error;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && UNAVAILABLE.test(code)) {
    return new StoreUnavailableError(`the sqlite store is unavailable (${op}: ${code})`, { cause: error });
  }
  if (op === "open")
    return new StoreUnavailableError(`the sqlite store cannot be opened: ${errorText(error)}`, {
      cause: error,
    });
  return error;
}
