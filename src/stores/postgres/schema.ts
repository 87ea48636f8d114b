/**
 * The schema: the tables (one migration per change, applied in order under an advisory lock, so many
 * nodes may start at once), the first-start marker, and the check that `open({ create: false })`
 * finds an initialised store.
 * @module
 */
import { randomBytes } from "node:crypto";
import { StoreMissingError, StoreUnavailableError } from "../../core/errors.js";
import type { PgDb } from "./db.js";

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
  {
    // Checkpoints: the newest compact snapshot of the active revocations, for nodes that start later.
    version: 4,
    sql: (s) => `
      CREATE TABLE ${s}.checkpoint (
        id       smallint PRIMARY KEY CHECK (id = 1),
        taken_at bigint NOT NULL,
        data     bytea NOT NULL
      );
    `,
  },
  {
    // The server's security-event outbox and status lists. They were created on first use, outside
    // the migration lock, where two nodes starting at once could both try (a duplicate-key error
    // from the catalog); IF NOT EXISTS keeps the tables of a store that already has them.
    version: 5,
    sql: (s) => `
      CREATE TABLE IF NOT EXISTS ${s}.event_receivers (
        client_id text PRIMARY KEY, url text NOT NULL, since bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.event_state (
        name text PRIMARY KEY, value text NOT NULL, until bigint NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS ${s}.event_outbox (
        id text PRIMARY KEY, client_id text NOT NULL, jwt text NOT NULL, created_at bigint NOT NULL,
        next_at bigint NOT NULL, attempts integer NOT NULL, state text NOT NULL, last_error text);
      CREATE INDEX IF NOT EXISTS event_outbox_due ON ${s}.event_outbox (state, next_at);
      CREATE TABLE IF NOT EXISTS ${s}.status_lists (
        list bigint PRIMARY KEY, next bigint NOT NULL, keep_until bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.status_entries (
        list bigint NOT NULL, idx bigint NOT NULL, jti text NOT NULL, sid text NOT NULL, sub text NOT NULL,
        iat bigint NOT NULL, exp bigint NOT NULL, auth_time bigint NOT NULL, PRIMARY KEY (list, idx));
    `,
  },
  {
    // The checkpoint in chunks of rows: one value of tens of megabytes reads in over a second through
    // the driver, its chunks in a tenth of that. The row keeps `taken_at` and the number of chunks;
    // `data` stays for a checkpoint written by the previous version (empty once chunked). The chunks
    // are random bytes: stored as they are, with no attempt at compression.
    version: 6,
    sql: (s) => `
      CREATE TABLE ${s}.checkpoint_chunks (
        taken_at bigint NOT NULL,
        i        integer NOT NULL,
        data     bytea NOT NULL,
        PRIMARY KEY (taken_at, i)
      );
      ALTER TABLE ${s}.checkpoint_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
      ALTER TABLE ${s}.checkpoint ADD COLUMN chunks integer NOT NULL DEFAULT 0;
    `,
  },
];

/**
 * Creates the schema and applies pending migrations (idempotent; concurrent openers queue on the
 * lock), then writes the first-start marker. With `create` false, an uninitialised schema is a
 * `StoreMissingError` and nothing is created.
 */
export function migrate(db: PgDb, create: boolean): Promise<void> {
  const { s, schema } = db.config;
  // Plain `c.query` (no per-statement timeout): waiting for another node's migration is normal.
  return db.tx(async (c) => {
    if (!create) {
      const found = await c.query("SELECT to_regclass($1) AS t", [`${s}.state`]);
      const marker = found.rows[0]?.t ? await c.query(`SELECT 1 FROM ${s}.state WHERE id = 1`) : undefined;
      if (!marker || marker.rowCount === 0) {
        throw new StoreMissingError(`no revokit store in postgres schema "${schema}" of that database`);
      }
    }
    await c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`revokit:${schema}:migrate`]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set(
      (await c.query(`SELECT version FROM ${s}.schema_migrations`)).rows.map((r: { version: unknown }) =>
        Number(r.version),
      ),
    );
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) {
      throw new StoreUnavailableError(
        `postgres store: schema "${schema}" is at version ${newest}, newer than this revokit supports (${known}); upgrade revokit`,
      );
    }
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await c.query(m.sql(s));
      await c.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [m.version]);
    }
    // The first-start marker: written once; a new one means this database lost its data.
    await c.query(`INSERT INTO ${s}.state (id, epoch) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [
      randomBytes(16).toString("hex"),
    ]);
  });
}
