/**
 * The embedded default store: one SQLite file through better-sqlite3. Durable, zero set-up, and
 * shareable by several processes on one host (cluster workers, two servers on one machine).
 *
 * - The schema is versioned (`PRAGMA user_version`); migrations run on open, in one write
 *   transaction, so concurrent first starts migrate once (`schema.ts`).
 * - WAL journal, `busy_timeout`, and an index for every hot query (`statements.ts`).
 * - Refresh rotation and reuse detection run inside one `BEGIN IMMEDIATE` transaction: across
 *   threads and processes two rotations of one token can never both win (`sessions.ts`).
 * - The change feed is the `revocations` table; `changes()` long-polls by reading its sequence every
 *   `pollInterval` ms, so other processes' revocations arrive within it (`feed.ts`).
 * - Expired rows are purged by the store itself on a timer (and by {@link Store.purge}).
 * - Refresh tokens and client secrets are only ever stored as the hashes the caller gives.
 *
 * This module is the composition: options, lifecycle, and one line per contract method.
 * @example
 * import { createAuth } from "revokit";
 * import { sqliteStore } from "revokit/sqlite";
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: sqliteStore({ path: "data/auth.db" }) });
 */
import type Database from "better-sqlite3";
import type { Duration } from "../../core/duration.js";
import { ConfigInvalidError, StoreUnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationCheckpoint,
  RevocationEntry,
  RevocationMeta,
  RevocationSnapshot,
  RotateInput,
  RotateResult,
  SessionRecord,
  SnapshotHead,
  SnapshotSink,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
  UserRecord,
} from "../../core/model.js";
import { checkOptionNames, durationOption } from "../../core/options.js";
import { STDERR_LOGGER } from "../../loggers.js";
import type { Store, StoreOpenOptions } from "../contract.js";
import * as accounts from "./accounts.js";
import * as checkpoint from "./checkpoint.js";
import { SqliteConnection } from "./connection.js";
import * as feed from "./feed.js";
import * as keys from "./keys.js";
import * as sessions from "./sessions.js";

export { SQLITE_SCHEMA_VERSION } from "./schema.js";

/** Options of {@link sqliteStore}. Durations are a number of seconds or a string such as `"20ms"`, `"5s"`. */
export interface SqliteStoreOptions {
  /**
   * The database file. Its parent directory is created when missing. `":memory:"` gives a private,
   * non-durable database (one process, one store instance). The store-URL form `"sqlite:./auth.db"`
   * means the same as `"./auth.db"`.
   */
  path: string;
  /** How often a waiting `changes()` call reads the feed sequence. Default `"20ms"`. */
  pollInterval?: Duration;
  /** How long a call waits for another process's write lock before failing. Default `"5s"`. */
  busyTimeout?: Duration;
  /** How often the store purges expired rows by itself; 0 turns it off. Default `"1m"`. */
  purgeInterval?: Duration;
  /**
   * `"full"` (default): every commit is synced to disk, so an acknowledged revocation survives a power
   * loss. `"normal"`: faster; survives a crash of the process but maybe not of the machine.
   */
  synchronous?: "full" | "normal";
  /** Where background failures go (a purge or a feed poll that failed). Default: JSON lines on stderr. */
  logger?: Logger;
}

const SQLITE_OPTION_NAMES = Object.keys({
  path: true,
  pollInterval: true,
  busyTimeout: true,
  purgeInterval: true,
  synchronous: true,
  logger: true,
} satisfies Record<keyof SqliteStoreOptions, true>);

