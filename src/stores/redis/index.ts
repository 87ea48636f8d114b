/**
 * `revokit/redis`: the {@link Store} on Redis (standalone or Cluster) through ioredis. The class is a
 * thin composition; each job has its module: connection.ts (connections, start-up checks, how calls
 * run), layout.ts (key names), sessions.ts, rotation.ts, user-cutoff.ts, feed.ts, keys.ts,
 * accounts.ts, publication.ts (Cluster), lua/ (the scripts), records.ts and replies.ts (reading
 * replies), outbox.ts and status.ts (the server's outbox and status lists on the same connection).
 */
import type { Duration } from "../../core/duration.js";
import { ConfigInvalidError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationCheckpoint,
  RevocationEntry,
  RevocationMeta,
  RevocationSnapshot,
  RotateInput,
  RotateResult,
  SessionRecord,
  SnapshotHead,
  SnapshotSink,
  StoredKey,
  TokenLifetimes,
  UserCutoff,
  UserRecord,
} from "../../core/model.js";
import { checkOptionNames, durationOption } from "../../core/options.js";
import { STDERR_LOGGER } from "../../loggers.js";
import type { Store, StoreOpenOptions } from "../contract.js";
import * as accounts from "./accounts.js";
import * as checkpoint from "./checkpoint.js";
import { type Arg, Connection, newEpoch } from "./connection.js";
import type { RedisContext } from "./context.js";
import * as feed from "./feed.js";
import * as signingKeys from "./keys.js";
import { KeyLayout } from "./layout.js";
import { Publication } from "./publication.js";
import { rotateRefreshToken } from "./rotation.js";
import * as sessions from "./sessions.js";
import { checkTarget, type RedisTarget } from "./target.js";
import { cutOffUser } from "./user-cutoff.js";

export { encodeKeyPart } from "./layout.js";
export { connectionProblem, type RedisTarget } from "./target.js";

/** Options of {@link redisStore}. Durations are a number of seconds or a string such as `"2s"`, `"15m"`. */
export interface RedisStoreOptions {
  /** Prefix of every key, so several deployments can share one Redis. No braces. Default `"revokit:"`. */
  prefix?: string;
  /** Where start-up warnings and background failures go. Default: JSON lines on stderr (`STDERR_LOGGER`). */
  logger?: Logger;
  /** A call that gets no answer within this long fails with `ERR_STORE_UNAVAILABLE`. Default `"2s"`. */
  commandTimeout?: Duration;
  /**
   * How long the change-feed stream keeps entries. A node further behind than this (after a long
   * disconnection) resynchronises from the active revocations instead; nothing is lost either way.
   * Default `"15m"`.
   */
  feedRetention?: Duration;
}

const REDIS_OPTION_NAMES = Object.keys({
  prefix: true,
  logger: true,
  commandTimeout: true,
  feedRetention: true,
} satisfies Record<keyof RedisStoreOptions, true>);

/**
 * A {@link Store} on Redis (standalone or Cluster) through ioredis: sessions, refresh tokens, keys,
 * users, clients, rate-limit counters and revocations shared by any number of nodes, with a lossless
 * change feed on a Redis Stream.
 *
 * Guarantees:
 * - Refresh rotation and reuse detection are one Lua script on the session's user slot, executing the
 *   core's `planRotation`; a user cutoff is one script executing `planUserCutoff`. On standalone
 *   Redis, a revocation and its feed entry are written by the same script (atomic). On Redis Cluster
 *   the feed lives in its own slot: a revocation first records an intent next to the feed, then revokes
 *   (atomically for all sessions of a user), then publishes; a node dying in between leaves the intent,
 *   which any node completes within seconds (and `check()` reads the session itself meanwhile).
 * - Session creation is atomic with the user's disabled flag and cutoff (one slot per user).
 * - Every revocation record has a TTL equal to the remaining life of what it covers (plus one minute
 *   for clock skew); sessions and their refresh tokens expire with the session.
 * - `open()` refuses a Redis whose `maxmemory-policy` is not `noeviction` (eviction would silently
 *   forget revocations) and warns when persistence (AOF and RDB) is off.
 * - Commands fail fast (no offline queue) with `ERR_STORE_UNAVAILABLE` while Redis is unreachable, and
 *   the store reconnects by itself.
 *
 * @example
 * import { createAuth } from "revokit";
 * import { redisStore } from "revokit/redis";
 * const auth = await createAuth({ issuer, audience, store: redisStore({ url: "redis://127.0.0.1:6379" }) });
 */
