/**
 * The PostgreSQL store: a durable source of truth shared by many nodes.
 *
 * Design, in short:
 * - Tables live in one schema (default `revokit`), created and migrated on `open()`; concurrent
 *   openers are serialized by `pg_advisory_xact_lock`, so many nodes may start at once.
 * - Refresh rotation is one transaction: the session row is locked (`SELECT ... FOR UPDATE`), the
 *   core's `decideRotation` decides on the locked state, then the writes follow. Session creation
 *   locks the user's flag row, so it is atomic with a concurrent disable.
 * - The change feed is the `revocations` table. Its `seq` is not a database sequence: it comes from
 *   the counter row `state.last_seq`, incremented in the same transaction (in fact the same
 *   statement) that inserts the entries. That row lock is held until commit, so a writer that takes
 *   seq N+1 waits for the writer of N to commit: **sequence numbers become visible in order and
 *   without gaps**, and a reader that has seen N+1 can never later find an N it skipped. (With a
 *   plain sequence, seq 11 can commit before seq 10, and a reader that moved its cursor to 11 would
 *   miss 10 forever.) The same row carries the global cutoff and the data epoch, so a snapshot read
 *   in one REPEATABLE READ transaction is exactly consistent with its cursor, and the cursor never
 *   moves backwards when old rows are purged.
 * - The feed is also a **hash chain**, so that a database that went back in time is recognised by
 *   identity, not by position. Each entry gets a random `tag` and the `prev_tag` of the entry before
 *   it; the state row keeps `last_tag` next to `last_seq` (the counter-row lock makes this exact). A
 *   cursor is `"<seq>.<tag>"`. PostgreSQL that crashed with `synchronous_commit = off` (or an
 *   asynchronous replica promoted) can lose acknowledged commits and then hand out their seqs again
 *   to new entries: a reader that had read the lost ones holds a tag the database no longer has, and
 *   `changes` sees it (entry N+1's `prev_tag`, or `last_tag` when N is the last, differs from the
 *   cursor's tag) and reports a different epoch, so the node handles it as data loss (a global cutoff
 *   at that moment, then a new snapshot). Purged rows never raise a false alarm: when entry N+1 is
 *   gone, the reader's own entry N is compared instead, and when both are gone the chain cannot be
 *   checked and the reader is resynchronised (every active entry and the cutoff again, with a fresh
 *   cursor), which misses nothing whatever happened meanwhile. See {@link checkChain}.
 * - `NOTIFY` (sent by the inserting transaction, delivered at commit) wakes long polls at once; a
 *   dedicated `LISTEN` connection reconnects by itself. Readers always catch up by `seq`, so a
 *   dropped connection or a lost notification delays an entry by at most one poll, and loses nothing.
 * - Expired rows are purged by the nodes themselves (`purge`, and a periodic unref'd timer); one
 *   node at a time purges (`pg_try_advisory_xact_lock`).
 * - Every failure to reach PostgreSQL is a `StoreUnavailableError`; connections that failed are
 *   discarded, so the store recovers by itself when the server returns. If the schema vanished
 *   (the database lost its data), the store recreates it with a new epoch, which tells every node
 *   that its data was lost.
 * @module
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Duration } from "../core/duration.js";
import { ConfigInvalidError, StoreMissingError, StoreUnavailableError } from "../core/errors.js";
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
import {
  applyRevocation,
  applyRotation,
  decideRotation,
  isEndedByUserCutoff,
  isSessionLive,
} from "../core/refresh.js";
import { mergeUserCutoff } from "../core/user-cutoff.js";
import type { Store, StoreOpenOptions } from "./contract.js";

/** Where the store connects: a connection string (the store owns its pool) or an existing `pg` pool. */
export type PostgresConnection =
  | {
      /** `postgres://user:password@host:5432/database`; the store creates and ends its own pool. */
      url: string;
      pool?: undefined;
    }
  | {
      /**
       * An existing `pg.Pool`. The store borrows connections from it and never ends it; its change
       * feed keeps one of the pool's connections checked out for `LISTEN`.
       */
      pool: pg.Pool;
      url?: undefined;
    };

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /** Schema that holds the tables; created when missing. Default `"revokit"`. */
  schema?: string;
  /** Pool size when the store creates its pool (`url`). Default 10. */
  max?: number;
  /** How long a connection attempt may take before the call fails with `ERR_STORE_UNAVAILABLE`. Default `"2s"`. */
  connectTimeout?: Duration;
  /** How long one query may take before the call fails with `ERR_STORE_UNAVAILABLE`. Default `"5s"`. */
  queryTimeout?: Duration;
  /** `application_name` of the store's connections; the `LISTEN` connection gets `NAME:listen`. Default `"revokit"`. */
  applicationName?: string;
  /** How often this node purges expired rows by itself; 0 turns it off. Default `"10m"`. */
  purgeInterval?: Duration;
}

const POSTGRES_OPTION_NAMES = Object.keys({
  schema: true,
  max: true,
  connectTimeout: true,
  queryTimeout: true,
  applicationName: true,
  purgeInterval: true,
} satisfies Record<keyof PostgresStoreOptions, true>);

/**
 * A {@link Store} on PostgreSQL (`pg`), for teams whose system of record is PostgreSQL. Durable and
 * shared: every node pointed at the same database and schema shares keys, users, sessions and
 * revocations, and follows the change feed (LISTEN/NOTIFY plus catch-up by sequence).
 * @example
 * import { createAuth } from "revokit";
 * import { postgresStore } from "revokit/postgres";
 * const auth = await createAuth({
 *   issuer: "https://auth.example.com",
 *   audience: "api",
 *   store: postgresStore({ url: process.env.DATABASE_URL! }),
 * });
 */
export function postgresStore(
  connection: PostgresConnection & PostgresStoreOptions,
  options: PostgresStoreOptions = {},
): Store {
  return new PostgresStore(connection, { ...connection, ...options });
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,47}$/;
/** `"<seq>"` (older versions; unchecked) or `"<seq>.<tag>"` (checked against the hash chain). */
const CURSOR_RE = /^(\d{1,19})(?:\.([0-9a-f]{16}))?$/;
const MAX_LIMIT = 10_000;
/** Long-poll re-check interval while the LISTEN connection is down: catch-up by seq keeps working. */
const DEAF_POLL_MS = 100;
const LISTEN_BACKOFF_MIN_MS = 50;
const LISTEN_BACKOFF_MAX_MS = 1000;
const TX_ATTEMPTS = 3;
/** Rows per page of `snapshotInto`. */
const SNAPSHOT_PAGE = 50_000;

/** SQLSTATEs after which a transaction is simply retried (it was rolled back, writes are idempotent). */
const RETRYABLE = new Set(["40001", "40P01"]);
/** SQLSTATEs meaning the schema is gone (the database lost its data): recreate it, then retry once. */
const SCHEMA_GONE = new Set(["42P01", "3F000"]);

