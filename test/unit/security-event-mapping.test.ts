import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SessionRecord } from "../../src/core/model.js";
import { isEndedByUserCutoff } from "../../src/core/refresh.js";
import {
  CAEP_CREDENTIAL_CHANGE,
  CAEP_SESSION_REVOKED,
  eventId,
  eventsFor,
  type RevocationFact,
} from "../../src/core/set.js";
import { sessionRecord } from "../helpers/records.mjs";

const T = 1_800_000_000_000;
const ISS = "https://issuer.example";
const session = (over: Partial<SessionRecord>): SessionRecord =>
  sessionRecord({
    id: "s",
    userId: "u",
    createdAt: T - 60_000,
    lastUsedAt: T - 5_000,
    expiresAt: T + 86_400_000,
    idleExpiresAt: T + 3_600_000,
    ...over,
  });

describe("isEndedByUserCutoff", () => {
  const cut = { cutoff: T, exceptSessionId: "kept" };
  it.each([
    ["authenticated before the cutoff", {}, true],
    ["authenticated in the cutoff's millisecond", { createdAt: T }, true],
    ["authenticated after it", { createdAt: T + 1 }, false],
    ["the session it spares", { id: "kept" }, false],
    ["revoked itself", { revokedAt: T - 1, revokeReason: "logout" }, false],
    ["expired at the cutoff", { expiresAt: T }, false],
    ["idle-expired at the cutoff", { idleExpiresAt: T }, false],
    ["expired only after the cutoff", { expiresAt: T + 1, idleExpiresAt: T + 1 }, true],
  ] as const)("%s", (_name, over, ended) => {
    expect(isEndedByUserCutoff(session(over), cut)).toBe(ended);
  });
});

describe("events for a user-wide revocation", () => {
  const entry = (reason: string): RevocationFact => ({
    kind: "user",
    subject: "u",
    reason,
    actor: "u",
    at: T,
  });

  it("is one session-revoked per ended session, plus credential-change on a password change", () => {
    const events = eventsFor(entry("password_change"), ISS, ["s1", "s2"]);
    expect(events.map((e) => [e.type, e.subId])).toEqual([
      [CAEP_SESSION_REVOKED, { format: "opaque", id: "s1" }],
      [CAEP_SESSION_REVOKED, { format: "opaque", id: "s2" }],
      [CAEP_CREDENTIAL_CHANGE, { format: "iss_sub", iss: ISS, sub: "u" }],
    ]);
    expect(eventsFor(entry("logout_all"), ISS, [])).toEqual([]);
  });

  it("gives each event its own id, the same on every read", () => {
    const e = entry("password_change");
    const ids = (client: string) => eventsFor(e, ISS, ["s1", "s2"]).map((x) => eventId(e, x, client));
    expect(new Set(ids("c")).size).toBe(3);
    expect(ids("c")).toEqual(ids("c"));
    expect(ids("d")).not.toEqual(ids("c"));
    // A session entry's event keeps the id it always had (the session is the entry's subject).
    const s: RevocationFact = { kind: "session", subject: "s1", reason: "logout", actor: "u", at: T };
    const [only] = eventsFor(s, ISS);
    if (!only) throw new Error("expected one event");
    const legacy = createHash("sha256")
      .update(["c", CAEP_SESSION_REVOKED, "session", "s1", T, "logout"].join("\0"))
      .digest("base64url")
      .slice(0, 32);
    expect(eventId(s, only, "c")).toBe(legacy);
    expect(ids("c")[0]).not.toBe(legacy);
  });
});