/**
 * Creates a SQLite {@link Store} on the file at `options.path`. Nothing is opened until `open()`
 * (which `createAuth` calls). Several stores (in one or several processes) may share one file.
 * Invalid options throw `ConfigInvalidError` at once.
 * @example
 * const store = sqliteStore({ path: "./data/revokit.db" });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  return new SqliteStore(options);
}

class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly durable: boolean;
  readonly #purgeMs: number;
  readonly #log: Logger;
  readonly #db: SqliteConnection;
  readonly #waiters: feed.FeedWaiters;
  #stopPurge: (() => void) | undefined;

  constructor(options: SqliteStoreOptions) {
    if (typeof options !== "object" || options === null)
      throw new ConfigInvalidError("options", "must be an object");
    checkOptionNames("sqliteStore", options, SQLITE_OPTION_NAMES);
    if (typeof options.path !== "string" || options.path.length === 0) {
      throw new ConfigInvalidError("path", 'is required: a file path, or ":memory:"');
    }
    const path = sqlitePath(options.path);
    this.durable = path !== ":memory:";
    const pollMs = durationOption(options.pollInterval, 20, "pollInterval", 1);
    const busyMs = durationOption(options.busyTimeout, 5000, "busyTimeout", 0);
    this.#purgeMs = durationOption(options.purgeInterval, 60_000, "purgeInterval", 0);
    const sync = options.synchronous ?? "full";
    if (sync !== "full" && sync !== "normal")
      throw new ConfigInvalidError("synchronous", 'must be "full" or "normal"');
    this.#log = options.logger ?? STDERR_LOGGER;
    const synchronous = sync === "full" ? "FULL" : "NORMAL";
    this.#db = new SqliteConnection({ path, durable: this.durable, busyMs, synchronous }, () =>
      this.#waiters.wakeAll(),
    );
    this.#waiters = new feed.FeedWaiters(this.#db, pollMs, this.#log);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** The open connection, for the security-event outbox and the status lists (`outbox.ts`, `status.ts`). */
  outboxAccess(): { kind: "sqlite"; db: () => Database.Database } {
    return {
      kind: "sqlite",
      db: () => {
        const open = this.#db.current;
        if (!open) throw new StoreUnavailableError("the sqlite store is not open");
        return open.db;
      },
    };
  }

  /**
   * Opens the file (creating it and its directory), migrates the schema and writes the epoch.
   * Idempotent. With `{ create: false }` only an existing, initialised file is opened, and nothing is
   * created: otherwise `StoreMissingError`.
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (!this.#db.open(options.create !== false)) return;
    if (this.#purgeMs > 0) this.#stopPurge = feed.startAutoPurge(this.#db, this.#purgeMs, this.#log);
  }

  /** Closes the file and stops the timers; pending long polls resolve at once. Idempotent. */
  async close(): Promise<void> {
    this.#stopPurge?.();
    this.#stopPurge = undefined;
    this.#waiters.wakeAll();
    this.#db.close();
  }

  // ---- keys -------------------------------------------------------------------------------------

  async listKeys(): Promise<StoredKey[]> {
    return keys.listKeys(this.#db);
  }
  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return keys.addKey(this.#db, key, options);
  }
  async deleteKey(kid: string): Promise<void> {
    keys.deleteKey(this.#db, kid);
  }

  // ---- sessions and the user grain --------------------------------------------------------------

  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return sessions.createSession(this.#db, session, refreshHash);
  }
  async getSession(id: string): Promise<SessionRecord | null> {
    return sessions.getSession(this.#db, id);
  }
  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return sessions.listUserSessions(this.#db, userId, now);
  }
  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return sessions.listSessionsCutOff(this.#db, userId, cutoff);
  }
  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    return sessions.rotateRefreshToken(this.#db, input);
  }
  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return sessions.findRefreshToken(this.#db, hash);
  }
  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    return sessions.revokeSession(this.#db, sessionId, meta);
  }
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    return sessions.cutOffUser(this.#db, userId, meta, options);
  }
  async enableUser(userId: string): Promise<void> {
    sessions.enableUser(this.#db, userId);
  }
  async isUserDisabled(userId: string): Promise<boolean> {
    return sessions.isUserDisabled(this.#db, userId);
  }

  // ---- revocations and the change feed ----------------------------------------------------------

  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    return feed.addRevocation(this.#db, entry);
  }
  async snapshot(now: number): Promise<RevocationSnapshot> {
    return feed.snapshot(this.#db, now);
  }
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    return feed.snapshotInto(this.#db, now, apply);
  }
  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    return feed.changes(this.#db, this.#waiters, cursor, options);
  }
  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    return feed.check(this.#db, query, now);
  }
  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return feed.tokenLifetimes(this.#db, record);
  }
  async purge(now: number): Promise<number> {
    this.#db.seen(now);
    return feed.purge(this.#db, now);
  }
  // ---- checkpoints -------------------------------------------------------------------------------

  async readCheckpoint(): Promise<RevocationCheckpoint | null> {
    return checkpoint.readCheckpoint(this.#db);
  }
  async checkpointTakenAt(): Promise<number> {
    return checkpoint.checkpointTakenAt(this.#db);
  }
  async writeCheckpoint(value: RevocationCheckpoint): Promise<boolean> {
    return checkpoint.writeCheckpoint(this.#db, value);
  }

  // ---- accounts: users, clients, rate limits ----------------------------------------------------

  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return accounts.createUser(this.#db, user);
  }
  async getUser(id: string): Promise<UserRecord | null> {
    return accounts.getUser(this.#db, id);
  }
  async getUserByName(username: string): Promise<UserRecord | null> {
    return accounts.getUserByName(this.#db, username);
  }
  async listUsers(): Promise<UserRecord[]> {
    return accounts.listUsers(this.#db);
  }
  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return accounts.setPasswordHash(this.#db, userId, passwordHash);
  }
  async deleteUser(userId: string): Promise<void> {
    accounts.deleteUser(this.#db, userId);
  }
  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return accounts.addClient(this.#db, client);
  }
  async getClient(clientId: string): Promise<ClientRecord | null> {
    return accounts.getClient(this.#db, clientId);
  }
  async listClients(): Promise<ClientRecord[]> {
    return accounts.listClients(this.#db);
  }
  async removeClient(clientId: string): Promise<boolean> {
    return accounts.removeClient(this.#db, clientId);
  }
  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    return accounts.hitRateLimit(this.#db, key, windowMs, now);
  }
  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return accounts.peekRateLimit(this.#db, key, now);
  }
  async resetRateLimit(key: string): Promise<void> {
    accounts.resetRateLimit(this.#db, key);
  }
}

/** `sqlite:PATH` and `sqlite://PATH` (the store-URL forms) name the file PATH. */
function sqlitePath(path: string): string {
  if (!/^sqlite:/i.test(path)) return path;
  let rest = path.slice("sqlite:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  if (rest.length === 0)
    throw new ConfigInvalidError("path", "sqlite: needs a file path, e.g. sqlite:./data/revokit.db");
  return rest;
}