/** Each migration runs once, in order, in the transaction that holds the migration lock. */
const MIGRATIONS: { version: number; sql: (s: string) => string }[] = [
  {
    version: 1,
    sql: (s) => `
      CREATE TABLE ${s}.state (
        id integer PRIMARY KEY CHECK (id = 1),
        epoch text NOT NULL,
        last_seq bigint NOT NULL DEFAULT 0,
        global_cutoff bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${s}.keys (
        pos bigint GENERATED ALWAYS AS IDENTITY,
        kid text PRIMARY KEY,
        alg text NOT NULL,
        private_jwk json NOT NULL,
        public_jwk json,
        created_at bigint NOT NULL,
        activate_at bigint NOT NULL
      );
      CREATE TABLE ${s}.user_flags (
        user_id text PRIMARY KEY,
        disabled_at bigint
      );
      CREATE TABLE ${s}.sessions (
        id text PRIMARY KEY,
        user_id text NOT NULL,
        client_id text NOT NULL,
        created_at bigint NOT NULL,
        last_used_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        idle_expires_at bigint NOT NULL,
        user_agent text,
        ip text,
        claims json,
        scope text,
        generation integer NOT NULL,
        rotated_at bigint,
        revoked_at bigint,
        revoke_reason text
      );
      CREATE INDEX sessions_user_idx ON ${s}.sessions (user_id);
      CREATE INDEX sessions_expires_idx ON ${s}.sessions (expires_at);
      CREATE TABLE ${s}.refresh_tokens (
        hash text PRIMARY KEY,
        session_id text NOT NULL,
        generation integer NOT NULL
      );
      CREATE INDEX refresh_tokens_session_idx ON ${s}.refresh_tokens (session_id);
      CREATE TABLE ${s}.revocations (
        seq bigint PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('jti', 'session', 'user', 'global')),
        subject text NOT NULL,
        cutoff bigint,
        expires_at bigint NOT NULL,
        reason text NOT NULL,
        actor text NOT NULL,
        at bigint NOT NULL
      );
      CREATE INDEX revocations_expires_idx ON ${s}.revocations (expires_at);
      CREATE INDEX revocations_session_idx ON ${s}.revocations (subject) WHERE kind = 'session';
      CREATE TABLE ${s}.revoked_jtis (
        jti text PRIMARY KEY,
        expires_at bigint NOT NULL
      );
      CREATE INDEX revoked_jtis_expires_idx ON ${s}.revoked_jtis (expires_at);
      CREATE TABLE ${s}.users (
        id text PRIMARY KEY,
        username text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE ${s}.clients (
        client_id text PRIMARY KEY,
        secret_hash text,
        created_at bigint NOT NULL
      );
      CREATE TABLE ${s}.rate_limits (
        key text PRIMARY KEY,
        count integer NOT NULL,
        reset_at bigint NOT NULL
      );
      CREATE INDEX rate_limits_reset_idx ON ${s}.rate_limits (reset_at);
    `,
  },
  {
    // The feed's hash chain (see the module comment). Entries written before stay untagged: cursors
    // on them are unchecked, and the chain starts with the first entry written after this migration.
    // `prev_last_tag` is `last_tag` before the last append, set by the same UPDATE so that its
    // RETURNING can hand the old value to the INSERT (RETURNING OLD needs PostgreSQL 18).
    version: 2,
    sql: (s) => `
      ALTER TABLE ${s}.state ADD COLUMN last_tag text, ADD COLUMN prev_last_tag text;
      ALTER TABLE ${s}.revocations ADD COLUMN tag text, ADD COLUMN prev_tag text;
    `,
  },
  {
    // The user grain as one fact: the user's cutoff lives on the flag row that already orders logins
    // against disables, so session creation and cutoffs serialise on one row lock.
    version: 3,
    sql: (s) => `
      ALTER TABLE ${s}.user_flags ADD COLUMN cutoff bigint, ADD COLUMN except_session text,
        ADD COLUMN cutoff_expires_at bigint;
      CREATE INDEX user_flags_cutoff_idx ON ${s}.user_flags (cutoff_expires_at) WHERE cutoff IS NOT NULL;
      ALTER TABLE ${s}.revocations ADD COLUMN except_session text;
      CREATE INDEX sessions_user_created_idx ON ${s}.sessions (user_id, created_at);
      ALTER TABLE ${s}.state ADD COLUMN max_access_ttl bigint NOT NULL DEFAULT 0,
        ADD COLUMN max_session_ttl bigint NOT NULL DEFAULT 0;
    `,
  },
];

type Row = Record<string, unknown>;
type Queryable = pg.ClientBase;

/** The schema vanished or lost its state row: recreate it (new epoch) and retry once. */
class SchemaGoneError extends Error {}

interface Waiter {
  /** Resolves after `ms`, or earlier when woken (a notification, a reconnect, close). */
  wait(ms: number): Promise<void>;
  cancel(): void;
}

interface ListenConnection {
  client: pg.ClientBase;
  release(broken: boolean): void;
}

class PostgresStore implements Store {
  readonly kind = "postgres";
  readonly durable = true;
  readonly #schema: string;
  readonly #s: string;
  readonly #channel: string;
  readonly #ownPool: boolean;
  readonly #givenPool: pg.Pool | undefined;
  readonly #url: string | undefined;
  readonly #max: number;
  readonly #connectTimeoutMs: number;
  readonly #queryTimeoutMs: number;
  readonly #appName: string;
  readonly #purgeIntervalMs: number;
  readonly #sql: ReturnType<typeof statements>;
  #pool: pg.Pool | undefined;
  #state: "idle" | "open" | "closed" = "idle";
  #opening: Promise<void> | undefined;
  #migrating: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #lastNow: number | undefined;
  // change feed
  readonly #waiters = new Set<() => void>();
  #listen: ListenConnection | undefined;
  #listenTimer: NodeJS.Timeout | undefined;
  #listenBackoff = LISTEN_BACKOFF_MIN_MS;
  #listenGeneration = 0;

