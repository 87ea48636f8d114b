/**
 * The rotation Lua script mirrors `decideRotation` (src/core/refresh.ts) exactly: generated session
 * states and presented generations, decided once by the pure function and once by the script on a
 * real Redis; outcome and resulting session state must be the same. The user's cutoff (with or
 * without the session spared) is part of the generated state.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { SessionRecord, UserCutoff } from "../../src/core/model.js";
import { applyRevocation, applyRotation, decideRotation } from "../../src/core/refresh.js";
import { encodeKeyPart, redisStore } from "../../src/stores/redis/index.js";
import { type RedisServer, redisUnavailableReason, startRedis } from "../helpers/redis-server.js";

const server: RedisServer | undefined = await startRedis();
afterAll(() => server?.stop());

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
  const cases: Case[] = [];
  for (const back of [0, 1, 2])
    for (const rotated of [true, false])
      for (const sinceRotation of [-1, 0, 1])
        for (const graceMs of [0, 1, 10_000]) cases.push({ ...live, back, rotated, sinceRotation, graceMs });
  for (const revoked of [false, true])
    for (const expiresIn of [-1, 0, 1, DAY])
      for (const idleIn of [-1, 0, 1, DAY])
        for (const cutoffAt of ["none", "before", "at", "after"] as const)
          cases.push({ ...live, back: 1, sinceRotation: -1, revoked, expiresIn, idleIn, cutoffAt });
  for (const userCutAt of ["none", "before", "at", "after"] as const)
    for (const spared of [false, true])
      for (const back of [0, 1]) cases.push({ ...live, back, sinceRotation: -1, userCutAt, spared });
  return cases.map((c) => [c]);
}

describe.skipIf(!server)(`redis rotation script ${server ? "" : `(${redisUnavailableReason})`}`, () => {
  it("decides exactly like decideRotation, and leaves the session exactly as the core would", async () => {
    if (!server) return;
    const prefix = "rot:";
    const store = redisStore(
      { url: server.url },
      { prefix, logger: { warn: () => undefined, error: () => undefined } },
    );
    const raw = new Redis(server.url);
    await store.open();
    let base = Date.UTC(2025, 0, 1);
    let cutoff = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
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
          }),
          async (c: Case) => {
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
              user = await store.cutOffUser(
                session.userId,
                meta,
                c.spared ? { exceptSessionId: session.id } : {},
              );
              expect(user).toEqual({ cutoff: at, exceptSessionId: c.spared ? session.id : null });
            }
            const reuseMeta = { reason: "refresh_token_reuse", actor: "system", at: now, ttl: 15 * MINUTE };
            const idleTtlMs = 7 * DAY;
            const expected = decideRotation(session, tokenGeneration, now, c.graceMs, cutoff, user);
            const newHash = `h-${randomUUID()}`;
            const result = await store.rotateRefreshToken({
              presentedHash: presented,
              newHash,
              now,
              graceMs: c.graceMs,
              idleTtlMs,
              reuseMeta,
            });
            const stored = await store.getSession(session.id);
            switch (expected) {
              case "rotate":
                expect(result).toEqual({
                  status: "rotated",
                  grace: false,
                  session: applyRotation(session, now, idleTtlMs),
                });
                expect(stored).toEqual(applyRotation(session, now, idleTtlMs));
                expect((await store.findRefreshToken(newHash))?.generation).toBe(generation + 1);
                break;
              case "grace":
                // A concurrent redemption: another token of the current generation, nothing else changes.
                expect(result).toEqual({ status: "rotated", grace: true, session });
                expect(stored).toEqual(session);
                expect((await store.findRefreshToken(newHash))?.generation).toBe(generation);
                break;
              case "reuse":
                expect(result).toEqual({
                  status: "reused",
                  session: applyRevocation(session, now, reuseMeta.reason),
                });
                expect(stored).toEqual(applyRevocation(session, now, reuseMeta.reason));
                break;
              default:
                expect(result).toEqual({ status: expected, session });
                expect(stored).toEqual(session);
            }
          },
        ),
        { numRuns: 150, examples: boundaryCases() },
      );
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});
