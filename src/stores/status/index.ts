import type { Store } from "../contract.js";
import { MemoryStatusRegistry } from "../memory/status.js";
import type { OutboxAccess } from "../outbox/index.js";
import { PostgresStatusRegistry } from "../postgres/status.js";
import { RedisStatusRegistry } from "../redis/status.js";
import { SqliteStatusRegistry } from "../sqlite/status.js";
import type { StatusRegistry } from "./types.js";

export type { StatusEntry, StatusRegistry } from "./types.js";

const memory = new WeakMap<Store, MemoryStatusRegistry>();

/**
 * The {@link StatusRegistry} kept in `store` (through the same connection accessor as the event
 * outbox), or, for a memory store, in this process. Throws a `TypeError` for a store that keeps none.
 */
export function statusRegistryFor(store: Store): StatusRegistry {
  const access = (store as { outboxAccess?: () => OutboxAccess }).outboxAccess?.();
  if (access?.kind === "sqlite") return new SqliteStatusRegistry(access.db);
  if (access?.kind === "redis") return new RedisStatusRegistry(access);
  if (access?.kind === "postgres") return new PostgresStatusRegistry(access);
  if (store.kind === "memory") {
    let r = memory.get(store);
    if (!r) memory.set(store, (r = new MemoryStatusRegistry()));
    return r;
  }
  throw new TypeError(`the ${store.kind} store keeps no status lists`);
}
