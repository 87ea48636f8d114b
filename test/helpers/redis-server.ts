/**
 * Real Redis servers for tests, started by the tests themselves so they can kill and restart them.
 *
 * - {@link startRedis}: one `redis-server` on a free loopback port in a temporary folder, with AOF
 *   on or off and a chosen `maxmemory-policy`; `kill()` is `kill -9`, `restart()` starts it again on
 *   the same port with the same folder (so with AOF on, the data comes back).
 * - {@link startRedisCluster}: three masters on loopback ports joined with
 *   `redis-cli --cluster create ... --cluster-yes`.
 * - No `redis-server` on the PATH: under `CI` these throw (the run fails); elsewhere they return
 *   `undefined` and the caller skips, saying why ({@link redisUnavailableReason}).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      redisUnavailableReason = `${bin} is not installed (apt-get install redis-server)`;
      if (process.env.CI) throw new Error(`Redis is required under CI: ${redisUnavailableReason}`);
      return false;
    }
  }
  return true;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts one `redis-server`; `undefined` when Redis is not installed (outside CI). */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer | undefined> {
  if (!redisAvailable()) return undefined;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, options);
    } catch (error) {
      if (attempt >= 4) throw error; // a port taken between freePort() and bind: try another
    }
  }
}

async function launch(port: number, options: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "jwt-revoke-redis-"));
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--protected-mode",
    "no",
    "--dir",
    dir,
    "--logfile",
    "redis.log",
    "--daemonize",
    "no",
    "--appendonly",
    options.appendonly ? "yes" : "no",
    "--appendfsync",
    "everysec",
    "--save",
    options.rdb ? "3600 1" : "",
    "--maxmemory-policy",
    options.maxmemoryPolicy ?? "noeviction",
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let stopped = false;
  const start = async () => {
    const c = spawn("redis-server", args, { cwd: dir, stdio: "ignore" });
    child = c;
    live.add(c);
    c.once("exit", () => live.delete(c));
    try {
      await waitForPong(port, c, dir);
    } catch (error) {
      c.kill("SIGKILL");
      throw error;
    }
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGKILL");
    await exited;
  };
  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: "127.0.0.1",
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    kill,
    restart: async () => {
      if (stopped) throw new Error("the server was stopped");
      await kill();
      await start();
    },
    cli: (...cliArgs) => redisCli(port, cliArgs),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the server answers PING with PONG (not LOADING), or fails with its log. */
async function waitForPong(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited: ${logTail(dir)}`);
    }
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer within 15 s: ${logTail(dir)}`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) finish(data.startsWith("+PONG"));
    });
  });
}

function logTail(dir: string): string {
  try {
    return readFileSync(join(dir, "redis.log"), "utf8").split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}

function redisCli(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "redis-cli",
      ["-h", "127.0.0.1", "-p", String(port), ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cli ${args.join(" ")} failed: ${stderr || error.message}`));
        else resolve(stdout.trim());
      },
    );
  });
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
