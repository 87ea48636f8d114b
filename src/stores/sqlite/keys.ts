/** The signing keys of a SQLite store (the `keys` table). The private parts never leave this process. */
import type { StoredKey } from "../../core/model.js";
import type { SqliteConnection } from "./connection.js";
import { keyFromRow } from "./rows.js";

/** Every stored key, oldest first. */
export function listKeys(db: SqliteConnection): StoredKey[] {
  return db.run("listKeys", ({ q }) => q.listKeys.all().map(keyFromRow));
}

/** Adds a key; with `ifNoKeyFor`, only when no key of that algorithm exists (one transaction). Idempotent by kid. */
export function addKey(
  db: SqliteConnection,
  key: StoredKey,
  options?: { ifNoKeyFor?: StoredKey["alg"] },
): boolean {
  return db.write("addKey", ({ q }) => {
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
export function deleteKey(db: SqliteConnection, kid: string): void {
  db.run("deleteKey", ({ q }) => q.deleteKey.run(kid));
}
