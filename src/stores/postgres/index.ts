/**
 * The PostgreSQL store: a durable source of truth shared by many nodes.
 *
 * Design, in short:
 * - Tables live in one schema (default `revokit`), created and migrated on `open()`; concurrent
 *   openers are serialized by `pg_advisory_xact_lock`, so many nodes may start at once.
 * - Refresh rotation is one transaction: the session row is locked (`SELECT ... FOR UPDATE`), the
 *   core's `planRotation` plans on the locked state, then the store executes the plan's writes.
 *   Session creation locks the user's flag row, so it is atomic with a concurrent disable or cutoff.
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
 *   cursor), which misses nothing whatever happened meanwhile. See `checkChain` in `chain.ts`.
 * - `NOTIFY` (sent by the inserting transaction, delivered at commit) wakes long polls at once; a
 *   dedicated `LISTEN` connection reconnects by itself. Readers always catch up by `seq`, so a
 *   dropped connection or a lost notification delays an entry by at most one poll, and loses nothing.
 * - Expired rows are purged by the nodes themselves (`purge`, and a periodic unref'd timer); one
 *   node at a time purges (`pg_try_advisory_xact_lock`).
 * - Every failure to reach PostgreSQL is a `StoreUnavailableError`; connections that failed are
 *   discarded, so the store recovers by itself when the server returns. If the schema vanished
 *   (the database lost its data), the store recreates it with a new epoch, which tells every node
 *   that its data was lost.
 * - Background failures (the LISTEN connection, the purge timer, idle pool connections) are logged
 *   once per outage to the `logger`, by SQLSTATE or error name, never with a driver's message.
 *
 * The modules: `db.ts` (pool, statements, transactions, errors), `schema.ts` (migrations),
 * `sessions.ts` (sessions, rotation, cutoffs), `chain.ts` (feed appends and the hash chain),
 * `feed.ts` (revocations, snapshots, changes, purge), `listen.ts` (LISTEN), `keys.ts`, `accounts.ts`
 * (users, clients, rate limits), `rows.ts` (row parsers), `outbox.ts` and `status.ts` (the server's
 * event outbox and status lists, in the same schema). This file composes them.
 * @module
 */
import type pg from "pg";
import type { Duration } from "../../core/duration.js";
import { ConfigInvalidError, StoreMissingError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type {
  ChangeBatch,
  ClientRecord,
  NewRevocation,
  RevocationCheck,
  RevocationCheckpoint,
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
} from "../../core/model.js";
import { checkOptionNames, durationOption } from "../../core/options.js";
import { STDERR_LOGGER } from "../../loggers.js";
import type { Store, StoreOpenOptions } from "../contract.js";
import { PostgresAccounts } from "./accounts.js";
import { PostgresCheckpoints } from "./checkpoint.js";
import { type PgConfig, PgDb, type Row, unavailable } from "./db.js";
import { PostgresFeed } from "./feed.js";
import { PostgresKeys } from "./keys.js";
import { FeedListener } from "./listen.js";
import { migrate } from "./schema.js";
import { PostgresSessions } from "./sessions.js";

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
  /**
   * Where background failures go (the LISTEN connection down, a failed timed purge, an idle
   * connection lost), each logged once per outage. Default: JSON lines on stderr.
   */
  logger?: Logger;
}

const POSTGRES_OPTION_NAMES = Object.keys({
  schema: true,
  max: true,
  connectTimeout: true,
  queryTimeout: true,
  applicationName: true,
  purgeInterval: true,
  logger: true,
} satisfies Record<keyof PostgresStoreOptions, true>);

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,47}$/;

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

/** Checks the connection and options; throws `ConfigInvalidError` naming the first bad one. */
function settle(connection: PostgresConnection, options: PostgresStoreOptions): PgConfig {
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
  const schema = options.schema ?? "revokit";
  if (typeof schema !== "string" || !SCHEMA_RE.test(schema)) {
    throw new ConfigInvalidError("schema", "must be 1 to 48 of a-z, 0-9 and _, not starting with a digit");
  }
  const max = options.max ?? 10;
  if (!Number.isInteger(max) || max < 2) throw new ConfigInvalidError("max", "must be an integer >= 2");
  const connectTimeoutMs = Math.ceil(durationOption(options.connectTimeout, 2000, "connectTimeout", 1));
  const queryTimeoutMs = Math.ceil(durationOption(options.queryTimeout, 5000, "queryTimeout", 1));
  const purgeIntervalMs = durationOption(options.purgeInterval, 10 * 60_000, "purgeInterval", 0);
  const appName = options.applicationName ?? "revokit";
  if (typeof appName !== "string" || appName.length === 0 || appName.length > 56) {
    throw new ConfigInvalidError("applicationName", "must be a string of 1 to 56 characters");
  }
  const log = options.logger ?? STDERR_LOGGER;
  if (typeof log?.warn !== "function") throw new ConfigInvalidError("logger", "must have a warn method");
  return {
    url: connection.url,
    givenPool: connection.pool,
    ownPool: hasUrl,
    schema,
    s: `"${schema}"`,
    channel: `${schema}_revocations`,
    max,
    connectTimeoutMs,
    queryTimeoutMs,
    appName,
    purgeIntervalMs,
    log,
  };
}