  constructor(connection: PostgresConnection, options: PostgresStoreOptions) {
    if (typeof connection !== "object" || connection === null) {
      throw new ConfigInvalidError("connection", "expected { url } or { pool }");
    }
    checkOptionNames("postgresStore", options, ["url", "pool", ...POSTGRES_OPTION_NAMES]);
    const hasUrl = connection.url !== undefined;
    const hasPool = connection.pool !== undefined;
    if (hasUrl === hasPool) throw new ConfigInvalidError("connection", "give exactly one of url and pool");
    if (hasUrl && (typeof connection.url !== "string" || connection.url.length === 0)) {
      throw new ConfigInvalidError("url", "must be a non-empty connection string");
    }
    if (
      hasPool &&
      (typeof connection.pool?.connect !== "function" || typeof connection.pool.query !== "function")
    ) {
      throw new ConfigInvalidError("pool", "must be a pg.Pool");
    }
    this.#url = connection.url;
    this.#givenPool = connection.pool;
    this.#ownPool = hasUrl;
    this.#schema = options.schema ?? "revokit";
    if (typeof this.#schema !== "string" || !SCHEMA_RE.test(this.#schema)) {
      throw new ConfigInvalidError("schema", "must be 1 to 48 of a-z, 0-9 and _, not starting with a digit");
    }
    this.#s = `"${this.#schema}"`;
    this.#channel = `${this.#schema}_revocations`;
    const positiveInt = (
      name: keyof PostgresStoreOptions,
      value: number | undefined,
      fallback: number,
      min = 1,
    ) => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < min) throw new ConfigInvalidError(name, `must be an integer >= ${min}`);
      return v;
    };
    this.#max = positiveInt("max", options.max, 10, 2);
    this.#connectTimeoutMs = Math.ceil(durationOption(options.connectTimeout, 2000, "connectTimeout", 1));
    this.#queryTimeoutMs = Math.ceil(durationOption(options.queryTimeout, 5000, "queryTimeout", 1));
    this.#purgeIntervalMs = durationOption(options.purgeInterval, 10 * 60_000, "purgeInterval", 0);
    this.#appName = options.applicationName ?? "revokit";
    if (typeof this.#appName !== "string" || this.#appName.length === 0 || this.#appName.length > 56) {
      throw new ConfigInvalidError("applicationName", "must be a string of 1 to 56 characters");
    }
    this.#sql = statements(this.#s);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /**
   * Connects, creates or migrates the schema, writes the first-start marker and starts listening.
   * With `{ create: false }` the schema must already hold an initialised store: otherwise
   * `StoreMissingError`, and nothing is created (nor recreated later if the schema disappears).
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    if (this.#state === "open") return;
    if (this.#state === "closed") {
      await this.#closing;
      this.#state = "idle";
    }
    if (options.create === false) this.#create = false;
    this.#opening ??= this.#start().catch((error: unknown) => {
      this.#opening = undefined;
      throw error instanceof StoreMissingError ? error : unavailable(error);
    });
    await this.#opening;
  }

  /** Whether `open` and a lost schema may create the tables (`open({ create: false })` turns it off). */
  #create = true;

  async #start(): Promise<void> {
    if (!this.#pool) {
      if (this.#ownPool) {
        this.#pool = new pg.Pool({
          connectionString: this.#url,
          max: this.#max,
          connectionTimeoutMillis: this.#connectTimeoutMs,
          query_timeout: this.#queryTimeoutMs,
          idleTimeoutMillis: 30_000,
          // Idle connections do not keep the process alive (a script that forgot close() ends).
          allowExitOnIdle: true,
          keepAlive: true,
          application_name: this.#appName,
        });
      } else {
        this.#pool = this.#givenPool as pg.Pool;
      }
      // Idle connections that die (a server restart) must not crash the process; the pool drops them.
      this.#pool.on("error", ignore);
    }
    await this.#migrate();
    await this.#connectListener().catch(() => this.#scheduleListen());
    if (this.#isClosed()) return;
    if (this.#purgeIntervalMs > 0) {
      this.#purgeTimer = setInterval(() => {
        const now = Math.min(this.#lastNow ?? Number.POSITIVE_INFINITY, Date.now());
        this.purge(now).catch(ignore);
      }, this.#purgeIntervalMs);
      this.#purgeTimer.unref();
    }
    this.#state = "open";
  }

  async close(): Promise<void> {
    if (this.#state === "closed") return this.#closing;
    this.#state = "closed";
    this.#closing = (async () => {
      this.#stopListener();
      this.#wakeAll(); // pending long polls return at once
      await this.#opening?.catch(ignore);
      this.#opening = undefined;
      if (this.#purgeTimer) clearInterval(this.#purgeTimer);
      this.#purgeTimer = undefined;
      this.#stopListener();
      const pool = this.#pool;
      this.#pool = undefined;
      if (pool && this.#ownPool) await pool.end().catch(ignore);
      else pool?.removeListener("error", ignore);
    })();
    return this.#closing;
  }

  /** Creates the schema and applies pending migrations, once across concurrent openers. */
  #migrate(): Promise<void> {
    this.#migrating ??= this.#tx(async (c) => {
      if (!this.#create) {
        const found = await c.query("SELECT to_regclass($1) AS t", [`${this.#s}.state`]);
        const marker = found.rows[0]?.t
          ? await c.query(`SELECT 1 FROM ${this.#s}.state WHERE id = 1`)
          : undefined;
        if (!marker || marker.rowCount === 0) {
          throw new StoreMissingError(
            `no revokit store in postgres schema "${this.#schema}" of that database`,
          );
        }
      }
      await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`revokit:${this.#schema}:migrate`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.#s}`);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${this.#s}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const applied = new Set(
        (await c.query(`SELECT version FROM ${this.#s}.schema_migrations`)).rows.map((r: Row) =>
          Number(r.version),
        ),
      );
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new StoreUnavailableError(
          `postgres store: schema "${this.#schema}" is at version ${newest}, newer than this revokit supports (${known}); upgrade revokit`,
        );
      }
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql(this.#s));
        await c.query(`INSERT INTO ${this.#s}.schema_migrations (version) VALUES ($1)`, [m.version]);
      }
      // The first-start marker: written once; a new one means this database lost its data.
      await c.query(`INSERT INTO ${this.#s}.state (id, epoch) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [
        randomBytes(16).toString("hex"),
      ]);
    }).finally(() => {
      this.#migrating = undefined;
    });
    return this.#migrating;
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  /** Runs one public operation: maps every failure to `StoreUnavailableError`, recreates a lost schema. */
  async #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#state === "closed") throw new StoreUnavailableError("postgres store: the store is closed");
    try {
      if (this.#state !== "open") await this.open();
      try {
        return await fn();
      } catch (error) {
        if (!(error instanceof SchemaGoneError || SCHEMA_GONE.has(sqlState(error)))) throw error;
        await this.#migrate();
        return await fn();
      }
    } catch (error) {
      if (error instanceof TypeError || error instanceof StoreUnavailableError) throw error;
      throw unavailable(error);
    }
  }

  /** Borrows a connection; one that failed below SQL (a dead socket, a timeout) is discarded, not reused. */
  async #withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const pool = this.#pool;
    if (!pool) throw new StoreUnavailableError("postgres store: the store is closed");
    const client = await pool.connect();
    let broken = false;
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      return await fn(client);
    } catch (error) {
      if (!isSqlError(error)) broken = true;
      throw error;
    } finally {
      client.removeListener("error", onError);
      client.release(broken);
    }
  }

  /** One statement on a pooled connection, with the query timeout. */
  /** The pool and schema, for the security-event outbox (`src/stores/outbox/`). */
  outboxAccess(): {
    kind: "postgres";
    schema: string;
    query: (text: string, values?: unknown[]) => Promise<Row[]>;
  } {
    return { kind: "postgres", schema: this.#s, query: (text, values) => this.#query(text, values) };
  }

  async #query(text: string, values: unknown[] = []): Promise<Row[]> {
    return this.#withClient(async (c) => (await this.#exec(c, text, values)).rows);
  }

  #exec(c: Queryable, text: string, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    return c.query({ text, values, query_timeout: this.#queryTimeoutMs } as pg.QueryConfig);
  }

  /** A transaction (retried on deadlock or serialization failure: it was rolled back). */
  async #tx<T>(fn: (c: pg.PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#withClient(async (c) => {
          await this.#exec(c, begin);
          try {
            const result = await fn(c);
            await this.#exec(c, "COMMIT");
            return result;
          } catch (error) {
            // Bounded: on a dead connection it cannot complete, and the connection is destroyed anyway.
            await c
              .query({
                text: "ROLLBACK",
                query_timeout: Math.min(this.#queryTimeoutMs, 1000),
              } as pg.QueryConfig)
              .catch(ignore);
            throw error;
          }
        });
      } catch (error) {
        if (attempt >= TX_ATTEMPTS || !RETRYABLE.has(sqlState(error))) throw error;
      }
    }
  }

  /** Appends feed entries inside transaction `c` (serialized by the state row; see the module comment). */
  async #append(c: Queryable, entries: NewRevocation[]): Promise<RevocationEntry[]> {
    const { rows } = await this.#exec(c, this.#sql.append(), appendParams(entries, this.#channel));
    const last = rows[0]?.last_seq;
    if (last === undefined) throw new SchemaGoneError("state row missing");
    return withSeqs(entries, String(last));
  }

  /** A method, not a field read, so that TypeScript does not narrow the state across awaits. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #seen(now: number): void {
    this.#lastNow = now;
  }

  // ---- keys -------------------------------------------------------------------------------------

  async listKeys(): Promise<StoredKey[]> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT kid, alg, private_jwk::text AS private_jwk, public_jwk::text AS public_jwk, created_at, activate_at
         FROM ${this.#s}.keys ORDER BY created_at, pos`,
      );
      return rows.map((r) => ({
        kid: String(r.kid),
        alg: r.alg as StoredKey["alg"],
        privateJwk: JSON.parse(String(r.private_jwk)) as Record<string, unknown>,
        publicJwk:
          r.public_jwk === null ? null : (JSON.parse(String(r.public_jwk)) as Record<string, unknown>),
        createdAt: num(r.created_at),
        activateAt: num(r.activate_at),
      }));
    });
  }

  async addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    const values = [
      key.kid,
      key.alg,
      JSON.stringify(key.privateJwk),
      key.publicJwk === null ? null : JSON.stringify(key.publicJwk),
      ms(key.createdAt),
      ms(key.activateAt),
    ];
    return this.#run(async () => {
      if (!options?.ifNoKeyFor) {
        const rows = await this.#query(
          `INSERT INTO ${this.#s}.keys (kid, alg, private_jwk, public_jwk, created_at, activate_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING RETURNING kid`,
          values,
        );
        return rows.length > 0;
      }
      // Concurrent first starts: the lock makes "no key of this algorithm yet" and the insert one step.
      return this.#tx(async (c) => {
        await this.#exec(c, "SELECT pg_advisory_xact_lock(hashtext($1))", [`revokit:${this.#schema}:keys`]);
        const { rows } = await this.#exec(
          c,
          `INSERT INTO ${this.#s}.keys (kid, alg, private_jwk, public_jwk, created_at, activate_at)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE NOT EXISTS (SELECT 1 FROM ${this.#s}.keys WHERE alg = $7)
           ON CONFLICT (kid) DO NOTHING RETURNING kid`,
          [...values, options.ifNoKeyFor],
        );
        return rows.length > 0;
      });
    });
  }

  async deleteKey(kid: string): Promise<void> {
    await this.#run(() => this.#query(`DELETE FROM ${this.#s}.keys WHERE kid = $1`, [kid]));
  }

  // ---- sessions and refresh tokens --------------------------------------------------------------

  async createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    const values = sessionParams(session);
    return this.#run(() =>
      this.#tx(async (c) => {
        // Lock the user's flag row (creating it if needed): a concurrent disable or cutoff waits for
        // this transaction and then covers this session, or this one waits and sees it.
        const flag = await this.#exec(c, this.#sql.lockUserFlag, [session.userId]);
        const cut = flag.rows[0]?.cutoff;
        if (cut !== null && cut !== undefined && ms(session.createdAt) <= num(cut)) return "cut_off";
        if (flag.rows[0]?.disabled_at != null) return "user_disabled";
        await this.#exec(c, this.#sql.insertSession, values);
        await this.#exec(
          c,
          `INSERT INTO ${this.#s}.refresh_tokens (hash, session_id, generation) VALUES ($1, $2, $3)
           ON CONFLICT (hash) DO NOTHING`,
          [refreshHash, session.id, session.generation],
        );
        return "created";
      }),
    );
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#run(async () => {
      const rows = await this.#query(`SELECT ${SESSION_COLUMNS} FROM ${this.#s}.sessions WHERE id = $1`, [
        id,
      ]);
      return rows[0] ? toSession(rows[0]) : null;
    });
  }

  async listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    this.#seen(now);
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT ${prefixed("s", SESSION_COLUMNS)},
           (SELECT global_cutoff FROM ${this.#s}.state WHERE id = 1) AS global_cutoff,
           f.cutoff AS user_cutoff, f.except_session AS user_except
         FROM ${this.#s}.sessions s LEFT JOIN ${this.#s}.user_flags f ON f.user_id = s.user_id
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2
           AND (s.created_at > COALESCE(f.cutoff, -1) OR s.id = f.except_session)
         ORDER BY s.created_at DESC, s.id`,
        [userId, ms(now)],
      );
      return rows
        .map((r) => toSession(r))
        .filter((s, i) =>
          isSessionLive(
            s,
            now,
            num(rows[i]?.global_cutoff ?? 0),
            toUserCutoff(rows[i]?.user_cutoff, rows[i]?.user_except),
          ),
        );
    });
  }

  async listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT ${SESSION_COLUMNS} FROM ${this.#s}.sessions
         WHERE user_id = $1 AND created_at <= $2 AND revoked_at IS NULL
         ORDER BY created_at DESC, id`,
        [userId, ms(cutoff.cutoff)],
      );
      return rows.map((r) => toSession(r)).filter((s) => isEndedByUserCutoff(s, cutoff));
    });
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    this.#seen(input.now);
    return this.#run(() =>
      this.#tx(async (c): Promise<RotateResult> => {
        // Lock the session row: concurrent rotations of one chain queue here, and each decides on
        // the state the previous one committed.
        const { rows } = await this.#exec(
          c,
          `SELECT t.generation AS token_generation, ${prefixed("s", SESSION_COLUMNS)}
           FROM ${this.#s}.refresh_tokens t JOIN ${this.#s}.sessions s ON s.id = t.session_id
           WHERE t.hash = $1
           FOR UPDATE OF s`,
          [input.presentedHash],
        );
        const row = rows[0];
        if (!row) return { status: "unknown" };
        const session = toSession(row);
        // Read after the lock was granted (a new statement sees every commit made while we waited).
        // A cutoff committed after this read covers the session anyway (it ends every session
        // authenticated before it, whatever their generation).
        const st = await this.#exec(
          c,
          `SELECT global_cutoff, f.cutoff AS user_cutoff, f.except_session AS user_except
           FROM ${this.#s}.state LEFT JOIN ${this.#s}.user_flags f ON f.user_id = $1 WHERE id = 1`,
          [session.userId],
        );
        if (!st.rows[0]) throw new SchemaGoneError("state row missing");
        const decision = decideRotation(
          session,
          Number(row.token_generation),
          input.now,
          input.graceMs,
          num(st.rows[0].global_cutoff),
          toUserCutoff(st.rows[0].user_cutoff, st.rows[0].user_except),
        );
        switch (decision) {
          case "grace":
            await this.#exec(
              c,
              `INSERT INTO ${this.#s}.refresh_tokens (hash, session_id, generation) VALUES ($1, $2, $3)`,
              [input.newHash, session.id, session.generation],
            );
            return { status: "rotated", session, grace: true };
          case "rotate": {
            const next = applyRotation(session, input.now, input.idleTtlMs);
            await this.#exec(
              c,
              `UPDATE ${this.#s}.sessions SET generation = $2, rotated_at = $3, last_used_at = $4, idle_expires_at = $5
               WHERE id = $1`,
              [
                next.id,
                next.generation,
                ms(next.rotatedAt ?? input.now),
                ms(next.lastUsedAt),
                ms(next.idleExpiresAt),
              ],
            );
            await this.#exec(
              c,
              `INSERT INTO ${this.#s}.refresh_tokens (hash, session_id, generation) VALUES ($1, $2, $3)`,
              [input.newHash, next.id, next.generation],
            );
            return { status: "rotated", session: next, grace: false };
          }
          case "reuse": {
            const m = input.reuseMeta;
            const revoked = applyRevocation(session, m.at, m.reason);
            await this.#exec(
              c,
              `UPDATE ${this.#s}.sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1`,
              [session.id, ms(m.at), m.reason],
            );
            await this.#append(c, [sessionEntry(session.id, m)]);
            return { status: "reused", session: revoked };
          }
          default:
            return { status: decision, session };
        }
      }),
    );
  }

  async findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT t.generation AS token_generation, ${prefixed("s", SESSION_COLUMNS)}
         FROM ${this.#s}.refresh_tokens t JOIN ${this.#s}.sessions s ON s.id = t.session_id
         WHERE t.hash = $1`,
        [hash],
      );
      const row = rows[0];
      return row ? { session: toSession(row), generation: Number(row.token_generation) } : null;
    });
  }

  async revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    const entry = sessionEntry(sessionId, meta);
    return this.#run(async () => {
      // One statement: mark the session, and only if that changed a row, append its feed entry.
      const rows = await this.#query(
        this.#sql.append(
          `changed AS (UPDATE ${this.#s}.sessions SET revoked_at = $12, revoke_reason = $13
                       WHERE id = $14 AND revoked_at IS NULL RETURNING id)`,
          "EXISTS (SELECT 1 FROM changed)",
        ),
        [...appendParams([entry], this.#channel), ms(meta.at), meta.reason, sessionId],
      );
      return rows.length > 0;
    });
  }

  /** Records the user's cutoff on its flag row and appends its feed entry: one transaction, constant size. */
  async cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    const at = ms(meta.at);
    const except = options?.exceptSessionId ?? null;
    return this.#run(() =>
      this.#tx(async (c) => {
        // The flag row lock orders this against session creation (see createSession).
        const flag = options?.disable
          ? await this.#exec(
              c,
              `INSERT INTO ${this.#s}.user_flags (user_id, disabled_at) VALUES ($1, $2)
               ON CONFLICT (user_id) DO UPDATE SET disabled_at = COALESCE(user_flags.disabled_at, EXCLUDED.disabled_at)
               RETURNING cutoff, except_session`,
              [userId, at],
            )
          : await this.#exec(c, this.#sql.lockUserFlag, [userId]);
        const prev = toUserCutoff(flag.rows[0]?.cutoff, flag.rows[0]?.except_session);
        // Read after the lock was granted (a new statement sees every session committed meanwhile):
        // the newest session, so that the cutoff covers every session already written, even one
        // stamped by a node whose clock runs ahead; and the spared session's authentication time.
        const read = await this.#exec(
          c,
          `SELECT (SELECT max(created_at) FROM ${this.#s}.sessions WHERE user_id = $1) AS newest,
                  (SELECT created_at FROM ${this.#s}.sessions WHERE id = $2 AND user_id = $1) AS kept_at`,
          [userId, except],
        );
        const keptAt = read.rows[0]?.kept_at;
        const cutoff = Math.max(at, num(read.rows[0]?.newest ?? 0));
        const next = mergeUserCutoff(
          prev,
          { cutoff, exceptSessionId: except },
          keptAt === null || keptAt === undefined ? null : num(keptAt),
        );
        const expiresAt = at + ms(meta.ttl);
        const entry: NewRevocation = {
          kind: "user",
          subject: userId,
          cutoff: next.cutoff,
          ...(next.exceptSessionId === null ? {} : { exceptSessionId: next.exceptSessionId }),
          expiresAt,
          reason: meta.reason,
          actor: meta.actor,
          at,
        };
        // One statement: the flag row's cutoff and the feed entry.
        const appended = await this.#exec(
          c,
          this.#sql.append(
            `cut AS (UPDATE ${this.#s}.user_flags SET cutoff = $13, except_session = $14,
                       cutoff_expires_at = GREATEST(COALESCE(cutoff_expires_at, 0), $15)
                     WHERE user_id = $12 RETURNING 1)`,
          ),
          [...appendParams([entry], this.#channel), userId, next.cutoff, next.exceptSessionId, expiresAt],
        );
        if (appended.rows[0]?.last_seq === undefined) throw new SchemaGoneError("state row missing");
        return next;
      }),
    );
  }

  async enableUser(userId: string): Promise<void> {
    await this.#run(() =>
      this.#query(`UPDATE ${this.#s}.user_flags SET disabled_at = NULL WHERE user_id = $1`, [userId]),
    );
  }

  async isUserDisabled(userId: string): Promise<boolean> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT 1 FROM ${this.#s}.user_flags WHERE user_id = $1 AND disabled_at IS NOT NULL`,
        [userId],
      );
      return rows.length > 0;
    });
  }

  // ---- revocations and the change feed ----------------------------------------------------------

  async addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    if (entry.kind !== "jti" && entry.kind !== "global") {
      throw new TypeError(`addRevocation takes jti or global entries, not ${String(entry.kind)}`);
    }
    if (typeof entry.subject !== "string") throw new TypeError("subject must be a string");
    const clean: NewRevocation = {
      kind: entry.kind,
      subject: entry.subject,
      expiresAt: ms(entry.expiresAt),
      reason: entry.reason,
      actor: entry.actor,
      at: ms(entry.at),
    };
    if (entry.kind === "global") clean.cutoff = ms(entry.cutoff ?? 0);
    const params = appendParams([clean], this.#channel);
    return this.#run(async () => {
      // One statement each: the condition, the seq, the insert and the NOTIFY commit together.
      const rows =
        clean.kind === "global"
          ? await this.#query(this.#sql.append(null, "global_cutoff < $12", ", global_cutoff = $12"), [
              ...params,
              clean.cutoff,
            ])
          : await this.#query(
              this.#sql.append(
                `changed AS (INSERT INTO ${this.#s}.revoked_jtis AS j (jti, expires_at) VALUES ($12, $13)
                             ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
                             WHERE j.expires_at < EXCLUDED.expires_at
                             RETURNING jti)`,
                "EXISTS (SELECT 1 FROM changed)",
              ),
              [...params, clean.subject, clean.expiresAt],
            );
      const last = rows[0]?.last_seq;
      return last === undefined ? null : (withSeqs([clean], String(last))[0] ?? null);
    });
  }

  async snapshot(now: number): Promise<RevocationSnapshot> {
    this.#seen(now);
    return this.#run(() => this.#snapshot(ms(now)));
  }

  /** The active jti and session entries, the cutoff and the cursor, in one REPEATABLE READ snapshot. */
  #snapshot(now: number): Promise<RevocationSnapshot> {
    return this.#tx(async (c) => {
      // One REPEATABLE READ snapshot: the entries and the cursor describe the same instant.
      const st = (
        await this.#exec(
          c,
          `SELECT epoch, last_seq, last_tag, global_cutoff FROM ${this.#s}.state WHERE id = 1`,
        )
      ).rows[0];
      if (!st) throw new SchemaGoneError("state row missing");
      const result = await c.query({
        text: `SELECT seq, kind, subject, expires_at, reason, actor, at FROM ${this.#s}.revocations
               WHERE kind IN ('jti', 'session') AND expires_at > $1 ORDER BY seq`,
        values: [now],
        rowMode: "array",
        query_timeout: this.#queryTimeoutMs * 4,
      } as pg.QueryArrayConfig);
      const entries: RevocationEntry[] = result.rows.map((r: unknown[]) => ({
        seq: String(r[0]),
        kind: r[1] as RevocationEntry["kind"],
        subject: String(r[2]),
        expiresAt: num(r[3]),
        reason: String(r[4]),
        actor: String(r[5]),
        at: num(r[6]),
      }));
      for (const u of (await this.#exec(c, this.#sql.activeUserCutoffs, [now])).rows)
        entries.push(toUserEntry(u));
      return {
        entries,
        globalCutoff: num(st.global_cutoff),
        cursor: cursorOf(st.last_seq, st.last_tag),
        epoch: String(st.epoch),
      };
    }, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }

  /**
   * The lean snapshot: in one REPEATABLE READ READ ONLY transaction, the state row, then the active
   * entries in pages of {@link SNAPSHOT_PAGE} rows by seq (each query within its own timeout), passed
   * straight to `apply`. Entries, cutoff and cursor describe the same instant.
   */
  async snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    this.#seen(now);
    const at = ms(now);
    return this.#run(() =>
      this.#tx(async (c) => {
        const st = (
          await this.#exec(
            c,
            `SELECT epoch, last_seq, last_tag, global_cutoff FROM ${this.#s}.state WHERE id = 1`,
          )
        ).rows[0];
        if (!st) throw new SchemaGoneError("state row missing");
        let after = "0";
        for (;;) {
          const { rows } = await c.query({
            text: `SELECT seq, kind, subject, expires_at FROM ${this.#s}.revocations
                   WHERE seq > $1 AND kind IN ('jti', 'session') AND expires_at > $2 ORDER BY seq LIMIT $3`,
            values: [after, at, SNAPSHOT_PAGE],
            rowMode: "array",
            query_timeout: this.#queryTimeoutMs * 4,
          } as pg.QueryArrayConfig);
          for (const r of rows as unknown[][]) apply(r[1] as "jti" | "session", String(r[2]), num(r[3]));
          const tail = rows.at(-1) as unknown[] | undefined;
          if (rows.length < SNAPSHOT_PAGE || !tail) break;
          after = String(tail[0]);
        }
        for (const u of (await this.#exec(c, this.#sql.activeUserCutoffs, [at])).rows) {
          apply("user", String(u.user_id), num(u.cutoff_expires_at), {
            cutoff: num(u.cutoff),
            exceptSessionId: strOrNull(u.except_session),
          });
        }
        return {
          globalCutoff: num(st.global_cutoff),
          cursor: cursorOf(st.last_seq, st.last_tag),
          epoch: String(st.epoch),
        };
      }, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
    );
  }

  async changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    const from = parseCursor(cursor);
    const limit = Math.min(MAX_LIMIT, Math.max(1, Math.floor(Number(options?.limit) || 1)));
    const deadline = Date.now() + Math.max(0, Number(options?.waitMs) || 0);
    for (;;) {
      // Armed before the query: a NOTIFY arriving between the query and the wait is not lost.
      const waiter = this.#waiter();
      try {
        const { batch, final } = await this.#run(() => this.#readFeed(from, limit));
        const remaining = deadline - Date.now();
        if (final || remaining <= 0 || this.#isClosed()) return batch;
        await waiter.wait(this.#listen ? remaining : Math.min(remaining, DEAF_POLL_MS));
        if (this.#isClosed()) return batch;
      } finally {
        waiter.cancel();
      }
    }
  }

  /**
   * One read of the feed after `from`, checked against the hash chain (see {@link checkChain}).
   * `final` says the answer must go back at once: entries, a lost history, or a resync.
   */
  async #readFeed(from: Cursor, limit: number): Promise<{ batch: ChangeBatch; final: boolean }> {
    // One statement, one snapshot: the state row and the entries are consistent with each other.
    const rows = await this.#query(
      `SELECT st.epoch, st.last_seq, st.last_tag,
              (SELECT tag FROM ${this.#s}.revocations WHERE seq = $1::bigint) AS at_tag,
              r.seq, r.kind, r.subject, r.cutoff, r.expires_at, r.reason, r.actor, r.at, r.tag, r.prev_tag,
              r.except_session
       FROM ${this.#s}.state st
       LEFT JOIN LATERAL (
         SELECT * FROM ${this.#s}.revocations WHERE seq > $1::bigint ORDER BY seq LIMIT $2
       ) r ON true
       WHERE st.id = 1`,
      [from.seq.toString(), limit],
    );
    const head = rows[0];
    if (!head) throw new SchemaGoneError("state row missing");
    const epoch = String(head.epoch);
    const found = head.seq === null ? [] : rows;
    const first = found[0];
    const verdict = checkChain(
      from,
      {
        lastSeq: BigInt(String(head.last_seq)),
        lastTag: strOrNull(head.last_tag),
        atTag: strOrNull(head.at_tag),
      },
      first ? { seq: BigInt(String(first.seq)), prevTag: strOrNull(first.prev_tag) } : undefined,
    );
    if (verdict === "lost") {
      // The database went back in time and lost entries this reader had: a different epoch makes the
      // node handle it as data loss (every older token counts as revoked, then a new snapshot).
      return { batch: { entries: [], cursor: from.text, epoch: `${epoch}:rewound` }, final: true };
    }
    if (verdict === "unverifiable") return { batch: await this.#resync(), final: true };
    const entries = found.map(toEntry);
    const last = found.at(-1);
    return {
      batch: { entries, cursor: last ? cursorOf(last.seq, last.tag) : from.text, epoch },
      final: entries.length > 0,
    };
  }

  /**
   * For a reader whose place in the chain was purged: every active entry and the cutoff again, with
   * a fresh cursor (one batch, whatever the limit, like the Redis store's resync after a trim).
   * Entries may arrive twice; a replica applies them idempotently.
   */
  async #resync(): Promise<ChangeBatch> {
    const snap = await this.#snapshot(Math.min(this.#lastNow ?? 0, Date.now()));
    const entries = [...snap.entries];
    if (snap.globalCutoff > 0) {
      entries.push({
        seq: snap.cursor.split(".")[0] ?? "0",
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

  async check(
    query: { jti?: string; sessionId?: string; userId?: string },
    now: number,
  ): Promise<RevocationCheck> {
    this.#seen(now);
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT
           EXISTS (SELECT 1 FROM ${this.#s}.revoked_jtis WHERE jti = $1 AND expires_at > $3) AS jti_revoked,
           (EXISTS (SELECT 1 FROM ${this.#s}.sessions WHERE id = $2 AND revoked_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM ${this.#s}.revocations
                       WHERE kind = 'session' AND subject = $2 AND expires_at > $3)) AS session_revoked,
           global_cutoff, f.cutoff AS user_cutoff, f.except_session AS user_except
         FROM ${this.#s}.state LEFT JOIN ${this.#s}.user_flags f ON f.user_id = $4 WHERE id = 1`,
        [query.jti ?? null, query.sessionId ?? null, ms(now), query.userId ?? null],
      );
      const r = rows[0];
      if (!r) throw new SchemaGoneError("state row missing");
      return {
        jtiRevoked: r.jti_revoked === true,
        sessionRevoked: r.session_revoked === true,
        globalCutoff: num(r.global_cutoff),
        user: toUserCutoff(r.user_cutoff, r.user_except),
      };
    });
  }

  async tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return this.#run(async () => {
      const rows = record
        ? await this.#query(
            `UPDATE ${this.#s}.state SET max_access_ttl = GREATEST(max_access_ttl, $1),
               max_session_ttl = GREATEST(max_session_ttl, $2)
             WHERE id = 1 AND (max_access_ttl < $1 OR max_session_ttl < $2)
             RETURNING max_access_ttl, max_session_ttl`,
            [ms(record.accessTokenTtlMs), ms(record.sessionTtlMs)],
          )
        : [];
      const r =
        rows[0] ??
        (await this.#query(`SELECT max_access_ttl, max_session_ttl FROM ${this.#s}.state WHERE id = 1`))[0];
      if (!r) throw new SchemaGoneError("state row missing");
      return { accessTokenTtlMs: num(r.max_access_ttl), sessionTtlMs: num(r.max_session_ttl) };
    });
  }

  async purge(now: number): Promise<number> {
    const at = ms(now);
    return this.#run(() =>
      this.#tx(async (c) => {
        // One node purges at a time; the others skip (their turn comes at the next interval).
        const lock = await this.#exec(c, "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [
          `revokit:${this.#schema}:purge`,
        ]);
        if (lock.rows[0]?.ok !== true) return 0;
        let n = 0;
        n +=
          (
            await this.#exec(
              c,
              `DELETE FROM ${this.#s}.revocations WHERE kind <> 'global' AND expires_at <= $1`,
              [at],
            )
          ).rowCount ?? 0;
        n +=
          (await this.#exec(c, `DELETE FROM ${this.#s}.revoked_jtis WHERE expires_at <= $1`, [at]))
            .rowCount ?? 0;
        const s = await this.#exec(
          c,
          `WITH gone AS (DELETE FROM ${this.#s}.sessions WHERE expires_at <= $1 RETURNING id),
                tokens AS (DELETE FROM ${this.#s}.refresh_tokens WHERE session_id IN (SELECT id FROM gone) RETURNING 1)
           SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM tokens) AS n`,
          [at],
        );
        n += Number(s.rows[0]?.n ?? 0);
        await this.#exec(c, `DELETE FROM ${this.#s}.rate_limits WHERE reset_at <= $1`, [at]);
        // A cutoff that covers no session that could still be refreshed is forgotten.
        await this.#exec(
          c,
          `UPDATE ${this.#s}.user_flags SET cutoff = NULL, except_session = NULL, cutoff_expires_at = NULL
           WHERE cutoff IS NOT NULL AND cutoff_expires_at <= $1`,
          [at],
        );
        // Flag rows exist to order logins against disables and cutoffs; unused plain ones can go.
        await this.#exec(
          c,
          `DELETE FROM ${this.#s}.user_flags f WHERE f.disabled_at IS NULL AND f.cutoff IS NULL
           AND NOT EXISTS (SELECT 1 FROM ${this.#s}.sessions s WHERE s.user_id = f.user_id)`,
        );
        return n;
      }),
    );
  }

  // ---- users, clients and rate limits -----------------------------------------------------------

  async createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#run(async () => {
      const rows = await this.#query(
        `INSERT INTO ${this.#s}.users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id`,
        [user.id, user.username.toLowerCase(), user.passwordHash, ms(user.createdAt)],
      );
      return rows.length > 0 ? "created" : "taken";
    });
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.#run(async () => (await this.#users("u.id = $1", [id]))[0] ?? null);
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    return this.#run(async () => (await this.#users("u.username = $1", [username.toLowerCase()]))[0] ?? null);
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.#run(async () =>
      (await this.#users("true", [])).sort((a, b) => a.username.localeCompare(b.username)),
    );
  }

  async #users(where: string, values: unknown[]): Promise<UserRecord[]> {
    const rows = await this.#query(
      `SELECT u.id, u.username, u.password_hash, u.created_at, f.disabled_at
       FROM ${this.#s}.users u LEFT JOIN ${this.#s}.user_flags f ON f.user_id = u.id WHERE ${where}`,
      values,
    );
    return rows.map((r) => ({
      id: String(r.id),
      username: String(r.username),
      passwordHash: String(r.password_hash),
      createdAt: num(r.created_at),
      disabledAt: numOrNull(r.disabled_at),
    }));
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#run(async () => {
      const rows = await this.#query(
        `UPDATE ${this.#s}.users SET password_hash = $2 WHERE id = $1 RETURNING id`,
        [userId, passwordHash],
      );
      return rows.length > 0;
    });
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#run(() => this.#query(`DELETE FROM ${this.#s}.users WHERE id = $1`, [userId]));
  }

  async addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#run(async () => {
      const rows = await this.#query(
        `INSERT INTO ${this.#s}.clients (client_id, secret_hash, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
        [client.clientId, client.secretHash, ms(client.createdAt)],
      );
      return rows.length > 0 ? "created" : "exists";
    });
  }

  async getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT client_id, secret_hash, created_at FROM ${this.#s}.clients WHERE client_id = $1`,
        [clientId],
      );
      return rows[0] ? toClient(rows[0]) : null;
    });
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.#run(async () => {
      const rows = await this.#query(`SELECT client_id, secret_hash, created_at FROM ${this.#s}.clients`);
      return rows.map(toClient).sort((a, b) => a.clientId.localeCompare(b.clientId));
    });
  }

  async removeClient(clientId: string): Promise<boolean> {
    return this.#run(async () => {
      const rows = await this.#query(
        `DELETE FROM ${this.#s}.clients WHERE client_id = $1 RETURNING client_id`,
        [clientId],
      );
      return rows.length > 0;
    });
  }

  async hitRateLimit(
    key: string,
    windowMs: number,
    now: number,
  ): Promise<{ count: number; resetAt: number }> {
    return this.#run(async () => {
      // One statement: a window that ended restarts at this hit; otherwise the count goes up.
      const rows = await this.#query(
        `INSERT INTO ${this.#s}.rate_limits AS r (key, count, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN r.reset_at <= $2::bigint THEN 1 ELSE r.count + 1 END,
           reset_at = CASE WHEN r.reset_at <= $2::bigint THEN $2::bigint + $3::bigint ELSE r.reset_at END
         RETURNING count, reset_at`,
        [key, ms(now), ms(windowMs)],
      );
      const r = rows[0] as Row;
      return { count: Number(r.count), resetAt: num(r.reset_at) };
    });
  }

  async peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#run(async () => {
      const rows = await this.#query(
        `SELECT count, reset_at FROM ${this.#s}.rate_limits WHERE key = $1 AND reset_at > $2`,
        [key, ms(now)],
      );
      const r = rows[0];
      return r ? { count: Number(r.count), resetAt: num(r.reset_at) } : { count: 0, resetAt: now };
    });
  }

  async resetRateLimit(key: string): Promise<void> {
    await this.#run(() => this.#query(`DELETE FROM ${this.#s}.rate_limits WHERE key = $1`, [key]));
  }

  // ---- LISTEN connection ------------------------------------------------------------------------

  #waiter(): Waiter {
    let fired = false;
    let resolve: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const wake = () => {
      fired = true;
      resolve?.();
    };
    this.#waiters.add(wake);
    return {
      wait: (delay) =>
        fired
          ? Promise.resolve()
          : new Promise<void>((r) => {
              resolve = r;
              // A background long poll: it must not keep a script that forgot close() running.
              timer = setTimeout(r, delay);
              timer.unref();
            }),
      cancel: () => {
        this.#waiters.delete(wake);
        if (timer) clearTimeout(timer);
        resolve?.();
      },
    };
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake();
  }

  async #connectListener(): Promise<void> {
    if (this.#state === "closed") return;
    const generation = ++this.#listenGeneration;
    let conn: ListenConnection;
    if (this.#ownPool) {
      const client = new pg.Client({
        connectionString: this.#url,
        connectionTimeoutMillis: this.#connectTimeoutMs,
        keepAlive: true,
        application_name: `${this.#appName}:listen`,
      });
      client.on("error", ignore);
      await client.connect().catch((error: unknown) => {
        client.end().catch(ignore);
        throw error;
      });
      // Only waits for notifications: like an idle pool connection, it does not keep the process alive.
      (
        client as unknown as { connection?: { stream?: { unref?: () => void } } }
      ).connection?.stream?.unref?.();
      conn = { client, release: () => void client.end().catch(ignore) };
    } else {
      const pool = this.#pool;
      if (!pool) return;
      const client = await pool.connect();
      client.on("error", ignore);
      conn = {
        client,
        release: (broken) => {
          client.removeListener("error", ignore);
          client.release(broken);
        },
      };
    }
    const { client } = conn;
    const lost = () => {
      if (this.#listen !== conn) return;
      this.#listen = undefined;
      conn.release(true);
      this.#wakeAll(); // pending long polls fall back to polling at once
      this.#scheduleListen();
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === this.#channel) this.#wakeAll();
    });
    try {
      await client.query({
        text: `LISTEN "${this.#channel}"`,
        query_timeout: this.#queryTimeoutMs,
      } as pg.QueryConfig);
    } catch (error) {
      conn.release(true);
      throw error;
    }
    if (this.#isClosed() || generation !== this.#listenGeneration) {
      conn.release(false);
      return;
    }
    this.#listen = conn;
    this.#listenBackoff = LISTEN_BACKOFF_MIN_MS;
    // Entries may have been written while nobody listened: let long polls look again.
    this.#wakeAll();
  }

  #scheduleListen(): void {
    if (this.#state === "closed" || this.#listenTimer) return;
    const delay = this.#listenBackoff;
    this.#listenBackoff = Math.min(this.#listenBackoff * 2, LISTEN_BACKOFF_MAX_MS);
    this.#listenTimer = setTimeout(() => {
      this.#listenTimer = undefined;
      this.#connectListener().catch(() => this.#scheduleListen());
    }, delay);
    this.#listenTimer.unref();
  }

  #stopListener(): void {
    if (this.#listenTimer) clearTimeout(this.#listenTimer);
    this.#listenTimer = undefined;
    this.#listenGeneration++;
    const conn = this.#listen;
    this.#listen = undefined;
    conn?.release(true);
  }
}

