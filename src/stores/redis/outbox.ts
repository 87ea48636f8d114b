import type { EventOutbox, EventReceiver, OutboxEvent, OutboxState } from "../outbox/types.js";
import { cell, cells, int, pairs, strings } from "./replies.js";

/** How the Redis outbox reaches the store's connection. */
export interface RedisOutboxAccess {
  /** Sends one command on the store's command connection. */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Key prefix of the store (`revokit:`); the outbox's keys share one hash slot (`{ev}`). */
  prefix: string;
}

const LEASE = `local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const ADD = `for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) == 1 then redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i]) end
end
return 1`;
const UPDATE = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
if ARGV[2] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) else redis.call('ZREM', KEYS[2], ARGV[1]) end
if ARGV[2] == 'failed' then redis.call('SADD', KEYS[3], ARGV[1]) end
return 1`;
const SET_RECEIVER = `local old = redis.call('HGET', KEYS[1], ARGV[1])
local since = ARGV[3]
if old then local o = cjson.decode(old) if o.url == ARGV[2] then since = o.since end end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ url = ARGV[2], since = tonumber(since) }))
return 1`;

/** An event as {@link RedisOutbox.add} wrote it (our own JSON). */
function parseEvent(json: string): OutboxEvent {
  return JSON.parse(json) as OutboxEvent;
}

/** A receiver as the SET_RECEIVER script wrote it (our own JSON). */
function parseReceiver(clientId: string, json: string): EventReceiver {
  const value: unknown = JSON.parse(json);
  const o = typeof value === "object" && value !== null ? new Map(Object.entries(value)) : new Map();
  const url = o.get("url");
  const since = o.get("since");
  return { clientId, url: typeof url === "string" ? url : "", since: typeof since === "number" ? since : 0 };
}

/** The {@link EventOutbox} of a Redis store (Lua scripts for the multi-key steps; cluster-safe keys). */
export class RedisOutbox implements EventOutbox {
  readonly #a: RedisOutboxAccess;
  readonly #k: string;

  constructor(access: RedisOutboxAccess) {
    this.#a = access;
    this.#k = `${access.prefix}{ev}:`;
  }

  async init(): Promise<void> {}

  async setReceiver(clientId: string, url: string | null, now: number): Promise<void> {
    if (url === null) await this.#a.call("HDEL", `${this.#k}receivers`, clientId);
    else await this.#a.call("EVAL", SET_RECEIVER, 1, `${this.#k}receivers`, clientId, url, now);
  }

  async receivers(): Promise<EventReceiver[]> {
    const out = pairs(await this.#a.call("HGETALL", `${this.#k}receivers`)).map(([clientId, json]) =>
      parseReceiver(clientId, json),
    );
    return out.sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
  }

  async getCursor(): Promise<string | null> {
    return cell(await this.#a.call("GET", `${this.#k}cursor`));
  }

  async setCursor(value: string): Promise<void> {
    await this.#a.call("SET", `${this.#k}cursor`, value);
  }

  async lease(owner: string, _now: number, ttlMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return int(await this.#a.call("EVAL", LEASE, 1, `${this.#k}lease`, owner, ttl)) === 1;
  }

  async add(events: OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const args: (string | number)[] = [];
    for (const e of events) args.push(e.id, e.nextAt, JSON.stringify(e));
    await this.#a.call("EVAL", ADD, 2, `${this.#k}events`, `${this.#k}due`, ...args);
  }

  async due(now: number, limit: number): Promise<OutboxEvent[]> {
    const ids = strings(await this.#a.call("ZRANGEBYSCORE", `${this.#k}due`, "-inf", now, "LIMIT", 0, limit));
    if (ids.length === 0) return [];
    return cells(await this.#a.call("HMGET", `${this.#k}events`, ...ids))
      .filter((v): v is string => v !== null)
      .map(parseEvent)
      .filter((e) => e.state === "pending")
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async update(
    id: string,
    c: Pick<OutboxEvent, "state" | "nextAt" | "attempts" | "lastError">,
  ): Promise<void> {
    const raw = cell(await this.#a.call("HGET", `${this.#k}events`, id));
    if (raw === null) return;
    const e = { ...parseEvent(raw), ...c };
    await this.#a.call(
      "EVAL",
      UPDATE,
      2,
      `${this.#k}events`,
      `${this.#k}due`,
      id,
      c.state,
      c.nextAt,
      JSON.stringify(e),
    );
  }

  /** Counted from the due set and the failed set, without reading the events. */
  async counts(): Promise<Record<OutboxState, number>> {
    const total = Number(await this.#a.call("HLEN", `${this.#k}events`));
    const pending = Number(await this.#a.call("ZCARD", `${this.#k}due`));
    const failed = Number(await this.#a.call("SCARD", `${this.#k}failed`));
    return { pending, failed, delivered: Math.max(0, total - pending - failed) };
  }

  async purge(before: number): Promise<void> {
    const gone: string[] = [];
    for (const [, json] of pairs(await this.#a.call("HGETALL", `${this.#k}events`))) {
      const e = parseEvent(json);
      if (e.state !== "pending" && e.createdAt < before) gone.push(e.id);
    }
    if (gone.length > 0) {
      await this.#a.call("HDEL", `${this.#k}events`, ...gone);
      await this.#a.call("SREM", `${this.#k}failed`, ...gone);
    }
  }
}
