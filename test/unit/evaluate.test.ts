import { describe, expect, it } from "vitest";
import { type Decision, evaluate, type RevocationFacts } from "../../src/core/evaluate.js";

const NOW = 1_800_000_000_000; // ms
const sec = NOW / 1000;
const none: RevocationFacts = { jtiRevoked: false, sessionRevoked: false, globalCutoff: 0 };

const cases: [string, { iat: number; exp: number }, Partial<RevocationFacts>, Decision, number?][] = [
  ["valid, nothing revoked", { iat: sec - 10, exp: sec + 600 }, {}, "valid"],
  ["expired one second ago", { iat: sec - 900, exp: sec - 1 }, {}, "expired"],
  ["expired exactly now", { iat: sec - 900, exp: sec }, {}, "expired"],
  ["expired but within tolerance", { iat: sec - 900, exp: sec - 2 }, {}, "valid", 5000],
  [
    "expired beats revoked",
    { iat: sec - 900, exp: sec - 1 },
    { sessionRevoked: true, jtiRevoked: true },
    "expired",
  ],
  ["jti revoked", { iat: sec - 10, exp: sec + 600 }, { jtiRevoked: true }, "revoked_token"],
  ["session revoked", { iat: sec - 10, exp: sec + 600 }, { sessionRevoked: true }, "revoked_session"],
  [
    "session beats jti",
    { iat: sec - 10, exp: sec + 600 },
    { sessionRevoked: true, jtiRevoked: true },
    "revoked_session",
  ],
  [
    "issued before global cutoff",
    { iat: sec - 10, exp: sec + 600 },
    { globalCutoff: NOW - 5000 },
    "revoked_global",
  ],
  ["issued after global cutoff", { iat: sec, exp: sec + 600 }, { globalCutoff: NOW - 5000 }, "valid"],
  [
    "issued in the cutoff's second counts as before",
    { iat: sec, exp: sec + 600 },
    { globalCutoff: NOW + 300 },
    "revoked_global",
  ],
  [
    "cutoff on a second boundary: that second is after",
    { iat: sec, exp: sec + 600 },
    { globalCutoff: NOW },
    "valid",
  ],
  [
    "global beats session",
    { iat: sec - 10, exp: sec + 600 },
    { globalCutoff: NOW, sessionRevoked: true },
    "revoked_global",
  ],
];

/** The user's cutoff (logout-all, password change, disable, delete) against `auth_time` (ms precision). */
const userCases: [string, Record<string, unknown>, RevocationFacts["user"], Decision][] = [
  [
    "authenticated before the user's cutoff",
    { auth_time: sec - 1 },
    { cutoff: NOW, exceptSessionId: null },
    "revoked_user",
  ],
  [
    "authenticated in the cutoff's millisecond",
    { auth_time: (NOW + 123) / 1000 },
    { cutoff: NOW + 123, exceptSessionId: null },
    "revoked_user",
  ],
  [
    "authenticated one millisecond after, same second",
    { auth_time: (NOW + 124) / 1000 },
    { cutoff: NOW + 123, exceptSessionId: null },
    "valid",
  ],
  [
    "the spared session",
    { auth_time: sec - 1, sid: "keep" },
    { cutoff: NOW, exceptSessionId: "keep" },
    "valid",
  ],
  [
    "another session than the spared one",
    { auth_time: sec - 1, sid: "other" },
    { cutoff: NOW, exceptSessionId: "keep" },
    "revoked_user",
  ],
  [
    "no auth_time: iat counts (whole seconds)",
    { iat: sec - 1 },
    { cutoff: NOW, exceptSessionId: null },
    "revoked_user",
  ],
  ["no auth_time, iat after", { iat: sec + 1 }, { cutoff: NOW, exceptSessionId: null }, "valid"],
  [
    "a non-number auth_time falls back to iat",
    { auth_time: "x", iat: sec - 1 },
    { cutoff: NOW, exceptSessionId: null },
    "revoked_user",
  ],
  ["no user cutoff", { auth_time: sec - 1 }, null, "valid"],
  [
    "expired beats the user's cutoff",
    { auth_time: sec - 900, exp: sec - 1 },
    { cutoff: NOW, exceptSessionId: null },
    "expired",
  ],
];

describe("evaluate (the revocation rules)", () => {
  it.each(userCases)("user cutoff: %s", (_name, claims, user, expected) => {
    const c = { iat: sec, exp: sec + 600, sid: "sid", ...claims };
    expect(evaluate(c, { ...none, user }, NOW)).toBe(expected);
  });

  it("the global cutoff beats the user's, which beats the session", () => {
    const c = { iat: sec - 10, exp: sec + 600, sid: "s", auth_time: sec - 10 };
    const user = { cutoff: NOW, exceptSessionId: null };
    expect(evaluate(c, { ...none, user, globalCutoff: NOW, sessionRevoked: true }, NOW)).toBe(
      "revoked_global",
    );
    expect(evaluate(c, { ...none, user, sessionRevoked: true }, NOW)).toBe("revoked_user");
  });

  it.each(cases)("%s", (_name, claims, facts, expected, tolerance) => {
    expect(evaluate(claims, { ...none, ...facts }, NOW, tolerance ?? 0)).toBe(expected);
  });
});
