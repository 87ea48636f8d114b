/**
 * The Redis change feed against a real redis-server: a node's stream connection killed (CLIENT KILL)
 * while revocations happen, Redis losing its data (restart without persistence, FLUSHALL), trimming
 * with resynchronisation, and the TTLs of the data model.
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../../src/auth.js";
import type { Store } from "../../src/stores/contract.js";
import { encodeKeyPart, redisStore } from "../../src/stores/redis/index.js";
import { eventually } from "../helpers/eventually.js";
import { sessionRecord } from "../helpers/records.mjs";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const quiet = { warn: () => undefined, error: () => undefined };

const server: RedisServer | undefined = await startRedis();
const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const x of open.reverse()) await x.close().catch(() => undefined);
  await server?.stop();
});

function prefix(): string {
  return `f${randomBytes(5).toString("hex")}:`;
}

async function node(url: string, p: string, maxStaleness = "1s", keyRefreshInterval = "1h"): Promise<Auth> {
  const auth = await createAuth({
    issuer: "https://issuer.test",
    audience: "api",
    store: redisStore({ url }, { prefix: p, logger: quiet, commandTimeout: "1s" }),
    maxStaleness,
    keyRefreshInterval,
    purgeInterval: 0,
    logger: quiet,
  });
  open.push(auth);
  return auth;
}

async function code(auth: Auth, token: string): Promise<string> {
  try {
    await auth.verify(token);
    return "valid";
  } catch (error) {
    return (error as { code?: string }).code ?? "?";
  }
}

/** Ids of the feed connections (named by the store) currently connected. */
async function feedConnections(s: RedisServer): Promise<string[]> {
  const list = await s.cli("CLIENT", "LIST");
  return list
    .split("\n")
    .filter((line) => / name=revokit-feed /.test(` ${line} `))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1] ?? "")
    .filter(Boolean);
}

