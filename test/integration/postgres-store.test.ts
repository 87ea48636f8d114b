/**
 * The PostgreSQL store's own promises, beyond the shared contract: feed order under concurrent
 * writers (sequence commit order), the LISTEN connection dying and coming back, concurrent
 * migrations, lost data, outages, purging by itself, and option checks. On a private cluster (the
 * outage case stops and starts it).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ConfigInvalidError, StoreUnavailableError } from "../../src/core/errors.js";
import type { NewRevocation, RevocationEntry, SessionRecord } from "../../src/core/model.js";
import type { Store } from "../../src/stores/contract.js";
import { eventOutboxFor } from "../../src/stores/outbox/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { eventually } from "../helpers/eventually.js";
import { type PostgresServer, postgresUnavailableReason, startPostgres } from "../helpers/postgres-server.js";
import { sessionRecord } from "../helpers/records.mjs";

const T0 = Date.UTC(2025, 0, 1);
const TTL = 15 * 60_000;

function jti(subject: string = randomUUID(), at = T0): NewRevocation {
  return { kind: "jti", subject, expiresAt: T0 + TTL, reason: "revoked", actor: "admin", at };
}

function session(userId = randomUUID()): SessionRecord {
  return sessionRecord({ userId, at: T0 });
}

/** A logger that keeps what it is given: warnings and errors in `warned`, info lines in `back`. */
function recordingLogger() {
  const warned: Record<string, unknown>[] = [];
  const back: Record<string, unknown>[] = [];
  const logger = {
    warn: (obj: object) => void warned.push({ ...obj }),
    error: (obj: object) => void warned.push({ ...obj }),
    info: (obj: object) => void back.push({ ...obj }),
  };
  return { warned, back, logger };
}

/** Reads the whole feed after `cursor`, `limit` at a time, without waiting. */
async function drain(store: Store, cursor: string, limit = 50): Promise<RevocationEntry[]> {
  const out: RevocationEntry[] = [];
  for (;;) {
    const batch = await store.changes(cursor, { waitMs: 0, limit });
    if (batch.entries.length === 0) return out;
    out.push(...batch.entries);
    cursor = batch.cursor;
  }
}

const server = await startPostgres({ controllable: true });

