/**
 * `auth.verifySync`: the same answers as `verify` wherever no I/O is needed, and where `verify`
 * would read the store (a replica not current, a key id not loaded yet) a retryable
 * `ERR_REVOCATION_UNAVAILABLE` instead, whatever `failMode` says, never a guess.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Auth, type AuthOptions, createAuth, memoryStore, type Store } from "../../src/index.js";
import { type TestClock, testClock } from "../helpers/clock.js";
import { eventually } from "../helpers/eventually.js";
import { faultyStore } from "../helpers/faulty-store.js";
import { syncOutcome } from "../helpers/sync-outcome.js";

const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

async function make(
  options: Partial<Omit<AuthOptions, "clock">> & { store?: Store; clock?: TestClock } = {},
) {
  const clock = options.clock ?? testClock();
  const store = options.store ?? memoryStore();
  const auth = await createAuth({ issuer: "https://issuer.test", audience: "api", clock, ...options, store });
  opened.push(auth);
  await auth.ready();
  return { auth, clock, store };
}

/** What `verify` answers: "valid" or the error code. */
async function asyncOutcome(auth: Auth, token: string): Promise<string> {
  try {
    await auth.verify(token);
    return "valid";
  } catch (e) {
    return (e as { code: string }).code;
  }
}

describe("verifySync on a current replica", () => {
  it.each([true, false])(
    "answers exactly what verify answers, grain by grain (verified-token cache %s)",
    async (cache) => {
      const { auth, clock } = await make({ verifyCache: cache ? 10_000 : false, accessTokenTtl: "10m" });
      const a = await auth.login("alice");
      const b = await auth.login("alice");
      const c = await auth.login("carol");
      const d = await auth.login("dave");
      const e = await auth.login("erin");
      const [head, payload, sig] = e.accessToken.split(".") as [string, string, string];
      const tampered = `${head}.${payload}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BA" : "AA"}`;
      // Each token once valid (so the cache, when on, holds them), then each grain revoked.
      for (const t of [a, b, c, d, e]) expect(syncOutcome(auth, t.accessToken)).toBe("valid");
      expect(auth.verifySync(a.accessToken)).toEqual(await auth.verify(a.accessToken));
      await auth.revokeAccessToken(a.accessToken);
      await auth.logout(b.sessionId);
      await auth.logoutAll("carol");
      const tokens = [a, b, c, d, e].map((t) => t.accessToken);
      tokens.push(tampered, "not a token", `${head}.${payload}`, "");
      const expected = ["ERR_TOKEN_REVOKED", "ERR_SESSION_REVOKED", "ERR_SESSION_REVOKED", "valid", "valid"];
      for (const [i, t] of tokens.entries()) {
        const sync = syncOutcome(auth, t);
        expect(sync, `token ${i}`).toBe(await asyncOutcome(auth, t));
        if (i < expected.length) expect(sync, `token ${i}`).toBe(expected[i]);
        else expect(sync, `token ${i}`).toBe("ERR_TOKEN_INVALID");
      }
      // Everything issued before a time, then expiry (checked again on a cached token).
      clock.advance(1000);
      await auth.revokeIssuedBefore(new Date(clock()));
      expect(syncOutcome(auth, d.accessToken)).toBe("ERR_TOKEN_REVOKED");
      expect(await asyncOutcome(auth, d.accessToken)).toBe("ERR_TOKEN_REVOKED");
      const f = await auth.login("frank");
      expect(syncOutcome(auth, f.accessToken)).toBe("valid");
      clock.advance(11 * 60_000);
      expect(syncOutcome(auth, f.accessToken)).toBe("ERR_TOKEN_EXPIRED");
      expect(await asyncOutcome(auth, f.accessToken)).toBe("ERR_TOKEN_EXPIRED");
    },
  );

  it("a closed Auth refuses with ERR_CLOSED", async () => {
    const { auth } = await make();
    const t = await auth.login("alice");
    await auth.close();
    expect(syncOutcome(auth, t.accessToken)).toBe("ERR_CLOSED");
  });
});

