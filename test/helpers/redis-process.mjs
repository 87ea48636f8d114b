// @ts-check
/**
 * One `redis-server` process on a free loopback port in a temporary folder: the process-starting core
 * shared by test/helpers/redis-server.ts and bench/lib/servers.mjs (plain node, so JavaScript). The
 * types are those of redis-server.ts.
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.mjs";

/** @typedef {import("./redis-server.js").RedisServer} RedisServer */
/** @typedef {import("./redis-server.js").RedisServerOptions} RedisServerOptions */
/** @typedef {import("node:child_process").ChildProcess} ChildProcess */

/**
 * Whether `bin --version` runs and exits 0.
 * @param {string} bin
 * @returns {boolean}
 */
export function hasBinary(bin) {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** @type {Set<ChildProcess>} */
const live = new Set();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/**
 * Starts one `redis-server` on a free port (another one if that port is taken meanwhile), in a new
 * temporary folder named `<prefix>XXXXXX`. The caller checks that redis-server exists.
 * @param {RedisServerOptions & { prefix?: string }} [options]
 * @returns {Promise<RedisServer>}
 */
export async function startRedisServer(options = {}) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, options);
    } catch (error) {
      if (attempt >= 4) throw error; // a port taken between freePort() and bind: try another
    }
  }
}

/**
 * @param {number} port
 * @param {RedisServerOptions & { prefix?: string }} options
 * @returns {Promise<RedisServer>}
 */
async function launch(port, options) {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? "revokit-redis-"));
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
  /** @type {ChildProcess | undefined} */
  let child;
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
    /** @type {Promise<void>} */
    const exited = new Promise((resolve) => c.once("exit", () => resolve()));
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

/**
 * Waits until the server answers PING with PONG (not LOADING), or fails with its log.
 * @param {number} port
 * @param {ChildProcess} child
 * @param {string} dir
 * @returns {Promise<void>}
 */
async function waitForPong(port, child, dir) {
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

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function ping(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    /** @param {boolean} ok */
    const finish = (ok) => {
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

/**
 * @param {string} dir
 * @returns {string}
 */
function logTail(dir) {
  try {
    return readFileSync(join(dir, "redis.log"), "utf8").split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}

/**
 * @param {number} port
 * @param {string[]} args
 * @returns {Promise<string>}
 */
function redisCli(port, args) {
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
