/**
 * Every SQL statement of the store, prepared once per connection: one place to read the queries and
 * check each hot one against an index of the schema (`schema.ts`).
 */
import type Database from "better-sqlite3";
import {
  type ClientRow,
  type KeyRow,
  type RevocationRow,
  SESSION_COLUMNS,
  type SessionRow,
  type UserCutoffRow,
  type UserRow,
} from "./rows.js";

/**
 * A prepared statement: the part of better-sqlite3's `Statement` the store uses, with its bind
 * parameters `P` and row type `R` (declared here so that the statements' type can be named).
 */
export interface Statement<P extends unknown[], R> {
  run(...params: P): Database.RunResult;
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** Every prepared statement, compiled once per connection. */
export function prepare(db: Database.Database) {
  const sql = <P extends unknown[] | object = [], R = unknown>(text: string): Statement<Params<P>, R> =>
    db.prepare<P, R>(text) as Statement<Params<P>, R>;
  const raw = <P extends unknown[], R>(text: string): Statement<P, R> =>
    db.prepare<P, R>(text).raw(true) as Statement<P, R>;
  return {
    readCheckpoint: sql<[], { taken_at: number; data: Buffer }>(
      "SELECT taken_at, data FROM checkpoint WHERE id = 1",
    ),
    checkpointTakenAt: sql<[], { taken_at: number }>("SELECT taken_at FROM checkpoint WHERE id = 1"),
    writeCheckpoint: sql<[number, Buffer]>(
      `INSERT INTO checkpoint (id, taken_at, data) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at, data = excluded.data
       WHERE excluded.taken_at > checkpoint.taken_at`,
    ),
    headSeq: sql<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'"),
    getMeta: sql<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
    setMeta: sql<[string, string]>(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    insertMetaIfAbsent: sql<[string, string]>("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)"),

    listKeys: sql<[], KeyRow>(
      "SELECT kid, alg, private_jwk, public_jwk, created_at, activate_at FROM keys ORDER BY created_at, rowid",
    ),
    keyExists: sql<[string], { one: number }>("SELECT 1 AS one FROM keys WHERE kid = ?"),
    algExists: sql<[string], { one: number }>("SELECT 1 AS one FROM keys WHERE alg = ? LIMIT 1"),
    insertKey: sql<[string, string, string, string | null, number, number]>(
      "INSERT INTO keys (kid, alg, private_jwk, public_jwk, created_at, activate_at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    deleteKey: sql<[string]>("DELETE FROM keys WHERE kid = ?"),

    insertSession: sql<
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
    getSession: sql<[string], SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`),
    listUserSessions: sql<[string, number, number, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions
       WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ? AND created_at >= ?
       ORDER BY created_at DESC, id`,
    ),
    /** A user's sessions authenticated after the user's cutoff or spared by it (an index range). */
    listUserSessionsAfter: sql<[string, number, string, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND created_at > ?
       UNION ALL SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ? AND created_at <= ?
       ORDER BY created_at DESC, id`,
    ),
    /** A user's sessions authenticated at or before a cutoff and not revoked themselves (an index range). */
    listUserSessionsUpTo: sql<[string, number], SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND created_at <= ? AND revoked_at IS NULL
       ORDER BY created_at DESC, id`,
    ),
    rotateSession: sql<[number, number | null, number, number, string]>(
      "UPDATE sessions SET generation = ?, rotated_at = ?, last_used_at = ?, idle_expires_at = ? WHERE id = ?",
    ),
    /** Marks a session revoked; the row stays at least until its feed entry expires (`purge_after`). */
    revokeSession: sql<[number | null, string | null, number, string]>(
      "UPDATE sessions SET revoked_at = ?, revoke_reason = ?, purge_after = max(purge_after, ?) WHERE id = ?",
    ),
    insertToken: sql<[string, string, number]>(
      "INSERT OR IGNORE INTO refresh_tokens (hash, session_id, generation) VALUES (?, ?, ?)",
    ),
    getToken: sql<[string], { session_id: string; generation: number }>(
      "SELECT session_id, generation FROM refresh_tokens WHERE hash = ?",
    ),

    isDisabled: sql<[string], { one: number }>("SELECT 1 AS one FROM disabled_users WHERE user_id = ?"),
    disable: sql<[string, number]>(
      "INSERT OR IGNORE INTO disabled_users (user_id, disabled_at) VALUES (?, ?)",
    ),
    enable: sql<[string]>("DELETE FROM disabled_users WHERE user_id = ?"),
    getUserCutoff: sql<[string], UserCutoffRow>(
      "SELECT user_id, cutoff, except_session, expires_at FROM user_cutoffs WHERE user_id = ?",
    ),
    /** Replaces the user's cutoff with what `planUserCutoff` decided (it never shortens the expiry). */
    putUserCutoff: sql<[string, number, string | null, number]>(
      `INSERT INTO user_cutoffs (user_id, cutoff, except_session, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET cutoff = excluded.cutoff, except_session = excluded.except_session,
         expires_at = excluded.expires_at`,
    ),
    activeUserCutoffs: sql<[number], UserCutoffRow>(
      "SELECT user_id, cutoff, except_session, expires_at FROM user_cutoffs WHERE expires_at > ?",
    ),
    purgeUserCutoffs: sql<[number]>("DELETE FROM user_cutoffs WHERE expires_at <= ?"),
    newestSession: sql<[string], { newest: number | null }>(
      "SELECT max(created_at) AS newest FROM sessions WHERE user_id = ?",
    ),

    /** Appends one feed entry of any kind; its `seq` is the row id. */
    insertRevocation: sql<[string, string, number | null, string | null, number, string, string, number]>(
      "INSERT INTO revocations (kind, subject, cutoff, except_session, expires_at, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    jtiExpiry: sql<[string], { expires_at: number | null }>(
      "SELECT max(expires_at) AS expires_at FROM revocations WHERE kind = 'jti' AND subject = ?",
    ),
    activeEntries: sql<[number], RevocationRow>(
      "SELECT * FROM revocations WHERE kind IN ('jti', 'session') AND expires_at > ? ORDER BY seq",
    ),
    /** Rows as arrays (`raw`): a snapshot page builds no objects. */
    activePage: raw<[number, number, number, number], [number, string, string, number]>(
      "SELECT seq, kind, subject, expires_at FROM revocations WHERE seq > ? AND seq <= ? AND +kind IN ('jti', 'session') AND +expires_at > ? ORDER BY seq LIMIT ?",
    ),
    changes: sql<[number, number], RevocationRow>(
      "SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?",
    ),
    jtiRevoked: sql<[string, number], { one: number }>(
      "SELECT 1 AS one FROM revocations WHERE kind = 'jti' AND subject = ? AND expires_at > ? LIMIT 1",
    ),
    sessionRevoked: sql<[string, string, number], { revoked: number }>(
      `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ? AND revoked_at IS NOT NULL)
           OR EXISTS (SELECT 1 FROM revocations WHERE kind = 'session' AND subject = ? AND expires_at > ?) AS revoked`,
    ),

    purgeRevocations: sql<[number]>("DELETE FROM revocations WHERE kind <> 'global' AND expires_at <= ?"),
    purgeTokens: sql<[number]>(
      "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE purge_after <= ?)",
    ),
    purgeSessions: sql<[number]>("DELETE FROM sessions WHERE purge_after <= ?"),
    purgeRates: sql<[number]>("DELETE FROM rate_limits WHERE reset_at <= ?"),

    insertUser: sql<[string, string, string, number]>(
      "INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    getUser: sql<[string], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id WHERE u.id = ?`,
    ),
    getUserByName: sql<[string], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id WHERE u.username = ?`,
    ),
    listUsers: sql<[], UserRow>(
      `SELECT u.id, u.username, u.password_hash, u.created_at, d.disabled_at
       FROM users u LEFT JOIN disabled_users d ON d.user_id = u.id ORDER BY u.username`,
    ),
    setPassword: sql<[string, string]>("UPDATE users SET password_hash = ? WHERE id = ?"),
    deleteUser: sql<[string]>("DELETE FROM users WHERE id = ?"),

    insertClient: sql<[string, string | null, number]>(
      "INSERT INTO clients (client_id, secret_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    getClient: sql<[string], ClientRow>(
      "SELECT client_id, secret_hash, created_at FROM clients WHERE client_id = ?",
    ),
    listClients: sql<[], ClientRow>(
      "SELECT client_id, secret_hash, created_at FROM clients ORDER BY client_id",
    ),
    deleteClient: sql<[string]>("DELETE FROM clients WHERE client_id = ?"),

    hitRate: sql<{ key: string; now: number; reset: number }, { count: number; reset_at: number }>(
      `INSERT INTO rate_limits (key, count, reset_at) VALUES (:key, 1, :reset)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN rate_limits.reset_at <= :now THEN 1 ELSE rate_limits.count + 1 END,
         reset_at = CASE WHEN rate_limits.reset_at <= :now THEN :reset ELSE rate_limits.reset_at END
       RETURNING count, reset_at`,
    ),
    peekRate: sql<[string, number], { count: number; reset_at: number }>(
      "SELECT count, reset_at FROM rate_limits WHERE key = ? AND reset_at > ?",
    ),
    deleteRate: sql<[string]>("DELETE FROM rate_limits WHERE key = ?"),
  };
}

/** Bind parameters as better-sqlite3 takes them: a tuple, or one object of named parameters. */
type Params<P> = P extends unknown[] ? P : [P];

/** The prepared statements of one connection. */
export type Statements = ReturnType<typeof prepare>;
