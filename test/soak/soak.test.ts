/**
 * The soak in its short form (the full one is `npm run soak`): three server nodes on one Redis, a
 * steady request load and a stream of revocations for a few seconds. No revoked token may be accepted
 * after the propagation bound, every revocation must reach the other nodes within it, and every answer
 * must be 200, 401 or (never expected here) 503.
 */
import { describe, expect, it } from "vitest";
import { runSoak } from "../../bench/soak.mjs";
import { redisAvailable, redisUnavailableReason } from "../helpers/redis-server.js";

const available = redisAvailable();

describe.skipIf(!available)(`soak (short)${available ? "" : `: ${redisUnavailableReason}`}`, () => {
  it("three nodes on Redis under load: no revoked token accepted after the bound", async () => {
    const lines: string[] = [];
    const summary = await runSoak({
      durationMs: 6_000,
      sessions: 24,
      workers: 8,
      log: (l: string) => lines.push(l),
    });
    expect(summary.revokedAcceptedAfterBound).toBe(0);
    expect(summary.notPropagatedWithinBound).toBe(0);
    expect(summary.falselyRefused).toBe(0);
    expect(summary.unexpected).toBe(0);
    expect(summary.unavailable).toBe(0);
    // The load was real: requests on every side, revoked tokens replayed, revocations of both kinds.
    expect(summary.requests).toBeGreaterThan(500);
    expect(summary.revokedChecked).toBeGreaterThan(100);
    expect(summary.jtiRevocations).toBeGreaterThan(10);
    expect(summary.sessionRevocations).toBeGreaterThan(0);
    expect(summary.propagationMs.count).toBe(2 * summary.revocations);
  }, 90_000);
});
