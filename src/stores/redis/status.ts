import type { StatusEntry, StatusRegistry } from "../status/types.js";
import type { RedisOutboxAccess } from "./outbox.js";
import { strings } from "./replies.js";

const ALLOCATE = `local idx = redis.call('INCR', KEYS[1]) - 1
redis.call('ZADD', KEYS[2], idx, idx .. ' ' .. ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
return idx`;

/** The {@link StatusRegistry} of a Redis store: per list a counter and a sorted set, expiring by themselves. */
export class RedisStatusRegistry implements StatusRegistry {
  readonly #a: RedisOutboxAccess;

  constructor(access: RedisOutboxAccess) {
    this.#a = access;
  }

  /** The keys of one list share a hash slot. */
  #keys(list: number): [string, string] {
    const tag = `${this.#a.prefix}{status:${list}}:`;
    return [`${tag}next`, `${tag}entries`];
  }

  async init(): Promise<void> {}

  async allocate(list: number, t: Omit<StatusEntry, "idx">, keepUntil: number): Promise<number> {
    const [next, entries] = this.#keys(list);
    // Ids are base64url and user ids have no spaces here: encodeURIComponent keeps any that do apart.
    const member = `${t.jti} ${t.sid} ${t.iat} ${t.exp} ${encodeURIComponent(t.sub)} ${t.authTime}`;
    return Number(await this.#a.call("EVAL", ALLOCATE, 2, next, entries, member, Math.ceil(keepUntil)));
  }

  async entries(list: number, afterIdx: number, limit: number): Promise<StatusEntry[]> {
    const [, entries] = this.#keys(list);
    const members = strings(
      await this.#a.call("ZRANGEBYSCORE", entries, `(${afterIdx}`, "+inf", "LIMIT", 0, limit),
    );
    return members.map((m) => {
      const [idx, jti, sid, iat, exp, sub, authTime] = m.split(" ");
      return {
        idx: Number(idx),
        jti: jti ?? "",
        sid: sid ?? "",
        sub: decodeURIComponent(sub ?? ""),
        iat: Number(iat),
        exp: Number(exp),
        authTime: Number(authTime),
      };
    });
  }

  /** Lists expire by themselves (PEXPIREAT). */
  async purge(): Promise<void> {}
}
