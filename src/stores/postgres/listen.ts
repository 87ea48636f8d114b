/**
 * The change feed's wake-up call: a dedicated `LISTEN` connection that wakes pending long polls when
 * an entry is committed, and reconnects by itself with backoff. Readers always catch up by `seq`, so
 * a dropped connection or a lost notification delays an entry by at most one poll, and loses nothing.
 * @module
 */
import pg from "pg";
import type { PgDb } from "./db.js";

const LISTEN_BACKOFF_MIN_MS = 50;
const LISTEN_BACKOFF_MAX_MS = 1000;

/** One pending long poll's wait. */
export interface Waiter {
  /** Resolves after `ms`, or earlier when woken (a notification, a reconnect, close). */
  wait(ms: number): Promise<void>;
  cancel(): void;
}

interface ListenConnection {
  client: pg.ClientBase;
  release(broken: boolean): void;
}

/** The `LISTEN` connection of one store and the long polls waiting on it. */
export class FeedListener {
  readonly #db: PgDb;
  readonly #waiters = new Set<() => void>();
  #listen: ListenConnection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #backoff = LISTEN_BACKOFF_MIN_MS;
  #generation = 0;

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** Whether notifications arrive now (otherwise long polls re-check on a short interval). */
  get listening(): boolean {
    return this.#listen !== undefined;
  }

  /** A wait armed now: a wake-up between this call and `wait` is not lost. */
  waiter(): Waiter {
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

  /** Wakes every pending long poll. */
  wakeAll(): void {
    for (const wake of this.#waiters) wake();
  }

  /** Connects now; on failure, logs it once and keeps retrying in the background. */
  async start(): Promise<void> {
    await this.#connect().catch((error: unknown) => this.#retry(error));
  }

  /** Drops the connection and stops reconnecting (close). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#generation++;
    const conn = this.#listen;
    this.#listen = undefined;
    conn?.release(true);
  }

  async #connect(): Promise<void> {
    const db = this.#db;
    if (db.isClosed()) return;
    const generation = ++this.#generation;
    const conn = db.config.ownPool ? await this.#ownConnection() : await this.#poolConnection();
    if (!conn) return;
    const { client } = conn;
    const lost = (error?: unknown) => {
      if (this.#listen !== conn) return;
      this.#listen = undefined;
      conn.release(true);
      this.wakeAll(); // pending long polls fall back to polling at once
      this.#retry(error ?? new Error("connection ended"));
    };
    client.on("error", lost);
    client.on("end", lost);
    client.on("notification", (msg) => {
      if (msg.channel === db.config.channel) this.wakeAll();
    });
    try {
      const listen: pg.QueryConfig & { query_timeout: number } = {
        text: `LISTEN "${db.config.channel}"`,
        query_timeout: db.config.queryTimeoutMs,
      };
      await client.query(listen);
    } catch (error) {
      conn.release(true);
      throw error;
    }
    if (db.isClosed() || generation !== this.#generation) {
      conn.release(false);
      return;
    }
    this.#listen = conn;
    this.#backoff = LISTEN_BACKOFF_MIN_MS;
    db.recovered("listen", "the postgres LISTEN connection is back");
    // Entries may have been written while nobody listened: let long polls look again.
    this.wakeAll();
  }

  /** A client of its own (the store owns its pool): it must not take one of the pool's connections. */
  async #ownConnection(): Promise<ListenConnection> {
    const c = this.#db.config;
    const client = new pg.Client({
      connectionString: c.url,
      connectionTimeoutMillis: c.connectTimeoutMs,
      keepAlive: true,
      application_name: `${c.appName}:listen`,
    });
    // Until `lost` takes over: an error of a client being set up surfaces through connect/LISTEN.
    client.on("error", noop);
    const end = () => void client.end().catch(noop);
    await client.connect().catch((error: unknown) => {
      end();
      throw error;
    });
    // Only waits for notifications: like an idle pool connection, it does not keep the process alive.
    unrefSocket(client);
    return { client, release: end };
  }

  /** One of the lent pool's connections, kept checked out. */
  async #poolConnection(): Promise<ListenConnection | undefined> {
    const pool = this.#db.pool;
    if (!pool) return undefined;
    const client = await pool.connect();
    client.on("error", noop);
    return {
      client,
      release: (broken) => {
        client.removeListener("error", noop);
        client.release(broken);
      },
    };
  }

  /** Logs the failure (once per outage) and tries again after a growing delay. */
  #retry(error: unknown): void {
    const db = this.#db;
    if (db.isClosed()) return;
    db.failed(
      "listen",
      error,
      "the postgres LISTEN connection is down; long polls fall back to polling until it reconnects",
    );
    if (this.#timer) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, LISTEN_BACKOFF_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().catch((e: unknown) => this.#retry(e));
    }, delay);
    this.#timer.unref();
  }
}

/**
 * Unrefs the socket of a `pg.Client` (not part of its typed API: `client.connection.stream`), so that
 * a process whose only handle is this connection may exit.
 */
function unrefSocket(client: pg.Client): void {
  const connection: unknown = Reflect.get(client, "connection");
  const stream: unknown =
    typeof connection === "object" && connection !== null ? Reflect.get(connection, "stream") : undefined;
  if (typeof stream !== "object" || stream === null) return;
  const unref: unknown = Reflect.get(stream, "unref");
  if (typeof unref === "function") unref.call(stream);
}

/**
 * For errors that surface elsewhere: a connection's `error` event while `connect` or `LISTEN` is
 * pending (that call rejects too), and ending a connection already given up.
 */
function noop(): void {}
