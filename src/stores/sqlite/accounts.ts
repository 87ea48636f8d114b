/**
 * The `AccountStore` part of a SQLite store: the standalone server's users, OAuth clients and
 * rate-limit counters. A user's disabled flag lives with the user grain (`disabled_users`), so that
 * session creation can check it in its own transaction; reads join it in.
 */
import { StoreUnavailableError } from "../../core/errors.js";
import type { ClientRecord, UserRecord } from "../../core/model.js";
import type { SqliteConnection } from "./connection.js";
import { clientFromRow, userFromRow } from "./rows.js";

// ---- users --------------------------------------------------------------------------------------

/** Creates a user (username stored lower-cased, unique). `"taken"` when the name or id exists. */
export function createUser(db: SqliteConnection, user: UserRecord): "created" | "taken" {
  return db.write("createUser", ({ q }) => {
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
export function getUser(db: SqliteConnection, id: string): UserRecord | null {
  return db.run("getUser", ({ q }) => {
    const row = q.getUser.get(id);
    return row ? userFromRow(row) : null;
  });
}

/** A user by username (case-insensitive), or `null`. */
export function getUserByName(db: SqliteConnection, username: string): UserRecord | null {
  return db.run("getUserByName", ({ q }) => {
    const row = q.getUserByName.get(username.toLowerCase());
    return row ? userFromRow(row) : null;
  });
}

/** Every user, by username. */
export function listUsers(db: SqliteConnection): UserRecord[] {
  return db.run("listUsers", ({ q }) => q.listUsers.all().map(userFromRow));
}

/** Replaces a password hash; `false` when the user is unknown. */
export function setPasswordHash(db: SqliteConnection, userId: string, passwordHash: string): boolean {
  return db.run("setPasswordHash", ({ q }) => q.setPassword.run(passwordHash, userId).changes > 0);
}

/** Deletes a user record. Idempotent. */
export function deleteUser(db: SqliteConnection, userId: string): void {
  db.run("deleteUser", ({ q }) => q.deleteUser.run(userId));
}

// ---- clients ------------------------------------------------------------------------------------

/** Adds a client (its secret only as the given hash); `"exists"` when the id is taken. */
export function addClient(db: SqliteConnection, client: ClientRecord): "created" | "exists" {
  return db.run("addClient", ({ q }) =>
    q.insertClient.run(client.clientId, client.secretHash, client.createdAt).changes > 0
      ? "created"
      : "exists",
  );
}

/** A client by id, or `null`. */
export function getClient(db: SqliteConnection, clientId: string): ClientRecord | null {
  return db.run("getClient", ({ q }) => {
    const row = q.getClient.get(clientId);
    return row ? clientFromRow(row) : null;
  });
}

/** Every client, by id. */
export function listClients(db: SqliteConnection): ClientRecord[] {
  return db.run("listClients", ({ q }) => q.listClients.all().map(clientFromRow));
}

/** Removes a client; whether it existed. */
export function removeClient(db: SqliteConnection, clientId: string): boolean {
  return db.run("removeClient", ({ q }) => q.deleteClient.run(clientId).changes > 0);
}

// ---- rate limits --------------------------------------------------------------------------------

/** Counts a hit in a fixed window; one upsert statement, atomic across processes. */
export function hitRateLimit(
  db: SqliteConnection,
  key: string,
  windowMs: number,
  now: number,
): { count: number; resetAt: number } {
  db.seen(now);
  return db.run("hitRateLimit", ({ q }) => {
    const row = q.hitRate.get({ key, now, reset: now + windowMs });
    if (!row) throw new StoreUnavailableError("the sqlite store returned no rate-limit row");
    return { count: row.count, resetAt: row.reset_at };
  });
}

/** Reads a counter without adding a hit. */
export function peekRateLimit(
  db: SqliteConnection,
  key: string,
  now: number,
): { count: number; resetAt: number } {
  db.seen(now);
  return db.run("peekRateLimit", ({ q }) => {
    const row = q.peekRate.get(key, now);
    return row ? { count: row.count, resetAt: row.reset_at } : { count: 0, resetAt: now };
  });
}

/** Clears a counter. Idempotent. */
export function resetRateLimit(db: SqliteConnection, key: string): void {
  db.run("resetRateLimit", ({ q }) => q.deleteRate.run(key));
}
