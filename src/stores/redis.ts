import { createHash, randomBytes } from "node:crypto";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Duration } from "../core/duration.js";
import { AuthError, ConfigInvalidError, StoreMissingError, StoreUnavailableError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
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
} from "../core/model.js";
import { checkOptionNames, durationOption } from "../core/options.js";
import { isEndedByUserCutoff, isSessionLive } from "../core/refresh.js";
import { STDERR_LOGGER } from "../loggers.js";
import type { Store, StoreOpenOptions } from "./contract.js";
import * as lua from "./redis-lua.js";

/**
 * Where a {@link redisStore} connects:
 * - `{ url }`: one Redis server (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS);
 * - `{ nodes }`: a Redis Cluster, given some of its nodes (`"host:port"`, a URL or `{ host, port }`);
 * - `{ client }`: an ioredis `Redis` or `Cluster` you created (the store does not close it; it opens
 *   one extra connection of its own, a duplicate, for the change feed).
 */
export type RedisTarget =
  | { url: string }
  | { nodes: (string | { host: string; port: number })[] }
  | { client: Redis | Cluster };

/** Options of {@link redisStore}. Durations are a number of seconds or a string such as `"2s"`, `"15m"`. */
export interface RedisStoreOptions {
  /** Prefix of every key, so several deployments can share one Redis. No braces. Default `"revokit:"`. */
  prefix?: string;
  /** Where start-up warnings go (persistence off, configuration not readable). Default: JSON lines on stderr. */
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
 * - Refresh rotation and reuse detection are one Lua script on the session's user slot. On standalone
 *   Redis, a revocation and its feed entry are written by the same script (atomic). On Redis Cluster
 *   the feed lives in its own slot: a revocation first records an intent next to the feed, then revokes
 *   (atomically for all sessions of a user), then publishes; a node dying in between leaves the intent,
 *   which any node completes within seconds (and `check()` reads the session itself meanwhile).
 * - Session creation is atomic with the user's disabled flag, and a disable with the revocation of
 *   every session of the user (one slot per user).
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

/** Extra life of every TTL: nodes' clocks and Redis's clock differ. */
const MARGIN_MS = 60_000;
/** A Cluster publication intent older than this is completed by whichever node sees it. */
const INTENT_AGE_MS = 10_000;
const RECONCILE_INTERVAL_MS = 5_000;
const SNAPSHOT_PAGE = 2_000;
/** ZSCAN COUNT of the lean snapshot (`snapshotInto`): members only, so larger pages. */
const SCAN_PAGE = 10_000;
const PURGE_BATCH = 1_000;
/** Life of a refresh-token lookup written ahead of a rotation on Cluster, until the rotation confirms it. */
const PREWRITE_TTL_MS = 60_000;

type Client = Redis | Cluster;
type Arg = string | number;
interface Caller {
  call(command: string, ...args: Arg[]): Promise<unknown>;
}

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }
}

const S = {
  createSession: new Script(lua.CREATE_SESSION),
  rotate: new Script(lua.ROTATE),
  revoke: new Script(lua.REVOKE),
  cutUser: new Script(lua.CUT_USER),
  lifetimes: new Script(lua.LIFETIMES),
  publish: new Script(lua.PUBLISH),
  mark: new Script(lua.MARK),
  addRevocation: new Script(lua.ADD_REVOCATION),
  poll: new Script(lua.POLL),
  snapshotHead: new Script(lua.SNAPSHOT_HEAD),
  snapshotPage: new Script(lua.SNAPSHOT_PAGE),
  check: new Script(lua.CHECK),
  purgeActive: new Script(lua.PURGE_ACTIVE),
  dropSession: new Script(lua.DROP_SESSION),
  findToken: new Script(lua.FIND_TOKEN),
  listSessions: new Script(lua.LIST_SESSIONS),
  listSessionsUpTo: new Script(lua.LIST_SESSIONS_UP_TO),
  intentAdd: new Script(lua.INTENT_ADD),
  intentList: new Script(lua.INTENT_LIST),
  addKey: new Script(lua.ADD_KEY),
  claimName: new Script(lua.CLAIM_NAME),
  releaseName: new Script(lua.RELEASE_NAME),
  putUser: new Script(lua.PUT_USER),
  getUser: new Script(lua.GET_USER),
  setPassword: new Script(lua.SET_PASSWORD),
  rateHit: new Script(lua.RATE_HIT),
};

type Mode = "inline" | "deferred" | "dry";
/** A session feed entry prepared by a deferred revocation: sid, expiresAt, reason, actor, at. */
type Pending = [string, string, string, string, string];
/** A user cutoff feed entry to publish: userId, expiresAt, reason, actor, at, cutoff, spared sid or ''. */
type UserPending = [string, string, string, string, string, string, string];

/**
 * Percent-encodes an id for use inside a key name: everything but `A-Z a-z 0-9 - . _ ~`, byte by byte
 * (UTF-8). The Lua scripts use the same encoding (`enc`), so both sides build the same key names.
 */
