/**
 * The Redis store's two connections (commands, and a dedicated one for the feed's blocking reads),
 * the start-up checks, and the one way every call runs: bounded in time, every failure an
 * `ERR_STORE_UNAVAILABLE` naming the address and the reason (never a password), scripts by SHA.
 */
import { createHash, randomBytes } from "node:crypto";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { errorText } from "../../core/error-text.js";
import {
  AuthError,
  ConfigInvalidError,
  StoreMissingError,
  StoreUnavailableError,
} from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { KeyLayout } from "./layout.js";
import { configValue } from "./replies.js";
import {
  type ClusterNode,
  clusterAuth,
  clusterNode,
  connectionProblem,
  describeTarget,
  isAuthFailure,
  type RedisTarget,
} from "./target.js";

/** Extra life of every TTL: nodes' clocks and Redis's clock differ. */
export const MARGIN_MS = 60_000;

/** An ioredis client, standalone or Cluster. */
export type Client = Redis | Cluster;
/** A command argument. */
export type Arg = string | number | Buffer;

/**
 * How a script that can append to the feed runs (lua/lib.ts): `inline` on standalone Redis (the
 * script writes the feed entry itself), `deferred` on Cluster (the caller publishes), `dry` (a
 * rotation on Cluster reporting a reuse without acting on it yet).
 */
export type Mode = "inline" | "deferred" | "dry";

const shas = new Map<string, string>();
function shaOf(source: string): string {
  let sha = shas.get(source);
  if (sha === undefined) {
    sha = createHash("sha1").update(source).digest("hex");
    shas.set(source, sha);
  }
  return sha;
}

/** A fresh first-start marker. */
export function newEpoch(): string {
  return randomBytes(12).toString("base64url");
}

/** The connections of one store and how calls run on them. */
export class Connection {
  readonly #target: RedisTarget;
  readonly #keys: KeyLayout;
  readonly #log: Logger;
  readonly #retentionMs: number;
  /** A call that gets no answer within this long fails. */
  readonly timeoutMs: number;
  /** Where Redis is, for error messages: host:port (never a password). */
  readonly where: string;
  /** The last connection error a client reported (ioredis itself then only says "Connection is closed."). */
  #lastError: unknown;
  #cmd: Client | undefined;
  #feed: Client | undefined;
  #owned = false;
  #cluster = false;
  #open = false;
  #closed = false;

  constructor(
    target: RedisTarget,
    options: { keys: KeyLayout; log: Logger; timeoutMs: number; retentionMs: number },
  ) {
    this.#target = target;
    this.#keys = options.keys;
    this.#log = options.log;
    this.timeoutMs = options.timeoutMs;
    this.#retentionMs = options.retentionMs;
    this.where = describeTarget(target);
  }

