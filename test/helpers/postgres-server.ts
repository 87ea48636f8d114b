/**
 * A real PostgreSQL for tests.
 *
 * - `DATABASE_URL` (or the libpq `PG*` variables) when given: that server is used as is.
 * - Otherwise, when `initdb` and `pg_ctl` exist (on the PATH or under /usr/lib/postgresql/N/bin),
 *   a private cluster is created in a temporary folder on a free port, so tests may stop and start
 *   it. As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
 * - Neither: under `CI` this throws (the run fails); elsewhere `startPostgres` returns `undefined`
 *   and the caller skips, saying why.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import pg from "pg";

/** A PostgreSQL server the tests can reach. */
export interface PostgresServer {
  /** Connection string (trust auth on a private cluster). */
  url: string;
  /** Whether this is a private cluster that the test may stop and start. */
  controllable: boolean;
  /** Stops the server (fast shutdown: connections are cut). Private clusters only. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. Private clusters only. */
  start(): Promise<void>;
  /** Stops a private cluster and deletes its folder; nothing for an external server. Idempotent. */
  close(): Promise<void>;
  /** Runs one statement on a short-lived connection (schema clean-up, pg_terminate_backend, ...). */
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Needs a server it can stop and start: always a private cluster, even when `DATABASE_URL` is set. */
  controllable?: boolean;
}

/** Why no server is available, for the skip message; `undefined` when one is. */
export let postgresUnavailableReason: string | undefined;

/** Finds or starts a PostgreSQL server; see the module comment. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer | undefined> {
  const external = externalUrl();
  if (external && !options.controllable) return externalServer(external);
  const bin = findBinDir();
  if (bin) return privateCluster(bin);
  postgresUnavailableReason = external
    ? "this test stops and starts PostgreSQL: it needs initdb and pg_ctl for a private cluster"
    : "no PostgreSQL: set DATABASE_URL, or install PostgreSQL (initdb, pg_ctl)";
  if (process.env.CI) throw new Error(`PostgreSQL is required under CI: ${postgresUnavailableReason}`);
  return undefined;
}

function externalUrl(): string | undefined {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const { PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE } = process.env;
  if (!PGHOST && !PGDATABASE && !PGUSER) return undefined;
  const user = encodeURIComponent(PGUSER ?? "postgres");
  const auth = PGPASSWORD ? `${user}:${encodeURIComponent(PGPASSWORD)}` : user;
  const db = encodeURIComponent(PGDATABASE ?? "postgres");
  const host = PGHOST ?? "127.0.0.1";
  if (host.startsWith("/"))
    return `postgresql://${auth}@/${db}?host=${encodeURIComponent(host)}&port=${PGPORT ?? 5432}`;
  return `postgresql://${auth}@${host}:${PGPORT ?? 5432}/${db}`;
}

function externalServer(url: string): PostgresServer {
  const refuse = async () => {
    throw new Error("an external PostgreSQL (DATABASE_URL) cannot be stopped or started by the tests");
  };
  return {
    url,
    controllable: false,
    stop: refuse,
    start: refuse,
    close: async () => {},
    sql: (t, v) => runSql(url, t, v),
  };
}

async function runSql(url: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The folder holding initdb and pg_ctl: the PATH first, then the newest /usr/lib/postgresql/N/bin. */
function findBinDir(): string | undefined {
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function privateCluster(bin: string): Promise<PostgresServer> {
  const root = mkdtempSync(join(tmpdir(), "jwt-revoke-pg-"));
  const data = join(root, "data");
  const log = join(root, "server.log");
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) => {
    const file = join(bin, tool);
    const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    try {
      execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
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
  const stop = (mode: "fast" | "immediate") =>
    run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
  let running = false;
  let closed = false;
  // If the test process dies, do not leave a server behind.
  const onExit = () => {
    if (!running) return;
    const file = join(bin, "pg_ctl");
    const args = ["-D", data, "-m", "immediate", "-w", "stop"];
    spawnSync(asRoot ? "runuser" : file, asRoot ? ["-u", "postgres", "--", file, ...args] : args, {
      stdio: "ignore",
    });
    rmSync(root, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  start();
  running = true;
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    controllable: true,
    async stop() {
      stop("fast");
      running = false;
    },
    async start() {
      start();
      running = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      process.removeListener("exit", onExit);
      if (running) stop("immediate");
      running = false;
      rmSync(root, { recursive: true, force: true });
    },
    sql: (t, v) => runSql(url, t, v),
  };
}