export function encodeKeyPart(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const unreserved =
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f ||
      b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const enc = encodeKeyPart;

class RedisStore implements Store {
  readonly kind = "redis";
  readonly durable = true;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #g: string;
  readonly #timeoutMs: number;
  readonly #retentionMs: number;
  readonly #log: Logger;
  /** Where Redis is, for error messages: host:port (never a password). */
  readonly #where: string;
  /** The last connection error a client reported (ioredis itself then only says "Connection is closed."). */
  #lastError: unknown;
  #cmd: Client | undefined;
  #feed: Client | undefined;
  #owned = false;
  #cluster = false;
  #open = false;
  #closed = false;
  #opening: Promise<void> | undefined;
  #reconcileTimer: NodeJS.Timeout | undefined;
  #reconciling: Promise<void> | undefined;

  constructor(target: RedisTarget, options: RedisStoreOptions) {
    if (typeof target !== "object" || target === null) {
      throw new ConfigInvalidError("redis", "expected { url }, { nodes } or { client }");
    }
    checkOptionNames("redisStore", target, ["url", "nodes", "client"]);
    const ways = ["url", "nodes", "client"].filter((k) => k in target && (target as never)[k] !== undefined);
    if (ways.length !== 1) throw new ConfigInvalidError("redis", "give exactly one of url, nodes or client");
    if ("url" in target && (typeof target.url !== "string" || target.url.length === 0)) {
      throw new ConfigInvalidError("url", "must be a redis:// or rediss:// URL");
    }
    if ("nodes" in target && (!Array.isArray(target.nodes) || target.nodes.length === 0)) {
      throw new ConfigInvalidError("nodes", "must list at least one cluster node");
    }
    if ("client" in target && typeof (target.client as Partial<Caller>)?.call !== "function") {
      throw new ConfigInvalidError("client", "must be an ioredis Redis or Cluster instance");
    }
    if ("client" in target && clientKeyPrefix(target.client)) {
      throw new ConfigInvalidError("client", "an ioredis keyPrefix is not supported: use the prefix option");
    }
    if (typeof options !== "object" || options === null)
      throw new ConfigInvalidError("options", "must be an object");
    checkOptionNames("redisStore", options, REDIS_OPTION_NAMES);
    this.#target = target;
    this.#where = describeTarget(target);
    this.#prefix = options.prefix ?? "revokit:";
    if (typeof this.#prefix !== "string" || /[{}]/.test(this.#prefix)) {
      throw new ConfigInvalidError("prefix", "must be a string without braces");
    }
    this.#g = `${this.#prefix}{g}:`;
    this.#timeoutMs = durationOption(options.commandTimeout, 2_000, "commandTimeout", 1);
    this.#retentionMs = durationOption(options.feedRetention, 15 * 60_000, "feedRetention", 1_000);
    this.#log = options.logger ?? STDERR_LOGGER;
  }

  // ---- keys of the layout (see redis-lua.ts)
  #user(userId: string): string {
    return `${this.#prefix}{u:${enc(userId)}}:`;
  }
  #sidKey(sessionId: string): string {
    return `${this.#prefix}sid:${enc(sessionId)}`;
  }
  #rtKey(hash: string): string {
    return `${this.#prefix}rt:${enc(hash)}`;
  }
  get #expKey(): string {
    return `${this.#prefix}{x}:sessions`;
  }
  get #keysKey(): string {
    return `${this.#prefix}{k}:keys`;
  }
  get #namesKey(): string {
    return `${this.#prefix}{n}:names`;
  }
  get #clientsKey(): string {
    return `${this.#prefix}{c}:clients`;
  }
  #rateKey(key: string): string {
    return `${this.#prefix}rl:${enc(key)}`;
  }

  // ---- plumbing
  get #c(): Caller {
    if (!this.#cmd || !this.#open || this.#closed)
      throw new StoreUnavailableError("the redis store is not open");
    return this.#cmd as unknown as Caller;
  }

  /** The command connection, for the security-event outbox (`src/stores/outbox/`). */
  outboxAccess(): {
    kind: "redis";
    prefix: string;
    call: (command: string, ...args: Arg[]) => Promise<unknown>;
  } {
    return {
      kind: "redis",
      prefix: this.#prefix,
      call: (command, ...args) => this.#do(() => this.#send(command, ...args)),
    };
  }

  #send(command: string, ...args: Arg[]): Promise<unknown> {
    return this.#c.call(command, ...args);
  }

  async #run(script: Script, keys: string[], args: Arg[], mode: Mode = "inline"): Promise<unknown> {
    const argv = [mode, this.#g, this.#retentionMs, MARGIN_MS, ...args];
    const c = this.#c;
    try {
      return await c.call("EVALSHA", script.sha, keys.length, ...keys, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await c.call("EVAL", script.source, keys.length, ...keys, ...argv);
    }
  }

  /** Runs one store call: bounded in time, every failure an `ERR_STORE_UNAVAILABLE`. */
  async #do<T>(fn: () => Promise<T>, timeoutMs = 2 * this.#timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw new StoreUnavailableError(`the redis store is unavailable: ${this.#why(error)}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** "redis at HOST:PORT: WHY", with the underlying connection error when ioredis hides it. */
  #why(error: unknown): string {
    return `redis at ${this.#where}: ${connectionProblem(error, this.#lastError)}`;
  }

  #onClientError = (error: unknown): void => {
    this.#lastError = error;
  };

  // ---- lifecycle
  /**
   * Connects both connections, runs the start-up checks and writes the first-start marker. With
   * `{ create: false }` the marker must already be there (a store some node initialised under this
   * prefix): otherwise `StoreMissingError`, and nothing is written.
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.#open && !this.#closed) return;
    const create = options.create !== false;
    this.#opening ??= this.#connect(create).finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #connect(create: boolean): Promise<void> {
    const target = this.#target;
    let cmd: Client;
    let owned = true;
    if ("url" in target) {
      cmd = new Redis(target.url, { ...this.#redisOptions("revokit"), lazyConnect: true });
    } else if ("nodes" in target) {
      cmd = new Cluster(target.nodes.map(clusterNode), this.#clusterOptions("revokit", target.nodes));
    } else {
      cmd = target.client;
      owned = false;
    }
    // Failures surface as rejected calls; the last one is kept to say why a connection closed.
    cmd.on("error", this.#onClientError);
    if (owned) unrefSockets(cmd);
    this.#lastError = undefined;
    let feed: Client | undefined;
    try {
      await ready(cmd, this.#timeoutMs * 2);
      // ioredis goes on after a refused AUTH (as the default user): a wrong password must not.
      if (isAuthFailure(this.#lastError)) throw this.#lastError;
      await this.#checkServers(cmd);
      if (!create) await this.#mustExist(cmd);
      feed = this.#duplicate(cmd);
      feed.on("error", this.#onClientError);
      unrefSockets(feed);
      await ready(feed, this.#timeoutMs * 2);
    } catch (error) {
      feed?.disconnect();
      cmd.off("error", this.#onClientError);
      if (owned) {
        cmd.on("error", () => undefined);
        cmd.disconnect();
      }
      if (error instanceof AuthError) throw error;
      throw new StoreUnavailableError(`the redis store is unavailable: ${this.#why(error)}`, {
        cause: error,
      });
    }
    this.#cmd = cmd;
    this.#feed = feed;
    this.#owned = owned;
    this.#cluster = cmd.isCluster;
    this.#open = true;
    this.#closed = false;
    try {
      // The first-start marker: its disappearance later means Redis lost its data.
      await this.#do(() => this.#send("SET", `${this.#g}epoch`, newEpoch(), "NX"));
    } catch (error) {
      await this.close();
      throw error;
    }
    if (this.#cluster) {
      await this.#reconcile().catch(() => undefined);
      this.#reconcileTimer = setInterval(() => {
        this.#reconcile().catch(() => undefined);
      }, RECONCILE_INTERVAL_MS);
      this.#reconcileTimer.unref();
    }
  }

  #redisOptions(name: string): RedisOptions {
    return {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#timeoutMs,
      connectTimeout: this.#timeoutMs,
      retryStrategy: (times) => Math.min(times * 50, 1_000),
    };
  }

  #clusterOptions(name: string, nodes: (string | { host: string; port: number })[]): ClusterOptions {
    const auth = nodes.map(clusterAuth).find((a) => a.password !== undefined) ?? {};
    const { retryStrategy: _ignored, enableOfflineQueue: _also, ...redisOptions } = this.#redisOptions(name);
    return {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: (times) => Math.min(times * 50, 1_000),
      slotsRefreshTimeout: this.#timeoutMs,
      redisOptions: { ...redisOptions, ...auth },
    };
  }

  /** The dedicated connection of the change feed: blocking reads never wait behind other commands. */
  #duplicate(cmd: Client): Client {
    const feedOptions = {
      connectionName: "revokit-feed",
      commandTimeout: undefined,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    if (cmd instanceof Cluster) {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: (times) => Math.min(times * 50, 1_000),
        redisOptions: { ...cmd.options.redisOptions, ...feedOptions },
      };
      return cmd.duplicate([], options);
    }
    return cmd.duplicate({
      ...feedOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: (times: number) => Math.min(times * 50, 1_000),
    });
  }

  /** `open({ create: false })`: the first-start marker of this prefix must exist. */
  async #mustExist(cmd: Client): Promise<void> {
    const exists = (await (cmd as unknown as Caller).call("EXISTS", `${this.#g}epoch`)) as number;
    if (exists !== 1) {
      throw new StoreMissingError(
        `no revokit store at redis ${this.#where} with key prefix ${JSON.stringify(this.#prefix)}`,
      );
    }
  }

  /** Start-up checks on every (master) server: eviction must be off; warn when persistence is. */
  async #checkServers(cmd: Client): Promise<void> {
    const servers = cmd instanceof Cluster ? cmd.nodes("master") : [cmd];
    for (const server of servers) {
      const where = `${server.options.host ?? "?"}:${server.options.port ?? "?"}`;
      let policy: string;
      let aof: string;
      let save: string;
      try {
        policy = await configGet(server, "maxmemory-policy");
        aof = await configGet(server, "appendonly");
        save = await configGet(server, "save");
      } catch (error) {
        if (!isReplyError(error)) throw error;
        this.#log.warn(
          { store: "redis", server: where, err: errorText(error) },
          "cannot read the Redis configuration (CONFIG GET refused): make sure maxmemory-policy is noeviction and persistence is on",
        );
        continue;
      }
      if (policy !== "noeviction") {
        throw new ConfigInvalidError(
          "maxmemory-policy",
          `Redis at ${where} has maxmemory-policy "${policy}", so it could evict revocations; set it to "noeviction"`,
        );
      }
      if (aof !== "yes" && save.trim() === "") {
        this.#log.warn(
          { store: "redis", server: where, appendonly: aof, save },
          "Redis persistence is off (no AOF, no RDB snapshots): a Redis restart forgets every revocation, and every node then treats all earlier tokens as revoked",
        );
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed || !this.#open) {
      this.#closed = true;
      return;
    }
    this.#closed = true;
    clearInterval(this.#reconcileTimer);
    this.#reconcileTimer = undefined;
    const feed = this.#feed;
    this.#feed = undefined;
    feed?.disconnect();
    const cmd = this.#cmd;
    if (cmd && this.#owned) {
      await Promise.race([cmd.quit().catch(() => undefined), sleep(500)]);
      cmd.disconnect();
    }
    await this.#reconciling?.catch(() => undefined);
  }

  // ---- keys
  async listKeys(): Promise<StoredKey[]> {
    return this.#do(async () => {
      const raw = (await this.#send("HVALS", this.#keysKey)) as string[];
      return raw.map((v) => JSON.parse(v) as StoredKey).sort((a, b) => a.createdAt - b.createdAt);
    });
  }

  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return this.#do(async () => {
      const r = await this.#run(
        S.addKey,
        [this.#keysKey],
        [key.kid, JSON.stringify(key), options?.ifNoKeyFor ?? ""],
      );
      return r === 1;
    });
  }

  async deleteKey(kid: string): Promise<void> {
    await this.#do(() => this.#send("HDEL", this.#keysKey, kid));
  }

  // ---- sessions
  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return this.#do(async () => {
      const U = this.#user(session.userId);
      const es = enc(session.id);
      const ttl = Math.max(session.expiresAt - session.createdAt, 0) + MARGIN_MS;
      const rtValue = JSON.stringify([session.userId, session.id]);
      const keys = [`${U}s:${es}`, `${U}idx`, `${U}dis`, `${U}seq`, `${U}cut`];
      const lookups = [this.#sidKey(session.id), this.#rtKey(refreshHash), this.#expKey];
      const args: Arg[] = [
        es,
        session.createdAt,
        ttl,
        refreshHash,
        session.generation,
        session.userId,
        rtValue,
        rtValue,
        session.expiresAt,
        ...sessionPairs(session),
      ];
      if (!this.#cluster) {
        return (await this.#run(S.createSession, [...keys, ...lookups], args)) as
          | "created"
          | "user_disabled"
          | "cut_off";
      }
      // Cluster: the lookups live in other slots; written first (harmless if the session is refused).
      await Promise.all([
        this.#send("SET", lookups[0] as string, session.userId, "PX", ttl),
        this.#send("SET", lookups[1] as string, rtValue, "PX", ttl),
        this.#send("ZADD", this.#expKey, session.expiresAt, rtValue),
      ]);
      const r = (await this.#run(S.createSession, keys, args, "deferred")) as
        | "created"
        | "user_disabled"
        | "cut_off";
      if (r !== "created" && (await this.#send("EXISTS", keys[0] as string)) === 0) {
        await Promise.all([
          this.#send("DEL", lookups[0] as string),
          this.#send("DEL", lookups[1] as string),
          this.#send("ZREM", this.#expKey, rtValue),
        ]).catch(() => undefined);
      }
      return r;
    });
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#do(async () => {
      const userId = (await this.#send("GET", this.#sidKey(id))) as string | null;
      if (userId === null) return null;
      const values = (await this.#send(
        "HMGET",
        `${this.#user(userId)}s:${enc(id)}`,
        ...lua.SESSION_FIELDS,
      )) as Cell[];
      return toSession(values);
    });
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#do(async () => {
      const U = this.#user(userId);
      const [rows, cutoff, user] = await Promise.all([
        this.#run(S.listSessions, [`${U}idx`, `${U}cut`], [U]) as Promise<Cell[][]>,
        this.#send("GET", `${this.#g}cutoff`) as Promise<string | null>,
        this.#userCutoff(userId),
      ]);
      const globalCutoff = Number(cutoff ?? 0);
      const sessions: { s: SessionRecord; n: number }[] = [];
      for (const row of rows) {
        const s = toSession(row);
        if (s && isSessionLive(s, now, globalCutoff, user))
          sessions.push({ s, n: Number(row[SESSION_N] ?? 0) });
      }
      sessions.sort((a, b) => b.s.createdAt - a.s.createdAt || a.n - b.n);
      return sessions.map((x) => x.s);
    });
  }

  /**
   * The sessions the user cutoff ended (`isEndedByUserCutoff`), newest first: one read-only script on
   * the user's slot (index range up to the cutoff, then the records).
   */
  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#do(async () => {
      const U = this.#user(userId);
      const rows = (await this.#run(S.listSessionsUpTo, [`${U}idx`], [U, cutoff.cutoff])) as Cell[][];
      const sessions: { s: SessionRecord; n: number }[] = [];
      for (const row of rows) {
        const s = toSession(row);
        if (s && s.userId === userId && isEndedByUserCutoff(s, cutoff))
          sessions.push({ s, n: Number(row[SESSION_N] ?? 0) });
      }
      sessions.sort((a, b) => b.s.createdAt - a.s.createdAt || a.n - b.n);
      return sessions.map((x) => x.s);
    });
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    return this.#do(async () => {
      const [lookup, cutoff] = await Promise.all([
        this.#send("GET", this.#rtKey(input.presentedHash)) as Promise<string | null>,
        this.#cluster ? (this.#send("GET", `${this.#g}cutoff`) as Promise<string | null>) : null,
      ]);
      if (lookup === null) return { status: "unknown" };
      const [userId, sessionId] = JSON.parse(lookup) as [string, string];
      const U = this.#user(userId);
      const sk = `${U}s:${enc(sessionId)}`;
      const m = input.reuseMeta;
      const args: Arg[] = [
        input.presentedHash,
        input.newHash,
        input.now,
        input.graceMs,
        input.idleTtlMs,
        cutoff ?? "0",
        m.reason,
        m.actor,
        m.at,
        m.ttl,
        lookup,
      ];
      const newKey = this.#rtKey(input.newHash);
      const cut = `${U}cut`;
      if (!this.#cluster)
        return toRotateResult((await this.#run(S.rotate, [sk, cut, newKey], args)) as RotateReply);
      const [, first] = await Promise.all([
        this.#send("SET", newKey, lookup, "PX", PREWRITE_TTL_MS),
        this.#run(S.rotate, [sk, cut], args, "dry") as Promise<RotateReply>,
      ]);
      if (first[0] === "rotate" || first[0] === "grace") {
        const expiresAt = Number(first[1]?.[SESSION_EX] ?? input.now);
        await this.#send("PEXPIRE", newKey, Math.max(expiresAt - input.now, 0) + MARGIN_MS);
        return toRotateResult(first);
      }
      if (first[0] !== "reuse") return toRotateResult(first);
      // Reuse on Cluster: intent first, then revoke (re-deciding on the current state), then publish.
      return this.#withIntent(userId, null, enc(sessionId), async () => {
        const r = (await this.#run(S.rotate, [sk, cut], args, "deferred")) as RotateReply;
        if (r[0] === "reused" && r[2]) await this.#publish(userId, [r[2] as Pending], null);
        return toRotateResult(r);
      });
    });
  }

  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return this.#do(async () => {
      const lookup = (await this.#send("GET", this.#rtKey(hash))) as string | null;
      if (lookup === null) return null;
      const [userId, sessionId] = JSON.parse(lookup) as [string, string];
      const [row, generation] = (await this.#run(
        S.findToken,
        [`${this.#user(userId)}s:${enc(sessionId)}`],
        [hash],
      )) as [Cell[], string];
      const session = toSession(row);
      return session && generation !== "" ? { session, generation: Number(generation) } : null;
    });
  }

  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    return this.#do(async () => {
      const userId = (await this.#send("GET", this.#sidKey(sessionId))) as string | null;
      if (userId === null) return false;
      const { changed, published } = await this.#revoke(userId, "one", enc(sessionId), meta);
      return changed.length > 0 || published > 0;
    });
  }

  /**
   * The user's cutoff: one script on the user's slot, constant size whatever the number of sessions.
   * Standalone: the feed entry is written by the same script. Cluster: under a publication intent, the
   * cutoff is written, then its feed entry (the intent makes another node publish it if this one dies).
   */
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    return this.#do(async () => {
      const U = this.#user(userId);
      const except = options?.exceptSessionId ?? "";
      const keys = [`${U}dis`, `${U}cut`, except === "" ? `${U}cut` : `${U}s:${enc(except)}`, `${U}idx`];
      const args: Arg[] = [
        options?.disable ? "1" : "0",
        meta.at,
        meta.reason,
        meta.actor,
        meta.ttl,
        userId,
        except,
      ];
      if (!this.#cluster) return toUserCutoff((await this.#run(S.cutUser, keys, args)) as string[]);
      const marker: Pending = [userId, "", meta.reason, meta.actor, String(meta.at)];
      return this.#withIntent(userId, marker, null, async () => {
        const r = (await this.#run(S.cutUser, keys, args, "deferred")) as string[];
        await this.#publish(userId, [], userCutoffEntry(userId, r, meta));
        return toUserCutoff(r);
      });
    });
  }

  /** The user's recorded cutoff, `null` when none. */
  async #userCutoff(userId: string): Promise<UserCutoff | null> {
    const [c, p] = (await this.#send("HMGET", `${this.#user(userId)}cut`, "c", "p")) as Cell[];
    return c === null || c === undefined ? null : { cutoff: Number(c), exceptSessionId: p ?? null };
  }

  /**
   * Revokes one session of a user. Standalone: one script does it all, feed entry included.
   * Cluster: intent, revoke (deferred), publish, mark, clear the intent.
   */
  async #revoke(
    userId: string,
    target: "one",
    subject: string,
    meta: RevocationMeta,
  ): Promise<{ changed: string[]; published: number }> {
    const U = this.#user(userId);
    const keys = [`${U}idx`, `${U}dis`];
    const args: Arg[] = [target, subject, "0", meta.at, meta.reason, meta.actor, meta.ttl, userId, U, "0"];
    if (!this.#cluster) {
      const [changed, pending] = (await this.#run(S.revoke, keys, args)) as [string[], Pending[]];
      return { changed, published: pending.length };
    }
    return this.#withIntent(userId, null, subject, async () => {
      const [changed, pending] = (await this.#run(S.revoke, keys, args, "deferred")) as [string[], Pending[]];
      await this.#publish(userId, pending, null);
      return { changed, published: pending.length };
    });
  }

  /** Cluster: runs `fn` under a publication intent recorded next to the feed (see {@link #reconcile}). */
  async #withIntent<T>(
    userId: string,
    userEntry: Pending | null,
    encSid: string | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    const member = JSON.stringify({ u: userId, e: userEntry, s: encSid, n: randomBytes(6).toString("hex") });
    await this.#run(S.intentAdd, [`${this.#g}pending`], [member]);
    const result = await fn();
    // The work is done; a leftover intent only makes some node re-check this user later.
    await this.#send("ZREM", `${this.#g}pending`, member).catch(() => undefined);
    return result;
  }

  /** Cluster: writes prepared feed entries next to the feed, then marks the sessions published. */
  async #publish(userId: string, pending: Pending[], userEntry: UserPending | null): Promise<void> {
    if (pending.length === 0 && !userEntry) return;
    await this.#run(S.publish, [`${this.#g}feed`], [pending.length, ...pending.flat(), ...(userEntry ?? [])]);
    if (pending.length > 0) {
      const U = this.#user(userId);
      await this.#run(S.mark, [`${U}idx`], [U, ...pending.map((p) => enc(p[0]))]);
    }
  }

  /** Cluster: completes the publications of nodes that died (or lost Redis) half-way through one. */
  #reconcile(): Promise<void> {
    this.#reconciling ??= (async () => {
      try {
        const members = (await this.#run(
          S.intentList,
          [`${this.#g}pending`],
          [INTENT_AGE_MS, 100],
        )) as string[];
        for (const member of members) {
          if (this.#closed) return;
          const {
            u: userId,
            e: userEntry,
            s: encSid,
          } = JSON.parse(member) as { u: string; e: Pending | null; s?: string | null };
          const U = this.#user(userId);
          // The one session the intent names (revoked but maybe unpublished): never a loop over sessions.
          let pending: Pending[] = [];
          if (encSid) {
            const args: Arg[] = ["check", encSid, "0", "0", "", "", "0", userId, U, "0"];
            [, pending] = (await this.#run(S.revoke, [`${U}idx`, `${U}dis`], args, "deferred")) as [
              string[],
              Pending[],
            ];
          }
          // A user cutoff under way: publish the user's cutoff as it is now recorded (if it is).
          let user: UserPending | null = null;
          if (userEntry) {
            const [c, p, e] = (await this.#send("HMGET", `${U}cut`, "c", "p", "e")) as Cell[];
            if (c !== null && c !== undefined) {
              user = [userId, String(e ?? c), userEntry[2], userEntry[3], userEntry[4], String(c), p ?? ""];
            }
          }
          await this.#publish(userId, pending, user);
          await this.#send("ZREM", `${this.#g}pending`, member);
        }
      } finally {
        this.#reconciling = undefined;
      }
    })();
    return this.#reconciling;
  }

  async enableUser(userId: string): Promise<void> {
    await this.#do(() => this.#send("DEL", `${this.#user(userId)}dis`));
  }

  async isUserDisabled(userId: string): Promise<boolean> {
    return this.#do(async () => (await this.#send("EXISTS", `${this.#user(userId)}dis`)) === 1);
  }

  // ---- revocations and the change feed
  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind !== "jti" && entry.kind !== "global") {
      throw new TypeError(`addRevocation takes jti or global entries, not ${entry.kind}`);
    }
    return this.#do(async () => {
      const cutoff = entry.kind === "global" ? (entry.cutoff ?? 0) : undefined;
      const seq = (await this.#run(
        S.addRevocation,
        [`${this.#g}feed`],
        [entry.kind, entry.subject, cutoff ?? "", entry.expiresAt, entry.reason, entry.actor, entry.at],
      )) as string | null;
      if (seq === null) return null;
      const recorded: RevocationEntry = {
        seq,
        kind: entry.kind,
        subject: entry.subject,
        expiresAt: entry.expiresAt,
        reason: entry.reason,
        actor: entry.actor,
        at: entry.at,
      };
      if (cutoff !== undefined) recorded.cutoff = cutoff;
      return recorded;
    });
  }

  async snapshot(now: number): Promise<RevocationSnapshot> {
    return this.#snapshot(now);
  }

  /**
   * The lean snapshot replicas start from: the head first (as {@link #snapshot}), then the active index
   * itself, ZSCAN pages of about {@link SCAN_PAGE} members (`j:<jti>` / `s:<sid>`, scored by expiry),
   * each its own bounded call, so no command grows with the number of revocations. An entry may come
   * twice (ZSCAN may repeat members); entries added meanwhile also arrive through the feed.
   */
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    const head = await this.#head();
    const users: string[] = [];
    let pending = this.#scanPage("0");
    for (;;) {
      const [next, items] = await pending;
      // The next page is asked for before this one is applied, so Redis and this process work at once.
      if (next !== "0") pending = this.#scanPage(next);
      try {
        for (let i = 0; i + 1 < items.length; i += 2) {
          const member = items[i] as string;
          const expiresAt = Number(items[i + 1]);
          if (!(expiresAt > now)) continue;
          const tag = member.charCodeAt(0);
          if (member.charCodeAt(1) !== 58 /* : */) continue;
          if (tag === 106 /* j */) apply("jti", member.slice(2), expiresAt);
          else if (tag === 115 /* s */) apply("session", member.slice(2), expiresAt);
          else if (tag === 117 /* u */) users.push(member);
        }
      } catch (error) {
        if (next !== "0") pending.catch(() => undefined); // abandoned: its failure is not news
        throw error;
      }
      if (next === "0") break;
    }
    // User cutoffs (one per user) carry more than an expiry: read their records, a page at a time.
    for (let i = 0; i < users.length; i += SCAN_PAGE) {
      const page = users.slice(i, i + SCAN_PAGE);
      const recs = await this.#do(() =>
        Promise.all(
          page.map((m) => this.#send("HMGET", `${this.#g}r:${enc(m)}`, "c", "p", "x") as Promise<Cell[]>),
        ),
      );
      recs.forEach((r, k) => {
        const [c, p, x] = r;
        if (c === null || c === undefined || !(Number(x) > now)) return;
        apply("user", (page[k] as string).slice(2), Number(x), {
          cutoff: Number(c),
          exceptSessionId: p ?? null,
        });
      });
    }
    return head;
  }

  /** One ZSCAN page of the active index: the next cursor and `[member, score, ...]`. */
  #scanPage(cursor: string): Promise<[string, string[]]> {
    return this.#do(() => this.#send("ZSCAN", `${this.#g}active`, cursor, "COUNT", SCAN_PAGE)) as Promise<
      [string, string[]]
    >;
  }

  /** Epoch, cutoff and feed position, read together in one script. */
  async #head(): Promise<SnapshotHead> {
    const [epoch, cutoff, cursor] = (await this.#do(() =>
      this.#run(S.snapshotHead, [`${this.#g}epoch`], [newEpoch()]),
    )) as [string, string, string];
    return { epoch, globalCutoff: Number(cutoff), cursor };
  }

  /**
   * The head (epoch, cutoff, feed position) is read first in one script, then the active index page by
   * page (ZSCAN returns every member present throughout the scan), each page its own bounded call.
   * Every entry recorded before the head is in the index (index and feed are written by one script);
   * anything later arrives through the feed from the head's cursor. So nothing falls in between.
   */
  async #snapshot(now: number): Promise<RevocationSnapshot> {
    const head = await this.#head();
    const byMember = new Map<string, RevocationEntry>();
    let scan = "0";
    do {
      const page = (await this.#do(() =>
        this.#run(S.snapshotPage, [`${this.#g}active`], [scan, SNAPSHOT_PAGE, now]),
      )) as [string, ...string[][]];
      scan = page[0];
      for (const rec of page.slice(1) as string[][]) {
        const e = recordToEntry(rec);
        const id = `${e.kind}:${e.subject}`;
        const seen = byMember.get(id);
        if (!seen || seen.expiresAt < e.expiresAt) byMember.set(id, e);
      }
    } while (scan !== "0");
    return { entries: [...byMember.values()], ...head };
  }

  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const from = normalizeCursor(cursor);
    const limit = Math.max(1, Math.floor(options.limit));
    const waitMs = Math.max(0, Math.floor(options.waitMs));
    const first = await this.#do(() => this.#poll(from, limit));
    if (first.resync) return this.#resync();
    if (first.entries.length > 0 || waitMs === 0) return batch(first.entries, from, first.epoch);
    const deadline = Date.now() + waitMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const feed = this.#feed;
      if (feed && feed.status === "ready") {
        const entries = await this.#blockingRead(feed, from, limit, left);
        return batch(entries, from, first.epoch);
      }
      // The dedicated connection is reconnecting: poll on the main one meanwhile.
      await sleep(Math.min(left, 50));
      if (this.#closed) break;
      const next = await this.#do(() => this.#poll(from, limit));
      if (next.resync) return this.#resync();
      if (next.entries.length > 0 || next.epoch !== first.epoch) return batch(next.entries, from, next.epoch);
    }
    return batch([], from, first.epoch);
  }

  async #poll(
    from: string,
    limit: number,
  ): Promise<{ epoch: string; resync: boolean; entries: RevocationEntry[] }> {
    const [epoch, status, raw] = (await this.#run(
      S.poll,
      [`${this.#g}epoch`],
      [newEpoch(), from, limit],
    )) as [string, string, StreamEntry[] | undefined];
    return { epoch, resync: status === "resync", entries: (raw ?? []).map(streamToEntry) };
  }

  /** A reader whose cursor points before trimmed entries gets every active entry and the cutoff again. */
  async #resync(): Promise<ChangeBatch> {
    const snap = await this.#snapshot(0);
    const entries = [...snap.entries];
    if (snap.globalCutoff > 0) {
      entries.push({
        seq: snap.cursor,
        kind: "global",
        subject: "",
        cutoff: snap.globalCutoff,
        expiresAt: Number.MAX_SAFE_INTEGER,
        reason: "feed_resync",
        actor: "system",
        at: snap.globalCutoff,
      });
    }
    return { entries, cursor: snap.cursor, epoch: snap.epoch };
  }

  /** XREAD BLOCK on the dedicated connection; guarded so a silent server cannot hold it forever. */
  async #blockingRead(feed: Client, from: string, limit: number, waitMs: number): Promise<RevocationEntry[]> {
    const guardMs = waitMs + this.#timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = (feed as unknown as Caller).call(
        "XREAD",
        "COUNT",
        limit,
        "BLOCK",
        waitMs,
        "STREAMS",
        `${this.#g}feed`,
        from,
      );
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          feed.disconnect(true);
          reject(new Error(`the feed read got no answer within ${guardMs} ms`));
        }, guardMs);
        // A background long poll: it must not keep a script that forgot close() running.
        timer.unref();
      });
      const reply = (await Promise.race([read, guard])) as XreadReply;
      return xreadEntries(reply).map(streamToEntry);
    } catch (error) {
      throw new StoreUnavailableError(`the redis feed is unavailable: ${this.#why(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    return this.#do(async () => {
      const sid = query.sessionId;
      const [reply, userId, user] = await Promise.all([
        this.#run(
          S.check,
          [`${this.#g}active`],
          [query.jti === undefined ? "" : `j:${query.jti}`, sid === undefined ? "" : `s:${sid}`, now],
        ) as Promise<[number, number, string]>,
        sid === undefined ? null : (this.#send("GET", this.#sidKey(sid)) as Promise<string | null>),
        query.userId === undefined ? null : this.#userCutoff(query.userId),
      ]);
      let sessionRevoked = reply[1] === 1;
      if (!sessionRevoked && sid !== undefined && userId) {
        // The session record itself: revoked sessions whose feed entry has expired stay revoked.
        sessionRevoked = (await this.#send("HEXISTS", `${this.#user(userId)}s:${enc(sid)}`, "rv")) === 1;
      }
      return { jtiRevoked: reply[0] === 1, sessionRevoked, globalCutoff: Number(reply[2]), user };
    });
  }

  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return this.#do(async () => {
      const [a, s] = (await this.#run(
        S.lifetimes,
        [`${this.#g}lifetimes`],
        [record?.accessTokenTtlMs ?? 0, record?.sessionTtlMs ?? 0],
      )) as [string, string];
      return { accessTokenTtlMs: Number(a), sessionTtlMs: Number(s) };
    });
  }

  async purge(now: number): Promise<number> {
    return this.#do(async () => {
      let removed = 0;
      for (;;) {
        const n = (await this.#run(S.purgeActive, [`${this.#g}active`], [now, PURGE_BATCH])) as number;
        removed += n;
        if (n < PURGE_BATCH) break;
      }
      for (;;) {
        const due = (await this.#send(
          "ZRANGEBYSCORE",
          this.#expKey,
          "-inf",
          now,
          "LIMIT",
          0,
          200,
        )) as string[];
        for (const member of due) removed += await this.#dropSession(member, now);
        if (due.length < 200) break;
      }
      if (this.#cluster) await this.#reconcile();
      return removed;
    }, 60 * this.#timeoutMs);
  }

  async #dropSession(member: string, now: number): Promise<number> {
    const [userId, sessionId] = JSON.parse(member) as [string, string];
    const U = this.#user(userId);
    const es = enc(sessionId);
    const r = (await this.#run(S.dropSession, [`${U}s:${es}`, `${U}idx`], [now, es])) as [string, unknown?];
    if (r[0] === "keep") {
      await this.#send("ZADD", this.#expKey, "XX", r[1] as string, member);
      return 0;
    }
    const hashes = r[0] === "dropped" ? (r[1] as string[]) : [];
    await Promise.all([
      this.#send("DEL", this.#sidKey(sessionId)),
      ...hashes.map((h) => this.#send("DEL", this.#rtKey(h))),
    ]);
    await this.#send("ZREM", this.#expKey, member);
    return r[0] === "dropped" ? 1 + hashes.length : 0;
  }

  // ---- users
  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#do(async () => {
      const name = user.username.toLowerCase();
      const U = this.#user(user.id);
      // The record first, then the name: a name is only ever held by a user whose record was written.
      const fresh = await this.#run(
        S.putUser,
        [`${U}user`, `${U}dis`],
        [user.id, name, user.passwordHash, user.createdAt, user.disabledAt ?? ""],
      );
      let holder = (await this.#run(S.claimName, [this.#namesKey], [name, user.id, ""])) as string;
      if (holder !== "" && (await this.#send("EXISTS", `${this.#user(holder)}user`)) === 0) {
        // The holder's record is gone (a delete or a failed creation stopped half-way): take the name over.
        holder = (await this.#run(S.claimName, [this.#namesKey], [name, user.id, holder])) as string;
      }
      if (holder === "") return "created";
      if (fresh === 1) await this.#send("DEL", `${U}user`);
      return "taken";
    });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.#do(() => this.#getUser(id));
  }

  async #getUser(id: string): Promise<UserRecord | null> {
    const U = this.#user(id);
    const [uid, username, passwordHash, createdAt, disabledAt] = (await this.#run(
      S.getUser,
      [`${U}user`, `${U}dis`],
      [],
    )) as Cell[];
    if (!uid || username == null || passwordHash == null) return null;
    return {
      id: uid,
      username,
      passwordHash,
      createdAt: Number(createdAt),
      disabledAt: disabledAt == null ? null : Number(disabledAt),
    };
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    return this.#do(async () => {
      const name = username.toLowerCase();
      const id = (await this.#send("HGET", this.#namesKey, name)) as string | null;
      if (id === null) return null;
      const user = await this.#getUser(id);
      return user && user.username === name ? user : null;
    });
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.#do(async () => {
      const flat = (await this.#send("HGETALL", this.#namesKey)) as string[];
      const pairs: [string, string][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i] as string, flat[i + 1] as string]);
      const users = await Promise.all(pairs.map(([, id]) => this.#getUser(id)));
      return users
        .filter((u, i): u is UserRecord => u !== null && u.username === pairs[i]?.[0])
        .sort((a, b) => a.username.localeCompare(b.username));
    }, 10 * this.#timeoutMs);
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#do(
      async () => (await this.#run(S.setPassword, [`${this.#user(userId)}user`], [passwordHash])) === 1,
    );
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#do(async () => {
      const key = `${this.#user(userId)}user`;
      const name = (await this.#send("HGET", key, "un")) as string | null;
      await this.#send("DEL", key);
      if (name !== null) await this.#run(S.releaseName, [this.#namesKey], [name, userId]);
    });
  }

  // ---- clients
  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#do(async () => {
      const record = JSON.stringify({
        clientId: client.clientId,
        secretHash: client.secretHash,
        createdAt: client.createdAt,
      });
      return (await this.#send("HSETNX", this.#clientsKey, client.clientId, record)) === 1
        ? "created"
        : "exists";
    });
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#do(async () => {
      const raw = (await this.#send("HGET", this.#clientsKey, clientId)) as string | null;
      return raw === null ? null : (JSON.parse(raw) as ClientRecord);
    });
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.#do(async () => {
      const raw = (await this.#send("HVALS", this.#clientsKey)) as string[];
      return raw
        .map((v) => JSON.parse(v) as ClientRecord)
        .sort((a, b) => a.clientId.localeCompare(b.clientId));
    });
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#do(async () => (await this.#send("HDEL", this.#clientsKey, clientId)) === 1);
  }

  // ---- rate limits
  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    return this.#do(async () => {
      const [count, resetAt] = (await this.#run(S.rateHit, [this.#rateKey(key)], [windowMs, now])) as [
        number,
        string,
      ];
      return { count: Number(count), resetAt: Number(resetAt) };
    });
  }

  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#do(async () => {
      const [count, resetAt] = (await this.#send("HMGET", this.#rateKey(key), "c", "r")) as Cell[];
      if (resetAt == null || Number(resetAt) <= now) return { count: 0, resetAt: now };
      return { count: Number(count ?? 0), resetAt: Number(resetAt) };
    });
  }

  async resetRateLimit(key: string): Promise<void> {
    await this.#do(() => this.#send("DEL", this.#rateKey(key)));
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

type Cell = string | null;
type StreamEntry = [string, string[]];
type RotateReply = [string, Cell[]?, Pending?];

const SESSION_INDEX = Object.fromEntries(lua.SESSION_FIELDS.map((f, i) => [f, i])) as Record<
  (typeof lua.SESSION_FIELDS)[number],
  number
>;
const SESSION_EX = SESSION_INDEX.ex;
const SESSION_N = SESSION_INDEX.n;

/** The hash fields of a new session record (absent = null). */
function sessionPairs(s: SessionRecord): Arg[] {
  const pairs: Arg[] = [
    "id",
    s.id,
    "uid",
    s.userId,
    "cid",
    s.clientId,
    "ca",
    s.createdAt,
    "lu",
    s.lastUsedAt,
    "ex",
    s.expiresAt,
    "ie",
    s.idleExpiresAt,
    "g",
    s.generation,
  ];
  const optional: [string, string | number | null][] = [
    ["ua", s.userAgent],
    ["ip", s.ip],
    ["cl", s.claims === null ? null : JSON.stringify(s.claims)],
    ["sc", s.scope],
    ["ra", s.rotatedAt],
    ["rv", s.revokedAt],
    ["rr", s.revokeReason],
  ];
  for (const [field, value] of optional) if (value !== null && value !== undefined) pairs.push(field, value);
  return pairs;
}

function toSession(row: Cell[] | undefined): SessionRecord | null {
  const f = (name: (typeof lua.SESSION_FIELDS)[number]): Cell => row?.[SESSION_INDEX[name]] ?? null;
  const id = f("id");
  const userId = f("uid");
  if (id === null || userId === null) return null;
  const num = (name: (typeof lua.SESSION_FIELDS)[number]) => Number(f(name));
  const opt = (name: (typeof lua.SESSION_FIELDS)[number]) => (f(name) === null ? null : num(name));
  const claims = f("cl");
  return {
    id,
    userId,
    clientId: f("cid") ?? "default",
    createdAt: num("ca"),
    lastUsedAt: num("lu"),
    expiresAt: num("ex"),
    idleExpiresAt: num("ie"),
    userAgent: f("ua"),
    ip: f("ip"),
    claims: claims === null ? null : (JSON.parse(claims) as Record<string, unknown>),
    scope: f("sc"),
    generation: num("g"),
    rotatedAt: opt("ra"),
    revokedAt: opt("rv"),
    revokeReason: f("rr"),
  };
}

function toRotateResult(reply: RotateReply): RotateResult {
  const [status, row] = reply;
  if (status === "unknown") return { status: "unknown" };
  const session = toSession(row);
  if (!session) return { status: "unknown" };
  switch (status) {
    case "rotate":
      return { status: "rotated", session, grace: false };
    case "grace":
      return { status: "rotated", session, grace: true };
    case "reused":
      return { status: "reused", session };
    case "revoked":
    case "expired":
    case "idle_expired":
      return { status, session };
    default:
      throw new StoreUnavailableError(`unexpected rotation outcome from redis: ${status}`);
  }
}

function fieldsToEntry(seq: string, fields: string[]): RevocationEntry {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i] as string, fields[i + 1] as string);
  const entry: RevocationEntry = {
    seq,
    kind: m.get("k") as RevocationEntry["kind"],
    subject: m.get("s") ?? "",
    expiresAt: Number(m.get("x")),
    reason: m.get("r") ?? "",
    actor: m.get("a") ?? "",
    at: Number(m.get("t")),
  };
  const cutoff = m.get("c");
  if (cutoff !== undefined) entry.cutoff = Number(cutoff);
  const spared = m.get("p");
  if (spared !== undefined && spared !== "") entry.exceptSessionId = spared;
  return entry;
}

