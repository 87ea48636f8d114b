/**
 * What is specific to Redis Cluster: a revocation cannot write the session (user slot) and the feed
 * (global slot) in one script, so it goes intent, revoke, publish. These tests stop a revocation
 * half-way, as a node dying would, and check that nothing is lost; and run two nodes on the cluster.
 */
import { Cluster } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { type Auth, createAuth } from "../../src/auth.js";
import type { SessionRecord } from "../../src/core/model.js";
import { encodeKeyPart, redisStore } from "../../src/stores/redis/index.js";
import { INTENT_ADD } from "../../src/stores/redis/lua/feed.js";
import { REVOKE } from "../../src/stores/redis/lua/sessions.js";
import { CUT_USER } from "../../src/stores/redis/lua/user-cutoff.js";
import { sessionRecord } from "../helpers/records.mjs";
import { type RedisCluster, redisUnavailableReason, startRedisCluster } from "../helpers/redis-server.js";

const cluster: RedisCluster | undefined = await startRedisCluster();
afterAll(() => cluster?.stop());

const quiet = { warn: () => undefined, error: () => undefined };
const T0 = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;

function session(id: string, userId: string): SessionRecord {
  return sessionRecord({ id, userId, at: T0, ttl: 60 * MINUTE, userAgent: "ua", ip: "203.0.113.9" });
}

