/**
 * The SQLite schema and opening a file: the versioned migrations (`PRAGMA user_version`), the checks
 * that keep `open({ create: false })` from creating anything, and the durability pragmas (WAL journal,
 * `synchronous`, `busy_timeout`).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { StoreMissingError, StoreUnavailableError } from "../../core/errors.js";
import { prepare, type Statements } from "./statements.js";

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
  `
  CREATE TABLE checkpoint (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    taken_at INTEGER NOT NULL,
    data     BLOB NOT NULL
  );
  `,
];

/** The schema version this code writes and reads. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** An open connection with its prepared statements and the epoch (identity) of the file's data. */
export interface OpenDatabase {
  db: Database.Database;
  q: Statements;
  epoch: string;
}

/** How to open the file: the resolved options of `sqliteStore`. */
export interface OpenSettings {
  /** The file, or `":memory:"`. */
  path: string;
  /** Whether the data lives in a file (not `":memory:"`). */
  durable: boolean;
  /** How long a call waits for another process's write lock (ms). */
  busyMs: number;
  synchronous: "FULL" | "NORMAL";
}

/**
 * Opens the file (with `create`, its directory and the file too), sets the durability pragmas,
 * migrates the schema and writes the epoch on first start. Without `create`, throws
 * `StoreMissingError` unless an initialised store exists, and creates nothing. Closes what it opened
 * when it fails; driver errors pass through (the caller maps them).
 */
export function openDatabase(settings: OpenSettings, create: boolean): OpenDatabase {
  const { path, durable, busyMs } = settings;
  if (!create && (!durable || !existsSync(path))) {
    throw new StoreMissingError(
      durable ? `no sqlite store at ${resolve(path)}` : "a new :memory: sqlite store is empty",
    );
  }
  let db: Database.Database | undefined;
  try {
    if (durable && create) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path, { timeout: busyMs, fileMustExist: !create });
    db.pragma(`busy_timeout = ${busyMs}`);
    if (!create && (db.pragma("user_version", { simple: true }) as number) === 0) {
      throw new StoreMissingError(`${resolve(path)} is not an initialised revokit sqlite store`);
    }
    // WAL: readers never block the writer, and a commit is one append (with FULL, one fsync).
    if (durable) db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${settings.synchronous}`);
    migrate(db);
    const q = prepare(db);
    q.insertMetaIfAbsent.run("epoch", randomBytes(16).toString("hex"));
    const epoch = q.getMeta.get("epoch")?.value;
    if (!epoch) throw new StoreUnavailableError("the sqlite store has no epoch");
    return { db, q, epoch };
  } catch (error) {
    db?.close();
    throw error;
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