function streamToEntry([id, fields]: StreamEntry): RevocationEntry {
  return fieldsToEntry(id, fields);
}

/** An active-entry record (a hash: `q` = seq, then the stream fields). */
function recordToEntry(flat: string[]): RevocationEntry {
  const at = flat.indexOf("q");
  const seq = at >= 0 && at % 2 === 0 ? (flat[at + 1] ?? "") : "";
  return fieldsToEntry(seq, flat);
}

/** XREAD of one stream: `[[key, entries]]` (RESP2) or `[key, entries]` (a RESP3 map, flattened); null on timeout. */
type XreadReply = [string, StreamEntry[]][] | [string, StreamEntry[]] | null;

function xreadEntries(reply: XreadReply): StreamEntry[] {
  if (!reply || reply.length === 0) return [];
  if (typeof reply[0] === "string") return (reply[1] as StreamEntry[] | undefined) ?? [];
  return (reply[0] as [string, StreamEntry[]])[1] ?? [];
}

function batch(entries: RevocationEntry[], from: string, epoch: string): ChangeBatch {
  return { entries, cursor: entries.at(-1)?.seq ?? from, epoch };
}

function normalizeCursor(cursor: string): string {
  if (cursor === "" || cursor === "0") return "0-0";
  if (!/^\d+-\d+$/.test(cursor)) throw new TypeError("not a cursor of the redis store");
  return cursor;
}

