import type Database from "better-sqlite3";
import type { EventOutbox, EventReceiver, OutboxEvent, OutboxState } from "../outbox/types.js";

/** The {@link EventOutbox} of a SQLite store: tables in the same file, on the store's connection. */
export class SqliteOutbox implements EventOutbox {
  readonly #db: () => Database.Database;

  /** `db` returns the store's open connection. */
  constructor(db: () => Database.Database) {
    this.#db = db;
  }

  async init(): Promise<void> {
    this.#db().exec(`
      CREATE TABLE IF NOT EXISTS event_receivers (client_id TEXT PRIMARY KEY, url TEXT NOT NULL, since INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS event_state (name TEXT PRIMARY KEY, value TEXT NOT NULL, until INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS event_outbox (
        id TEXT PRIMARY KEY, client_id TEXT NOT NULL, jwt TEXT NOT NULL, created_at INTEGER NOT NULL,
        next_at INTEGER NOT NULL, attempts INTEGER NOT NULL, state TEXT NOT NULL, last_error TEXT);
      CREATE INDEX IF NOT EXISTS event_outbox_due ON event_outbox (state, next_at);`);
  }

  async setReceiver(clientId: string, url: string | null, now: number): Promise<void> {
    const db = this.#db();
    if (url === null) {
      db.prepare("DELETE FROM event_receivers WHERE client_id = ?").run(clientId);
      return;
    }
    db.prepare(
      `INSERT INTO event_receivers (client_id, url, since) VALUES (?, ?, ?)
       ON CONFLICT (client_id) DO UPDATE SET since = CASE WHEN url = excluded.url THEN since ELSE excluded.since END, url = excluded.url`,
    ).run(clientId, url, now);
  }

  async receivers(): Promise<EventReceiver[]> {
    const rows = this.#db()
      .prepare("SELECT client_id, url, since FROM event_receivers ORDER BY client_id")
      .all() as {
      client_id: string;
      url: string;
      since: number;
    }[];
    return rows.map((r) => ({ clientId: r.client_id, url: r.url, since: r.since }));
  }

  async getCursor(): Promise<string | null> {
    const row = this.#db().prepare("SELECT value FROM event_state WHERE name = 'cursor'").get() as
      | { value: string }
      | undefined;
    return row?.value ?? null;
  }

  async setCursor(value: string): Promise<void> {
    this.#db()
      .prepare(
        "INSERT INTO event_state (name, value) VALUES ('cursor', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      )
      .run(value);
  }

  async lease(owner: string, now: number, ttlMs: number): Promise<boolean> {
    const r = this.#db()
      .prepare(
        `INSERT INTO event_state (name, value, until) VALUES ('lease', ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, until = excluded.until
         WHERE event_state.value = excluded.value OR event_state.until <= ?`,
      )
      .run(owner, now + ttlMs, now);
    return r.changes === 1;
  }

  async add(events: OutboxEvent[]): Promise<void> {
    const db = this.#db();
    const insert = db.prepare(
      `INSERT OR IGNORE INTO event_outbox (id, client_id, jwt, created_at, next_at, attempts, state, last_error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (const e of events)
        insert.run(e.id, e.clientId, e.set, e.createdAt, e.nextAt, e.attempts, e.state, e.lastError);
    })();
  }

  async due(now: number, limit: number): Promise<OutboxEvent[]> {
    const rows = this.#db()
      .prepare(
        "SELECT * FROM event_outbox WHERE state = 'pending' AND next_at <= ? ORDER BY created_at LIMIT ?",
      )
      .all(now, limit) as Row[];
    return rows.map(fromRow);
  }

  async update(
    id: string,
    c: Pick<OutboxEvent, "state" | "nextAt" | "attempts" | "lastError">,
  ): Promise<void> {
    this.#db()
      .prepare("UPDATE event_outbox SET state = ?, next_at = ?, attempts = ?, last_error = ? WHERE id = ?")
      .run(c.state, c.nextAt, c.attempts, c.lastError, id);
  }

  async counts(): Promise<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, delivered: 0, failed: 0 };
    const rows = this.#db().prepare("SELECT state, COUNT(*) AS n FROM event_outbox GROUP BY state").all() as {
      state: OutboxState;
      n: number;
    }[];
    for (const r of rows) out[r.state] = r.n;
    return out;
  }

  async purge(before: number): Promise<void> {
    this.#db().prepare("DELETE FROM event_outbox WHERE state <> 'pending' AND created_at < ?").run(before);
  }
}

interface Row {
  id: string;
  client_id: string;
  jwt: string;
  created_at: number;
  next_at: number;
  attempts: number;
  state: OutboxState;
  last_error: string | null;
}

function fromRow(r: Row): OutboxEvent {
  return {
    id: r.id,
    clientId: r.client_id,
    set: r.jwt,
    createdAt: r.created_at,
    nextAt: r.next_at,
    attempts: r.attempts,
    state: r.state,
    lastError: r.last_error,
  };
}