describe.skipIf(!server)(`postgres store${server ? "" : ` (${postgresUnavailableReason})`}`, () => {
  const pg = server as PostgresServer;
  const opened: Store[] = [];
  const schemas: string[] = [];

  function newSchema(): string {
    const s = `it_${randomBytes(6).toString("hex")}`;
    schemas.push(s);
    return s;
  }

  function make(schema: string, extra: Parameters<typeof postgresStore>[1] = {}): Store {
    const store = postgresStore({ url: pg.url, schema, purgeInterval: 0, ...extra });
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    for (const s of schemas) await pg.sql(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    await pg.close();
  });

  it("delivers every entry exactly once, in seq order with no gaps, to readers tailing concurrent writers", async () => {
    // A plain sequence can commit seq 11 before seq 10; a reader whose cursor passed 11 would skip 10
    // forever. The feed's seqs are taken from a row lock held until commit, so they become visible in
    // order: whatever a reader sees is a prefix of the final feed.
    const schema = newSchema();
    const writers = [make(schema), make(schema), make(schema)];
    const reader = make(schema);
    await Promise.all([...writers, reader].map((s) => s.open()));
    const start = (await reader.snapshot(T0)).cursor;
    let writing = true;
    const readers = [0, 1].map(async (r) => {
      let cursor = start;
      const seen: RevocationEntry[] = [];
      while (writing) {
        const batch = await reader.changes(cursor, { waitMs: 30, limit: 3 + r * 4 });
        seen.push(...batch.entries);
        cursor = batch.cursor;
      }
      seen.push(...(await drain(reader, cursor)));
      return seen;
    });
    const users = Array.from({ length: 6 }, () => randomUUID());
    const sessions = users.flatMap((u) => [session(u), session(u), session(u)]);
    for (const s of sessions) await writers[0]?.createSession(s, randomBytes(32).toString("base64url"));
    const meta = { reason: "logout", actor: "admin", at: T0 + 1, ttl: TTL };
    const ops: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const w = writers[i % writers.length] as Store;
        ops.push(w.addRevocation(jti()));
        if (i % 10 === 0) ops.push(w.revokeSession((sessions[i / 10] as SessionRecord).id, meta));
        if (i % 25 === 0) ops.push(w.cutOffUser(users[i / 25] as string, meta));
      }
      await Promise.all(ops);
    } finally {
      writing = false;
      await Promise.allSettled([...ops, ...readers]);
    }
    const all = await drain(reader, start, 1000);
    const seqs = all.map((e) => BigInt(e.seq));
    expect(seqs.every((s, i) => i === 0 || s === (seqs[i - 1] as bigint) + 1n)).toBe(true);
    for (const seen of await Promise.all(readers)) {
      expect(seen.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    }
  });

  it("makes a writer wait behind one that holds an earlier seq, so the later seq is never visible first", async () => {
    const schema = newSchema();
    const store = make(schema);
    await store.open();
    const cursor = (await store.snapshot(T0)).cursor;
    // A transaction that has taken the next seq (as every store write does) and not committed yet.
    const { default: pgLib } = await import("pg");
    const slow = new pgLib.Client({ connectionString: pg.url });
    await slow.connect();
    try {
      await slow.query("BEGIN");
      const { rows } = await slow.query(
        `UPDATE "${schema}".state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq::text AS seq`,
      );
      const held = String(rows[0]?.seq);
      await slow.query(
        `INSERT INTO "${schema}".revocations (seq, kind, subject, expires_at, reason, actor, at)
         VALUES ($1, 'jti', 'slow-writer', $2, 'revoked', 'admin', $3)`,
        [held, T0 + TTL, T0],
      );
      let laterDone = false;
      const later = store.addRevocation(jti("later-writer")).then((e) => {
        laterDone = true;
        return e;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(laterDone).toBe(false);
      expect((await store.changes(cursor, { waitMs: 0, limit: 10 })).entries).toEqual([]);
      await slow.query("COMMIT");
      const entry = await later;
      expect(BigInt(entry?.seq ?? "0")).toBe(BigInt(held) + 1n);
      expect((await drain(store, cursor)).map((e) => e.subject)).toEqual(["slow-writer", "later-writer"]);
    } finally {
      await slow.end();
    }
  });

  it("keeps delivering when its LISTEN connection is killed, and listens again by itself", async () => {
    const schema = newSchema();
    const app = `jr-listen-${randomBytes(3).toString("hex")}`;
    const follower = make(schema, { applicationName: app });
    const writer = make(schema);
    await Promise.all([follower.open(), writer.open()]);
    let cursor = (await follower.snapshot(T0)).cursor;
    const kill = async () =>
      pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
        `${app}:listen`,
      ]);
    const listening = async () =>
      (await pg.sql("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [`${app}:listen`]))
        .length === 1;
    await eventually("listening", listening, 5_000);
    const written: string[] = [];
    const seen: string[] = [];
    for (let round = 0; round < 5; round++) {
      const pending = follower.changes(cursor, { waitMs: 10_000, limit: 100 });
      expect((await kill()).length).toBe(1);
      const subject = `round-${round}`;
      written.push(subject);
      await writer.addRevocation(jti(subject));
      const started = Date.now();
      const batch = await pending;
      // Well under the 10 s wait: the long poll re-checks by seq while it cannot hear NOTIFY.
      expect(Date.now() - started).toBeLessThan(5_000);
      seen.push(...batch.entries.map((e) => e.subject));
      cursor = batch.cursor;
      await eventually("listening again", listening, 5_000);
    }
    seen.push(...(await drain(follower, cursor)).map((e) => e.subject));
    expect(seen).toEqual(written);
    // Once it listens again a NOTIFY wakes a long poll well before its 10 s wait is over.
    const pending = follower.changes(cursor, { waitMs: 10_000, limit: 10 });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await writer.addRevocation(jti("after"));
    expect((await pending).entries.map((e) => e.subject)).toEqual(["after"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("logs a lost LISTEN connection once per outage, by SQLSTATE, never with the driver's message", async () => {
    const schema = newSchema();
    const app = `jr-log-${randomBytes(3).toString("hex")}`;
    const { warned, back, logger } = recordingLogger();
    const store = make(schema, { applicationName: app, logger });
    await store.open();
    const kill = async () =>
      (
        await pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [
          `${app}:listen`,
        ])
      ).length;
    for (let outage = 1; outage <= 2; outage++) {
      await eventually("listening", async () => (await kill()) === 1);
      await eventually("logged", async () => warned.length === outage);
      await eventually("listening again", async () => back.length === outage);
    }
    expect(warned).toHaveLength(2);
    for (const w of warned) {
      expect(w).toMatchObject({ store: "postgres", schema, what: "listen" });
      expect(String(w.error)).toMatch(/57P01/);
      expect(JSON.stringify(w)).not.toMatch(/administrator command/);
    }
  });

  it("migrates once when many nodes open a new schema at the same time", async () => {
    const schema = newSchema();
    const stores = Array.from({ length: 6 }, () => make(schema));
    await Promise.all(stores.map((s) => s.open()));
    const versions = await pg.sql(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6].map((version) => ({ version })));
    const epochs = new Set(await Promise.all(stores.map(async (s) => (await s.snapshot(T0)).epoch)));
    expect(epochs.size).toBe(1);
    // The server's outbox and status tables come with the schema: nothing is created on first use,
    // where nodes starting together could race on the catalog.
    const tables = await pg.sql(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema],
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining([
        "event_outbox",
        "event_receivers",
        "event_state",
        "status_entries",
        "status_lists",
      ]),
    );
  });

  it("keeps the outbox and status tables a store of the previous version created on first use", async () => {
    const schema = newSchema();
    const first = make(schema);
    await first.open();
    const outbox = eventOutboxFor(first);
    await outbox.setReceiver("client-a", "https://rp.example/events", T0);
    await first.close();
    // As the previous version left it: the tables there, migration 5 not recorded.
    await pg.sql(`DELETE FROM "${schema}".schema_migrations WHERE version = 5`);
    const store = make(schema);
    await store.open();
    expect(await eventOutboxFor(store).receivers()).toEqual([
      { clientId: "client-a", url: "https://rp.example/events", since: T0 },
    ]);
    const versions = await pg.sql(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
    expect(versions).toContainEqual({ version: 5 });
  });

  it("never reads a checkpoint mixed from two writes, while nodes keep writing new ones", async () => {
    const schema = newSchema();
    const writers = [make(schema), make(schema)];
    const reader = make(schema);
    await Promise.all([...writers, reader].map((s) => s.open()));
    let done = false;
    // Each checkpoint is one byte value over several chunks, its length telling the value apart.
    const write = async (w: Store, first: number) => {
      for (let i = first; i < 40; i += 2) {
        await w.writeCheckpoint?.({ takenAt: T0 + i, data: Buffer.alloc(3 * 16 * 1024 + i, i) });
      }
    };
    const reads: { takenAt: number; ok: boolean }[] = [];
    const read = async () => {
      while (!done) {
        const cp = await reader.readCheckpoint?.();
        if (!cp) continue;
        const data = Buffer.from(cp.data);
        const i = cp.takenAt - T0;
        reads.push({
          takenAt: cp.takenAt,
          ok: data.length === 3 * 16 * 1024 + i && data.every((b) => b === i),
        });
      }
    };
    const reading = read();
    await Promise.all([write(writers[0] as Store, 0), write(writers[1] as Store, 1)]);
    done = true;
    await reading;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => !r.ok)).toEqual([]);
    expect((await reader.readCheckpoint?.())?.takenAt).toBe(T0 + 39);
  });

  it("stores a checkpoint in chunks, and still reads one the previous version wrote in its row", async () => {
    const schema = newSchema();
    const store = make(schema);
    await store.open();
    const big = randomBytes(5 * 16 * 1024 + 7);
    expect(await store.writeCheckpoint?.({ takenAt: T0 + 10, data: big })).toBe(true);
    const chunks = await pg.sql(`SELECT i, length(data) AS n FROM "${schema}".checkpoint_chunks ORDER BY i`);
    expect(chunks.map((c) => Number(c.n))).toEqual([16384, 16384, 16384, 16384, 16384, 7]);
    expect(Buffer.from((await store.readCheckpoint?.())?.data ?? []).equals(big)).toBe(true);
    // A node of the previous version writes a newer one the old way: the row's data, chunks untouched.
    const old = randomBytes(1000);
    await pg.sql(`UPDATE "${schema}".checkpoint SET taken_at = $1, data = $2 WHERE id = 1`, [T0 + 20, old]);
    const read = await store.readCheckpoint?.();
    expect(read?.takenAt).toBe(T0 + 20);
    expect(Buffer.from(read?.data ?? []).equals(old)).toBe(true);
    // The next chunked write replaces it and drops the stale chunks.
    const next = randomBytes(20_000);
    expect(await store.writeCheckpoint?.({ takenAt: T0 + 30, data: next })).toBe(true);
    expect(Buffer.from((await store.readCheckpoint?.())?.data ?? []).equals(next)).toBe(true);
    const left = await pg.sql(`SELECT DISTINCT taken_at FROM "${schema}".checkpoint_chunks`);
    expect(left.map((r) => Number(r.taken_at))).toEqual([T0 + 30]);
    const row = await pg.sql(`SELECT length(data) AS n, chunks FROM "${schema}".checkpoint WHERE id = 1`);
    expect(row).toEqual([{ n: 0, chunks: 2 }]);
  });

  it("refuses to open a schema migrated by a newer version, with a clear message", async () => {
    const schema = newSchema();
    await make(schema).open();
    await pg.sql(`INSERT INTO "${schema}".schema_migrations (version) VALUES (999)`);
    const newer = make(schema);
    const error = await newer.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/version 999, newer than this revokit supports/);
  });

  it("reports a new epoch when the database lost its data, and when it went back in time", async () => {
    const schema = newSchema();
    const store = make(schema);
    await store.open();
    await store.addRevocation(jti());
    const before = await store.snapshot(T0);
    expect((await store.changes(before.cursor, { waitMs: 0, limit: 10 })).epoch).toBe(before.epoch);
    // Restored from an older backup: the feed is behind the cursor a node already holds.
    await pg.sql(`UPDATE "${schema}".state SET last_seq = 0`);
    expect((await store.changes(before.cursor, { waitMs: 0, limit: 10 })).epoch).not.toBe(before.epoch);
    // Wiped: the store recreates its schema with a new first-start marker.
    await pg.sql(`DROP SCHEMA "${schema}" CASCADE`);
    const batch = await store.changes(before.cursor, { waitMs: 0, limit: 10 });
    expect(batch.epoch).not.toBe(before.epoch);
    const after = await store.snapshot(T0);
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.entries).toEqual([]);
    expect(await store.addRevocation(jti())).not.toBeNull();
  });

  /** What a crash that lost the last acknowledged commits leaves: the entries after `keep` gone, the counter back. */
  async function loseAfter(schema: string, keep: string): Promise<void> {
    await pg.sql(
      `WITH gone AS (DELETE FROM "${schema}".revocations WHERE seq > $1::bigint)
       UPDATE "${schema}".state SET last_seq = $1::bigint,
         last_tag = (SELECT tag FROM "${schema}".revocations WHERE seq = $1::bigint)
       WHERE id = 1`,
      [keep],
    );
  }

  const seqOf = (cursor: string) => cursor.split(".")[0] as string;

  it("detects by identity a database that lost its last commits and gave their positions to new entries", async () => {
    const schema = newSchema();
    const writer = make(schema);
    const reader = make(schema);
    await Promise.all([writer.open(), reader.open()]);
    await writer.addRevocation(jti("kept"));
    const kept = await reader.snapshot(T0);
    expect(kept.cursor).toMatch(/^\d+\.[0-9a-f]{16}$/);
    await writer.addRevocation(jti("lost-1"));
    await writer.addRevocation(jti("lost-2"));
    const read = await reader.changes(kept.cursor, { waitMs: 0, limit: 10 });
    expect(read.entries.map((e) => e.subject)).toEqual(["lost-1", "lost-2"]);
    const past = read.cursor; // this reader has read the entries about to be lost
    const at = (cursor: string) => reader.changes(cursor, { waitMs: 0, limit: 10 });

    await loseAfter(schema, seqOf(kept.cursor));
    // Before any new entry: the position alone shows it.
    expect((await at(past)).epoch).not.toBe(kept.epoch);
    await writer.addRevocation(jti("new-1"));
    expect((await at(past)).epoch).not.toBe(kept.epoch);
    // The feed is back at the reader's position, with another entry there: the last tag differs.
    await writer.addRevocation(jti("new-2"));
    expect(seqOf((await writer.snapshot(T0)).cursor)).toBe(seqOf(past));
    const same = await at(past);
    expect(same.epoch).not.toBe(kept.epoch);
    expect(same.entries).toEqual([]);
    // Past the reader's position: the entry after it does not link to the reader's entry.
    const next = await writer.addRevocation({ ...jti("new-3"), expiresAt: T0 + 1 });
    await writer.addRevocation(jti("new-4"));
    expect((await at(past)).epoch).not.toBe(kept.epoch);
    // That entry purged: the reader's own position now holds another entry.
    expect(await writer.purge(T0 + 1)).toBeGreaterThan(0);
    expect(await pg.sql(`SELECT 1 FROM "${schema}".revocations WHERE seq = $1`, [next?.seq])).toEqual([]);
    expect((await at(past)).epoch).not.toBe(kept.epoch);

    // A reader that had not passed the lost entries follows the new history as usual.
    const before = await at(kept.cursor);
    expect(before.epoch).toBe(kept.epoch);
    expect(before.entries.map((e) => e.subject)).toEqual(["new-1", "new-2", "new-4"]);
    // A replica that lost its place re-snapshots and follows the feed again, without a new alarm.
    const fresh = await reader.snapshot(T0);
    expect(fresh.epoch).toBe(kept.epoch);
    await writer.addRevocation(jti("new-5"));
    const after = await at(fresh.cursor);
    expect(after.epoch).toBe(kept.epoch);
    expect(after.entries.map((e) => e.subject)).toEqual(["new-5"]);
  });

  it("keeps the hash chain exact under concurrent writers and never mistakes purging for lost data", async () => {
    const schema = newSchema();
    const writers = [make(schema), make(schema)];
    const reader = make(schema);
    await Promise.all([...writers, reader].map((s) => s.open()));
    const epoch = (await reader.snapshot(T0)).epoch;
    const meta = { reason: "logout", actor: "admin", at: T0, ttl: TTL };
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const w = writers[i % 2] as Store;
        return i % 8 === 0 ? w.cutOffUser(randomUUID(), meta) : w.addRevocation(jti());
      }),
    );
    const chain = await pg.sql(`SELECT seq, tag, prev_tag FROM "${schema}".revocations ORDER BY seq`);
    expect(chain).toHaveLength(40);
    for (const [i, row] of chain.entries()) {
      expect(row.tag).toMatch(/^[0-9a-f]{16}$/);
      if (i > 0) expect(row.prev_tag).toBe(chain[i - 1]?.tag);
    }
    const [state] = await pg.sql(`SELECT last_tag FROM "${schema}".state`);
    expect(state?.last_tag).toBe(chain.at(-1)?.tag);

    // A reader at entry A; then B (short-lived), C (long-lived), and the global cutoff.
    const short = (subject: string, expiresAt: number): NewRevocation => ({ ...jti(subject), expiresAt });
    const a = await writers[0]?.addRevocation(short("A", T0 + 2 * TTL));
    const cursorA = (await reader.snapshot(T0)).cursor;
    expect(seqOf(cursorA)).toBe(a?.seq);
    await writers[1]?.addRevocation(short("B", T0 + TTL));
    await writers[0]?.addRevocation(short("C", T0 + 10 * TTL));
    await writers[1]?.addRevocation({
      kind: "global",
      subject: "",
      cutoff: T0 + 5,
      expiresAt: Number.MAX_SAFE_INTEGER,
      reason: "admin",
      actor: "admin",
      at: T0 + 5,
    });
    const from = (cursor: string) => reader.changes(cursor, { waitMs: 0, limit: 10 });
    // B purged: the entry right after the reader is gone, A itself vouches for the reader's history.
    await writers[0]?.purge(T0 + TTL);
    const afterB = await from(cursorA);
    expect(afterB.epoch).toBe(epoch);
    expect(afterB.entries.map((e) => e.subject)).toEqual(["C", ""]);
    // A purged too: the chain cannot be checked at the reader's place, so it gets everything active again.
    await writers[0]?.purge(T0 + 2 * TTL);
    const resync = await from(cursorA);
    expect(resync.epoch).toBe(epoch);
    expect(resync.entries.map((e) => [e.kind, e.subject])).toEqual([
      ["jti", "C"],
      ["global", ""],
    ]);
    expect(resync.entries[1]?.cutoff).toBe(T0 + 5);
    expect(resync.cursor).toBe((await reader.snapshot(T0)).cursor);
    expect(await from(resync.cursor)).toEqual({ entries: [], cursor: resync.cursor, epoch });
    // The newest entry purged under a reader positioned on it: still the same history.
    await writers[0]?.purge(T0 + 10 * TTL);
    expect(await from(resync.cursor)).toEqual({ entries: [], cursor: resync.cursor, epoch });
    const d = await writers[1]?.addRevocation(jti("D"));
    expect(await from(resync.cursor)).toMatchObject({ entries: [d], epoch });
  });

  it("migrates an existing feed: untagged entries and cursors of the previous version read as before, and the chain starts", async () => {
    const schema = newSchema();
    const first = make(schema);
    await first.open();
    await first.addRevocation(jti("v1-a"));
    await first.addRevocation(jti("v1-b"));
    await first.close();
    // Back to the previous version's schema (version 1), as a database written by it would be.
    await pg.sql(
      `ALTER TABLE "${schema}".state DROP COLUMN last_tag, DROP COLUMN prev_last_tag;
       ALTER TABLE "${schema}".revocations DROP COLUMN tag, DROP COLUMN prev_tag;
       DELETE FROM "${schema}".schema_migrations WHERE version = 2`,
    );
    const store = make(schema);
    await store.open();
    const old = await store.changes("0", { waitMs: 0, limit: 10 });
    expect(old.entries.map((e) => e.subject)).toEqual(["v1-a", "v1-b"]);
    expect(old.cursor).toMatch(/^\d+$/);
    const snap = await store.snapshot(T0);
    expect(snap.cursor).toBe(old.cursor);
    await store.addRevocation(jti("v2-a"));
    const tagged = await store.changes(old.cursor, { waitMs: 0, limit: 10 });
    expect(tagged.entries.map((e) => e.subject)).toEqual(["v2-a"]);
    expect(tagged.cursor).toMatch(/^\d+\.[0-9a-f]{16}$/);
    expect(tagged.epoch).toBe(snap.epoch);

    // A node still on the previous version appends during a rolling upgrade: no tags, no alarm.
    await pg.sql(
      `WITH st AS (UPDATE "${schema}".state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq)
       INSERT INTO "${schema}".revocations (seq, kind, subject, cutoff, expires_at, reason, actor, at)
       SELECT last_seq, 'jti', 'old-node', NULL, $1, 'revoked', 'admin', $2 FROM st`,
      [T0 + TTL, T0],
    );
    const mixed = await store.changes(tagged.cursor, { waitMs: 0, limit: 10 });
    expect(mixed.entries.map((e) => e.subject)).toEqual(["old-node"]);
    expect(mixed.epoch).toBe(snap.epoch);
    const midSnap = await store.snapshot(T0);
    await store.addRevocation(jti("v2-b"));
    for (const cursor of [mixed.cursor, midSnap.cursor]) {
      const batch = await store.changes(cursor, { waitMs: 0, limit: 10 });
      expect(batch.entries.map((e) => e.subject)).toEqual(["v2-b"]);
      expect(batch.epoch).toBe(snap.epoch);
    }

    // From here on a lost history is recognised.
    const past = (await store.changes(mixed.cursor, { waitMs: 0, limit: 10 })).cursor;
    await loseAfter(schema, seqOf(mixed.cursor));
    await store.addRevocation(jti("other"));
    expect((await store.changes(past, { waitMs: 0, limit: 10 })).epoch).not.toBe(snap.epoch);
  });

  it("fails with ERR_STORE_UNAVAILABLE promptly while PostgreSQL is down and recovers by itself", async () => {
    const schema = newSchema();
    const store = make(schema);
    await store.open();
    const s = session();
    await store.createSession(s, randomBytes(32).toString("base64url"));
    await pg.stop();
    try {
      for (const call of [
        () => store.check({ sessionId: s.id }, T0),
        () => store.addRevocation(jti()),
        () => store.revokeSession(s.id, { reason: "logout", actor: "admin", at: T0, ttl: TTL }),
        () => store.changes("0", { waitMs: 1000, limit: 10 }),
      ]) {
        const started = Date.now();
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as StoreUnavailableError).code).toBe("ERR_STORE_UNAVAILABLE");
        expect(Date.now() - started).toBeLessThan(5_000);
      }
    } finally {
      await pg.start();
    }
    await eventually(
      "the store answers again",
      async () =>
        store.check({ sessionId: s.id }, T0).then(
          () => true,
          () => false,
        ),
      10_000,
    );
    expect(await store.revokeSession(s.id, { reason: "logout", actor: "admin", at: T0, ttl: TTL })).toBe(
      true,
    );
    expect((await store.check({ sessionId: s.id }, T0 + 1)).sessionRevoked).toBe(true);
  });

  it("fails to open promptly with ERR_STORE_UNAVAILABLE when nothing listens", async () => {
    const store = postgresStore({
      url: "postgresql://postgres@127.0.0.1:1/postgres",
      connectTimeout: "500ms",
    });
    const started = Date.now();
    const error = await store.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    await store.close();
  });

  it("purges expired rows by itself on its own timer", async () => {
    const schema = newSchema();
    const store = make(schema, { purgeInterval: "100ms" });
    await store.open();
    const now = Date.now();
    await store.addRevocation({ ...jti(), at: now - 2 * TTL, expiresAt: now - TTL });
    await store.addRevocation({ ...jti("live"), at: now, expiresAt: now + TTL });
    const count = async () =>
      Number((await pg.sql(`SELECT count(*) AS n FROM "${schema}".revocations`))[0]?.n);
    expect(await count()).toBe(2);
    await eventually("the expired entry is purged", async () => (await count()) === 1, 5_000);
    expect((await store.snapshot(now)).entries.map((e) => e.subject)).toEqual(["live"]);
  });

  it("logs a failing timed purge once until it works again", async () => {
    const schema = newSchema();
    const { warned, back, logger } = recordingLogger();
    const store = make(schema, { purgeInterval: "50ms", logger });
    await store.open();
    // A table the purge needs goes missing (and the schema is not recreated: its migrations are there).
    await pg.sql(`ALTER TABLE "${schema}".rate_limits RENAME TO rate_limits_away`);
    await eventually("the failure is logged", async () => warned.length > 0);
    await new Promise((r) => setTimeout(r, 300)); // several more failed purges
    expect(warned).toEqual([
      expect.objectContaining({
        store: "postgres",
        schema,
        what: "purge",
        error: expect.stringMatching(/42P01/),
      }),
    ]);
    await pg.sql(`ALTER TABLE "${schema}".rate_limits_away RENAME TO rate_limits`);
    await eventually("the recovery is logged", async () => back.some((b) => b.what === "purge"));
  });

  it("works on a pool it is given, follows the feed through it, and leaves it open on close", async () => {
    const { default: pgLib } = await import("pg");
    const pool = new pgLib.Pool({ connectionString: pg.url, max: 4 });
    try {
      const schema = newSchema();
      const store = postgresStore({ pool }, { schema, purgeInterval: 0 });
      const writer = make(schema);
      await Promise.all([store.open(), writer.open()]);
      const cursor = (await store.snapshot(T0)).cursor;
      const pending = store.changes(cursor, { waitMs: 10_000, limit: 10 });
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const entry = await writer.addRevocation(jti("via-pool"));
      expect((await pending).entries).toEqual([entry]);
      expect(Date.now() - started).toBeLessThan(5_000);
      await store.close();
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await expect(store.check({}, T0)).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await pool.end();
    }
  });

  it("checks its options", () => {
    const url = pg.url;
    expect(() => postgresStore({ url, schema: "Bad-Name" })).toThrow(ConfigInvalidError);
    expect(() => postgresStore({ url, schema: "x; DROP TABLE y" })).toThrow(ConfigInvalidError);
    expect(() => postgresStore({ url: "" })).toThrow(ConfigInvalidError);
    expect(() => postgresStore({} as never)).toThrow(ConfigInvalidError);
    expect(() => postgresStore({ url, queryTimeout: 0 })).toThrow(ConfigInvalidError);
    expect(() => postgresStore({ url }, { purgeInterval: -1 })).toThrow(ConfigInvalidError);
  });
});