// ---- SQL ----------------------------------------------------------------------------------------

const SESSION_COLUMNS = [
  "id",
  "user_id",
  "client_id",
  "created_at",
  "last_used_at",
  "expires_at",
  "idle_expires_at",
  "user_agent",
  "ip",
  "claims::text AS claims",
  "scope",
  "generation",
  "rotated_at",
  "revoked_at",
  "revoke_reason",
].join(", ");

function prefixed(alias: string, columns: string): string {
  return columns
    .split(", ")
    .map((c) => `${alias}.${c}`)
    .join(", ");
}

function statements(s: string) {
  return {
    /** Locks the user's flag row, creating it when missing; returns `disabled_at`. */
    lockUserFlag: `INSERT INTO ${s}.user_flags (user_id) VALUES ($1)
                   ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
                   RETURNING disabled_at, cutoff, except_session`,
    /** Every active user cutoff. */
    activeUserCutoffs: `SELECT user_id, cutoff, except_session, cutoff_expires_at FROM ${s}.user_flags
                        WHERE cutoff IS NOT NULL AND cutoff_expires_at > $1`,
    insertSession: `INSERT INTO ${s}.sessions (id, user_id, client_id, created_at, last_used_at, expires_at,
                      idle_expires_at, user_agent, ip, claims, scope, generation, rotated_at, revoked_at, revoke_reason)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                    ON CONFLICT (id) DO NOTHING`,
    /**
     * Appends entries ($2..$8 arrays, $1 how many, $9 the NOTIFY channel, $10 their tags) in one
     * statement: takes the next seqs from the state row (its lock orders commits by seq), links each
     * entry to the one before it (the hash chain: `prev_tag`), inserts, and notifies. The SET
     * expressions read the row as locked, so `prev_last_tag` is the tag of the entry before this batch
     * even when this statement waited for another writer. $11: the spared session of each `user`
     * entry (or null). Caller parameters start at $12.
     * With `withCte` and `where`, appends only when the condition holds (e.g. the session changed).
     */
    append: (withCte: string | null = null, where: string | null = null, set = "") => `
      WITH ${withCte ? `${withCte},` : ""}
      st AS (
        UPDATE ${s}.state SET last_seq = last_seq + $1::bigint, prev_last_tag = last_tag,
          last_tag = ($10::text[])[$1::integer] ${set}
        WHERE id = 1 ${where ? `AND ${where}` : ""}
        RETURNING last_seq, prev_last_tag
      ),
      ins AS (
        INSERT INTO ${s}.revocations (seq, kind, subject, cutoff, expires_at, reason, actor, at, tag, prev_tag, except_session)
        SELECT st.last_seq - $1::bigint + u.ord, u.kind, u.subject, u.cutoff, u.expires_at, u.reason, u.actor, u.at,
          u.tag, CASE WHEN u.ord = 1 THEN st.prev_last_tag ELSE ($10::text[])[(u.ord - 1)::integer] END, u.except_session
        FROM st, unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $10::text[], $11::text[])
          WITH ORDINALITY AS u(kind, subject, cutoff, expires_at, reason, actor, at, tag, except_session, ord)
      )
      SELECT st.last_seq::text AS last_seq, pg_notify($9, st.last_seq::text) FROM st`,
  };
}

