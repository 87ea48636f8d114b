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

describe("evaluate (the revocation rules)", () => {
  it.each(cases)("%s", (_name, claims, facts, expected, tolerance) => {
    expect(evaluate(claims, { ...none, ...facts }, NOW, tolerance ?? 0)).toBe(expected);
  });
});
