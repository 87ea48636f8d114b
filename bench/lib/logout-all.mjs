// Section 7: the user grain. Logout-all for a user holding `sessions` sessions is one constant-size
// store write (the user's cutoff), timed on the store itself while another node keeps verifying in
// strict mode (every call asks the store) to show it stalls nobody; and refresh throughput when every
// rotation is redeemed by several callers at once (tabs, parallel requests), none of which may fail.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { createAuth } from "../../dist/index.js";
import { sessionRecord } from "../../test/helpers/records.mjs";
import { AUTH_OPTIONS, log, percentile } from "./common.mjs";
import { openStore } from "./stores.mjs";

const DAY = 86_400_000;
const hash = () => createHash("sha256").update(randomBytes(32)).digest("base64url");

function session(userId, at, i) {
  return sessionRecord({
    id: `lo-${randomUUID()}`,
    userId,
    createdAt: at + (i % 1000),
    lastUsedAt: at,
    expiresAt: at + 30 * DAY,
    idleExpiresAt: at + 7 * DAY,
  });
}

/** SQLite: the sessions and their first refresh tokens in one transaction, as the store writes them. */
function seedSqlite(target, userId, base, count) {
  const db = new Database(target.path);
  try {
    db.pragma("busy_timeout = 10000");
    const s = db.prepare(
      `INSERT INTO sessions (id, user_id, client_id, created_at, last_used_at, expires_at, idle_expires_at,
         generation, purge_after) VALUES (?, ?, 'default', ?, ?, ?, ?, 0, ?)`,
    );
    const t = db.prepare("INSERT INTO refresh_tokens (hash, session_id, generation) VALUES (?, ?, 0)");
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        const x = session(userId, base, i);
        s.run(x.id, userId, x.createdAt, x.lastUsedAt, x.expiresAt, x.idleExpiresAt, x.expiresAt);
        t.run(hash(), x.id);
      }
    })();
  } finally {
    db.close();
  }
}

/** PostgreSQL: one INSERT ... SELECT over generate_series. */
async function seedPostgres(target, userId, base, count) {
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  const s = target.schema;
  try {
    await client.query(
      `INSERT INTO ${s}.sessions (id, user_id, client_id, created_at, last_used_at, expires_at, idle_expires_at, generation)
       SELECT 'lo-' || $1 || '-' || g, $1, 'default', $2::bigint + (g % 1000), $2::bigint, $2::bigint + $3::bigint,
              $2::bigint + $4::bigint, 0
       FROM generate_series(1, $5::bigint) AS g`,
      [userId, base, 30 * DAY, 7 * DAY, count],
    );
    await client.query(
      `INSERT INTO ${s}.refresh_tokens (hash, session_id, generation)
       SELECT md5(id || ':rt'), id, 0 FROM ${s}.sessions WHERE user_id = $1`,
      [userId],
    );
    await client.query(`ANALYZE ${s}.sessions`);
  } finally {
    await client.end();
  }
}

/**
 * Seeds `sessions` sessions of one user, then times `rounds` logout-alls (each a later cutoff) on the
 * store while a second node verifies continuously with `strict` (a store round trip per call).
 * Returns { writeMs: {p50, p99, max}, feedEntries, verifies, unavailable, verifyP99Ms, seeded }.
 */