function appendParams(entries: NewRevocation[], channel: string): unknown[] {
  return [
    entries.length,
    entries.map((e) => e.kind),
    entries.map((e) => e.subject),
    entries.map((e) => (e.kind === "global" || e.kind === "user" ? ms(e.cutoff ?? 0) : null)),
    entries.map((e) => ms(e.expiresAt)),
    entries.map((e) => e.reason),
    entries.map((e) => e.actor),
    entries.map((e) => ms(e.at)),
    channel,
    entries.map(() => newTag()),
    entries.map((e) => e.exceptSessionId ?? null),
  ];
}

/** The entries as recorded: consecutive seqs ending at `last`. */
function withSeqs(entries: NewRevocation[], last: string): RevocationEntry[] {
  const first = BigInt(last) - BigInt(entries.length) + 1n;
  return entries.map((e, i) => {
    const out: RevocationEntry = {
      seq: String(first + BigInt(i)),
      kind: e.kind,
      subject: e.subject,
      expiresAt: ms(e.expiresAt),
      reason: e.reason,
      actor: e.actor,
      at: ms(e.at),
    };
    if (e.kind === "global" || e.kind === "user") out.cutoff = ms(e.cutoff ?? 0);
    if (e.exceptSessionId !== undefined) out.exceptSessionId = e.exceptSessionId;
    return out;
  });
}

