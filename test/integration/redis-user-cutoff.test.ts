/**
 * The user-cutoff Lua script is the Redis copy of `planUserCutoff` (src/core/user-cutoff.ts), kept
 * because reading the previous cutoff, the newest session and the spared session and writing the new
 * cutoff must be one atomic step. Generated states (a previous cutoff before or after the new one,
 * sparing a session or not, kept longer or shorter; sessions authenticated before and after the
 * revoking node's clock; a spared session that is live, unknown, spared before or not, or not the
 * user's) are planned once by the pure function and recorded once by the store on a real Redis,
 * standalone and Cluster: the cutoff, the expiry (never shortened), the feed entry and the disabled
 * flag must be what the plan says.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import type { Cluster, Redis } from "ioredis";
import { expect } from "vitest";
import type { UserCutoff } from "../../src/core/model.js";
import { planUserCutoff } from "../../src/core/user-cutoff.js";
import type { Store } from "../../src/stores/contract.js";
import { encodeKeyPart } from "../../src/stores/redis/index.js";
import { sessionRecord } from "../helpers/records.mjs";
import { feedRecorder, onRedisAndCluster } from "../helpers/redis-differential.js";

const PREFIX = "cut:";
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const AT = Date.UTC(2025, 0, 1);

interface Case {
  /** Authentication times of the user's sessions, in minutes from the revocation's `at`. */
  sessions: number[];
  /** The recorded cutoff, in minutes from `at`, and what it spares; `null`: none recorded. */
  prev: { at: number; spares: "none" | "kept" | "other"; keptFor: "shorter" | "longer" } | null;
  /** The session to spare: none, the user's first session, an unknown id, or another user's record. */
  except: "none" | "own" | "unknown" | "foreign";
  disable: boolean;
  ttl: number;
}

const cases = fc.record({
  sessions: fc.array(fc.constantFrom(-2, -1, 0, 1, 2), { maxLength: 3 }),
  prev: fc.option(
    fc.record({
      at: fc.constantFrom(-2, -1, 0, 1, 2),
      spares: fc.constantFrom("none", "kept", "other"),
      keptFor: fc.constantFrom("shorter", "longer"),
    }),
  ),
  except: fc.constantFrom("none", "own", "unknown", "foreign"),
  disable: fc.boolean(),
  ttl: fc.constantFrom(MINUTE, DAY),
}) satisfies fc.Arbitrary<Case>;

/** Runs the differential on a store and a raw client of the same Redis (standalone or Cluster). */
async function differential(store: Store, raw: Redis | Cluster, numRuns: number): Promise<void> {
  /** The feed entries recorded since the last call (without their seq). */
  const recorded = feedRecorder(store);
  await fc.assert(
    fc.asyncProperty(cases, async (c: Case) => {
      const userId = `user-${randomUUID()}`;
      const U = `${PREFIX}{u:${encodeKeyPart(userId)}}:`;
      const sessions = c.sessions.map((m) => sessionRecord({ userId, at: AT + m * MINUTE }));
      for (const s of sessions) expect(await store.createSession(s, `h-${randomUUID()}`)).toBe("created");
      let exceptSessionId: string | undefined;
      let kept: { userId: string; createdAt: number } | null = null;
      if (c.except === "own" && sessions[0]) {
        exceptSessionId = sessions[0].id;
        kept = { userId, createdAt: sessions[0].createdAt };
      } else if (c.except === "unknown") {
        exceptSessionId = `sid-${randomUUID()}`;
      } else if (c.except === "foreign") {
        // A record in the user's slot that names another user (never written by the store itself).
        exceptSessionId = `sid-${randomUUID()}`;
        const other = `user-${randomUUID()}`;
        await raw.hset(
          `${U}s:${encodeKeyPart(exceptSessionId)}`,
          "id",
          exceptSessionId,
          "uid",
          other,
          "ca",
          AT,
        );
        kept = { userId: other, createdAt: AT };
      }
      let prev: (UserCutoff & { expiresAt: number }) | null = null;
      if (c.prev) {
        const spared = { none: null, kept: exceptSessionId ?? null, other: `sid-${randomUUID()}` }[
          c.prev.spares
        ];
        const cutoff = AT + c.prev.at * MINUTE;
        const expiresAt = c.prev.keptFor === "longer" ? AT + c.ttl + MINUTE : AT + c.ttl - MINUTE;
        prev = { cutoff, exceptSessionId: spared, expiresAt };
        await raw.hset(`${U}cut`, "c", cutoff, "e", expiresAt, ...(spared ? ["p", spared] : []));
      }
      await recorded();

      const meta = { reason: "logout_all", actor: "admin", at: AT, ttl: c.ttl };
      const newest = sessions.length === 0 ? null : Math.max(...sessions.map((s) => s.createdAt));
      const plan = planUserCutoff(userId, meta, prev, newest, kept, exceptSessionId ?? null);
      const result = await store.cutOffUser(userId, meta, { exceptSessionId, disable: c.disable });

      expect(result).toEqual(plan.cutoff);
      // What was written: the cutoff and until when it is kept (never shortened) ...
      const [cut, spared, until] = await raw.hmget(`${U}cut`, "c", "p", "e");
      expect({ cutoff: Number(cut), exceptSessionId: spared, expiresAt: Number(until) }).toEqual({
        ...plan.cutoff,
        expiresAt: plan.expiresAt,
      });
      expect(plan.expiresAt).toBeGreaterThanOrEqual(prev?.expiresAt ?? 0);
      // ... the feed entry, what a point check answers, and the disabled flag.
      expect(await recorded()).toEqual([plan.entry]);
      expect((await store.check({ userId }, AT)).user).toEqual(plan.cutoff);
      expect(await store.isUserDisabled(userId)).toBe(c.disable);
    }),
    { numRuns },
  );
}

await onRedisAndCluster("redis user-cutoff script", PREFIX, { standalone: 200, cluster: 100 }, differential);
