// The servers the bench starts for itself, on free loopback ports in temporary folders, and removes
// at the end: one redis-server, and one private PostgreSQL cluster (as test/helpers/postgres-server.ts
// does; DATABASE_URL is used instead when set). A missing binary makes the section say so.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function hasBinary(bin) {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

function ping(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
  });
}

/** Starts redis-server (no persistence: the bench measures the feed, not the disk); `undefined` if absent. */
export async function startRedis() {
  if (!hasBinary("redis-server")) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "jwt-revoke-bench-redis-"));
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 15_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  const stopNow = () => child.kill("SIGKILL");
  process.once("exit", stopNow);
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      process.removeListener("exit", stopNow);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function findPgBin() {
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
 * A PostgreSQL for the bench: `DATABASE_URL` when set, else a private cluster (fsync off, like the
 * tests: the bench measures the protocol, not the disk); `undefined` when neither is possible.
 */
export async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const bin = findPgBin();
  if (!bin) return undefined;
  const root = mkdtempSync(join(tmpdir(), "jwt-revoke-bench-pg-"));
  const data = join(root, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (tool, args) => {
    const file = join(bin, tool);
    const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    execFileSync(cmd, argv, { stdio: "ignore", timeout: 60_000 });
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(root, uid, gid);
  }
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale"]);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  run("pg_ctl", ["-D", data, "-l", join(root, "log"), "-o", options, "-w", "-t", "60", "start"]);
  const stopNow = () => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } catch {
      // already stopped
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", stopNow);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      process.removeListener("exit", stopNow);
      stopNow();
    },
  };
}
