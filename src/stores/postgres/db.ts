/**
 * The connection plumbing every module of the PostgreSQL store shares: the pool, one statement, one
 * transaction, and the mapping of every failure to `StoreUnavailableError`. No SQL of the store's
 * own lives here.
 * @module
 */
import pg from "pg";
import { errorText } from "../../core/error-text.js";
import { StoreUnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

/** The settled configuration of one store (see `PostgresStoreOptions`). */
export interface PgConfig {
  /** The connection string when the store owns its pool. */
  url: string | undefined;
  /** The pool the caller lent the store, when it does not own one. */
  givenPool: pg.Pool | undefined;
  ownPool: boolean;
  /** The schema's name, unquoted (`revokit`). */
  schema: string;
  /** The schema quoted for SQL (`"revokit"`). */
  s: string;
  /** The NOTIFY channel of the change feed. */
  channel: string;
  max: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  appName: string;
  purgeIntervalMs: number;
  log: Logger;
}

/** What the store does around {@link PgDb.run}: open it first, recreate a schema that vanished. */
export interface PgHooks {
  open(): Promise<void>;
  recreate(): Promise<void>;
}

/** A row as `pg` returns it, before a parser in `rows.ts` gives it a type. */
export type Row = Record<string, unknown>;
type Queryable = pg.ClientBase;
/** A query with its own timeout (`pg` honours `query_timeout` per query; its types lack it). */
type TimedQuery = pg.QueryConfig & { query_timeout: number };
type TimedArrayQuery = pg.QueryArrayConfig & { query_timeout: number };

const TX_ATTEMPTS = 3;
/** SQLSTATEs after which a transaction is simply retried (it was rolled back, writes are idempotent). */
const RETRYABLE = new Set(["40001", "40P01"]);
/** SQLSTATEs meaning the schema is gone (the database lost its data): recreate it, then retry once. */
const SCHEMA_GONE = new Set(["42P01", "3F000"]);

/** The schema vanished or lost its state row: recreate it (new epoch) and retry once. */
export class SchemaGoneError extends Error {}

/**
 * The pool and the store's lifecycle state, and the three ways to talk to PostgreSQL: {@link query}
 * (one statement on a pooled connection), {@link tx} (a transaction, retried on deadlock) and
 * {@link exec} (one statement inside a transaction), all under {@link run}.
 */
export class PgDb {
  readonly config: PgConfig;
  /** The pool, from the first `open` until `close`. */
  pool: pg.Pool | undefined;
  /** `idle` until opened, `open`, or `closed` (a closed store may be opened again). */
  state: "idle" | "open" | "closed" = "idle";
  /** The latest `now` a caller passed in (the purge timer and a resync use no later time). */
  lastNow: number | undefined;
  readonly #hooks: PgHooks;
  readonly #onPoolError = (error: unknown) =>
    this.failed("pool", error, "an idle postgres connection failed");
  /** Background failures already logged, by what failed: each is logged once until it recovers. */
  readonly #failing = new Set<string>();

  constructor(config: PgConfig, hooks: PgHooks) {
    this.config = config;
    this.#hooks = hooks;
  }

  /** Creates the pool (or takes the lent one); idle connections that die must not crash the process. */
  connect(): pg.Pool {
    if (this.pool) return this.pool;
    const c = this.config;
    const pool =
      c.givenPool ??
      new pg.Pool({
        connectionString: c.url,
        max: c.max,
        connectionTimeoutMillis: c.connectTimeoutMs,
        query_timeout: c.queryTimeoutMs,
        idleTimeoutMillis: 30_000,
        // Idle connections do not keep the process alive (a script that forgot close() ends).
        allowExitOnIdle: true,
        keepAlive: true,
        application_name: c.appName,
      });
    pool.on("error", this.#onPoolError);
    this.pool = pool;
    return pool;
  }

  /** Ends the pool the store owns, or hands a lent one back untouched. */
  async disconnect(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    pool.removeListener("error", this.#onPoolError);
    if (this.config.ownPool)
      await pool.end().catch((e: unknown) => this.failed("close", e, "ending the pool failed"));
  }

  /** A method, not a field read, so that TypeScript does not narrow the state across awaits. */
  isClosed(): boolean {
    return this.state === "closed";
  }

  /** Remembers the caller's clock (see {@link lastNow}). */
  seen(now: number): void {
    this.lastNow = now;
  }

  /**
   * Logs a background failure once, with what failed and `errorText` (never a driver's message):
   * again only after {@link recovered} was called for `what`.
   */
  failed(what: string, error: unknown, msg: string): void {
    if (this.#failing.has(what)) return;
    this.#failing.add(what);
    this.config.log.warn(
      { store: "postgres", schema: this.config.schema, what, error: errorText(error) },
      msg,
    );
  }

  /** `what` works again: its next failure is logged. */
  recovered(what: string, msg?: string): void {
    if (!this.#failing.delete(what) || !msg) return;
    this.config.log.info?.({ store: "postgres", schema: this.config.schema, what }, msg);
  }

  /** Runs one public operation: maps every failure to `StoreUnavailableError`, recreates a lost schema. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.isClosed()) throw new StoreUnavailableError("postgres store: the store is closed");
    try {
      if (this.state !== "open") await this.#hooks.open();
      try {
        return await fn();
      } catch (error) {
        if (!(error instanceof SchemaGoneError || SCHEMA_GONE.has(sqlState(error)))) throw error;
        await this.#hooks.recreate();
        return await fn();
      }
    } catch (error) {
      if (error instanceof TypeError || error instanceof StoreUnavailableError) throw error;
      throw unavailable(error);
    }
  }

  /** Borrows a connection; one that failed below SQL (a dead socket, a timeout) is discarded, not reused. */
  async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.pool;
    if (!pool) throw new StoreUnavailableError("postgres store: the store is closed");
    const client = await pool.connect();
    let broken = false;
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      const result = await fn(client);
      this.#failing.delete("pool"); // connections work again: the next idle failure is news
      return result;
    } catch (error) {
      if (!isSqlError(error)) broken = true;
      throw error;
    } finally {
      client.removeListener("error", onError);
      client.release(broken);
    }
  }

  /** One statement on a pooled connection, with the query timeout; resolves with its rows. */
  async query(text: string, values: unknown[] = []): Promise<Row[]> {
    return this.withClient(async (c) => (await this.exec(c, text, values)).rows);
  }

  /** One statement on connection `c` (inside a transaction), with the query timeout. */
  exec(c: Queryable, text: string, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    const query: TimedQuery = { text, values, query_timeout: this.config.queryTimeoutMs };
    return c.query<Row>(query);
  }

  /** One long read on `c` in array row mode (snapshots), allowed four query timeouts. */
  async execArrays(c: Queryable, text: string, values: unknown[]): Promise<unknown[][]> {
    const query: TimedArrayQuery = {
      text,
      values,
      rowMode: "array",
      query_timeout: this.config.queryTimeoutMs * 4,
    };
    return (await c.query<unknown[]>(query)).rows;
  }

  /** A transaction (retried on deadlock or serialization failure: it was rolled back). */
  async tx<T>(fn: (c: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withClient(async (c) => {
          await this.exec(c, begin);
          try {
            const result = await fn(c);
            await this.exec(c, "COMMIT");
            return result;
          } catch (error) {
            // Bounded: on a dead connection it cannot complete, and the connection is destroyed
            // anyway (withClient sees the error); the error that matters is rethrown.
            const rollback: TimedQuery = {
              text: "ROLLBACK",
              query_timeout: Math.min(this.config.queryTimeoutMs, 1000),
            };
            await c.query(rollback).catch(() => undefined);
            throw error;
          }
        });
      } catch (error) {
        if (attempt >= TX_ATTEMPTS || !RETRYABLE.has(sqlState(error))) throw error;
      }
    }
  }
}

/** The SQLSTATE of a failure, `""` when it has none. */
export function sqlState(error: unknown): string {
  if (typeof error !== "object" || error === null || !("code" in error)) return "";
  return typeof error.code === "string" ? error.code : "";
}

/** An error reported by the server about a statement (a SQLSTATE): the connection itself is fine. */
function isSqlError(error: unknown): boolean {
  const state = sqlState(error);
  return error instanceof pg.DatabaseError && !state.startsWith("57") && !state.startsWith("08");
}

/**
 * Maps any failure to `StoreUnavailableError`. The message names the failure by `errorText`: its
 * name and SQLSTATE, with the message only for a socket's error (`connect ECONNREFUSED ...`), never a
 * statement's or a parser's (they may quote a value); the cause keeps everything.
 */
export function unavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const what = errorText(error, {
    withMessage: typeof error === "object" && error !== null && "syscall" in error,
  });
  return new StoreUnavailableError(`postgres store unavailable: ${what}`, { cause: error });
}
