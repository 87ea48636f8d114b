import type Database from "better-sqlite3";
import type { Store } from "../contract.js";
import { MemoryOutbox } from "../memory/outbox.js";
import { PostgresOutbox, type PostgresOutboxAccess } from "../postgres/outbox.js";
import { RedisOutbox, type RedisOutboxAccess } from "../redis/outbox.js";
import { SqliteOutbox } from "../sqlite/outbox.js";
import type { EventOutbox } from "./types.js";

export type { EventOutbox, EventReceiver, OutboxEvent, OutboxState } from "./types.js";

/** What a store's `outboxAccess()` hands out: its connection, for the outbox tables or keys. */
export type OutboxAccess =
  | { kind: "sqlite"; db: () => Database.Database }
  | ({ kind: "redis" } & RedisOutboxAccess)
  | ({ kind: "postgres" } & PostgresOutboxAccess);

const memory = new WeakMap<Store, MemoryOutbox>();

/**
 * The {@link EventOutbox} kept in `store` (the same file, Redis or schema), or, for a memory store,
 * in this process. Throws a `TypeError` for a store that keeps no outbox.
 */
export function eventOutboxFor(store: Store): EventOutbox {
  const access = (store as { outboxAccess?: () => OutboxAccess }).outboxAccess?.();
  if (access?.kind === "sqlite") return new SqliteOutbox(access.db);
  if (access?.kind === "redis") return new RedisOutbox(access);
  if (access?.kind === "postgres") return new PostgresOutbox(access);
  if (store.kind === "memory") {
    let box = memory.get(store);
    if (!box) memory.set(store, (box = new MemoryOutbox()));
    return box;
  }
  throw new TypeError(`the ${store.kind} store keeps no event outbox`);
}
