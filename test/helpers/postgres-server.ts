/**
 * A real PostgreSQL for tests.
 *
 * - `DATABASE_URL` (or the libpq `PG*` variables) when given: that server is used as is.
 * - Otherwise, when `initdb` and `pg_ctl` exist (on the PATH or under /usr/lib/postgresql/N/bin),
 *   a private cluster is created in a temporary folder on a free port, so tests may stop and start
 *   it. As root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root). The
 *   cluster itself is test/helpers/pg-cluster.mjs, shared with the bench.
 * - Neither: under `CI` this throws (the run fails); elsewhere `startPostgres` returns `undefined`
 *   and the caller skips, saying why.
 */
import pg from "pg";
import { findPgBinDir, startPgCluster } from "./pg-cluster.mjs";

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
  const bin = findPgBinDir();
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

/** A private cluster ({@link startPgCluster}) behind the {@link PostgresServer} interface. */
async function privateCluster(bin: string): Promise<PostgresServer> {
  const cluster = await startPgCluster(bin);
  return {
    url: cluster.url,
    controllable: true,
    stop: async () => cluster.stop(),
    start: async () => cluster.start(),
    close: async () => cluster.close(),
    sql: (t, v) => runSql(cluster.url, t, v),
  };
}