function sessionEntry(sessionId: string, meta: RevocationMeta): NewRevocation {
  return {
    kind: "session",
    subject: sessionId,
    expiresAt: ms(meta.at) + ms(meta.ttl),
    reason: meta.reason,
    actor: meta.actor,
    at: ms(meta.at),
  };
}

function sessionParams(s: SessionRecord): unknown[] {
  return [
    s.id,
    s.userId,
    s.clientId,
    ms(s.createdAt),
    ms(s.lastUsedAt),
    ms(s.expiresAt),
    ms(s.idleExpiresAt),
    s.userAgent,
    s.ip,
    s.claims === null ? null : JSON.stringify(s.claims),
    s.scope,
    s.generation,
    s.rotatedAt === null ? null : ms(s.rotatedAt),
    s.revokedAt === null ? null : ms(s.revokedAt),
    s.revokeReason,
  ];
}

function toSession(r: Row): SessionRecord {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    clientId: String(r.client_id),
    createdAt: num(r.created_at),
    lastUsedAt: num(r.last_used_at),
    expiresAt: num(r.expires_at),
    idleExpiresAt: num(r.idle_expires_at),
    userAgent: strOrNull(r.user_agent),
    ip: strOrNull(r.ip),
    claims: r.claims === null ? null : (JSON.parse(String(r.claims)) as Record<string, unknown>),
    scope: strOrNull(r.scope),
    generation: Number(r.generation),
    rotatedAt: numOrNull(r.rotated_at),
    revokedAt: numOrNull(r.revoked_at),
    revokeReason: strOrNull(r.revoke_reason),
  };
}

