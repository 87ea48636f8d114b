// The stores the bench measures, opened from a plain description so that child processes can open
// the same store: { kind: "memory" | "sqlite" | "redis" | "postgres", target }.
import { memoryStore } from "../../dist/index.js";
import { importOptional, QUIET } from "./common.mjs";

const MODULES = {
  sqlite: "../../dist/stores/sqlite/index.js",
  redis: "../../dist/stores/redis/index.js",
  postgres: "../../dist/stores/postgres/index.js",
};

/** The store module of `kind`, or `undefined` when that store is not built (not written yet). */
export async function storeModule(kind) {
  return kind === "memory" ? { memoryStore } : importOptional(MODULES[kind]);
}

/** A new (unopened) store of `kind` on `target`. */
export async function openStore(kind, target) {
  const mod = await storeModule(kind);
  if (!mod) throw new Error(`the ${kind} store is missing`);
  switch (kind) {
    case "memory":
      return mod.memoryStore();
    case "sqlite":
      return mod.sqliteStore({ path: target.path, ...(target.options ?? {}) });
    case "redis":
      return mod.redisStore({ url: target.url }, { prefix: target.prefix, logger: QUIET });
    case "postgres":
      return mod.postgresStore({ url: target.url, schema: target.schema });
    default:
      throw new Error(`unknown store ${kind}`);
  }
}