describe("verifySync where verify would read the store", () => {
  it.each(["closed", "open"] as const)(
    'a stale replica: ERR_REVOCATION_UNAVAILABLE, retry after 1 s (failMode "%s"); current again, it answers',
    async (failMode) => {
      const store = faultyStore(memoryStore());
      const quiet = { warn: () => undefined, error: () => undefined };
      const { auth, clock } = await make({ store, maxStaleness: "1s", failMode, logger: quiet });
      const t = await auth.login("alice");
      expect(syncOutcome(auth, t.accessToken)).toBe("valid");
      store.feedPaused = true;
      await new Promise((r) => setTimeout(r, 50));
      clock.advance(1500);
      expect(auth.isFresh()).toBe(false);
      const before = auth.metrics.storeChecks;
      let thrown: unknown;
      try {
        auth.verifySync(t.accessToken);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ code: "ERR_REVOCATION_UNAVAILABLE", retryAfter: 1 });
      expect(String((thrown as Error).message)).not.toContain(t.accessToken.slice(0, 20));
      // What needs no revocation state is still answered precisely.
      expect(syncOutcome(auth, "not a token")).toBe("ERR_TOKEN_INVALID");
      // No I/O: the store was not asked; verify (the store answering) still accepts.
      expect(auth.metrics.storeChecks).toBe(before);
      expect(await asyncOutcome(auth, t.accessToken)).toBe("valid");
      // A revocation the stale replica never heard of is not accepted by verifySync either.
      await store.revokeSession(t.sessionId, { reason: "logout", actor: "test", at: clock(), ttl: 900_000 });
      expect(syncOutcome(auth, t.accessToken)).toBe("ERR_REVOCATION_UNAVAILABLE");
      store.feedPaused = false;
      await eventually("the replica is current again", () => auth.isFresh());
      expect(syncOutcome(auth, t.accessToken)).toBe("ERR_SESSION_REVOKED");
    },
  );

  it("a key id not loaded yet: ERR_REVOCATION_UNAVAILABLE while the keys reload in the background, then valid", async () => {
    const clock = testClock();
    const store = faultyStore(memoryStore());
    const signer = await make({ store, clock });
    const reader = await make({ store, clock, maxStaleness: "30s" });
    // The reader hears nothing more from the feed (so not of the new key), yet stays current on the clock.
    store.feedPaused = true;
    await new Promise((r) => setTimeout(r, 50));
    await signer.auth.rotateKeys({ immediate: true });
    const t = await signer.auth.login("alice");
    // Keys read less than a second ago: an unknown kid is refused outright, as verify does.
    expect(syncOutcome(reader.auth, t.accessToken)).toBe("ERR_TOKEN_INVALID");
    expect(await asyncOutcome(reader.auth, t.accessToken)).toBe("ERR_TOKEN_INVALID");
    clock.advance(1100);
    expect(reader.auth.isFresh()).toBe(true);
    // Now the keys may be read again: verifySync starts that and asks for a retry meanwhile.
    expect(syncOutcome(reader.auth, t.accessToken)).toBe("ERR_REVOCATION_UNAVAILABLE");
    await eventually(
      "the reloaded key verifies the token",
      () => syncOutcome(reader.auth, t.accessToken) === "valid",
    );
    // A forged token naming a kid that does not exist never becomes valid.
    const [, payload, sig] = t.accessToken.split(".") as [string, string, string];
    const forgedHead = Buffer.from(
      JSON.stringify({ alg: "RS256", kid: "no-such-key", typ: "at+jwt" }),
    ).toString("base64url");
    const forged = `${forgedHead}.${payload}.${sig}`;
    clock.advance(1100);
    expect(syncOutcome(reader.auth, forged)).toBe("ERR_REVOCATION_UNAVAILABLE");
    await new Promise((r) => setTimeout(r, 50));
    expect(syncOutcome(reader.auth, forged)).toBe("ERR_TOKEN_INVALID");
    store.feedPaused = false;
  });
});