function toEntry(r: Row): RevocationEntry {
  const e: RevocationEntry = {
    seq: String(r.seq),
    kind: r.kind as RevocationEntry["kind"],
    subject: String(r.subject),
    expiresAt: num(r.expires_at),
    reason: String(r.reason),
    actor: String(r.actor),
    at: num(r.at),
  };
  if (r.cutoff !== null && r.cutoff !== undefined) e.cutoff = num(r.cutoff);
  if (r.except_session !== null && r.except_session !== undefined)
    e.exceptSessionId = String(r.except_session);
  return e;
}

/** A user cutoff from its columns, `null` when there is none. */
function toUserCutoff(cutoff: unknown, except: unknown): UserCutoff | null {
  return cutoff === null || cutoff === undefined
    ? null
    : { cutoff: num(cutoff), exceptSessionId: strOrNull(except) };
}

/** A snapshot's entry for one active user cutoff row. */
function toUserEntry(u: Row): RevocationEntry {
  const e: RevocationEntry = {
    seq: "",
    kind: "user",
    subject: String(u.user_id),
    cutoff: num(u.cutoff),
    expiresAt: num(u.cutoff_expires_at),
    reason: "user_cutoff",
    actor: "system",
    at: num(u.cutoff),
  };
  if (u.except_session !== null && u.except_session !== undefined)
    e.exceptSessionId = String(u.except_session);
  return e;
}

