/**
 * Real Redis servers for tests, started by the tests themselves so they can kill and restart them.
 *
 * - {@link startRedis}: one `redis-server` on a free loopback port in a temporary folder, with AOF
 *   on or off and a chosen `maxmemory-policy`; `kill()` is `kill -9`, `restart()` starts it again on
 *   the same port with the same folder (so with AOF on, the data comes back).
 * - {@link startRedisCluster}: three masters on loopback ports joined with
 *   `redis-cli --cluster create ... --cluster-yes`.
 * - The process itself is test/helpers/redis-process.mjs, shared with the bench.
 * - No `redis-server` on the PATH: under `CI` these throw (the run fails); elsewhere they return
 *   `undefined` and the caller skips, saying why ({@link redisUnavailableReason}).
 */
import { freePort } from "./free-port.mjs";
import { hasBinary, startRedisServer } from "./redis-process.mjs";

/** Why no Redis is available (for the skip message), or `undefined`. */
export let redisUnavailableReason: string | undefined;

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Append-only file on (`appendfsync everysec`). Default false. */
  appendonly?: boolean;
  /** RDB snapshots on (`save 3600 1`). Default false. */
  rdb?: boolean;
  /** Default `noeviction`. */
  maxmemoryPolicy?: string;
  /** More `redis-server` arguments (`--name value` pairs). */
  args?: string[];
}

/** One `redis-server` process under the test's control. */
export interface RedisServer {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The server's folder (AOF, RDB, log). */
  readonly dir: string;
  /** Whether the process is running. */
  running(): boolean;
  /** `kill -9`, then waits for the process to be gone. Idempotent. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder; waits until it answers PING. */
  restart(): Promise<void>;
  /** Runs `redis-cli -p <port> <args>` and returns its output (trimmed). */
  cli(...args: string[]): Promise<string>;
  /** Kills the server and deletes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** A local three-master Redis Cluster. */
export interface RedisCluster {
  readonly servers: RedisServer[];
  /** The masters as `{ host, port }`, for ioredis `Cluster` or `redisStore({ nodes })`. */
  readonly nodes: { host: string; port: number }[];
  /** Stops every server and deletes their folders. Idempotent. */
  stop(): Promise<void>;
}

/** Whether `redis-server` and `redis-cli` exist; under `CI` their absence throws. */
export function redisAvailable(): boolean {
  for (const bin of ["redis-server", "redis-cli"]) {
    if (!hasBinary(bin)) {
      redisUnavailableReason = `${bin} is not installed (apt-get install redis-server)`;
      if (process.env.CI) throw new Error(`Redis is required under CI: ${redisUnavailableReason}`);
      return false;
    }
  }
  return true;
}

/** Starts one `redis-server`; `undefined` when Redis is not installed (outside CI). */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer | undefined> {
  if (!redisAvailable()) return undefined;
  return startRedisServer(options);
}

/** Starts three cluster-enabled masters and joins them; `undefined` when Redis is not installed (outside CI). */
export async function startRedisCluster(): Promise<RedisCluster | undefined> {
  if (!redisAvailable()) return undefined;
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      // The cluster bus gets its own free port (the default, port + 10000, may not be free or valid).
      const busPort = await freePort();
      const server = await startRedis({
        args: [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          "nodes.conf",
          "--cluster-node-timeout",
          "3000",
          "--cluster-port",
          String(busPort),
        ],
      });
      if (!server) throw new Error(redisUnavailableReason);
      servers.push(server);
    }
    const first = servers[0] as RedisServer;
    await first.cli(
      "--cluster",
      "create",
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    );
    const deadline = Date.now() + 20_000;
    for (const server of servers) {
      while (!(await server.cli("cluster", "info")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error(`the cluster did not converge: port ${server.port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { servers, nodes: servers.map((s) => ({ host: s.host, port: s.port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