export function redisStore(target: RedisTarget, options: RedisStoreOptions = {}): Store {
  return new RedisStore(target, options);
}

class RedisStore implements Store {
  readonly kind = "redis";
  readonly durable = true;
  readonly #ctx: RedisContext;
  #opening: Promise<void> | undefined;

  constructor(target: RedisTarget, options: RedisStoreOptions) {
    checkTarget(target);
    if (typeof options !== "object" || options === null)
      throw new ConfigInvalidError("options", "must be an object");
    checkOptionNames("redisStore", options, REDIS_OPTION_NAMES);
    const prefix = options.prefix ?? "revokit:";
    if (typeof prefix !== "string" || /[{}]/.test(prefix)) {
      throw new ConfigInvalidError("prefix", "must be a string without braces");
    }
    const keys = new KeyLayout(prefix);
    const log = options.logger ?? STDERR_LOGGER;
    const conn = new Connection(target, {
      keys,
      log,
      timeoutMs: durationOption(options.commandTimeout, 2_000, "commandTimeout", 1),
      retentionMs: durationOption(options.feedRetention, 15 * 60_000, "feedRetention", 1_000),
    });
    this.#ctx = { conn, keys, log, publication: new Publication(conn, keys, log) };
  }

  /** Runs one call: bounded in time, every failure an `ERR_STORE_UNAVAILABLE`. */
  #do<T>(fn: (ctx: RedisContext) => Promise<T>, timeoutMs?: number): Promise<T> {
    return this.#ctx.conn.do(() => fn(this.#ctx), timeoutMs);
  }

  /** The command connection, for the security-event outbox and status lists (outbox.ts, status.ts). */
  outboxAccess(): {
    kind: "redis";
    prefix: string;
    call: (command: string, ...args: Arg[]) => Promise<unknown>;
  } {
    const { conn, keys } = this.#ctx;
    return {
      kind: "redis",
      prefix: keys.prefix,
      call: (command, ...args) => conn.do(() => conn.send(command, ...args)),
    };
  }

  /**
   * Connects both connections, runs the start-up checks and writes the first-start marker. With
   * `{ create: false }` the marker must already be there (a store some node initialised under this
   * prefix): otherwise `StoreMissingError`, and nothing is written.
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.#ctx.conn.isOpen) return;
    this.#opening ??= this.#open(options.create !== false).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(create: boolean): Promise<void> {
    const { conn, keys, publication } = this.#ctx;
    await conn.open(create);
    try {
      // The first-start marker: its disappearance later means Redis lost its data.
      await conn.do(() => conn.send("SET", keys.global("epoch"), newEpoch(), "NX"));
    } catch (error) {
      await this.close();
      throw error;
    }
    if (conn.cluster) await publication.start();
  }

  async close(): Promise<void> {
    const { conn, publication } = this.#ctx;
    publication.stop();
    await conn.close();
    await publication.idle();
  }

  // ---- keys
  listKeys(): Promise<StoredKey[]> {
    return this.#do(signingKeys.listKeys);
  }
  addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return this.#do((c) => signingKeys.addKey(c, key, options));
  }
  async deleteKey(kid: string): Promise<void> {
    await this.#do((c) => signingKeys.deleteKey(c, kid));
  }

  // ---- sessions
  createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return this.#do((c) => sessions.createSession(c, session, refreshHash));
  }
  getSession(id: string): Promise<SessionRecord | null> {
    return this.#do((c) => sessions.getSession(c, id));
  }
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#do((c) => sessions.listUserSessions(c, userId, now));
  }
  listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#do((c) => sessions.listSessionsCutOff(c, userId, cutoff));
  }
  rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    return this.#do((c) => rotateRefreshToken(c, input));
  }
  findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return this.#do((c) => sessions.findRefreshToken(c, hash));
  }
  revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    return this.#do((c) => sessions.revokeSession(c, sessionId, meta));
  }
  cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    return this.#do((c) => cutOffUser(c, userId, meta, options));
  }
  enableUser(userId: string): Promise<void> {
    return this.#do((c) => sessions.enableUser(c, userId));
  }
  isUserDisabled(userId: string): Promise<boolean> {
    return this.#do((c) => sessions.isUserDisabled(c, userId));
  }

  // ---- revocations and the change feed
  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind !== "jti" && entry.kind !== "global") {
      throw new TypeError(`addRevocation takes jti or global entries, not ${entry.kind}`);
    }
    return this.#do((c) => feed.addRevocation(c, entry));
  }
  snapshot(now: number): Promise<RevocationSnapshot> {
    return feed.snapshot(this.#ctx, now);
  }
  snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    return feed.snapshotInto(this.#ctx, now, apply);
  }
  changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    return feed.changes(this.#ctx, cursor, options);
  }
  check(query: { jti?: string; sessionId?: string; userId?: string }, now: number): Promise<RevocationCheck> {
    return this.#do((c) => feed.check(c, query, now));
  }
  tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return this.#do((c) => feed.tokenLifetimes(c, record));
  }
  purge(now: number): Promise<number> {
    return this.#do((c) => feed.purge(c, now), 60 * this.#ctx.conn.timeoutMs);
  }

  // ---- checkpoints -------------------------------------------------------------------------------

  readCheckpoint(): Promise<RevocationCheckpoint | null> {
    return this.#do(checkpoint.readCheckpoint, 30 * this.#ctx.conn.timeoutMs);
  }
  checkpointTakenAt(): Promise<number> {
    return this.#do(checkpoint.checkpointTakenAt);
  }
  writeCheckpoint(value: RevocationCheckpoint): Promise<boolean> {
    return this.#do((c) => checkpoint.writeCheckpoint(c, value), 30 * this.#ctx.conn.timeoutMs);
  }

  // ---- accounts
  createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#do((c) => accounts.createUser(c, user));
  }
  getUser(id: string): Promise<UserRecord | null> {
    return this.#do((c) => accounts.getUser(c, id));
  }
  getUserByName(username: string): Promise<UserRecord | null> {
    return this.#do((c) => accounts.getUserByName(c, username));
  }
  listUsers(): Promise<UserRecord[]> {
    return this.#do(accounts.listUsers, 10 * this.#ctx.conn.timeoutMs);
  }
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#do((c) => accounts.setPasswordHash(c, userId, passwordHash));
  }
  async deleteUser(userId: string): Promise<void> {
    await this.#do((c) => accounts.deleteUser(c, userId));
  }
  addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#do((c) => accounts.addClient(c, client));
  }
  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#do((c) => accounts.getClient(c, clientId));
  }
  listClients(): Promise<ClientRecord[]> {
    return this.#do(accounts.listClients);
  }
  removeClient(clientId: string): Promise<boolean> {
    return this.#do((c) => accounts.removeClient(c, clientId));
  }
  hitRateLimit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#do((c) => accounts.hitRateLimit(c, key, windowMs, now));
  }
  peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#do((c) => accounts.peekRateLimit(c, key, now));
  }
  async resetRateLimit(key: string): Promise<void> {
    await this.#do((c) => accounts.resetRateLimit(c, key));
  }
}