describe.skipIf(!cluster)(`redis cluster ${cluster ? "" : `(${redisUnavailableReason})`}`, () => {
  it("completes a revocation whose node died after revoking and before publishing", async () => {
    if (!cluster) return;
    const prefix = "dead:";
    const store = redisStore({ nodes: cluster.nodes }, { prefix, logger: quiet });
    const raw = new Cluster(cluster.nodes);
    try {
      await store.open();
      const userId = "user {with}: odd id";
      const victim = session("sid-victim", userId);
      const bystander = session("sid-bystander", userId);
      await store.createSession(victim, "hash-victim");
      await store.createSession(bystander, "hash-bystander");
      const cursor = (await store.snapshot(T0)).cursor;

      // What a node does before it dies: an intent next to the feed, then the revocation in the user's
      // slot (deferred: the session is marked unpublished), and nothing more.
      const G = `${prefix}{g}:`;
      const U = `${prefix}{u:${encodeKeyPart(userId)}}:`;
      const common = ["deferred", G, String(15 * MINUTE), String(MINUTE)];
      const intent = JSON.stringify({ u: userId, e: null, s: encodeKeyPart(victim.id), n: "dead-node" });
      await raw.eval(INTENT_ADD, 1, `${G}pending`, ...common, intent);
      await raw.zadd(`${G}pending`, "XX", "1", intent); // recorded long ago
      const at = T0 + MINUTE;
      const ttl = 15 * MINUTE;
      const args = [
        "one",
        encodeKeyPart(victim.id),
        "0",
        String(at),
        "logout",
        "dead-node",
        String(ttl),
        userId,
        U,
        "0",
      ];
      await raw.eval(REVOKE, 2, `${U}idx`, `${U}dis`, ...common, ...args);

      // Not in the feed yet, but the store's point lookup reads the session itself.
      expect((await store.changes(cursor, { waitMs: 0, limit: 10 })).entries).toEqual([]);
      expect((await store.check({ sessionId: victim.id }, at + 1)).sessionRevoked).toBe(true);
      expect((await store.check({ sessionId: bystander.id }, at + 1)).sessionRevoked).toBe(false);

      // Any live node completes it (purge runs the reconciliation; a background timer does too).
      await store.purge(at);
      const { entries } = await store.changes(cursor, { waitMs: 0, limit: 10 });
      expect(entries.map(({ seq: _seq, ...e }) => e)).toEqual([
        {
          kind: "session",
          subject: victim.id,
          expiresAt: at + ttl,
          reason: "logout",
          actor: "dead-node",
          at,
        },
      ]);
      expect(await raw.zcard(`${G}pending`)).toBe(0);
      expect((await store.snapshot(at)).entries.map((e) => e.subject)).toEqual([victim.id]);
      // Published exactly once: a retry of the revocation records nothing more.
      expect(await store.revokeSession(victim.id, { reason: "logout", actor: "retry", at, ttl })).toBe(false);
      expect((await store.changes(entries[0]?.seq ?? cursor, { waitMs: 0, limit: 10 })).entries).toEqual([]);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it("completes a user cutoff whose node died after writing it and before publishing", async () => {
    if (!cluster) return;
    const prefix = "deadcut:";
    const store = redisStore({ nodes: cluster.nodes }, { prefix, logger: quiet });
    const raw = new Cluster(cluster.nodes);
    try {
      await store.open();
      const userId = "user {cut}: odd id";
      const keep = session("sid-keep", userId);
      const gone = session("sid-gone", userId);
      await store.createSession(keep, "hash-keep");
      await store.createSession(gone, "hash-gone");
      const cursor = (await store.snapshot(T0)).cursor;
      const G = `${prefix}{g}:`;
      const U = `${prefix}{u:${encodeKeyPart(userId)}}:`;
      const common = ["deferred", G, String(15 * MINUTE), String(MINUTE)];
      const at = T0 + MINUTE;
      const intent = JSON.stringify({
        u: userId,
        e: [userId, "", "password_change", "dead-node", String(at)],
        s: null,
        n: "x",
      });
      await raw.eval(INTENT_ADD, 1, `${G}pending`, ...common, intent);
      await raw.zadd(`${G}pending`, "XX", "1", intent);
      const keys = [`${U}dis`, `${U}cut`, `${U}s:${encodeKeyPart(keep.id)}`, `${U}idx`];
      const args = ["0", String(at), "password_change", "dead-node", String(60 * MINUTE), userId, keep.id];
      await raw.eval(CUT_USER, 4, ...keys, ...common, ...args);
      // In force at once in the store, before any feed entry.
      expect((await store.listUserSessions(userId, at + 1)).map((x) => x.id)).toEqual([keep.id]);
      expect((await store.changes(cursor, { waitMs: 0, limit: 10 })).entries).toEqual([]);
      await store.purge(at);
      const { entries } = await store.changes(cursor, { waitMs: 0, limit: 10 });
      expect(entries.map(({ seq: _seq, ...e }) => e)).toEqual([
        {
          kind: "user",
          subject: userId,
          cutoff: at,
          exceptSessionId: keep.id,
          expiresAt: at + 60 * MINUTE,
          reason: "password_change",
          actor: "dead-node",
          at,
        },
      ]);
      expect(await raw.zcard(`${G}pending`)).toBe(0);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it("publishes on retry when the node survived but lost Redis between revoking and publishing", async () => {
    if (!cluster) return;
    const prefix = "retry:";
    const store = redisStore({ nodes: cluster.nodes }, { prefix, logger: quiet });
    const raw = new Cluster(cluster.nodes);
    try {
      await store.open();
      const userId = "user-retry";
      const s = session("sid-retry", userId);
      await store.createSession(s, "hash-retry");
      const cursor = (await store.snapshot(T0)).cursor;
      const G = `${prefix}{g}:`;
      const U = `${prefix}{u:${encodeKeyPart(userId)}}:`;
      const at = T0 + MINUTE;
      const args = [
        "one",
        encodeKeyPart(s.id),
        "0",
        String(at),
        "logout",
        "first-try",
        String(MINUTE),
        userId,
        U,
        "0",
      ];
      await raw.eval(
        REVOKE,
        2,
        `${U}idx`,
        `${U}dis`,
        "deferred",
        G,
        String(15 * MINUTE),
        String(MINUTE),
        ...args,
      );
      // The caller saw an error and retries: the retry publishes the first attempt's revocation.
      expect(
        await store.revokeSession(s.id, { reason: "logout", actor: "retry", at: at + 5, ttl: MINUTE }),
      ).toBe(true);
      const { entries } = await store.changes(cursor, { waitMs: 0, limit: 10 });
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ kind: "session", subject: s.id, at, actor: "first-try" });
      expect((await store.getSession(s.id))?.revokedAt).toBe(at);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it("two nodes on the cluster: a logout on one is refused by the other", async () => {
    if (!cluster) return;
    const nodes: Auth[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        nodes.push(
          await createAuth({
            issuer: "https://issuer.test",
            audience: "api",
            store: redisStore({ nodes: cluster.nodes }, { prefix: "nodes:", logger: quiet }),
            logger: quiet,
            purgeInterval: 0,
          }),
        );
      }
      const [a, b] = nodes as [Auth, Auth];
      const t = await a.login("user-cluster");
      const u = await b.refresh(t.refreshToken);
      expect((await a.verify(u.accessToken)).sid).toBe(t.sessionId);
      await b.logoutAll("user-cluster");
      const deadline = Date.now() + 5_000;
      for (;;) {
        const refused = await a.verify(u.accessToken).then(
          () => false,
          (e: { code?: string }) => e.code === "ERR_SESSION_REVOKED",
        );
        if (refused) break;
        if (Date.now() > deadline) throw new Error("the logout never reached the other node");
        await new Promise((r) => setTimeout(r, 5));
      }
      await expect(a.refresh(u.refreshToken)).rejects.toMatchObject({ code: "ERR_REFRESH_INVALID" });
    } finally {
      for (const n of nodes) await n.close();
    }
  });
});