export async function benchLogoutAll(kind, target, { sessions, rounds }) {
  const seeder = await openStore(
    kind,
    kind === "sqlite" ? { ...target, options: { synchronous: "normal" } } : target,
  );
  await seeder.open();
  const userId = `bulk-${randomUUID()}`;
  const base = Date.now() - 60_000;
  try {
    log(`logout-all: ${kind}, seeding ${sessions.toLocaleString("en-US")} sessions`);
    // The store's own createSession for one and for the in-memory and Redis stores; in bulk for SQL.
    await seeder.createSession(session(userId, base, 0), hash());
    if (kind === "sqlite") seedSqlite(target, userId, base, sessions - 1);
    else if (kind === "postgres") await seedPostgres(target, userId, base, sessions - 1);
    else {
      let next = 1;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < sessions) {
            const i = next++;
            await seeder.createSession(session(userId, base, i), hash());
          }
        }),
      );
    }
  } finally {
    if (kind !== "memory") await seeder.close();
  }
  const writer = kind === "memory" ? seeder : await openStore(kind, target);
  const other = await createAuth({
    ...AUTH_OPTIONS,
    store: kind === "memory" ? seeder : await openStore(kind, target),
  });
  if (kind !== "memory") await writer.open();
  try {
    const bystander = await other.login(`bystander-${randomUUID()}`);
    let stop = false;
    let verifies = 0;
    let unavailable = 0;
    const latencies = [];
    const watcher = (async () => {
      while (!stop) {
        const t0 = performance.now();
        try {
          await other.verify(bystander.accessToken, { strict: true });
          verifies++;
        } catch (error) {
          if (error?.code === "ERR_REVOCATION_UNAVAILABLE" || error?.code === "ERR_STORE_UNAVAILABLE")
            unavailable++;
          else throw error;
        }
        latencies.push(performance.now() - t0);
        // An in-memory store answers in microtasks: let timers (and the logout-alls) run.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const { cursor } = await writer.snapshot(Date.now());
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const at = Date.now() + r;
      const meta = { reason: "logout_all", actor: "bench", at, ttl: 31 * DAY };
      const t0 = performance.now();
      await writer.cutOffUser(userId, meta);
      times.push(performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stop = true;
    await watcher;
    const { entries } = await writer.changes(cursor, { waitMs: 0, limit: 10_000 });
    const live = await writer.listUserSessions(userId, Date.now());
    if (live.length !== 0) throw new Error(`${live.length} sessions survived the logout-all`);
    const { user } = await writer.check({ userId }, Date.now());
    if (!user || user.cutoff < base + 999) throw new Error("the cutoff does not cover the seeded sessions");
    return {
      writeMs: { p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) },
      feedEntries: entries.filter((e) => e.subject === userId).length / rounds,
      verifies,
      unavailable,
      verifyP99Ms: percentile(latencies, 99),
      seeded: sessions,
    };
  } finally {
    await other.close();
    if (kind !== "memory") await writer.close();
  }
}

/**
 * Refresh throughput when each rotation is redeemed by `parallel` callers at once with the same token
 * (all must succeed: one moves the chain on, the others get tokens of the same generation), over
 * `chains` sessions for `seconds`. Returns { perSecond, failures }.
 */
export async function benchConcurrentRefresh(kind, target, { seconds, chains = 16, parallel = 4 }) {
  const auth = await createAuth({ ...AUTH_OPTIONS, store: await openStore(kind, target) });
  try {
    log(`refresh with ${parallel} concurrent redemptions: ${kind}`);
    const tokens = (await Promise.all(Array.from({ length: chains }, (_, i) => auth.login(`conc-${i}`)))).map(
      (t) => t.refreshToken,
    );
    let redemptions = 0;
    let failures = 0;
    const run = async (ms) => {
      const end = performance.now() + ms;
      await Promise.all(
        tokens.map(async (_, i) => {
          while (performance.now() < end) {
            const results = await Promise.allSettled(
              Array.from({ length: parallel }, () => auth.refresh(tokens[i])),
            );
            for (const r of results) {
              if (r.status === "fulfilled") redemptions++;
              else failures++;
            }
            const ok = results.find((r) => r.status === "fulfilled");
            if (!ok) throw new Error(`a chain broke: ${results[0]?.reason?.code}`);
            tokens[i] = ok.value.refreshToken;
          }
        }),
      );
    };
    await run(300);
    redemptions = 0;
    const start = performance.now();
    await run(seconds * 1000);
    return { perSecond: (redemptions / (performance.now() - start)) * 1000, failures };
  } finally {
    await auth.close();
  }
}
