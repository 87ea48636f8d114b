import { describe, expect, it } from "vitest";
import type { SessionRecord, UserCutoff } from "../../src/core/model.js";
import {
  applyRotation,
  decideRotation,
  isSessionLive,
  type RotationDecision,
} from "../../src/core/refresh.js";
import { RULE_T, ruleSession } from "../helpers/records.mjs";

const T = RULE_T;
const base: SessionRecord = ruleSession();

const cases: [string, Partial<SessionRecord>, number, number, RotationDecision, number?][] = [
  ["current generation rotates", {}, 3, T, "rotate"],
  ["predecessor inside the grace window", {}, 2, T, "grace"],
  ["predecessor just inside the window", { rotatedAt: T - 9_999 }, 2, T, "grace"],
  ["predecessor at the window's end", { rotatedAt: T - 10_000 }, 2, T, "reuse"],
  ["two generations back, inside the window", {}, 1, T, "reuse"],
  ["first token, never rotated, replayed", { generation: 0, rotatedAt: null }, 0, T, "rotate"],
  ["predecessor without any rotation time", { rotatedAt: null }, 2, T, "reuse"],
  ["revoked session refuses even the current token", { revokedAt: T - 1 }, 3, T, "revoked"],
  ["revoked session does not count reuse again", { revokedAt: T - 1 }, 0, T, "revoked"],
  ["absolute lifetime over", { expiresAt: T }, 3, T, "expired"],
  ["idle lifetime over", { idleExpiresAt: T }, 3, T, "idle_expired"],
  ["created before the global cutoff", {}, 3, T, "revoked", T - 30_000],
  ["created after the global cutoff", {}, 3, T, "rotate", T - 90_000],
];

/** The user's cutoff against the session (authenticated at `base.createdAt`, id "s"). */
const userCases: [string, UserCutoff, number, RotationDecision][] = [
  ["authenticated before the user's cutoff", { cutoff: T - 30_000, exceptSessionId: null }, 3, "revoked"],
  ["authenticated in the cutoff's millisecond", { cutoff: T - 60_000, exceptSessionId: null }, 3, "revoked"],
  ["authenticated after the user's cutoff", { cutoff: T - 60_001, exceptSessionId: null }, 3, "rotate"],
  ["the session the cutoff spares", { cutoff: T - 30_000, exceptSessionId: "s" }, 3, "rotate"],
  ["another session spared", { cutoff: T - 30_000, exceptSessionId: "other" }, 3, "revoked"],
  [
    "cut off: a superseded token is no reuse to record",
    { cutoff: T - 30_000, exceptSessionId: null },
    0,
    "revoked",
  ],
  ["spared: the predecessor still gets grace", { cutoff: T - 30_000, exceptSessionId: "s" }, 2, "grace"],
];

describe("decideRotation (refresh-token rules)", () => {
  it.each(userCases)("%s", (_name, user, generation, expected) => {
    expect(decideRotation(base, generation, T, 10_000, 0, user)).toBe(expected);
    // Listing and getSession apply the same rule.
    expect(isSessionLive(base, T, 0, user)).toBe(expected !== "revoked");
  });

  it.each(cases)("%s", (_name, patch, generation, now, expected, cutoff) => {
    expect(decideRotation({ ...base, ...patch }, generation, now, 10_000, cutoff ?? 0)).toBe(expected);
  });

  it("with a zero grace window even a same-millisecond replay of the predecessor is reuse", () => {
    expect(decideRotation({ ...base, rotatedAt: T }, 2, T, 0)).toBe("reuse");
  });

  it("a rotation moves to the next generation and pushes the idle end, capped by the absolute end", () => {
    const next = applyRotation({ ...base, expiresAt: T + 1000 }, T, 3_600_000);
    expect(next).toMatchObject({ generation: 4, rotatedAt: T, lastUsedAt: T, idleExpiresAt: T + 1000 });
  });
});
