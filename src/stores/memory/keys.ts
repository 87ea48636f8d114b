/** The signing keys of a memory store. */
import type { StoredKey } from "../../core/model.js";
import type { MemoryTables } from "./tables.js";

/** Every stored key, oldest first (copies). */
export function listKeys(t: MemoryTables): StoredKey[] {
  return [...t.keys.values()].sort((a, b) => a.createdAt - b.createdAt).map((k) => structuredClone(k));
}

/** Adds a key; with `ifNoKeyFor`, only when no key of that algorithm exists. Idempotent by kid. */
export function addKey(
  t: MemoryTables,
  key: StoredKey,
  options?: { ifNoKeyFor?: StoredKey["alg"] },
): boolean {
  if (t.keys.has(key.kid)) return false;
  if (options?.ifNoKeyFor && [...t.keys.values()].some((k) => k.alg === options.ifNoKeyFor)) return false;
  t.keys.set(key.kid, structuredClone(key));
  return true;
}

/** Deletes a key by kid. Idempotent. */
export function deleteKey(t: MemoryTables, kid: string): void {
  t.keys.delete(kid);
}