/**
 * The store: its lifecycle (open, close, the purge timer) and the composition of its parts, each of
 * which runs its statements through the one {@link PgDb}.
 */
class PostgresStore implements Store {
  readonly kind = "postgres";
  readonly durable = true;
  readonly #db: PgDb;
  readonly #listener: FeedListener;
  readonly #keys: PostgresKeys;
  readonly #checkpoints: PostgresCheckpoints;
  readonly #sessions: PostgresSessions;
  readonly #feed: PostgresFeed;
  readonly #accounts: PostgresAccounts;
  #opening: Promise<void> | undefined;
  #migrating: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  /** Whether `open` and a lost schema may create the tables (`open({ create: false })` turns it off). */
  #create = true;

  constructor(connection: PostgresConnection, options: PostgresStoreOptions) {
    this.#db = new PgDb(settle(connection, options), {
      open: () => this.open(),
      recreate: () => this.#migrate(),
    });
    this.#listener = new FeedListener(this.#db);
    this.#keys = new PostgresKeys(this.#db);
    this.#checkpoints = new PostgresCheckpoints(this.#db);
    this.#sessions = new PostgresSessions(this.#db);
    this.#feed = new PostgresFeed(this.#db, this.#listener);
    this.#accounts = new PostgresAccounts(this.#db);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /**
   * Connects, creates or migrates the schema, writes the first-start marker and starts listening.
   * With `{ create: false }` the schema must already hold an initialised store: otherwise
   * `StoreMissingError`, and nothing is created (nor recreated later if the schema disappears).
   */
  async open(options: StoreOpenOptions = {}): Promise<void> {
    const db = this.#db;
    if (db.state === "open") return;
    if (db.state === "closed") {
      await this.#closing;
      db.state = "idle";
    }
    if (options.create === false) this.#create = false;
    this.#opening ??= this.#start().catch((error: unknown) => {
      this.#opening = undefined;
      throw error instanceof StoreMissingError ? error : unavailable(error);
    });
    await this.#opening;
  }

  async #start(): Promise<void> {
    const db = this.#db;
    db.connect();
    await this.#migrate();
    await this.#listener.start();
    if (db.isClosed()) return;
    const every = db.config.purgeIntervalMs;
    if (every > 0) {
      this.#purgeTimer = setInterval(() => {
        const now = Math.min(db.lastNow ?? Number.POSITIVE_INFINITY, Date.now());
        this.#feed.purge(now).then(
          () => db.recovered("purge", "timed purges of the postgres store work again"),
          (error: unknown) => db.failed("purge", error, "a timed purge of the postgres store failed"),
        );
      }, every);
      this.#purgeTimer.unref();
    }
    db.state = "open";
  }

  /** Creates the schema and applies pending migrations, once across concurrent openers. */
  #migrate(): Promise<void> {
    this.#migrating ??= migrate(this.#db, this.#create).finally(() => {
      this.#migrating = undefined;
    });
    return this.#migrating;
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (db.state === "closed") return this.#closing;
    db.state = "closed";
    this.#closing = (async () => {
      this.#listener.stop();
      this.#listener.wakeAll(); // pending long polls return at once
      // A failed start was reported to whoever awaited open(); closing is all that is left to do.
      await this.#opening?.catch(() => undefined);
      this.#opening = undefined;
      if (this.#purgeTimer) clearInterval(this.#purgeTimer);
      this.#purgeTimer = undefined;
      this.#listener.stop();
      await db.disconnect();
    })();
    return this.#closing;
  }

  /** The pool and schema, for the security-event outbox and the status lists (`outbox.ts`, `status.ts`). */
  outboxAccess(): {
    kind: "postgres";
    schema: string;
    query: (text: string, values?: unknown[]) => Promise<Row[]>;
  } {
    return {
      kind: "postgres",
      schema: this.#db.config.s,
      query: (text, values) => this.#db.query(text, values),
    };
  }

  // ---- the parts --------------------------------------------------------------------------------

  listKeys(): Promise<StoredKey[]> {
    return this.#keys.listKeys();
  }
  addKey(key: StoredKey, options?: { ifNoKeyFor?: StoredKey["alg"] }): Promise<boolean> {
    return this.#keys.addKey(key, options);
  }
  deleteKey(kid: string): Promise<void> {
    return this.#keys.deleteKey(kid);
  }

  createSession(
    session: SessionRecord,
    refreshHash: string,
  ): Promise<"created" | "user_disabled" | "cut_off"> {
    return this.#sessions.createSession(session, refreshHash);
  }
  getSession(id: string): Promise<SessionRecord | null> {
    return this.#sessions.getSession(id);
  }
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#sessions.listUserSessions(userId, now);
  }
  listSessionsCutOff(userId: string, cutoff: UserCutoff): Promise<SessionRecord[]> {
    return this.#sessions.listSessionsCutOff(userId, cutoff);
  }
  rotateRefreshToken(input: RotateInput): Promise<RotateResult> {
    return this.#sessions.rotateRefreshToken(input);
  }
  findRefreshToken(hash: string): Promise<{ session: SessionRecord; generation: number } | null> {
    return this.#sessions.findRefreshToken(hash);
  }
  revokeSession(sessionId: string, meta: RevocationMeta): Promise<boolean> {
    return this.#sessions.revokeSession(sessionId, meta);
  }
  cutOffUser(
    userId: string,
    meta: RevocationMeta,
    options?: { exceptSessionId?: string; disable?: boolean },
  ): Promise<UserCutoff> {
    return this.#sessions.cutOffUser(userId, meta, options);
  }
  enableUser(userId: string): Promise<void> {
    return this.#sessions.enableUser(userId);
  }
  isUserDisabled(userId: string): Promise<boolean> {
    return this.#sessions.isUserDisabled(userId);
  }

  addRevocation(entry: NewRevocation): Promise<RevocationEntry | null> {
    return this.#feed.addRevocation(entry);
  }
  snapshot(now: number): Promise<RevocationSnapshot> {
    return this.#feed.snapshot(now);
  }
  snapshotInto(now: number, apply: SnapshotSink): Promise<SnapshotHead> {
    return this.#feed.snapshotInto(now, apply);
  }
  changes(cursor: string, options: { waitMs: number; limit: number }): Promise<ChangeBatch> {
    return this.#feed.changes(cursor, options);
  }
  check(query: { jti?: string; sessionId?: string; userId?: string }, now: number): Promise<RevocationCheck> {
    return this.#feed.check(query, now);
  }
  tokenLifetimes(record?: TokenLifetimes): Promise<TokenLifetimes> {
    return this.#feed.tokenLifetimes(record);
  }
  purge(now: number): Promise<number> {
    return this.#feed.purge(now);
  }

  readCheckpoint(): Promise<RevocationCheckpoint | null> {
    return this.#checkpoints.readCheckpoint();
  }
  checkpointTakenAt(): Promise<number> {
    return this.#checkpoints.checkpointTakenAt();
  }
  writeCheckpoint(checkpoint: RevocationCheckpoint): Promise<boolean> {
    return this.#checkpoints.writeCheckpoint(checkpoint);
  }

  createUser(user: UserRecord): Promise<"created" | "taken"> {
    return this.#accounts.createUser(user);
  }
  getUser(id: string): Promise<UserRecord | null> {
    return this.#accounts.getUser(id);
  }
  getUserByName(username: string): Promise<UserRecord | null> {
    return this.#accounts.getUserByName(username);
  }
  listUsers(): Promise<UserRecord[]> {
    return this.#accounts.listUsers();
  }
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.#accounts.setPasswordHash(userId, passwordHash);
  }
  deleteUser(userId: string): Promise<void> {
    return this.#accounts.deleteUser(userId);
  }
  addClient(client: ClientRecord): Promise<"created" | "exists"> {
    return this.#accounts.addClient(client);
  }
  getClient(clientId: string): Promise<ClientRecord | null> {
    return this.#accounts.getClient(clientId);
  }
  listClients(): Promise<ClientRecord[]> {
    return this.#accounts.listClients();
  }
  removeClient(clientId: string): Promise<boolean> {
    return this.#accounts.removeClient(clientId);
  }
  hitRateLimit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#accounts.hitRateLimit(key, windowMs, now);
  }
  peekRateLimit(key: string, now: number): Promise<{ count: number; resetAt: number }> {
    return this.#accounts.peekRateLimit(key, now);
  }
  resetRateLimit(key: string): Promise<void> {
    return this.#accounts.resetRateLimit(key);
  }
}
