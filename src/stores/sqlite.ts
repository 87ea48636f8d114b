/**
 * The embedded default store: one SQLite file through better-sqlite3. Durable, zero set-up, and
 * shareable by several processes on one host (cluster workers, two servers on one machine).
 *
 * - The schema is versioned (`PRAGMA user_version`); migrations run on open, in one write
 *   transaction, so concurrent first starts migrate once.
 * - WAL journal, `busy_timeout`, and an index for every hot query.
 * - Refresh rotation and reuse detection run inside one `BEGIN IMMEDIATE` transaction: across
 *   threads and processes two rotations of one token can never both win.
 * - The change feed is the `revocations` table (an `AUTOINCREMENT` sequence). Writers commit in
 *   sequence order, so a reader resuming after `seq` never skips an entry. `changes()` long-polls by
 *   reading the sequence every `pollInterval` ms, so other processes' revocations arrive within it.
 * - Expired rows are purged by the store itself on a timer (and by {@link Store.purge}).
 * - Refresh tokens and client secrets are only ever stored as the hashes the caller gives.
 * @example
 * import { createAuth } from "revokit";
 * import { sqliteStore } from "revokit/sqlite";
 * const auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: sqliteStore({ path: "data/auth.db" }) });
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Duration } from "../core/duration.js";
import { ConfigInvalidError, StoreMissingError, StoreUnavailableError } from "../core/errors.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
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
} from "../core/model.js";
import { checkOptionNames, durationOption } from "../core/options.js";
import {
  applyRevocation,
  applyRotation,
  decideRotation,
  isEndedByUserCutoff,
  isSessionLive,
} from "../core/refresh.js";
import { mergeUserCutoff } from "../core/user-cutoff.js";
import type { Store, StoreOpenOptions } from "./contract.js";

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
}

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

/** Schema migrations; entry `i` brings `user_version` from `i` to `i + 1`. Never edit a released one. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE keys (
    kid         TEXT NOT NULL UNIQUE,
    alg         TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk  TEXT,
    created_at  INTEGER NOT NULL,
    activate_at INTEGER NOT NULL
  );
  CREATE INDEX keys_alg ON keys (alg);

  CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    user_agent      TEXT,
    ip              TEXT,
    claims          TEXT,
    scope           TEXT,
    generation      INTEGER NOT NULL,
    rotated_at      INTEGER,
    revoked_at      INTEGER,
    revoke_reason   TEXT,
    -- When the row may go: its absolute end, or later while its revocation entry is active.
    purge_after     INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX sessions_user ON sessions (user_id, created_at);
  CREATE INDEX sessions_purge ON sessions (purge_after);

  CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    generation INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

  CREATE TABLE disabled_users (
    user_id     TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    cutoff     INTEGER,
    expires_at INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         INTEGER NOT NULL
  );
  CREATE INDEX revocations_subject ON revocations (kind, subject, expires_at);
  CREATE INDEX revocations_expiry ON revocations (expires_at);

  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    secret_hash TEXT,
    created_at  INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE rate_limits (
    key      TEXT PRIMARY KEY,
    count    INTEGER NOT NULL,
    reset_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
  `,
  `
  CREATE TABLE user_cutoffs (
    user_id        TEXT PRIMARY KEY,
    cutoff         INTEGER NOT NULL,
    except_session TEXT,
    expires_at     INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX user_cutoffs_expiry ON user_cutoffs (expires_at);
  ALTER TABLE revocations ADD COLUMN except_session TEXT;
  `,
];

/** The schema version this code writes and reads. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** SQLite result codes that mean "the database cannot be used right now", not a bug in the call. */
const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM|CORRUPT|NOTADB|NOLFS|PERM|AUTH)/;

interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  idle_expires_at: number;
  user_agent: string | null;
  ip: string | null;
  claims: string | null;
  scope: string | null;
  generation: number;
  rotated_at: number | null;
  revoked_at: number | null;
  revoke_reason: string | null;
}

interface RevocationRow {
  seq: number;
  kind: RevocationEntry["kind"];
  subject: string;
  cutoff: number | null;
  expires_at: number;
  reason: string;
  actor: string;
  at: number;
  except_session?: string | null;
}

interface UserCutoffRow {
  user_id: string;
  cutoff: number;
  except_session: string | null;
  expires_at: number;
}

interface KeyRow {
  kid: string;
  alg: StoredKey["alg"];
  private_jwk: string;
  public_jwk: string | null;
  created_at: number;
  activate_at: number;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: number;
  disabled_at: number | null;
}

interface ClientRow {
  client_id: string;
  secret_hash: string | null;
  created_at: number;
}

/** A long-poll waiting for the feed to pass `after`. */
interface Waiter {
  after: number;
  wake: () => void;
}

const SESSION_COLUMNS =
  "id, user_id, client_id, created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, claims, scope, generation, rotated_at, revoked_at, revoke_reason";

