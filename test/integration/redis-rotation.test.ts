/**
 * The rotation Lua script is the Redis copy of `planRotation` (src/core/refresh.ts), kept because the
 * decision and its writes must be one atomic step. Generated session states and presented
 * generations are planned once by the pure function and redeemed once by the store on a real Redis,
 * standalone and Cluster (where the script runs in its `dry`/`deferred` modes and the feed entry is
 * published separately): the status, the resulting session, and what was written (the new token's
 * generation, the feed entry) must be what the plan says. The user's cutoff (with or without the
 * session spared) and the global cutoff are part of the generated state.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import type { Cluster, Redis } from "ioredis";
import { expect } from "vitest";
import type { SessionRecord, UserCutoff } from "../../src/core/model.js";
import { planRotation } from "../../src/core/refresh.js";
import type { Store } from "../../src/stores/contract.js";
import { encodeKeyPart } from "../../src/stores/redis/index.js";
import { feedRecorder, onRedisAndCluster } from "../helpers/redis-differential.js";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface Case {
  generation: number;
  back: number;
  rotated: boolean;
  sinceRotation: number;
  graceMs: number;
  revoked: boolean;
  expiresIn: number;
  idleIn: number;
  cutoffAt: "none" | "before" | "at" | "after";
  userCutAt: "none" | "before" | "at" | "after";
  spared: boolean;
}

const cases = fc.record({
  generation: fc.integer({ min: 0, max: 4 }),
  back: fc.integer({ min: 0, max: 3 }),
  rotated: fc.boolean(),
  sinceRotation: fc.constantFrom(-1, 0, 1),
  graceMs: fc.constantFrom(0, 1, 10_000),
  revoked: fc.boolean(),
  expiresIn: fc.constantFrom(-1, 0, 1, DAY),
  idleIn: fc.constantFrom(-1, 0, 1, DAY),
  cutoffAt: fc.constantFrom("none", "before", "at", "after"),
  userCutAt: fc.constantFrom("none", "before", "at", "after"),
  spared: fc.boolean(),
}) satisfies fc.Arbitrary<Case>;

/**
 * Every boundary, besides the random cases: the grace window around its end for each presented
 * generation, and every way a session can be dead (revoked, cutoff, absolute and idle end at -1/0/+1).
 */
function boundaryCases(): [Case][] {
  const live: Case = {
    generation: 3,
    back: 0,
    rotated: true,
    sinceRotation: 0,
    graceMs: 10_000,
    revoked: false,
    expiresIn: DAY,
    idleIn: DAY,
    cutoffAt: "none",
    userCutAt: "none",
    spared: false,
  };
  const out: Case[] = [];
  for (const back of [0, 1, 2])
    for (const rotated of [true, false])
      for (const sinceRotation of [-1, 0, 1])
        for (const graceMs of [0, 1, 10_000]) out.push({ ...live, back, rotated, sinceRotation, graceMs });
  for (const revoked of [false, true])
    for (const expiresIn of [-1, 0, 1, DAY])
      for (const idleIn of [-1, 0, 1, DAY])
        for (const cutoffAt of ["none", "before", "at", "after"] as const)
          out.push({ ...live, back: 1, sinceRotation: -1, revoked, expiresIn, idleIn, cutoffAt });
  for (const userCutAt of ["none", "before", "at", "after"] as const)
    for (const spared of [false, true])
      for (const back of [0, 1]) out.push({ ...live, back, sinceRotation: -1, userCutAt, spared });
  return out.map((c) => [c]);
}

