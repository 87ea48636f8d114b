// @ts-check
/**
 * A private PostgreSQL cluster in a temporary folder on a free loopback port: the process-starting
 * core shared by test/helpers/postgres-server.ts and bench/lib/servers.mjs (plain node, so JavaScript).
 * As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root). Durability is
 * off (fsync, synchronous_commit, full_page_writes): tests and bench exercise the protocol, not the disk.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { freePort } from "./free-port.mjs";

/**
 * The folder holding initdb and pg_ctl: the PATH first, then the newest /usr/lib/postgresql/N/bin;
 * `undefined` when there is none.
 * @returns {string | undefined}
 */
export function findPgBinDir() {
  const candidates = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(base, v, "bin")));
  }
  for (const dir of candidates) {
    const initdb = join(dir, "initdb");
    if (existsSync(initdb) && existsSync(join(dir, "pg_ctl"))) return dirname(realpathSync(initdb));
  }
  return undefined;
}

/**
 * A running private cluster. Its methods are synchronous (they wait for pg_ctl).
 * @typedef {object} PgCluster
 * @property {string} url Connection string (user `postgres`, trust auth).
 * @property {number} port The loopback port.
 * @property {() => void} start Starts the server again on the same port with the same data.
 * @property {() => void} stop Stops the server (fast shutdown: connections are cut).
 * @property {() => void} close Stops the server (immediate) and deletes its folder. Idempotent.
 */

/**
 * Creates a cluster (initdb) in a new temporary folder named `<prefix>XXXXXX` and starts it. If the
 * process exits without `close()`, the server is stopped and the folder removed.
 * @param {string} bin The folder of initdb and pg_ctl ({@link findPgBinDir}).
 * @param {{ prefix?: string }} [options]
 * @returns {Promise<PgCluster>}
 */
export async function startPgCluster(bin, { prefix = "revokit-pg-" } = {}) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const data = join(root, "data");
  const log = join(root, "server.log");
  const asRoot = process.getuid?.() === 0;
  /** @type {(tool: string, args: string[]) => [string, string[]]} */
  const command = (tool, args) => {
    const file = join(bin, tool);
    return asRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
  };
  /** @type {(tool: string, args: string[]) => void} */
  const run = (tool, args) => {
    const [cmd, argv] = command(tool, args);
    try {
      execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    } catch (error) {
      const stderr = /** @type {{ stderr?: Buffer }} */ (error).stderr?.toString() ?? "";
      const tail = existsSync(log) ? readFileSync(log, "utf8").slice(-2000) : "";
      throw new Error(`${tool} ${args[args.length - 1]} failed: ${stderr}\n${tail}`);
    }
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(root, uid, gid);
  }
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale"]);
  const port = await freePort();
  const serverOptions = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  const start = () => run("pg_ctl", ["-D", data, "-l", log, "-o", serverOptions, "-w", "-t", "60", "start"]);
  /** @type {(mode: "fast" | "immediate") => void} */
  const stop = (mode) => run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  let running = false;
  let closed = false;
  // If the process dies, do not leave a server behind.
  const onExit = () => {
    if (!running) return;
    const [cmd, argv] = command("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    spawnSync(cmd, argv, { stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  try {
    start();
  } catch (error) {
    process.removeListener("exit", onExit);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  running = true;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    start() {
      start();
      running = true;
    },
    stop() {
      stop("fast");
      running = false;
    },
    close() {
      if (closed) return;
      closed = true;
      process.removeListener("exit", onExit);
      try {
        if (running) stop("immediate");
      } finally {
        running = false;
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