/** Every prepared statement, compiled once per connection. */
function prepare(db: Database.Database) {
  return {
    headSeq: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'"),
    getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
    setMeta: db.prepare<[string, string]>(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    insertMetaIfAbsent: db.prepare<[string, string]>("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"),

    listKeys: db.prepare<[], KeyRow>(
      "SELECT kid, alg, private_jwk, public_jwk, created_at, activate_at FROM keys ORDER BY created_at, rowid",
    ),
    keyExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM keys WHERE kid = ?"),
    algExists: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM keys WHERE alg = ? LIMIT 1"),
    insertKey: db.prepare<[string, string, string, string | null, number, number]>(
      "INSERT INTO keys (kid, alg, private_jwk, public_jwk, created_at, activate_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    deleteKey: db.prepare<[string]>("DELETE FROM keys WHERE kid = ?"),

    insertSession: db.prepare<
      [
        string,
        string,
        string,
        number,
        number,
        number,
        number,
        string | null,
        string | null,
        string | null,
        string | null,
        number,
        number | null,
        number | null,
        string | null,
        number,
      ]
    >(
      `INSERT OR IGNORE INTO sessions (${SESSION_COLUMNS}, purge_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getSession: db.prepare<[string], SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
    listUserSessions: db.prepare<[string, number, number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions
       WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ? AND created_at >= ?
       ORDER BY created_at DESC, id`,
    ),
    /** A user's sessions authenticated after the user's cutoff or spared by it (an index range). */
    listUserSessionsAfter: db.prepare<[string, number, string, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND created_at > ?
       UNION ALL SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ? AND created_at <= ?
       ORDER BY created_at DESC, id`,
    ),
    /** A user's sessions authenticated at or before a cutoff and not revoked themselves (an index range). */
    listUserSessionsUpTo: db.prepare<[string, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND created_at <= ? AND revoked_at IS NULL
       ORDER BY created_at DESC, id`,
    ),
    rotateSession: db.prepare<[number, number, number, number, string]>(
      "UPDATE sessions SET generation = ?, rotated_at = ?, last_used_at = ?, idle_expires_at = ? WHERE id = ?",
    ),
    revokeSession: db.prepare<[number, string, number, string]>(
      "UPDATE sessions SET revoked_at = ?, revoke_reason = ?, purge_after = max(purge_after, ?) WHERE id = ?",
    ),
    insertToken: db.prepare<[string, string, number]>(
      "INSERT OR IGNORE INTO refresh_tokens (hash, session_id, generation) VALUES (?, ?, ?)",
    ),
    getToken: db.prepare<[string], { session_id: string; generation: number }>(
      "SELECT session_id, generation FROM refresh_tokens WHERE hash = ?",
    ),

    isDisabled: db.prepare<[string], { one: number }>(
      "SELECT 1 AS one FROM disabled_users WHERE user_id = ?",
    ),
    disable: db.prepare<[string, number]>(
      "INSERT OR IGNORE INTO disabled_users (user_id, disabled_at) VALUES (?, ?)",
    ),
    enable: db.prepare<[string]>("DELETE FROM disabled_users WHERE user_id = ?"),
    getUserCutoff: db.prepare<[string], UserCutoffRow>(
      "SELECT user_id, cutoff, except_session, expires_at FROM user_cutoffs WHERE user_id = ?",
    ),
    putUserCutoff: db.prepare<[string, number, string | null, number]>(
      `INSERT INTO user_cutoffs (user_id, cutoff, except_session, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET cutoff = excluded.cutoff, except_session = excluded.except_session,
         expires_at = max(user_cutoffs.expires_at, excluded.expires_at)`,
    ),
    activeUserCutoffs: db.prepare<[number], UserCutoffRow>(
      "SELECT user_id, cutoff, except_session, expires_at FROM user_cutoffs WHERE expires_at > ?",
    ),
    insertUserEntry: db.prepare<[string, number, string | null, number, string, string, number]>(
      "INSERT INTO revocations (kind, subject, cutoff, except_session, expires_at, reason, actor, at) VALUES ('user', ?, ?, ?, ?, ?, ?, ?)",
    ),
    purgeUserCutoffs: db.prepare<[number]>("DELETE FROM user_cutoffs WHERE expires_at <= ?"),
    newestSession: db.prepare<[string], { newest: number | null }>(
      "SELECT max(created_at) AS newest FROM sessions WHERE user_id = ?",
    ),

    insertRevocation: db.prepare<[string, string, number | null, number, string, string, number]>(
      "INSERT INTO revocations (kind, subject, cutoff, expires_at, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    jtiExpiry: db.prepare<[string], { expires_at: number | null }>(
      "SELECT max(expires_at) AS expires_at FROM revocations WHERE kind = 'jti' AND subject = ?",
    ),
    activeEntries: db.prepare<[number], RevocationRow>(
      "SELECT * FROM revocations WHERE kind IN ('jti', 'session') AND expires_at > ? ORDER BY seq",
    ),
    activePage: db
      .prepare<[number, number, number, number], [number, string, string, number]>(
        "SELECT seq, kind, subject, expires_at FROM revocations WHERE seq > ? AND seq <= ? AND +kind IN ('jti', 'session') AND +expires_at > ? ORDER BY seq LIMIT ?",
      )
      .raw(true),
    changes: db.prepare<[number, number], RevocationRow>(
      "SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?",
    ),
    jtiRevoked: db.prepare<[string, number], { one: number }>(
      "SELECT 1 AS one FROM revocations WHERE kind = 'jti' AND subject = ? AND expires_at > ? LIMIT 1",
    ),
    sessionRevoked: db.prepare<[string, string, number], { revoked: number }>(
      `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ? AND revoked_at IS NOT NULL)
           OR EXISTS (SELECT 1 FROM revocations WHERE kind = 'session' AND subject = ? AND expires_at > ?) AS revoked`,
    ),

    purgeRevocations: db.prepare<[number]>(
      "DELETE FROM revocations WHERE kind <> 'global' AND expires_at <= ?",
    ),
    purgeTokens: db.prepare<[number]>(
      "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE purge_after <= ?)",
    ),
    purgeSessions: db.prepare<[number]>("DELETE FROM sessions WHERE purge_after <= ?"),
    purgeRates: db.prepare<[number]>("DELETE FROM rate_limits WHERE reset_at <= ?"),

    insertUser: db.prepare<[string, string, string, number]>(
      "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    getUser: db.prepare<[string], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id WHERE u.id = ?`,
    ),
    getUserByName: db.prepare<[string], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id WHERE u.username = ?`,
    ),
    listUsers: db.prepare<[], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id ORDER BY u.username`,
    ),
    setPassword: db.prepare<[string, string]>("UPDATE users SET password_hash = ? WHERE id = ?"),
    deleteUser: db.prepare<[string]>("DELETE FROM users WHERE id = ?"),

    insertClient: db.prepare<[string, string | null, number]>(
      "INSERT INTO clients (client_id, secret_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    getClient: db.prepare<[string], ClientRow>(
      "SELECT client_id, secret_hash, created_at FROM clients WHERE client_id = ?",
    ),
    listClients: db.prepare<[], ClientRow>(
      "SELECT client_id, secret_hash, created_at FROM clients ORDER BY client_id",
    ),
    deleteClient: db.prepare<[string]>("DELETE FROM clients WHERE client_id = ?"),

    hitRate: db.prepare<{ key: string; now: number; reset: number }, { count: number; reset_at: number }>(
      `INSERT INTO rate_limits (key, count, reset_at) VALUES (:key, 1, :reset)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN rate_limits.reset_at <= :now THEN 1 ELSE rate_limits.count + 1 END,
         reset_at = CASE WHEN rate_limits.reset_at <= :now THEN :reset ELSE rate_limits.reset_at END
       RETURNING count, reset_at`,
    ),
    peekRate: db.prepare<[string, number], { count: number; reset_at: number }>(
      "SELECT count, reset_at FROM rate_limits WHERE key = ? AND reset_at > ?",
    ),
    deleteRate: db.prepare<[string]>("DELETE FROM rate_limits WHERE key = ?"),
  };
}

type Statements = ReturnType<typeof prepare>;

/** Rows per page of {@link SqliteStore.snapshotInto}. */
const SNAPSHOT_PAGE = 50_000;

/** An open connection with its prepared statements. */
interface Connection {
  db: Database.Database;
  q: Statements;
  epoch: string;
}

class SqliteStore implements Store {
  readonly kind = "sqlite";
  readonly durable: boolean;
  readonly #path: string;
  readonly #pollMs: number;
  readonly #busyMs: number;
  readonly #purgeMs: number;
  readonly #synchronous: "FULL" | "NORMAL";
  #conn: Connection | null = null;
  readonly #waiters = new Set<Waiter>();
  #pollTimer: NodeJS.Timeout | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  /** The `now` last passed in; the purge timer never expires rows later than this. */
  #lastNow: number | undefined;

  constructor(options: SqliteStoreOptions) {
    if (typeof options !== "object" || options === null)
      throw new ConfigInvalidError("options", "must be an object");
    checkOptionNames("sqliteStore", options, SQLITE_OPTION_NAMES);
    if (typeof options.path !== "string" || options.path.length === 0) {
      throw new ConfigInvalidError("path", 'is required: a file path, or ":memory:"');
    }
    this.#path = sqlitePath(options.path);
    this.durable = this.#path !== ":memory:";
    this.#pollMs = durationOption(options.pollInterval, 20, "pollInterval", 1);
    this.#busyMs = durationOption(options.busyTimeout, 5000, "busyTimeout", 0);
    this.#purgeMs = durationOption(options.purgeInterval, 60_000, "purgeInterval", 0);
    const sync = options.synchronous ?? "full";
    if (sync !== "full" && sync !== "normal")
      throw new ConfigInvalidError("synchronous", 'must be "full" or "normal"');
    this.#synchronous = sync === "full" ? "FULL" : "NORMAL";
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** The open connection, for the security-event outbox (`src/stores/outbox/`). */
  outboxAccess(): { kind: "sqlite"; db: () => Database.Database } {
    return {
      kind: "sqlite",
      db: () => {
        if (!this.#conn) throw new StoreUnavailableError("the sqlite store is not open");
        return this.#conn.db;
      },
    };
  }

  /**
   * Opens the file (creating it and its directory), migrates the schema and writes the epoch.
   * Idempotent. With `{ create: false }` only an existing, initialised file is opened, and nothing is
   * created: otherwise `StoreMissingError`.
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.#conn) return;
    const create = options.create !== false;
    if (!create && (!this.durable || !existsSync(this.#path))) {
      throw new StoreMissingError(
        this.durable ? `no sqlite store at ${resolve(this.#path)}` : "a new :memory: sqlite store is empty",
      );
    }
    let db: Database.Database | undefined;
    try {
      if (this.durable && create) mkdirSync(dirname(resolve(this.#path)), { recursive: true });
      db = new Database(this.#path, { timeout: this.#busyMs, fileMustExist: !create });
      db.pragma(`busy_timeout = ${this.#busyMs}`);
      if (!create && (db.pragma("user_version", { simple: true }) as number) === 0) {
        throw new StoreMissingError(`${resolve(this.#path)} is not an initialised revokit sqlite store`);
      }
      if (this.durable) db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.#synchronous}`);
      migrate(db);
      const q = prepare(db);
      q.insertMetaIfAbsent.run("epoch", randomBytes(16).toString("hex"));
      const epoch = q.getMeta.get("epoch")?.value;
      if (!epoch) throw new StoreUnavailableError("the sqlite store has no epoch");
      this.#conn = { db, q, epoch };
    } catch (error) {
      db?.close();
      throw toStoreError(error, "open");
    }
    if (this.#purgeMs > 0) {
      this.#purgeTimer = setInterval(() => this.#autoPurge(), this.#purgeMs);
      this.#purgeTimer.unref();
    }
  }

  /** Closes the file and stops the timers; pending long polls resolve at once. Idempotent. */
  async close(): Promise<void> {
    if (this.#purgeTimer) clearInterval(this.#purgeTimer);
    this.#purgeTimer = undefined;
    this.#wakeAll();
    const conn = this.#conn;
    this.#conn = null;
    conn?.db.close();
  }

  /** Runs `fn` on the open connection, turning availability failures into `StoreUnavailableError`. */
  #run<T>(op: string, fn: (c: Connection) => T): T {
    const conn = this.#conn;
    if (!conn) throw new StoreUnavailableError(`the sqlite store is not open (${op})`);
    try {
      return fn(conn);
    } catch (error) {
      throw toStoreError(error, op);
    }
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction (the write lock is taken up front). */
  #write<T>(op: string, fn: (c: Connection) => T): T {
    return this.#run(op, (c) => c.db.transaction(() => fn(c)).immediate());
  }

  /** Runs `fn` in one read transaction: every read sees the same committed state. */
  #read<T>(op: string, fn: (c: Connection) => T): T {
    return this.#run(op, (c) => c.db.transaction(() => fn(c)).deferred());
  }

  #seen(now: number): void {
    this.#lastNow = now;
  }

  #autoPurge(): void {
    if (this.#lastNow === undefined || !this.#conn) return;
    try {
      this.#purge(Math.min(this.#lastNow, Date.now()));
    } catch {
      // Busy or unavailable: the next tick (or an operator's purge) retries.
    }
  }

  // ---- keys -------------------------------------------------------------------------------------

  /** Every stored key, oldest first. */
  async listKeys(): Promise<StoredKey[]> {
    return this.#run("listKeys", ({ q }) => q.listKeys.all().map(keyFromRow));
  }

  /** Adds a key; with `ifNoKeyFor`, only when no key of that algorithm exists (one transaction). Idempotent by kid. */
  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return this.#write("addKey", ({ q }) => {
      if (q.keyExists.get(key.kid)) return false;
      if (options?.ifNoKeyFor && q.algExists.get(options.ifNoKeyFor)) return false;
      q.insertKey.run(
        key.kid,
        key.alg,
        JSON.stringify(key.privateJwk),
        key.publicJwk === null ? null : JSON.stringify(key.publicJwk),
        key.createdAt,
        key.activateAt,
      );
      return true;
    });
  }

  /** Deletes a key by kid. Idempotent. */
  async deleteKey(kid: string): Promise<void> {
    this.#run("deleteKey", ({ q }) => q.deleteKey.run(kid));
  }

  // ---- sessions ---------------------------------------------------------------------------------

  /** Creates a session and its first refresh-token hash, in one transaction with the disabled check. */
  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return this.#write("createSession", ({ q }) => {
      const cut = q.getUserCutoff.get(session.userId);
      if (cut && session.createdAt <= cut.cutoff) return "cut_off";
      if (q.isDisabled.get(session.userId)) return "user_disabled";
      q.insertSession.run(
        session.id,
        session.userId,
        session.clientId,
        session.createdAt,
        session.lastUsedAt,
        session.expiresAt,
        session.idleExpiresAt,
        session.userAgent,
        session.ip,
        session.claims === null ? null : JSON.stringify(session.claims),
        session.scope,
        session.generation,
        session.rotatedAt,
        session.revokedAt,
        session.revokeReason,
        session.expiresAt,
      );
      q.insertToken.run(refreshHash, session.id, session.generation);
      return "created";
    });
  }

  /** A session by id, revoked or not; `null` when unknown or purged. */
  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#run("getSession", ({ q }) => {
      const row = q.getSession.get(id);
      return row ? sessionFromRow(row) : null;
    });
  }

  /** The user's live sessions at `now`, newest first (sessions created before the global cutoff excluded). */
  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    this.#seen(now);
    return this.#read("listUserSessions", ({ q }) => {
      const cutoff = globalCutoff(q);
      const user = userCutoff(q, userId);
      // After a logout-all, only the sessions authenticated since (an index range), not every old one.
      const rows = user
        ? q.listUserSessionsAfter.all(userId, user.cutoff, user.exceptSessionId ?? "", user.cutoff)
        : q.listUserSessions.all(userId, now, now, cutoff);
      return rows
        .map(sessionFromRow)
        .filter((s) => s.userId === userId && isSessionLive(s, now, cutoff, user));
    });
  }

  /** The sessions the user cutoff ended (`isEndedByUserCutoff`), newest first; a read (an index range). */
  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#read("listSessionsCutOff", ({ q }) =>
      q.listUserSessionsUpTo
        .all(userId, cutoff.cutoff)
        .map(sessionFromRow)
        .filter((s) => s.userId === userId && isEndedByUserCutoff(s, cutoff)),
    );
  }

  /** Rotates a refresh token; decision and write (or reuse revocation) in one `BEGIN IMMEDIATE` transaction. */
  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    this.#seen(input.now);
    const result = this.#write("rotateRefreshToken", ({ q }): RotateResult => {
      const token = q.getToken.get(input.presentedHash);
      const row = token && q.getSession.get(token.session_id);
      if (!token || !row) return { status: "unknown" };
      const session = sessionFromRow(row);
      const decision = decideRotation(
        session,
        token.generation,
        input.now,
        input.graceMs,
        globalCutoff(q),
        userCutoff(q, session.userId),
      );
      switch (decision) {
        case "rotate": {
          const next = applyRotation(session, input.now, input.idleTtlMs);
          q.rotateSession.run(next.generation, input.now, next.lastUsedAt, next.idleExpiresAt, session.id);
          q.insertToken.run(input.newHash, session.id, next.generation);
          return { status: "rotated", session: next, grace: false };
        }
        case "grace":
          q.insertToken.run(input.newHash, session.id, session.generation);
          return { status: "rotated", session, grace: true };
        case "reuse":
          return { status: "reused", session: revoke(q, session, input.reuseMeta) };
        default:
          return { status: decision, session };
      }
    });
    if (result.status === "reused") this.#wakeAll();
    return result;
  }

  /** The session and generation of a refresh-token hash, changing nothing. */
  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return this.#read("findRefreshToken", ({ q }) => {
      const token = q.getToken.get(hash);
      const row = token && q.getSession.get(token.session_id);
      return token && row ? { session: sessionFromRow(row), generation: token.generation } : null;
    });
  }

  /** Revokes a session and records its feed entry, in one transaction. `false` when unknown or already revoked. */
  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    const done = this.#write("revokeSession", ({ q }) => {
      const row = q.getSession.get(sessionId);
      if (!row || row.revoked_at !== null) return false;
      revoke(q, sessionFromRow(row), meta);
      return true;
    });
    if (done) this.#wakeAll();
    return done;
  }

  /** Records the user's cutoff (and with `disable` sets the flag) and its feed entry: one transaction, constant size. */
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    const cut = this.#write("cutOffUser", ({ q }) => {
      if (options?.disable) q.disable.run(userId, meta.at);
      const except = options?.exceptSessionId ?? null;
      const kept = except === null ? undefined : q.getSession.get(except);
      const next = mergeUserCutoff(
        userCutoff(q, userId),
        { cutoff: Math.max(meta.at, q.newestSession.get(userId)?.newest ?? 0), exceptSessionId: except },
        kept && kept.user_id === userId ? kept.created_at : null,
      );
      const expiresAt = meta.at + meta.ttl;
      q.putUserCutoff.run(userId, next.cutoff, next.exceptSessionId, expiresAt);
      q.insertUserEntry.run(
        userId,
        next.cutoff,
        next.exceptSessionId,
        expiresAt,
        meta.reason,
        meta.actor,
        meta.at,
      );
      return next;
    });
    this.#wakeAll();
    return cut;
  }

  /** Clears the user's disabled flag. Idempotent. */
  async enableUser(userId: string): Promise<void> {
    this.#run("enableUser", ({ q }) => q.enable.run(userId));
  }

  /** Whether the user's disabled flag is set. */
  async isUserDisabled(userId: string): Promise<boolean> {
    return this.#run("isUserDisabled", ({ q }) => q.isDisabled.get(userId) !== undefined);
  }

  // ---- revocations and the change feed ----------------------------------------------------------

  /** Records a `jti` (keeping the later expiry) or `global` (forward only) revocation. `null` when nothing changed. */
  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind !== "jti" && entry.kind !== "global") {
      throw new TypeError(`addRevocation takes jti or global entries, not ${String(entry.kind)}`);
    }
    const recorded = this.#write("addRevocation", ({ q }): RevocationEntry | null => {
      let cutoff: number | null = null;
      if (entry.kind === "global") {
        cutoff = entry.cutoff ?? 0;
        if (cutoff <= globalCutoff(q)) return null;
        q.setMeta.run("global_cutoff", String(cutoff));
      } else {
        const prev = q.jtiExpiry.get(entry.subject)?.expires_at ?? null;
        if (prev !== null && prev >= entry.expiresAt) return null;
      }
      const { lastInsertRowid } = q.insertRevocation.run(
        entry.kind,
        entry.subject,
        cutoff,
        entry.expiresAt,
        entry.reason,
        entry.actor,
        entry.at,
      );
      return entryFromRow({
        seq: Number(lastInsertRowid),
        kind: entry.kind,
        subject: entry.subject,
        cutoff,
        expires_at: entry.expiresAt,
        reason: entry.reason,
        actor: entry.actor,
        at: entry.at,
      });
    });
    if (recorded) this.#wakeAll();
    return recorded;
  }

  /** The active jti and session entries, the global cutoff and the feed position, read in one transaction. */
  async snapshot(now: number): Promise<RevocationSnapshot> {
    this.#seen(now);
    return this.#read("snapshot", ({ q, epoch }) => ({
      entries: [
        ...q.activeEntries.all(now).map(entryFromRow),
        ...q.activeUserCutoffs.all(now).map(userEntryFromRow),
      ],
      globalCutoff: globalCutoff(q),
      cursor: String(q.headSeq.get()?.seq ?? 0),
      epoch,
    }));
  }

  /**
   * The lean snapshot: reads the head (cursor, cutoff, epoch) first, then the active entries up to that
   * cursor in pages of {@link SNAPSHOT_PAGE} rows (by seq; rows are only appended, or purged once
   * expired), yielding to the event loop between pages. Anything recorded later is after the cursor.
   */
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    this.#seen(now);
    const head = this.#read("snapshot", ({ q, epoch }) => ({
      globalCutoff: globalCutoff(q),
      cursor: String(q.headSeq.get()?.seq ?? 0),
      epoch,
    }));
    const last = Number(head.cursor);
    let after = 0;
    for (;;) {
      const rows = this.#run("snapshot", ({ q }) => q.activePage.all(after, last, now, SNAPSHOT_PAGE));
      for (const r of rows) apply(r[1] as "jti" | "session", r[2], r[3]);
      const tail = rows.at(-1);
      if (rows.length < SNAPSHOT_PAGE || !tail) break;
      after = tail[0];
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // Read after the head: a cutoff recorded meanwhile comes twice, which is harmless (later wins).
    for (const u of this.#run("snapshot", ({ q }) => q.activeUserCutoffs.all(now))) {
      apply("user", u.user_id, u.expires_at, { cutoff: u.cutoff, exceptSessionId: u.except_session });
    }
    return head;
  }

  /**
   * Entries after `cursor`, in order, at most `limit`. With none, polls the sequence every
   * `pollInterval` ms (writes of this instance wake it at once) until one arrives or `waitMs` passes.
   */
  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const after = parseCursor(cursor);
    const limit = Number.isFinite(options.limit) ? Math.max(1, Math.floor(options.limit)) : 1000;
    const read = (): ChangeBatch | null => {
      const conn = this.#conn;
      if (!conn) return null;
      const entries = this.#run("changes", ({ q }) => q.changes.all(after, limit).map(entryFromRow));
      return { entries, cursor: entries.at(-1)?.seq ?? String(after), epoch: conn.epoch };
    };
    const first = read();
    if (!first) throw new StoreUnavailableError("the sqlite store is not open (changes)");
    if (first.entries.length > 0 || !(options.waitMs > 0)) return first;
    await this.#wait(after, options.waitMs);
    return read() ?? { entries: [], cursor: String(after), epoch: first.epoch };
  }

  /** Waits until the feed passes `after`, `waitMs` passes, or the store closes. */
  #wait(after: number, waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        after,
        wake: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (this.#waiters.size === 0 && this.#pollTimer) {
            clearInterval(this.#pollTimer);
            this.#pollTimer = undefined;
          }
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, waitMs);
      timer.unref();
      this.#waiters.add(waiter);
      if (!this.#pollTimer) {
        this.#pollTimer = setInterval(() => this.#poll(), this.#pollMs);
        this.#pollTimer.unref();
      }
    });
  }

  /** One cheap read of the feed's sequence; wakes the waiters it has passed. */
  #poll(): void {
    const conn = this.#conn;
    if (!conn) {
      this.#wakeAll();
      return;
    }
    let head: number;
    try {
      head = conn.q.headSeq.get()?.seq ?? 0;
    } catch {
      return; // busy: try again on the next tick
    }
    for (const w of [...this.#waiters]) if (head > w.after) w.wake();
  }

  #wakeAll(): void {
    for (const w of [...this.#waiters]) w.wake();
  }

  /** Point lookup straight from the file. */
  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    this.#seen(now);
    return this.#read("check", ({ q }) => ({
      jtiRevoked: query.jti !== undefined && q.jtiRevoked.get(query.jti, now) !== undefined,
      sessionRevoked:
        query.sessionId !== undefined &&
        q.sessionRevoked.get(query.sessionId, query.sessionId, now)?.revoked === 1,
      globalCutoff: globalCutoff(q),
      user: query.userId === undefined ? null : userCutoff(q, query.userId),
    }));
  }

  /** The longest lifetimes ever used (meta rows), raised in one write transaction when `record` is larger. */
  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    const read = (q: Statements): TokenLifetimes => ({
      accessTokenTtlMs: Number(q.getMeta.get("max_access_ttl")?.value ?? 0),
      sessionTtlMs: Number(q.getMeta.get("max_session_ttl")?.value ?? 0),
    });
    const now = this.#read("tokenLifetimes", ({ q }) => read(q));
    if (
      !record ||
      (record.accessTokenTtlMs <= now.accessTokenTtlMs && record.sessionTtlMs <= now.sessionTtlMs)
    )
      return now;
    return this.#write("tokenLifetimes", ({ q }) => {
      const cur = read(q);
      const next = {
        accessTokenTtlMs: Math.max(cur.accessTokenTtlMs, record.accessTokenTtlMs),
        sessionTtlMs: Math.max(cur.sessionTtlMs, record.sessionTtlMs),
      };
      q.setMeta.run("max_access_ttl", String(next.accessTokenTtlMs));
      q.setMeta.run("max_session_ttl", String(next.sessionTtlMs));
      return next;
    });
  }

  /** Deletes expired entries, ended sessions with their refresh tokens, and ended rate-limit windows. */
  async purge(now: number): Promise<number> {
    this.#seen(now);
    return this.#purge(now);
  }

  #purge(now: number): number {
    return this.#write("purge", ({ q }) => {
      let n = q.purgeRevocations.run(now).changes;
      n += q.purgeTokens.run(now).changes;
      n += q.purgeSessions.run(now).changes;
      n += q.purgeRates.run(now).changes;
      n += q.purgeUserCutoffs.run(now).changes;
      return n;
    });
  }

  // ---- users ------------------------------------------------------------------------------------

  /** Creates a user (username stored lower-cased, unique). `"taken"` when the name or id exists. */
  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#write("createUser", ({ q }) => {
      const inserted = q.insertUser.run(
        user.id,
        user.username.toLowerCase(),
        user.passwordHash,
        user.createdAt,
      );
      if (inserted.changes === 0) return "taken";
      if (user.disabledAt !== null) q.disable.run(user.id, user.disabledAt);
      return "created";
    });
  }

  /** A user by id, or `null`. */
  async getUser(id: string): Promise<UserRecord | null> {
    return this.#run("getUser", ({ q }) => {
      const row = q.getUser.get(id);
      return row ? userFromRow(row) : null;
    });
  }

  /** A user by username (case-insensitive), or `null`. */
  async getUserByName(username: string): Promise<UserRecord | null> {
    return this.#run("getUserByName", ({ q }) => {
      const row = q.getUserByName.get(username.toLowerCase());
      return row ? userFromRow(row) : null;
    });
  }

  /** Every user, by username. */
  async listUsers(): Promise<UserRecord[]> {
    return this.#run("listUsers", ({ q }) => q.listUsers.all().map(userFromRow));
  }

  /** Replaces a password hash; `false` when the user is unknown. */
  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#run("setPasswordHash", ({ q }) => q.setPassword.run(passwordHash, userId).changes > 0);
  }

  /** Deletes a user record. Idempotent. */
  async deleteUser(userId: string): Promise<void> {
    this.#run("deleteUser", ({ q }) => q.deleteUser.run(userId));
  }

  // ---- clients ----------------------------------------------------------------------------------

  /** Adds a client (its secret only as the given hash); `"exists"` when the id is taken. */
  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#run("addClient", ({ q }) =>
      q.insertClient.run(client.clientId, client.secretHash, client.createdAt).changes > 0
        ? "created"
        : "exists",
    );
  }

  /** A client by id, or `null`. */
  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#run("getClient", ({ q }) => {
      const row = q.getClient.get(clientId);
      return row ? clientFromRow(row) : null;
    });
  }

  /** Every client, by id. */
  async listClients(): Promise<ClientRecord[]> {
    return this.#run("listClients", ({ q }) => q.listClients.all().map(clientFromRow));
  }

  /** Removes a client; whether it existed. */
  async removeClient(clientId: string): Promise<boolean> {
    return this.#run("removeClient", ({ q }) => q.deleteClient.run(clientId).changes > 0);
  }

  // ---- rate limits ------------------------------------------------------------------------------

  /** Counts a hit in a fixed window; one upsert statement, atomic across processes. */
  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    this.#seen(now);
    return this.#run("hitRateLimit", ({ q }) => {
      const row = q.hitRate.get({ key, now, reset: now + windowMs });
      if (!row) throw new StoreUnavailableError("the sqlite store returned no rate-limit row");
      return { count: row.count, resetAt: row.reset_at };
    });
  }

  /** Reads a counter without adding a hit. */
  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    this.#seen(now);
    return this.#run("peekRateLimit", ({ q }) => {
      const row = q.peekRate.get(key, now);
      return row ? { count: row.count, resetAt: row.reset_at } : { count: 0, resetAt: now };
    });
  }

  /** Clears a counter. Idempotent. */
  async resetRateLimit(key: string): Promise<void> {
    this.#run("resetRateLimit", ({ q }) => q.deleteRate.run(key));
  }
}

