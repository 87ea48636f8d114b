// Section 5: cold start of a node joining a store that holds 1,000,000 active revocations: a new
// process runs createAuth (open the store, load keys, load the replica's snapshot) and verifies one
// token; the figure is the time from the start of createAuth to the end of that verify.
//
// Seeding 1M revocations through `addRevocation` one by one would take minutes on SQL stores, so
// SQLite and PostgreSQL are filled with one bulk statement shaped exactly like the rows
// `addRevocation` writes (kind `jti`, a 128-bit id, an expiry, reason and actor); Redis is filled
// through the store itself, many calls in flight.
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { createAuth } from "../../dist/index.js";
import { AUDIENCE, ISSUER, idFor, log, QUIET, startChild } from "./common.mjs";
import { openStore } from "./stores.mjs";

const NODE = fileURLToPath(new URL("./node.mjs", import.meta.url));

async function seedRedis(target, count, expiresAt, at) {
  const store = await openStore("redis", target);
  await store.open();
  try {
    let inFlight = [];
    for (let i = 0; i < count; i++) {
      inFlight.push(
        store.addRevocation({
          kind: "jti",
          subject: idFor(41, i),
          expiresAt,
          reason: "bench",
          actor: "bench",
          at,
        }),
      );
      if (inFlight.length === 256) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
}

function seedSqlite(target, count, expiresAt, at) {
  const db = new Database(target.path);
  try {
    db.pragma("busy_timeout = 10000");
    const insert = db.prepare(
      "INSERT INTO revocations (kind, subject, cutoff, expires_at, reason, actor, at) VALUES ('jti', ?, NULL, ?, 'bench', 'bench', ?)",
    );
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(idFor(42, i), expiresAt, at);
    })();
  } finally {
    db.close();
  }
}

async function seedPostgres(target, count, expiresAt, at) {
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  const s = target.schema;
  try {
    await client.query("BEGIN");
    // The feed's seq comes from the counter row, as the store's own inserts take it.
    await client.query(
      `WITH st AS (UPDATE ${s}.state SET last_seq = last_seq + $1::bigint WHERE id = 1 RETURNING last_seq)
       INSERT INTO ${s}.revocations (seq, kind, subject, cutoff, expires_at, reason, actor, at)
       SELECT st.last_seq - $1::bigint + g, 'jti',
              translate(rtrim(encode(decode(md5(g::text || ':bench'), 'hex'), 'base64'), '='), '+/', '-_'),
              NULL, $2::bigint, 'bench', 'bench', $3::bigint
       FROM st, generate_series(1, $1::bigint) AS g`,
      [count, expiresAt, at],
    );
    await client.query(
      `INSERT INTO ${s}.revoked_jtis (jti, expires_at)
       SELECT subject, expires_at FROM ${s}.revocations WHERE kind = 'jti' AND reason = 'bench'
       ON CONFLICT (jti) DO NOTHING`,
    );
    await client.query("COMMIT");
    await client.query(`ANALYZE ${s}.revocations`);
  } finally {
    await client.end();
  }
}

/**
 * Returns `{ ms, createdMs, loadedMs, tokens, seedSeconds, full }`: a node joining after a running
 * node wrote a checkpoint, and (`full`) the first node, which joined before any checkpoint existed.
 */
export async function benchColdStart(kind, target, count) {
  // A node creates the schema and the keys, and mints the token the newcomer will verify.
  const first = await createAuth({
    issuer: ISSUER,
    audience: AUDIENCE,
    store: await openStore(kind, target),
    purgeInterval: 0,
    logger: QUIET,
  });
  const { accessToken } = await first.login("cold-start");
  await first.close();
  log(`cold start: seeding ${kind} with ${count.toLocaleString("en-US")} revocations`);
  const seedStart = performance.now();
  const now = Date.now();
  const seed = { redis: seedRedis, sqlite: seedSqlite, postgres: seedPostgres }[kind];
  await seed(target, count, now + 3_600_000, now);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  // The first node to join finds no checkpoint and reads every revocation; it then writes a
  // checkpoint, as running nodes do on an interval, and the next node to join loads that.
  const join = async (expected) => {
    log(`cold start: ${kind}, a new node joins (${expected})`);
    const node = await startChild(NODE, { kind, target, token: accessToken });
    const result = await node.call("coldStart");
    if (result.tokens < count)
      throw new Error(`${kind}: the new node holds ${result.tokens} revocations, not ${count}`);
    if (result.loadedFrom !== expected)
      throw new Error(`${kind}: the new node loaded from ${result.loadedFrom}, not from ${expected}`);
    return { node, result };
  };
  const full = await join("snapshot");
  try {
    const written = await full.node.call("checkpoint");
    if (!written) throw new Error(`${kind}: the checkpoint was not written`);
  } finally {
    await full.node.call("close").catch(() => undefined);
    await full.node.stop();
  }
  const fromCheckpoint = await join("checkpoint");
  await fromCheckpoint.node.call("close").catch(() => undefined);
  await fromCheckpoint.node.stop();
  return { ...fromCheckpoint.result, full: full.result, seedSeconds };
}
