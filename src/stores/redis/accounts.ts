/**
 * The account side on Redis (`AccountStore`): users (a record in the user's slot, usernames in one
 * hash), OAuth clients (one hash), fixed-window rate-limit counters.
 */
import { StoreUnavailableError } from "../../core/errors.js";
import type { ClientRecord, UserRecord } from "../../core/model.js";
import type { RedisContext } from "./context.js";
import { CLAIM_NAME, GET_USER, PUT_USER, RATE_HIT, RELEASE_NAME, SET_PASSWORD } from "./lua/accounts.js";
import { cell, cells, int, pairs, str, strings, tuple } from "./replies.js";

// ---- users

/** Creates a user: the record first, then the username claim (a name is only held by a written record). */
export async function createUser(
  { conn, keys }: RedisContext,
  user: UserRecord,
): Promise<"created" | "taken"> {
  const name = user.username.toLowerCase();
  const U = keys.user(user.id);
  // The record first, then the name: a name is only ever held by a user whose record was written.
  const fresh = await conn.run(
    PUT_USER,
    [`${U}user`, `${U}dis`],
    [user.id, name, user.passwordHash, user.createdAt, user.disabledAt ?? ""],
  );
  let holder = str(await conn.run(CLAIM_NAME, [keys.names], [name, user.id, ""]));
  if (holder !== "" && int(await conn.send("EXISTS", `${keys.user(holder)}user`)) === 0) {
    // The holder's record is gone (a delete or a failed creation stopped half-way): take the name over.
    holder = str(await conn.run(CLAIM_NAME, [keys.names], [name, user.id, holder]));
  }
  if (holder === "") return "created";
  if (int(fresh) === 1) await conn.send("DEL", `${U}user`);
  return "taken";
}

/** A user by id, with its disabled flag; `null` when unknown. */
export async function getUser({ conn, keys }: RedisContext, id: string): Promise<UserRecord | null> {
  const U = keys.user(id);
  const [uid, username, passwordHash, createdAt, disabledAt] = cells(
    await conn.run(GET_USER, [`${U}user`, `${U}dis`], []),
  );
  if (!uid || username == null || passwordHash == null) return null;
  return {
    id: uid,
    username,
    passwordHash,
    createdAt: Number(createdAt),
    disabledAt: disabledAt == null ? null : Number(disabledAt),
  };
}

/** A user by username (case-insensitive); `null` when unknown. */
export async function getUserByName(ctx: RedisContext, username: string): Promise<UserRecord | null> {
  const name = username.toLowerCase();
  const id = cell(await ctx.conn.send("HGET", ctx.keys.names, name));
  if (id === null) return null;
  const user = await getUser(ctx, id);
  return user && user.username === name ? user : null;
}

/** Every user whose username claim and record agree, by username. */
export async function listUsers(ctx: RedisContext): Promise<UserRecord[]> {
  const names = pairs(await ctx.conn.send("HGETALL", ctx.keys.names));
  const users = await Promise.all(names.map(([, id]) => getUser(ctx, id)));
  return users
    .filter((u, i): u is UserRecord => u !== null && u.username === names[i]?.[0])
    .sort((a, b) => a.username.localeCompare(b.username));
}

/** Replaces a password hash; `false` when the user is unknown. */
export async function setPasswordHash(
  { conn, keys }: RedisContext,
  userId: string,
  passwordHash: string,
): Promise<boolean> {
  return int(await conn.run(SET_PASSWORD, [`${keys.user(userId)}user`], [passwordHash])) === 1;
}

/** Deletes a user record and releases its username. Idempotent. */
export async function deleteUser({ conn, keys }: RedisContext, userId: string): Promise<void> {
  const key = `${keys.user(userId)}user`;
  const name = cell(await conn.send("HGET", key, "un"));
  await conn.send("DEL", key);
  if (name !== null) await conn.run(RELEASE_NAME, [keys.names], [name, userId]);
}

// ---- clients

/** A client record as written by {@link addClient} (our own JSON). */
function parseClient(json: string): ClientRecord {
  const value: unknown = JSON.parse(json);
  const o = typeof value === "object" && value !== null ? new Map(Object.entries(value)) : new Map();
  const clientId = o.get("clientId");
  const secretHash = o.get("secretHash");
  const createdAt = o.get("createdAt");
  if (typeof clientId !== "string" || typeof createdAt !== "number") {
    throw new StoreUnavailableError("unexpected client record in redis");
  }
  return { clientId, secretHash: typeof secretHash === "string" ? secretHash : null, createdAt };
}

/** Adds a client unless its id is taken. */
export async function addClient(
  { conn, keys }: RedisContext,
  client: ClientRecord,
): Promise<"created" | "exists"> {
  const record = JSON.stringify({
    clientId: client.clientId,
    secretHash: client.secretHash,
    createdAt: client.createdAt,
  });
  return int(await conn.send("HSETNX", keys.clients, client.clientId, record)) === 1 ? "created" : "exists";
}

/** A client by id or `null`. */
export async function getClient(
  { conn, keys }: RedisContext,
  clientId: string,
): Promise<ClientRecord | null> {
  const raw = cell(await conn.send("HGET", keys.clients, clientId));
  return raw === null ? null : parseClient(raw);
}

/** Every client, by id. */
export async function listClients({ conn, keys }: RedisContext): Promise<ClientRecord[]> {
  return strings(await conn.send("HVALS", keys.clients))
    .map(parseClient)
    .sort((a, b) => a.clientId.localeCompare(b.clientId));
}

/** Removes a client; whether it existed. */
export async function removeClient({ conn, keys }: RedisContext, clientId: string): Promise<boolean> {
  return int(await conn.send("HDEL", keys.clients, clientId)) === 1;
}

// ---- rate limits

/** One hit in a fixed window starting at the first hit (one script: atomic across nodes). */
export async function hitRateLimit(
  { conn, keys }: RedisContext,
  key: string,
  windowMs: number,
  now: number,
): Promise<{ count: number; resetAt: number }> {
  const [count, resetAt] = tuple(await conn.run(RATE_HIT, [keys.rate(key)], [windowMs, now]), 2);
  return { count: int(count), resetAt: int(resetAt) };
}

/** The count of the current window, without a hit. */
export async function peekRateLimit(
  { conn, keys }: RedisContext,
  key: string,
  now: number,
): Promise<{ count: number; resetAt: number }> {
  const [count, resetAt] = cells(await conn.send("HMGET", keys.rate(key), "c", "r"));
  if (resetAt == null || Number(resetAt) <= now) return { count: 0, resetAt: now };
  return { count: Number(count ?? 0), resetAt: Number(resetAt) };
}

/** Clears a counter. Idempotent. */
export async function resetRateLimit({ conn, keys }: RedisContext, key: string): Promise<void> {
  await conn.send("DEL", keys.rate(key));
}