/** Runs the differential on a store and a raw client of the same Redis (standalone or Cluster). */
async function differential(store: Store, raw: Redis | Cluster, numRuns: number): Promise<void> {
  const prefix = "rot:";
  let base = Date.UTC(2025, 0, 1);
  let cutoff = 0;
  /** The feed entries recorded since the last call (without their seq). */
  const recorded = feedRecorder(store);
  await fc.assert(
    fc.asyncProperty(cases, async (c: Case) => {
      base += 10 * DAY; // every case later than the last: the global cutoff only moves forward
      const createdAt = base;
      const now = base + MINUTE;
      const generation = c.generation;
      const tokenGeneration = Math.max(0, generation - c.back);
      const rotatedAt = c.rotated && generation > 0 ? now - c.graceMs + c.sinceRotation : null;
      const session: SessionRecord = {
        id: `sid-${randomUUID()}`,
        userId: `user-${randomUUID()}`,
        clientId: "default",
        createdAt,
        lastUsedAt: rotatedAt ?? createdAt,
        expiresAt: now + c.expiresIn,
        idleExpiresAt: Math.min(now + c.idleIn, now + c.expiresIn),
        userAgent: null,
        ip: null,
        claims: null,
        scope: null,
        generation,
        rotatedAt,
        revokedAt: c.revoked ? createdAt + 1 : null,
        revokeReason: c.revoked ? "logout" : null,
      };
      if (c.cutoffAt !== "none") {
        const at = { before: createdAt - 1, at: createdAt, after: createdAt + 1 }[c.cutoffAt];
        await store.addRevocation({
          kind: "global",
          subject: "",
          cutoff: at,
          expiresAt: at,
          reason: "t",
          actor: "t",
          at,
        });
        cutoff = Math.max(cutoff, at);
      }
      const current = `h-${randomUUID()}`;
      expect(await store.createSession(session, current)).toBe("created");
      // A token of an earlier generation of this session (as rotations would have left it).
      const presented = tokenGeneration === generation ? current : `h-${randomUUID()}`;
      if (presented !== current) {
        const key = `${prefix}{u:${encodeKeyPart(session.userId)}}:s:${encodeKeyPart(session.id)}`;
        await raw.hset(key, `t:${presented}`, String(tokenGeneration));
        await raw.set(
          `${prefix}rt:${encodeKeyPart(presented)}`,
          JSON.stringify([session.userId, session.id]),
        );
      }
      let user: UserCutoff | null = null;
      if (c.userCutAt !== "none") {
        const at = { before: createdAt - 1, at: createdAt, after: createdAt + 1 }[c.userCutAt];
        const meta = { reason: "logout_all", actor: "t", at, ttl: DAY };
        user = await store.cutOffUser(session.userId, meta, c.spared ? { exceptSessionId: session.id } : {});
        expect(user).toEqual({ cutoff: at, exceptSessionId: c.spared ? session.id : null });
      }
      await recorded();

      const input = {
        now,
        graceMs: c.graceMs,
        idleTtlMs: 7 * DAY,
        reuseMeta: { reason: "refresh_token_reuse", actor: "system", at: now, ttl: 15 * MINUTE },
      };
      const plan = planRotation(session, tokenGeneration, input, cutoff, user);
      const newHash = `h-${randomUUID()}`;
      const result = await store.rotateRefreshToken({ presentedHash: presented, newHash, ...input });

      // The status and the resulting session.
      expect(result).toEqual(plan.result);
      const stored = await store.getSession(session.id);
      expect(stored).toEqual(plan.write === "advance" || plan.write === "revoke" ? plan.session : session);
      // What was written: the new token at the plan's generation (or no new token) ...
      const found = await store.findRefreshToken(newHash);
      if (plan.write === "advance" || plan.write === "add_token") {
        expect(found).toEqual({ session: stored, generation: plan.generation });
      } else {
        expect(found).toBeNull();
      }
      // ... and the feed entry of a reuse (nothing else reaches the feed).
      expect(await recorded()).toEqual(plan.write === "revoke" ? [plan.entry] : []);
    }),
    { numRuns, examples: boundaryCases() },
  );
}

await onRedisAndCluster("redis rotation script", "rot:", { standalone: 150, cluster: 60 }, differential);