  /** Whether the store runs on Redis Cluster (known once open). */
  get cluster(): boolean {
    return this.#cluster;
  }
  get isOpen(): boolean {
    return this.#open && !this.#closed;
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** The feed connection when it is ready for a blocking read. */
  get readyFeed(): Client | undefined {
    return this.#feed?.status === "ready" ? this.#feed : undefined;
  }

  get #c(): Client {
    if (!this.#cmd || !this.isOpen) throw new StoreUnavailableError("the redis store is not open");
    return this.#cmd;
  }

  /**
   * Sends one command on the command connection. Async so that a store that is not open rejects
   * rather than throws: callers build several calls into one `Promise.all`, where a throw from the
   * second would leave the first's rejection unhandled (and crash the process).
   */
  async send(command: string, ...args: Arg[]): Promise<unknown> {
    return this.#c.call(command, ...args);
  }

  /** Sends one command on the command connection; bulk replies come back as Buffers. Rejects as {@link send}. */
  async sendBuffer(command: string, ...args: Arg[]): Promise<unknown> {
    return this.#c.callBuffer(command, ...args);
  }

  /** Runs a script (lua/) by SHA, loading it when the server does not know it; the common ARGV first. */
  async run(source: string, keys: string[], args: Arg[], mode: Mode = "inline"): Promise<unknown> {
    const argv = [mode, this.#keys.g, this.#retentionMs, MARGIN_MS, ...args];
    const c = this.#c;
    try {
      return await c.call("EVALSHA", shaOf(source), keys.length, ...keys, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await c.call("EVAL", source, keys.length, ...keys, ...argv);
    }
  }

  /** Runs one store call: bounded in time, every failure an `ERR_STORE_UNAVAILABLE`. */
  async do<T>(fn: () => Promise<T>, timeoutMs = 2 * this.timeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      return await Promise.race([fn(), deadline]);
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw this.unavailable("store", error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** `ERR_STORE_UNAVAILABLE`: "the redis store is unavailable: redis at HOST:PORT: WHY". */
  unavailable(what: "store" | "feed", error: unknown): StoreUnavailableError {
    const why = connectionProblem(error, this.#lastError);
    return new StoreUnavailableError(`the redis ${what} is unavailable: redis at ${this.where}: ${why}`, {
      cause: error,
    });
  }

  #onClientError = (error: unknown): void => {
    this.#lastError = error;
  };

  /**
   * Connects both connections and runs the start-up checks. With `create: false` the first-start
   * marker must already be there: otherwise `StoreMissingError`, and nothing is written.
   */
  async open(create: boolean): Promise<void> {
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
      await ready(cmd, this.timeoutMs * 2);
      // ioredis goes on after a refused AUTH (as the default user): a wrong password must not.
      if (isAuthFailure(this.#lastError)) throw this.#lastError;
      await this.#checkServers(cmd);
      if (!create) await this.#mustExist(cmd);
      feed = duplicate(cmd);
      feed.on("error", this.#onClientError);
      unrefSockets(feed);
      await ready(feed, this.timeoutMs * 2);
    } catch (error) {
      feed?.disconnect();
      cmd.off("error", this.#onClientError);
      if (owned) {
        cmd.on("error", () => undefined);
        cmd.disconnect();
      }
      if (error instanceof AuthError) throw error;
      throw this.unavailable("store", error);
    }
    this.#cmd = cmd;
    this.#feed = feed;
    this.#owned = owned;
    this.#cluster = cmd.isCluster;
    this.#open = true;
    this.#closed = false;
  }

  /** Closes what this store opened (a client passed in stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed || !this.#open) {
      this.#closed = true;
      return;
    }
    this.#closed = true;
    const feed = this.#feed;
    this.#feed = undefined;
    feed?.disconnect();
    const cmd = this.#cmd;
    if (cmd && this.#owned) {
      // QUIT is a courtesy: the disconnect below ends the connection whatever QUIT answered.
      await Promise.race([cmd.quit().catch(() => undefined), sleep(500)]);
      cmd.disconnect();
    }
  }

  #redisOptions(name: string): RedisOptions {
    return {
      connectionName: name,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.timeoutMs,
      connectTimeout: this.timeoutMs,
      retryStrategy: (times) => Math.min(times * 50, 1_000),
    };
  }

  #clusterOptions(name: string, nodes: ClusterNode[]): ClusterOptions {
    const auth = nodes.map(clusterAuth).find((a) => a.password !== undefined) ?? {};
    const { retryStrategy: _ignored, enableOfflineQueue: _also, ...redisOptions } = this.#redisOptions(name);
    return {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: (times) => Math.min(times * 50, 1_000),
      slotsRefreshTimeout: this.timeoutMs,
      redisOptions: { ...redisOptions, ...auth },
    };
  }

  /** `open({ create: false })`: the first-start marker of this prefix must exist. */
  async #mustExist(cmd: Client): Promise<void> {
    if ((await cmd.call("EXISTS", this.#keys.global("epoch"))) !== 1) {
      throw new StoreMissingError(
        `no revokit store at redis ${this.where} with key prefix ${JSON.stringify(this.#keys.prefix)}`,
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
        policy = configValue(await server.call("CONFIG", "GET", "maxmemory-policy"), "maxmemory-policy");
        aof = configValue(await server.call("CONFIG", "GET", "appendonly"), "appendonly");
        save = configValue(await server.call("CONFIG", "GET", "save"), "save");
      } catch (error) {
        if (!(error instanceof Error) || error.name !== "ReplyError") throw error;
        this.#log.warn(
          // A refused command's reply names the command and the reason, no data.
          { store: "redis", server: where, err: errorText(error, { withMessage: true }) },
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
}

/** The dedicated connection of the change feed: blocking reads never wait behind other commands. */
function duplicate(cmd: Client): Client {
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

/**
 * Lets the process exit while these connections are idle or long-polling (a script that never calls
 * `close()` still ends). Calls a user awaits stay alive through the deadline timer of each call.
 */
function unrefSockets(client: Client): void {
  const unref = (c: Redis) => {
    // ioredis does not type its socket; it is a net.Socket or tls.TLSSocket once connected.
    const onConnect = () => (c as unknown as { stream?: { unref?: () => void } }).stream?.unref?.();
    c.on("connect", onConnect);
    onConnect();
  };
  if (client instanceof Cluster) client.on("+node", unref);
  else unref(client);
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

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