describe.skipIf(!server)(`redis feed ${server ? "" : `(${redisUnavailableReason})`}`, () => {
  it("a node whose stream connection is killed while revocations happen has every one in force after it reconnects", async () => {
    if (!server) return;
    const p = prefix();
    const revoker = await node(server.url, p);
    const watcher = await node(server.url, p);
    const sessions = await Promise.all(Array.from({ length: 24 }, (_, i) => revoker.login(`user-kill-${i}`)));
    for (const t of sessions) expect(await code(watcher, t.accessToken)).toBe("valid");

    const before = new Set(await feedConnections(server));
    expect(before.size).toBeGreaterThanOrEqual(2);
    // Revoke one by one while the feed connections are killed again and again.
    for (const [i, t] of sessions.entries()) {
      if (i % 3 === 0)
        for (const id of await feedConnections(server)) await server.cli("CLIENT", "KILL", "ID", id);
      if (i % 2 === 0) await revoker.logout(t.sessionId);
      else await revoker.revokeAccessToken(t.accessToken);
    }
    // Reconnected: fresh feed connections (new ids) are back.
    await eventually("the feed connections reconnect", async () => {
      const now = await feedConnections(server);
      return now.length >= before.size && now.every((id) => !before.has(id));
    });
    await eventually(
      "the watcher is fresh again",
      () => watcher.isFresh() && watcher.status().replica.lastError === null,
    );
    // Fresh means confirmed within maxStaleness, not caught up this instant: every revocation must
    // arrive within the bound (generous here: the machine may be loaded), none may be lost.
    const expected = sessions.map((_, i) => (i % 2 === 0 ? "ERR_SESSION_REVOKED" : "ERR_TOKEN_REVOKED"));
    let seen: string[] = [];
    await eventually("every revocation is in force on the watcher", async () => {
      seen = await Promise.all(sessions.map((t) => code(watcher, t.accessToken)));
      return seen.every((c, i) => c === expected[i]);
    }).catch(() => expect(seen).toEqual(expected));
    // And the reconnected feed carries new revocations.
    const fresh = await revoker.login("user-kill-after");
    expect(await code(watcher, fresh.accessToken)).toBe("valid");
    await revoker.logout(fresh.sessionId);
    await eventually(
      "a new revocation arrives",
      async () => (await code(watcher, fresh.accessToken)) === "ERR_SESSION_REVOKED",
    );
  });

  it("resumes a long poll's cursor across a killed connection without losing or repeating entries", async () => {
    if (!server) return;
    const p = prefix();
    const reader = redisStore({ url: server.url }, { prefix: p, logger: quiet });
    const writer = redisStore({ url: server.url }, { prefix: p, logger: quiet });
    open.push(reader, writer);
    await reader.open();
    await writer.open();
    let cursor = (await reader.snapshot(0)).cursor;
    const written: string[] = [];
    const read: string[] = [];
    for (let round = 0; round < 5; round++) {
      const pending = reader.changes(cursor, { waitMs: 3_000, limit: 100 }).catch(() => null);
      await new Promise((r) => setTimeout(r, 30));
      for (const id of await feedConnections(server)) await server.cli("CLIENT", "KILL", "ID", id);
      for (let i = 0; i < 3; i++) {
        const jti = `jti-${round}-${i}`;
        written.push(jti);
        await writer.addRevocation({
          kind: "jti",
          subject: jti,
          expiresAt: Date.now() + 60_000,
          reason: "r",
          actor: "t",
          at: Date.now(),
        });
      }
      const batch = await pending;
      if (batch) {
        read.push(...batch.entries.map((e) => e.subject));
        cursor = batch.cursor;
      }
      for (;;) {
        const more = await reader.changes(cursor, { waitMs: 0, limit: 2 });
        if (more.entries.length === 0) break;
        read.push(...more.entries.map((e) => e.subject));
        cursor = more.cursor;
      }
    }
    expect(read).toEqual(written);
  });

  it("after Redis restarts without its data, every token issued before is refused on every node, and logins work again", async () => {
    const volatile = await startRedis();
    if (!volatile) return;
    open.push({ close: () => volatile.stop() });
    const p = prefix();
    // a keeps its signing keys in memory for the whole test, so the old token still passes its signature
    // check there and is refused by the cutoff alone; b reloads keys often, like a real node.
    const a = await node(volatile.url, p, "500ms", "1h");
    const b = await node(volatile.url, p, "500ms", "200ms");
    const before = await a.login("user-loss");
    expect(await code(b, before.accessToken)).toBe("valid");
    const epoch = a.status().replica.epoch;

    await volatile.restart(); // kill -9 and start again: no AOF, no RDB, so the data (and the marker) is gone
    for (const n of [a, b])
      await eventually("the node detects the data loss", () => n.status().replica.epoch !== epoch);
    await eventually(
      "the cutoff refuses the old token",
      async () => (await code(a, before.accessToken)) === "ERR_TOKEN_REVOKED",
    );
    // On b the old token is refused too (by the cutoff, or because its signing key went with the data).
    expect(["ERR_TOKEN_REVOKED", "ERR_TOKEN_INVALID"]).toContain(await code(b, before.accessToken));
    expect(a.status().replica.epoch).toBe(b.status().replica.epoch);
    const cutoff = a.status().replica.globalCutoff;
    expect(cutoff).toBeGreaterThan(0);
    // Users log in again (b publishes a new signing key: the old one went with the data), and the new
    // tokens work on every node.
    await eventually("a login after the loss is accepted everywhere", async () => {
      const t = await b.login("user-loss").catch(() => null);
      return (
        t !== null &&
        (await Promise.all([a, b].map((n) => code(n, t.accessToken)))).every((r) => r === "valid")
      );
    });
    // The cutoff is recorded in Redis too: a node started now knows it.
    const c = await node(volatile.url, p, "500ms", "200ms");
    expect(c.status().replica.globalCutoff).toBeGreaterThanOrEqual(cutoff);
    expect(await code(c, before.accessToken)).not.toBe("valid");
    expect(await code(c, (await b.login("user-loss")).accessToken)).toBe("valid");

    // FLUSHALL while the nodes are connected is a data loss too.
    const after = await b.login("user-loss");
    const epoch2 = b.status().replica.epoch;
    await new Promise((r) => setTimeout(r, 1_100)); // the next cutoff falls in a later second
    await volatile.cli("FLUSHALL");
    for (const n of [a, b, c]) {
      await eventually("the node detects FLUSHALL", () => n.status().replica.epoch !== epoch2);
      expect(["ERR_TOKEN_REVOKED", "ERR_TOKEN_INVALID"]).toContain(await code(n, after.accessToken));
    }
    expect(b.status().replica.globalCutoff).toBeGreaterThan(cutoff);
  });

  it("trims the stream to its retention; a reader further behind gets the active entries again, nothing lost", async () => {
    if (!server) return;
    const store: Store = redisStore(
      { url: server.url },
      { prefix: prefix(), logger: quiet, feedRetention: "1s" },
    );
    open.push(store);
    await store.open();
    const now = Date.now();
    const start = (await store.snapshot(now)).cursor;
    const first = await store.addRevocation({
      kind: "jti",
      subject: "old",
      expiresAt: now + 60_000,
      reason: "r",
      actor: "t",
      at: now,
    });
    await store.addRevocation({
      kind: "global",
      subject: "",
      cutoff: now - 5_000,
      expiresAt: now,
      reason: "r",
      actor: "t",
      at: now,
    });
    const expired = await store.addRevocation({
      kind: "jti",
      subject: "gone",
      expiresAt: now + 1,
      reason: "r",
      actor: "t",
      at: now,
    });
    expect(first && expired).toBeTruthy();
    await new Promise((r) => setTimeout(r, 1_200));
    const next = await store.addRevocation({
      kind: "jti",
      subject: "new",
      expiresAt: now + 60_000,
      reason: "r",
      actor: "t",
      at: Date.now(),
    });
    // The old entries left the stream: a reader that had read them all just goes on...
    const caughtUp = await store.changes(expired?.seq ?? "", { waitMs: 0, limit: 100 });
    expect(caughtUp.entries.map((e) => e.subject)).toEqual(["new"]);
    // ...so a reader from before them is resynchronised: every active entry and the cutoff, then the head.
    const behind = await store.changes(start, { waitMs: 0, limit: 100 });
    const subjects = behind.entries
      .map((e) => (e.kind === "global" ? `global:${e.cutoff}` : e.subject))
      .sort();
    expect(subjects).toEqual(["global:" + (now - 5_000), "new", "old"].sort());
    expect(behind.cursor).toBe(next?.seq);
    expect((await store.changes(behind.cursor, { waitMs: 0, limit: 100 })).entries).toEqual([]);
  });

  it("gives every revocation record a TTL of the remaining life it covers, and sessions one of theirs", async () => {
    if (!server) return;
    const p = prefix();
    const store = redisStore({ url: server.url }, { prefix: p, logger: quiet });
    open.push(store);
    await store.open();
    const at = Date.UTC(2025, 0, 1);
    const minute = 60_000;
    await store.addRevocation({
      kind: "jti",
      subject: "j{1}",
      expiresAt: at + 5 * minute,
      reason: "r",
      actor: "t",
      at,
    });
    const jtiTtl = Number(await server.cli("PTTL", `${p}{g}:r:${encodeKeyPart("j:j{1}")}`));
    expect(jtiTtl).toBeGreaterThan(5 * minute - 5_000);
    expect(jtiTtl).toBeLessThanOrEqual(6 * minute);

    const userId = "user {weird}:é";
    const session = sessionRecord({ id: "sid:{x}", userId, at, ttl: 30 * minute });
    expect(await store.createSession(session, "hash-1")).toBe("created");
    const sessionKey = `${p}{u:${encodeKeyPart(userId)}}:s:${encodeKeyPart(session.id)}`;
    const sessionTtl = Number(await server.cli("PTTL", sessionKey));
    expect(sessionTtl).toBeGreaterThan(30 * minute - 5_000);
    expect(sessionTtl).toBeLessThanOrEqual(31 * minute);
    expect(Number(await server.cli("PTTL", `${p}sid:${encodeKeyPart(session.id)}`))).toBeGreaterThan(
      30 * minute - 5_000,
    );
    expect(Number(await server.cli("PTTL", `${p}rt:hash-1`))).toBeGreaterThan(30 * minute - 5_000);
    // A revocation keeps the session record at least as long as its access tokens can live.
    await store.revokeSession(session.id, {
      reason: "logout",
      actor: "t",
      at: at + minute,
      ttl: 90 * minute,
    });
    expect(Number(await server.cli("PTTL", sessionKey))).toBeGreaterThan(90 * minute - 5_000);
    const sessionEntryTtl = Number(await server.cli("PTTL", `${p}{g}:r:${encodeKeyPart(`s:${session.id}`)}`));
    expect(sessionEntryTtl).toBeGreaterThan(90 * minute - 5_000);
    expect(sessionEntryTtl).toBeLessThanOrEqual(91 * minute);
    // Odd ids survive the key encoding both ways.
    expect((await store.getSession(session.id))?.revokedAt).toBe(at + minute);
    expect((await store.listUserSessions(userId, at + 2 * minute)).length).toBe(0);
    expect((await store.check({ jti: "j{1}", sessionId: session.id }, at + 2 * minute)).jtiRevoked).toBe(
      true,
    );
  });
});