function toClient(r: Row): ClientRecord {
  return {
    clientId: String(r.client_id),
    secretHash: strOrNull(r.secret_hash),
    createdAt: num(r.created_at),
  };
}

// ---- the feed's hash chain ----------------------------------------------------------------------

/** A parsed feed cursor: the position, and the tag of the entry there when the cursor carries one. */
interface Cursor {
  /** The cursor as given (returned unchanged by an empty batch). */
  text: string;
  seq: bigint;
  /** `undefined` for an untagged cursor (older versions, or no tagged entry yet): not checked. */
  tag: string | undefined;
}

/** Parses `"<seq>"` or `"<seq>.<tag>"`; anything else reads as the start of the feed, `"0"`. */
function parseCursor(cursor: unknown): Cursor {
  const m = typeof cursor === "string" ? CURSOR_RE.exec(cursor) : null;
  if (!m) return { text: "0", seq: 0n, tag: undefined };
  return { text: m[0], seq: BigInt(m[1] ?? "0"), tag: m[2] };
}

/**
 * Whether the feed still continues the history that a reader at `cursor` (position N, tag T) has
 * read, judged by identity rather than position. Tags are random, so an entry written after the
 * database went back in time never carries the tag the reader holds. The rule, in order:
 *
 * 1. N beyond `last_seq`: the database never got that far (again): **lost**.
 * 2. An untagged cursor: nothing to check (older versions; entries from before the chain): ok.
 * 3. Entry N+1 is the first one after N: its `prev_tag` must be T (an entry without one was written
 *    by an older version during an upgrade and is not checked).
 * 4. Nothing after N and `last_seq` is N: `last_tag` must be T.
 * 5. Otherwise the entries right after N were purged (expired; they expire in any order). Entry N
 *    itself, when still there, must carry T.
 * 6. Entries N and N+1 both purged: the chain cannot be checked here, and the reader is resynced
 *    (every active entry again), never alarmed: purging alone must not log every user out.
 *
 * So normal purging never raises a false alarm (every check compares tags of one history), and a
 * lost history is reported whenever the reader's entry or its successor is still in the table, which
 * for a node that keeps polling is always the case: entries are purged only once expired. (Only a
 * node cut off for longer than its successors' lifetime across such a crash falls to rule 6, where
 * the resync still gives it every active entry of the database as it is now.)
 */
function checkChain(
  cursor: Cursor,
  head: { lastSeq: bigint; lastTag: string | null; atTag: string | null },
  first: { seq: bigint; prevTag: string | null } | undefined,
): "ok" | "lost" | "unverifiable" {
  if (cursor.seq > head.lastSeq) return "lost";
  if (cursor.tag === undefined) return "ok";
  if (first && first.seq === cursor.seq + 1n) {
    return first.prevTag === null || first.prevTag === cursor.tag ? "ok" : "lost";
  }
  if (!first && head.lastSeq === cursor.seq) return head.lastTag === cursor.tag ? "ok" : "lost";
  if (head.atTag !== null) return head.atTag === cursor.tag ? "ok" : "lost";
  return "unverifiable";
}

// ---- small helpers ------------------------------------------------------------------------------

/** int8 arrives as a string (or a number when the pool's type parsers say so). */
function num(v: unknown): number {
  return typeof v === "number" ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A time or duration in whole milliseconds (sub-millisecond parts are meaningless here). */
function ms(v: number): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new TypeError("times and durations must be finite numbers");
  return Math.round(v);
}

function ignore(): void {}

/** A feed entry's identity in the hash chain: 64 random bits, as 16 hex digits. */
function newTag(): string {
  return randomBytes(8).toString("hex");
}

/** The cursor after an entry (or the state row's end of feed): tagged when the tag is known. */
function cursorOf(seq: unknown, tag: unknown): string {
  return tag === null || tag === undefined ? String(seq) : `${String(seq)}.${String(tag)}`;
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** An error reported by the server about a statement (a SQLSTATE): the connection itself is fine. */
function isSqlError(error: unknown): boolean {
  return (
    error instanceof pg.DatabaseError &&
    !sqlState(error).startsWith("57") &&
    !sqlState(error).startsWith("08")
  );
}

/** Maps any failure to `StoreUnavailableError`, with a message that carries codes, never values. */
function unavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const code = sqlState(error);
  const what =
    error instanceof pg.DatabaseError
      ? `${error.code ?? "error"} ${error.message}`
      : error instanceof Error
        ? `${typeof code === "string" && code ? `${code} ` : ""}${error.message}`
        : String(error);
  return new StoreUnavailableError(`postgres store unavailable: ${what}`, { cause: error });
}
