import type { EventOutbox, EventReceiver, OutboxEvent, OutboxState } from "../outbox/types.js";

/** How the PostgreSQL outbox reaches the store's pool. */
export interface PostgresOutboxAccess {
  /** Runs one statement on the store's pool; resolves with its rows. */
  query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** The store's schema, quoted for SQL. */
  schema: string;
}

/** The {@link EventOutbox} of a PostgreSQL store: tables in the store's schema. */
export class PostgresOutbox implements EventOutbox {
  readonly #q: PostgresOutboxAccess["query"];
  readonly #s: string;

  constructor(access: PostgresOutboxAccess) {
    this.#q = access.query;
    this.#s = access.schema;
  }

  /** Nothing to do: the tables come with the store's schema (its migrations, under their lock). */
  async init(): Promise<void> {}

  async setReceiver(clientId: string, url: string | null, now: number): Promise<void> {
    if (url === null) {
      await this.#q(`DELETE FROM ${this.#s}.event_receivers WHERE client_id = $1`, [clientId]);
      return;
    }
    await this.#q(
      `INSERT INTO ${this.#s}.event_receivers AS r (client_id, url, since) VALUES ($1, $2, $3)
       ON CONFLICT (client_id) DO UPDATE SET since = CASE WHEN r.url = excluded.url THEN r.since ELSE excluded.since END, url = excluded.url`,
      [clientId, url, now],
    );
  }

  async receivers(): Promise<EventReceiver[]> {
    const rows = await this.#q(
      `SELECT client_id, url, since FROM ${this.#s}.event_receivers ORDER BY client_id`,
    );
    return rows.map((r) => ({ clientId: String(r.client_id), url: String(r.url), since: Number(r.since) }));
  }

  async getCursor(): Promise<string | null> {
    const rows = await this.#q(`SELECT value FROM ${this.#s}.event_state WHERE name = 'cursor'`);
    return rows[0] ? String(rows[0].value) : null;
  }

  async setCursor(value: string): Promise<void> {
    await this.#q(
      `INSERT INTO ${this.#s}.event_state (name, value) VALUES ('cursor', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
      [value],
    );
  }

  async lease(owner: string, now: number, ttlMs: number): Promise<boolean> {
    const rows = await this.#q(
      `INSERT INTO ${this.#s}.event_state AS st (name, value, until) VALUES ('lease', $1, $2)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value, until = excluded.until
       WHERE st.value = excluded.value OR st.until <= $3 RETURNING name`,
      [owner, now + ttlMs, now],
    );
    return rows.length === 1;
  }

  async add(events: OutboxEvent[]): Promise<void> {
    for (const e of events) {
      await this.#q(
        `INSERT INTO ${this.#s}.event_outbox (id, client_id, jwt, created_at, next_at, attempts, state, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [e.id, e.clientId, e.set, e.createdAt, e.nextAt, e.attempts, e.state, e.lastError],
      );
    }
  }

  async due(now: number, limit: number): Promise<OutboxEvent[]> {
    const rows = await this.#q(
      `SELECT * FROM ${this.#s}.event_outbox WHERE state = 'pending' AND next_at <= $1 ORDER BY created_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      clientId: String(r.client_id),
      set: String(r.jwt),
      createdAt: Number(r.created_at),
      nextAt: Number(r.next_at),
      attempts: Number(r.attempts),
      state: outboxState(r.state),
      lastError: r.last_error === null ? null : String(r.last_error),
    }));
  }

  async update(
    id: string,
    c: Pick<OutboxEvent, "state" | "nextAt" | "attempts" | "lastError">,
  ): Promise<void> {
    await this.#q(
      `UPDATE ${this.#s}.event_outbox SET state = $1, next_at = $2, attempts = $3, last_error = $4 WHERE id = $5`,
      [c.state, c.nextAt, c.attempts, c.lastError, id],
    );
  }

  async counts(): Promise<Record<OutboxState, number>> {
    const out: Record<OutboxState, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const r of await this.#q(
      `SELECT state, COUNT(*)::int AS n FROM ${this.#s}.event_outbox GROUP BY state`,
    )) {
      out[outboxState(r.state)] = Number(r.n);
    }
    return out;
  }

  async purge(before: number): Promise<void> {
    await this.#q(`DELETE FROM ${this.#s}.event_outbox WHERE state <> 'pending' AND created_at < $1`, [
      before,
    ]);
  }
}

/** A stored outbox state; an unknown one is corrupt data. */
function outboxState(v: unknown): OutboxState {
  if (v === "pending" || v === "delivered" || v === "failed") return v;
  throw new TypeError("an outbox row has an unknown state");
}
