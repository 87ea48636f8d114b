/**
 * The plans every store executes: `planRotation` (the writes of a refresh-token redemption) and
 * `planUserCutoff` (the writes of a user cutoff). The rules themselves are tested in
 * refresh-rules.test.ts and user-cutoff.test.ts; these cases pin what gets written.
 */
import { describe, expect, it } from "vitest";
import type { RevocationMeta, SessionRecord } from "../../src/core/model.js";
import { planRotation, planSessionRevocation } from "../../src/core/refresh.js";
import { planUserCutoff } from "../../src/core/user-cutoff.js";
import { RULE_T, ruleSession } from "../helpers/records.mjs";

const T = RULE_T;
const session: SessionRecord = ruleSession();
const reuseMeta: RevocationMeta = { reason: "refresh_token_reuse", actor: "system", at: T, ttl: 900_000 };
const input = { now: T, graceMs: 10_000, idleTtlMs: 7_200_000, reuseMeta };

describe("planRotation", () => {
  it("the current token advances the session and adds the token at the next generation", () => {
    const plan = planRotation(session, 3, input, 0, null);
    expect(plan.write).toBe("advance");
    if (plan.write !== "advance") return;
    expect(plan.generation).toBe(4);
    expect(plan.session).toEqual({
      ...session,
      generation: 4,
      rotatedAt: T,
      lastUsedAt: T,
      idleExpiresAt: T + 7_200_000,
    });
    expect(plan.result).toEqual({ status: "rotated", session: plan.session, grace: false });
  });

  it("the predecessor inside the grace window adds a token at the current generation, nothing else", () => {
    const plan = planRotation(session, 2, input, 0, null);
    expect(plan).toEqual({
      write: "add_token",
      generation: 3,
      result: { status: "rotated", session, grace: true },
    });
  });

  it("reuse revokes the session and appends its feed entry, expiring ttl after the revocation", () => {
    const plan = planRotation(session, 1, input, 0, null);
    expect(plan.write).toBe("revoke");
    if (plan.write !== "revoke") return;
    expect(plan.session).toEqual({ ...session, revokedAt: T, revokeReason: "refresh_token_reuse" });
    expect(plan.entry).toEqual({
      kind: "session",
      subject: "s",
      expiresAt: T + 900_000,
      reason: "refresh_token_reuse",
      actor: "system",
      at: T,
    });
    expect(plan.result).toEqual({ status: "reused", session: plan.session });
  });

  it.each([
    ["revoked", { revokedAt: T - 1 }, 0, null],
    ["revoked", {}, T - 1, null],
    ["revoked", {}, 0, { cutoff: T - 1, exceptSessionId: null }],
    ["expired", { expiresAt: T }, 0, null],
    ["idle_expired", { idleExpiresAt: T }, 0, null],
  ] as const)("a session that is %s writes nothing", (status, patch, globalCutoff, user) => {
    const s = { ...session, ...patch };
    expect(planRotation(s, 3, input, globalCutoff, user)).toEqual({
      write: "none",
      result: { status, session: s },
    });
  });
});

describe("planSessionRevocation", () => {
  it("marks the session and builds the feed entry from the meta", () => {
    const meta = { reason: "logout", actor: "u", at: T, ttl: 60_000 };
    expect(planSessionRevocation(session, meta)).toEqual({
      revoked: { ...session, revokedAt: T, revokeReason: "logout" },
      entry: { kind: "session", subject: "s", expiresAt: T + 60_000, reason: "logout", actor: "u", at: T },
    });
  });
});

describe("planUserCutoff", () => {
  const meta = { reason: "logout_all", actor: "u", at: T, ttl: 60_000 };

  it("a first cutoff is the revocation time, kept ttl after it", () => {
    const plan = planUserCutoff("u", meta, null, null, null, null);
    expect(plan).toEqual({
      cutoff: { cutoff: T, exceptSessionId: null },
      expiresAt: T + 60_000,
      entry: {
        kind: "user",
        subject: "u",
        cutoff: T,
        expiresAt: T + 60_000,
        reason: "logout_all",
        actor: "u",
        at: T,
      },
    });
  });

  it("covers a session stamped by a node whose clock runs ahead", () => {
    expect(planUserCutoff("u", meta, null, T + 250, null, null).cutoff.cutoff).toBe(T + 250);
  });

  it("never moves the cutoff back nor shortens how long it is kept", () => {
    const prev = { cutoff: T + 5_000, exceptSessionId: null, expiresAt: T + 9_000_000 };
    const plan = planUserCutoff("u", meta, prev, null, null, null);
    expect(plan.cutoff).toEqual({ cutoff: T + 5_000, exceptSessionId: null });
    expect(plan.expiresAt).toBe(T + 9_000_000);
    expect(plan.entry.expiresAt).toBe(T + 9_000_000);
  });

  it("spares the caller's session only when it is the user's and the previous cutoff spared it", () => {
    const kept = { userId: "u", createdAt: T - 1_000 };
    expect(planUserCutoff("u", meta, null, null, kept, "s").cutoff.exceptSessionId).toBe("s");
    expect(planUserCutoff("u", meta, null, null, { ...kept, userId: "v" }, "s").cutoff.exceptSessionId).toBe(
      null,
    );
    expect(planUserCutoff("u", meta, null, null, null, "s").cutoff.exceptSessionId).toBe(null);
    const prev = { cutoff: T - 500, exceptSessionId: null, expiresAt: T };
    expect(planUserCutoff("u", meta, prev, null, kept, "s").cutoff.exceptSessionId).toBe(null);
    const entry = planUserCutoff("u", meta, null, null, kept, "s").entry;
    expect(entry.exceptSessionId).toBe("s");
  });
});