function newEpoch(): string {
  return randomBytes(12).toString("base64url");
}

/** Where a target points, for messages: host:port of the URL or of each node, never a password. */
function describeTarget(target: RedisTarget): string {
  const hostPort = (text: string) => {
    try {
      const url = new URL(text.includes("://") ? text : `redis://${text}`);
      return `${url.hostname || "127.0.0.1"}:${url.port || "6379"}`;
    } catch {
      return "(unparsable address)";
    }
  };
  if ("url" in target) return hostPort(target.url);
  if ("nodes" in target)
    return target.nodes.map((n) => (typeof n === "string" ? hostPort(n) : `${n.host}:${n.port}`)).join(", ");
  const o = target.client.options as { host?: string; port?: number };
  return target.client.isCluster ? "(cluster client)" : `${o.host ?? "127.0.0.1"}:${o.port ?? 6379}`;
}

/**
 * Why a Redis call or connection failed, in words: refused, authentication, TLS, timeout, DNS. ioredis
 * reports a dropped connection as "Connection is closed."; the client's last error says why.
 */
export function connectionProblem(error: unknown, lastError?: unknown): string {
  const candidates = [error, lastError, (error as { cause?: unknown })?.cause].filter(
    (e): e is Error => e instanceof Error,
  );
  for (const e of candidates) {
    const code = String((e as { code?: unknown }).code ?? "");
    const text = e.message;
    if (code === "ECONNREFUSED" || /ECONNREFUSED/.test(text))
      return "connection refused (ECONNREFUSED): is Redis running there?";
    if (/WRONGPASS|NOAUTH|invalid username-password|AUTH.*failed|NOPERM/i.test(text))
      return `authentication failed (${/WRONGPASS|NOAUTH|NOPERM/.exec(text)?.[0] ?? "AUTH"}): check the user and password in the URL`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `host not found (${code})`;
    if (/^ERR_TLS|^ERR_SSL|CERT|SSL|TLS|self[- ]signed|EPROTO/i.test(`${code} ${text}`))
      return `TLS failed (${code || "TLS"}): ${redactText(text)}`;
    if (code === "ETIMEDOUT" || /timed? ?out|within \d+ ms/i.test(text))
      return `timed out (${redactText(text)})`;
    if (code === "ECONNRESET" || code === "EPIPE") return `connection reset (${code})`;
  }
  const first = candidates[0];
  if (!first) return String(error);
  const last = candidates.find((e) => e !== first && !/Connection is closed/.test(e.message));
  return redactText(
    last && /Connection is closed/.test(first.message) ? `${first.message} (${last.message})` : first.message,
  );
}

