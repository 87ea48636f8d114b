/**
 * The `AccountStore` part of a memory store: the standalone server's users, OAuth clients and
 * rate-limit counters. A user's disabled flag lives with the user grain (`disabled`), so that session
 * creation checks it; reads join it in.
 */
import type { ClientRecord, UserRecord } from "../../core/model.js";
import type { MemoryTables } from "./tables.js";

// ---- users --------------------------------------------------------------------------------------

/** Creates a user (username stored lower-cased, unique). `"taken"` when the name exists. */
export function createUser(t: MemoryTables, user: UserRecord): "created" | "taken" {
  const name = user.username.toLowerCase();
  for (const u of t.users.values()) if (u.username === name) return "taken";
  t.users.set(user.id, { ...user, username: name });
  if (user.disabledAt !== null && !t.disabled.has(user.id)) t.disabled.set(user.id, user.disabledAt);
  return "created";
}

/** A user by id, or `null`. */
export function getUser(t: MemoryTables, id: string): UserRecord | null {
  const u = t.users.get(id);
  return u ? withFlag(t, u) : null;
}

/** A user by username (case-insensitive), or `null`. */
export function getUserByName(t: MemoryTables, username: string): UserRecord | null {
  const name = username.toLowerCase();
  for (const u of t.users.values()) if (u.username === name) return withFlag(t, u);
  return null;
}

/** Every user, by username. */
export function listUsers(t: MemoryTables): UserRecord[] {
  return [...t.users.values()]
    .map((u) => withFlag(t, u))
    .sort((a, b) => a.username.localeCompare(b.username));
}

/** Replaces a password hash; `false` when the user is unknown. */
export function setPasswordHash(t: MemoryTables, userId: string, passwordHash: string): boolean {
  const u = t.users.get(userId);
  if (!u) return false;
  t.users.set(userId, { ...u, passwordHash });
  return true;
}

/** Deletes a user record. Idempotent. */
export function deleteUser(t: MemoryTables, userId: string): void {
  t.users.delete(userId);
}

/** A copy of the user with the disabled flag as recorded. */
function withFlag(t: MemoryTables, u: UserRecord): UserRecord {
  return { ...u, disabledAt: t.disabled.get(u.id) ?? null };
}

// ---- clients ------------------------------------------------------------------------------------

/** Adds a client; `"exists"` when the id is taken. */
export function addClient(t: MemoryTables, client: ClientRecord): "created" | "exists" {
  if (t.clients.has(client.clientId)) return "exists";
  t.clients.set(client.clientId, { ...client });
  return "created";
}

/** A client by id, or `null`. */
export function getClient(t: MemoryTables, clientId: string): ClientRecord | null {
  const c = t.clients.get(clientId);
  return c ? { ...c } : null;
}

/** Every client, by id. */
export function listClients(t: MemoryTables): ClientRecord[] {
  return [...t.clients.values()].map((c) => ({ ...c })).sort((a, b) => a.clientId.localeCompare(b.clientId));
}

/** Removes a client; whether it existed. */
export function removeClient(t: MemoryTables, clientId: string): boolean {
  return t.clients.delete(clientId);
}

// ---- rate limits --------------------------------------------------------------------------------

/** Counts a hit in a fixed window starting at the first hit. */
export function hitRateLimit(
  t: MemoryTables,
  key: string,
  windowMs: number,
  now: number,
): { count: number; resetAt: number } {
  let r = t.rates.get(key);
  if (!r || r.resetAt <= now) t.rates.set(key, (r = { count: 0, resetAt: now + windowMs }));
  r.count++;
  return { ...r };
}

/** Reads a counter without adding a hit. */
export function peekRateLimit(t: MemoryTables, key: string, now: number): { count: number; resetAt: number } {
  const r = t.rates.get(key);
  return r && r.resetAt > now ? { ...r } : { count: 0, resetAt: now };
}

/** Clears a counter. Idempotent. */
export function resetRateLimit(t: MemoryTables, key: string): void {
  t.rates.delete(key);
}