/** Applies every migration the file lacks, in one write transaction (concurrent first starts migrate once). */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new StoreUnavailableError(
        `the sqlite file has schema version ${version}; this version of revokit supports up to ${MIGRATIONS.length}`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    if (version !== MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

/** Revokes `session` and records its feed entry (inside the caller's transaction). */
function revoke(q: Statements, session: SessionRecord, meta: RevocationMeta): SessionRecord {
  const expiresAt = meta.at + meta.ttl;
  q.revokeSession.run(meta.at, meta.reason, expiresAt, session.id);
  q.insertRevocation.run("session", session.id, null, expiresAt, meta.reason, meta.actor, meta.at);
  return applyRevocation(session, meta.at, meta.reason);
}

/** The user's recorded cutoff, `null` when none. */
function userCutoff(q: Statements, userId: string): UserCutoff | null {
  const r = q.getUserCutoff.get(userId);
  return r ? { cutoff: r.cutoff, exceptSessionId: r.except_session } : null;
}

function userEntryFromRow(u: UserCutoffRow): RevocationEntry {
  return {
    seq: "",
    kind: "user",
    subject: u.user_id,
    cutoff: u.cutoff,
    ...(u.except_session === null ? {} : { exceptSessionId: u.except_session }),
    expiresAt: u.expires_at,
    reason: "user_cutoff",
    actor: "system",
    at: u.cutoff,
  };
}

function globalCutoff(q: Statements): number {
  const v = q.getMeta.get("global_cutoff")?.value;
  return v === undefined ? 0 : Number(v);
}

function parseCursor(cursor: string): number {
  return typeof cursor === "string" && /^\d{1,15}$/.test(cursor) ? Number(cursor) : 0;
}

const SQLITE_OPTION_NAMES = Object.keys({
  path: true,
  pollInterval: true,
  busyTimeout: true,
  purgeInterval: true,
  synchronous: true,
} satisfies Record<keyof SqliteStoreOptions, true>);

/** `sqlite:PATH` and `sqlite://PATH` (the store-URL forms) name the file PATH. */
function sqlitePath(path: string): string {
  if (!/^sqlite:/i.test(path)) return path;
  let rest = path.slice("sqlite:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  if (rest.length === 0)
    throw new ConfigInvalidError("path", "sqlite: needs a file path, e.g. sqlite:./data/revokit.db");
  return rest;
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

function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown error";
}

function sessionFromRow(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    expiresAt: r.expires_at,
    idleExpiresAt: r.idle_expires_at,
    userAgent: r.user_agent,
    ip: r.ip,
    claims: r.claims === null ? null : (JSON.parse(r.claims) as Record<string, unknown>),
    scope: r.scope,
    generation: r.generation,
    rotatedAt: r.rotated_at,
    revokedAt: r.revoked_at,
    revokeReason: r.revoke_reason,
  };
}

function entryFromRow(r: RevocationRow): RevocationEntry {
  const entry: RevocationEntry = {
    seq: String(r.seq),
    kind: r.kind,
    subject: r.subject,
    expiresAt: r.expires_at,
    reason: r.reason,
    actor: r.actor,
    at: r.at,
  };
  if (r.cutoff !== null) entry.cutoff = r.cutoff;
  if (r.except_session !== null && r.except_session !== undefined) entry.exceptSessionId = r.except_session;
  return entry;
}

function keyFromRow(r: KeyRow): StoredKey {
  return {
    kid: r.kid,
    alg: r.alg,
    privateJwk: JSON.parse(r.private_jwk) as Record<string, unknown>,
    publicJwk: r.public_jwk === null ? null : (JSON.parse(r.public_jwk) as Record<string, unknown>),
    createdAt: r.created_at,
    activateAt: r.activate_at,
  };
}

function userFromRow(r: UserRow): UserRecord {
  return {
    id: r.id,
    username: r.username,
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
  };
}

function clientFromRow(r: ClientRow): ClientRecord {
  return { clientId: r.client_id, secretHash: r.secret_hash, createdAt: r.created_at };
}
