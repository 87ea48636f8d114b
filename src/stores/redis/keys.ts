/** Signing keys on Redis: one hash in its own slot, by kid, each value the key as JSON. */
import { StoreUnavailableError } from "../../core/errors.js";
import type { StoredKey } from "../../core/model.js";
import type { RedisContext } from "./context.js";
import { ADD_KEY } from "./lua/accounts.js";
import { int, strings } from "./replies.js";

/** A stored key as written by {@link addKey} (our own JSON). */
function parseKey(json: string): StoredKey {
  const key: unknown = JSON.parse(json);
  if (typeof key !== "object" || key === null || !("kid" in key) || !("alg" in key)) {
    throw new StoreUnavailableError("unexpected signing key record in redis");
  }
  return key as StoredKey;
}

/** Every stored key, oldest first. */
export async function listKeys({ conn, keys }: RedisContext): Promise<StoredKey[]> {
  const values = strings(await conn.send("HVALS", keys.keys));
  return values.map(parseKey).sort((a, b) => a.createdAt - b.createdAt);
}

/** Adds a key (with `ifNoKeyFor`, only when none of that algorithm exists: one script). */
export async function addKey(
  { conn, keys }: RedisContext,
  key: StoredKey,
  options?: { ifNoKeyFor?: StoredKey["alg"] },
): Promise<boolean> {
  const args = [key.kid, JSON.stringify(key), options?.ifNoKeyFor ?? ""];
  return int(await conn.run(ADD_KEY, [keys.keys], args)) === 1;
}

/** Deletes a key by kid. Idempotent. */
export async function deleteKey({ conn, keys }: RedisContext, kid: string): Promise<void> {
  await conn.send("HDEL", keys.keys, kid);
}