/**
 * Lets the process exit while these connections are idle or long-polling (a script that never calls
 * `close()` still ends). Calls a user awaits stay alive through the deadline timer of each call.
 */
function unrefSockets(client: Client): void {
  const unref = (c: Redis) => {
    const onConnect = () => (c as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
    c.on("connect", onConnect);
    onConnect();
  };
  if (client instanceof Cluster) client.on("+node", unref);
  else unref(client);
}

function isAuthFailure(error: unknown): boolean {
  return error instanceof Error && /WRONGPASS|NOAUTH|invalid username-password/i.test(error.message);
}

/** Removes anything that looks like credentials in a URL from a driver message. */
function redactText(text: string): string {
  return text.replace(/(\w+:\/\/)[^@\s/]*@/g, "$1***@");
}

function clientKeyPrefix(client: Client): string | undefined {
  const options = client.options as { keyPrefix?: string; redisOptions?: { keyPrefix?: string } };
  return options.keyPrefix || options.redisOptions?.keyPrefix || undefined;
}

function clusterNode(node: string | { host: string; port: number }): { host: string; port: number } {
  if (typeof node !== "string") return node;
  const url = new URL(node.includes("://") ? node : `redis://${node}`);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function clusterAuth(node: string | { host: string; port: number }): {
  username?: string;
  password?: string;
} {
  if (typeof node !== "string" || !node.includes("://")) return {};
  const url = new URL(node);
  return url.password
    ? { username: decodeURIComponent(url.username) || undefined, password: decodeURIComponent(url.password) }
    : {};
}

/** Waits until an ioredis client is ready (connecting it if it is lazy); its first failure fails the wait. */
async function ready(client: Client, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("end", onEnd);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("connection closed"));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`could not connect within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on("ready", onReady);
    client.on("end", onEnd);
    if (client.status === "wait") {
      client.connect().catch((error: unknown) => {
        cleanup();
        reject(error);
      });
    }
  });
}

async function configGet(server: Redis, name: string): Promise<string> {
  const reply = (await server.call("CONFIG", "GET", name)) as string[] | Record<string, string>;
  if (Array.isArray(reply)) return reply[1] ?? "";
  return reply[name] ?? "";
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The reply of the user-cutoff script, `{cutoff, spared or '', expiresAt}`, as a {@link UserCutoff}. */
function toUserCutoff(r: string[]): UserCutoff {
  const spared = r[1] ?? "";
  return { cutoff: Number(r[0]), exceptSessionId: spared === "" ? null : spared };
}

/** The feed entry to publish for a user cutoff recorded by the script (Cluster). */
function userCutoffEntry(userId: string, r: string[], meta: RevocationMeta): UserPending {
  return [userId, String(r[2]), meta.reason, meta.actor, String(meta.at), String(r[0]), r[1] ?? ""];
}
