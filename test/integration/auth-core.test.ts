import { afterEach, describe, expect, it } from "vitest";
import { type Auth, type AuthOptions, createAuth, memoryStore, type Store } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";
import { faultyStore } from "../helpers/faulty-store.js";

const opened: Auth[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

async function make(options: Partial<AuthOptions> & { store?: Store } = {}) {
  const clock = testClock();
  const store = options.store ?? memoryStore();
  const auth = await createAuth({ issuer: "https://issuer.test", audience: "api", clock, ...options, store });
  opened.push(auth);
  return { auth, clock, store };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "accepted";
};

describe("logout (one device)", () => {
  it("refuses that session's access and refresh tokens at once; other sessions keep working", async () => {
    const { auth } = await make();
    const phone = await auth.login("alice", { userAgent: "phone" });
    const laptop = await auth.login("alice", { userAgent: "laptop" });
    const bob = await auth.login("bob");
    expect(await auth.logout(phone.sessionId)).toBe(true);
    expect(await code(auth.verify(phone.accessToken))).toBe("ERR_SESSION_REVOKED");
    expect(await code(auth.refresh(phone.refreshToken))).toBe("ERR_REFRESH_INVALID");
    await expect(auth.verify(laptop.accessToken)).resolves.toMatchObject({ sub: "alice" });
    await expect(auth.refresh(laptop.refreshToken)).resolves.toBeTruthy();
    await expect(auth.verify(bob.accessToken)).resolves.toMatchObject({ sub: "bob" });
    expect((await auth.listSessions("alice")).map((s) => s.userAgent)).toEqual(["laptop"]);
    expect(await auth.logout(phone.sessionId)).toBe(false); // idempotent
  });
});

describe("logout-all and password change", () => {
  it("logout-all revokes every session; a login in the same second works", async () => {
    const { auth } = await make();
    const a = await auth.login("alice");
    const b = await auth.login("alice");
    const cut = await auth.logoutAll("alice", { actor: "alice" });
    expect(cut.exceptSessionId).toBeNull();
    expect(await auth.listSessions("alice")).toEqual([]);
    for (const t of [a, b]) {
      expect(await code(auth.verify(t.accessToken))).toBe("ERR_SESSION_REVOKED");
      expect(await code(auth.refresh(t.refreshToken))).toBe("ERR_REFRESH_INVALID");
    }
    // Same instant (the test clock has not moved).
    const c = await auth.login("alice");
    await expect(auth.verify(c.accessToken)).resolves.toMatchObject({ sid: c.sessionId });
    await expect(auth.refresh(c.refreshToken)).resolves.toBeTruthy();
  });

  it("a password change keeps only the current session", async () => {
    const { auth } = await make();
    const current = await auth.login("alice");
    const other = await auth.login("alice");
    await auth.passwordChanged("alice", current.sessionId);
    expect(await code(auth.verify(other.accessToken))).toBe("ERR_SESSION_REVOKED");
    await expect(auth.verify(current.accessToken)).resolves.toBeTruthy();
    const again = await auth.login("alice");
    await expect(auth.verify(again.accessToken)).resolves.toBeTruthy();
  });

  it("disable refuses every token and new logins until enabled; delete revokes everything", async () => {
    const { auth } = await make();
    const t = await auth.login("carol");
    await auth.disableUser("carol", { actor: "admin" });
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_SESSION_REVOKED");
    expect(await code(auth.login("carol"))).toBe("ERR_USER_DISABLED");
    expect(await auth.isUserDisabled("carol")).toBe(true);
    await auth.enableUser("carol");
    const t2 = await auth.login("carol");
    await expect(auth.verify(t2.accessToken)).resolves.toBeTruthy();
    // Same instant again: a later cutoff still covers the login stamped after the earlier one.
    await auth.deleteUser("carol");
    expect(await code(auth.verify(t2.accessToken))).toBe("ERR_SESSION_REVOKED");
  });
});

describe("refresh rotation and reuse detection", () => {
  it("rotates on every use; a replayed old token revokes the session, newest tokens included", async () => {
    const { auth, clock } = await make();
    const t0 = await auth.login("alice");
    const t1 = await auth.refresh(t0.refreshToken);
    clock.advance(1000);
    const t2 = await auth.refresh(t1.refreshToken);
    expect(t2.sessionId).toBe(t0.sessionId);
    expect(new Set([t0.refreshToken, t1.refreshToken, t2.refreshToken]).size).toBe(3);
    clock.advance(20_000); // outside the grace window
    expect(await code(auth.refresh(t1.refreshToken))).toBe("ERR_REFRESH_REUSED");
    expect(await code(auth.refresh(t2.refreshToken))).toBe("ERR_REFRESH_INVALID");
    expect(await code(auth.verify(t2.accessToken))).toBe("ERR_SESSION_REVOKED");
    expect(auth.metrics.refreshReuse).toBe(1);
  });

  it("inside the grace window only the immediate predecessor may be replayed", async () => {
    const { auth, clock } = await make();
    const t0 = await auth.login("alice");
    const t1 = await auth.refresh(t0.refreshToken);
    const t2 = await auth.refresh(t1.refreshToken);
    clock.advance(2000);
    // t1 is the immediate predecessor of t2: a concurrent tab, not theft.
    const t3 = await auth.refresh(t1.refreshToken);
    await expect(auth.verify(t3.accessToken)).resolves.toBeTruthy();
    // t0 is older: theft, even inside the window.
    expect(await code(auth.refresh(t0.refreshToken))).toBe("ERR_REFRESH_REUSED");
    expect(await code(auth.verify(t3.accessToken))).toBe("ERR_SESSION_REVOKED");
    expect(await code(auth.refresh(t3.refreshToken))).toBe("ERR_REFRESH_INVALID");
    expect(await code(auth.refresh(t2.refreshToken))).toBe("ERR_REFRESH_INVALID");
  });

  it("50 concurrent refreshes with one token leave exactly one live branch", async () => {
    const { auth, clock } = await make({ refreshGrace: 0 });
    const t0 = await auth.login("alice");
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => auth.refresh(t0.refreshToken)));
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results)
      if (r.status === "rejected")
        expect((r.reason as { code: string }).code).toMatch(/ERR_REFRESH_(REUSED|INVALID)/);
    // The reuse revoked the session: not even the winner's branch stays live.
    clock.advance(1);
    const winner = (won[0] as PromiseFulfilledResult<{ refreshToken: string }>).value;
    expect(await code(auth.refresh(winner.refreshToken))).toBe("ERR_REFRESH_INVALID");
  });

  it("with a grace window, 50 concurrent refreshes all succeed and every token belongs to the one live generation", async () => {
    const { auth, clock } = await make();
    const t0 = await auth.login("alice");
    const results = await Promise.all(Array.from({ length: 50 }, () => auth.refresh(t0.refreshToken)));
    const tokens = results.map((r) => r.refreshToken);
    expect(new Set(tokens).size).toBe(50);
    for (const r of results) await expect(auth.verify(r.accessToken)).resolves.toBeTruthy();
    for (const t of tokens) expect((await auth.inspectRefreshToken(t))?.active).toBe(true);
    // The chain moves on from any of them; once the window is over, the others are superseded: theft.
    clock.advance(1000);
    const next = await auth.refresh(tokens[7] as string);
    clock.advance(20_000);
    expect(await code(auth.refresh(tokens[8] as string))).toBe("ERR_REFRESH_REUSED");
    expect(await code(auth.refresh(next.refreshToken))).toBe("ERR_REFRESH_INVALID");
  });

  it("absolute and idle lifetimes both end a session", async () => {
    const { auth, clock } = await make({ refreshTokenTtl: "1h", refreshIdleTtl: "10m" });
    const a = await auth.login("alice");
    clock.advance(11 * 60_000);
    expect(await code(auth.refresh(a.refreshToken))).toBe("ERR_REFRESH_INVALID");
    const b = await auth.login("alice");
    let rt = b.refreshToken;
    for (let i = 0; i < 6; i++) {
      clock.advance(9 * 60_000);
      rt = (await auth.refresh(rt)).refreshToken;
    }
    clock.advance(7 * 60_000); // 61 minutes after login
    expect(await code(auth.refresh(rt))).toBe("ERR_REFRESH_INVALID");
  });
});

describe("one access token (jti)", () => {
  it("stays refused until its exp, and its entry is gone after that", async () => {
    const { auth, clock } = await make({ accessTokenTtl: "5m", clockTolerance: 0 });
    const t = await auth.login("alice");
    const other = await auth.refresh(t.refreshToken);
    await auth.revokeAccessToken(t.accessToken, { reason: "suspicious", actor: "admin" });
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_TOKEN_REVOKED");
    await expect(auth.verify(other.accessToken)).resolves.toBeTruthy(); // same session, other token
    clock.advance(4 * 60_000);
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_TOKEN_REVOKED");
    expect(auth.status().replica.tokens).toBe(1);
    clock.advance(61_000);
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_TOKEN_EXPIRED");
    // The sweep frees the entry, and the store forgets it.
    const store = auth.store;
    await store.purge(clock());
    const snap = await store.snapshot(clock());
    expect(snap.entries.filter((e) => e.kind === "jti")).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1100)); // one sweep interval
    expect(auth.status().replica.tokens).toBe(0);
  });

  it("a bare jti is remembered for the longest access-token life", async () => {
    const { auth } = await make();
    const t = await auth.login("alice");
    const { jti } = await auth.verify(t.accessToken);
    await auth.revokeAccessToken(jti);
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_TOKEN_REVOKED");
  });
});

describe("everything issued before a time", () => {
  it("revokes older tokens and sessions; a login right after works", async () => {
    const { auth, clock } = await make();
    const old = await auth.login("alice");
    clock.advance(2500);
    await auth.revokeIssuedBefore(new Date(clock()));
    expect(await code(auth.verify(old.accessToken))).toBe("ERR_TOKEN_REVOKED");
    expect(await code(auth.refresh(old.refreshToken))).toBe("ERR_REFRESH_INVALID");
    const fresh = await auth.login("alice");
    await expect(auth.verify(fresh.accessToken)).resolves.toBeTruthy();
    await expect(auth.refresh(fresh.refreshToken)).resolves.toBeTruthy();
    await expect(auth.revokeIssuedBefore(new Date(clock() + 3_600_000))).rejects.toThrow(TypeError);
  });
});

describe("many nodes on one store", () => {
  it("a revocation through one Auth is refused by a second Auth within the bound", async () => {
    const store = memoryStore();
    const a = await createAuth({ issuer: "https://i", audience: "api", store });
    const b = await createAuth({ issuer: "https://i", audience: "api", store });
    opened.push(a, b);
    const t = await a.login("alice");
    await expect(b.verify(t.accessToken)).resolves.toBeTruthy();
    await a.logout(t.sessionId);
    const started = Date.now();
    let refused = false;
    while (!refused && Date.now() - started < 1000) {
      refused = (await code(b.verify(t.accessToken))) === "ERR_SESSION_REVOKED";
      if (!refused) await new Promise((r) => setTimeout(r, 2));
    }
    expect(refused).toBe(true);
  });

  it("past maxStaleness with the feed stopped, verify asks the store, and fails closed when it cannot answer", async () => {
    const inner = memoryStore();
    const store = faultyStore(inner);
    const { auth, clock } = await make({ store, maxStaleness: "1s" });
    const t = await auth.login("alice");
    await expect(auth.verify(t.accessToken)).resolves.toBeTruthy();
    store.feedPaused = true;
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(1500);
    expect(auth.isFresh()).toBe(false);
    // Stale but the store answers: a revocation the replica never heard of is still refused.
    await inner.revokeSession(t.sessionId, { reason: "logout", actor: "test", at: clock(), ttl: 900_000 });
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_SESSION_REVOKED");
    const t2 = await auth.login("alice");
    await expect(auth.verify(t2.accessToken)).resolves.toBeTruthy();
    store.down = true;
    const err = await auth.verify(t2.accessToken).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_REVOCATION_UNAVAILABLE", retryAfter: 1 });
    // Revocations during the outage fail loudly rather than pretending.
    expect(await code(auth.logout(t2.sessionId))).toBe("ERR_STORE_UNAVAILABLE");
    // Back up: the node recovers by itself.
    store.down = false;
    store.feedPaused = false;
    const started = Date.now();
    while (!auth.isFresh() && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 10));
    await expect(auth.verify(t2.accessToken)).resolves.toBeTruthy();
  });

  it('failMode "open" accepts on a stale replica when the store is down, and counts it', async () => {
    const store = faultyStore(memoryStore());
    const warnings: string[] = [];
    const logger = {
      warn: (_o: object, m?: string) => warnings.push(m ?? ""),
      error: (_o: object, m?: string) => warnings.push(m ?? ""),
    };
    const { auth, clock } = await make({ store, failMode: "open", logger });
    expect(warnings.join()).toMatch(/failMode "open"/);
    const t = await auth.login("alice");
    store.down = true;
    clock.advance(5000);
    await expect(auth.verify(t.accessToken)).resolves.toBeTruthy();
    expect(auth.metrics.failOpen).toBe(1);
    expect(warnings.join()).toMatch(/FAILING OPEN/);
    store.down = false;
  });
});

describe("keys", () => {
  it("rotation publishes the new key, signs with it, keeps the old one until its tokens expire", async () => {
    const { auth, clock } = await make({ accessTokenTtl: "10m" });
    const before = await auth.login("alice");
    const oldKid = auth.status().keys[0]?.kid;
    // By default a new key is published 10 minutes before it signs.
    const ahead = await auth.rotateKeys();
    expect(ahead.activateAt.getTime()).toBe(clock() + 10 * 60_000);
    expect(auth.status().keys.find((k) => k.signing)?.kid).toBe(oldKid);
    expect(auth.jwks().keys.map((k) => k.kid)).toContain(ahead.kid);
    await expect(auth.rotateKeys({ immediate: true, activateAt: new Date() })).rejects.toThrow(TypeError);
    const { kid } = await auth.rotateKeys({ immediate: true });
    expect(
      auth
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([oldKid, ahead.kid, kid].sort());
    const after = await auth.login("alice");
    const header = JSON.parse(Buffer.from(after.accessToken.split(".")[0] as string, "base64url").toString());
    expect(header).toEqual({ alg: "RS256", kid, typ: "at+jwt" });
    await expect(auth.verify(before.accessToken)).resolves.toBeTruthy();
    clock.advance(11 * 60_000 + 20_000);
    // The key published ahead now signs; the first one has gone, every token it signed has expired.
    expect(
      auth
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([ahead.kid, kid].sort());
    expect(auth.jwks().keys.map((k) => k.kid)).not.toContain(oldKid);
    for (const k of auth.jwks().keys) expect(Object.keys(k)).not.toContain("d");
  });

  it("a key published ahead of use is in the JWKS but not yet used for signing", async () => {
    const { auth, clock } = await make();
    const { kid } = await auth.rotateKeys({ activateAt: new Date(clock() + 60_000) });
    expect(auth.jwks().keys.map((k) => k.kid)).toContain(kid);
    const t = await auth.login("alice");
    expect(t.accessToken.split(".")[0]).not.toContain(Buffer.from(kid).toString("base64url").slice(0, 8));
    expect(auth.status().keys.find((k) => k.signing)?.kid).not.toBe(kid);
    clock.advance(60_000);
    expect(auth.status().keys.find((k) => k.signing)?.kid).toBe(kid);
  });

  it.each(["ES256", "EdDSA", "HS256"] as const)(
    "%s works end to end; HS256 keys are never published",
    async (algorithm) => {
      const { auth } = await make({ algorithm });
      const t = await auth.login("alice");
      await expect(auth.verify(t.accessToken)).resolves.toMatchObject({ sub: "alice" });
      expect(auth.jwks().keys.length).toBe(algorithm === "HS256" ? 0 : 1);
    },
  );

  it("imports a configured HS256 secret and refuses a short one", async () => {
    const secret = "x".repeat(32);
    const { auth } = await make({ algorithm: "HS256", keys: [{ alg: "HS256", key: secret, kid: "main" }] });
    const t = await auth.login("alice");
    expect(JSON.parse(Buffer.from(t.accessToken.split(".")[0] as string, "base64url").toString()).kid).toBe(
      "main",
    );
    await expect(make({ algorithm: "HS256", keys: [{ alg: "HS256", key: "short" }] })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
    });
  });
});

describe("configuration and claims", () => {
  it.each([
    [{ issuer: "" }, "issuer"],
    [{ audience: 5 }, "audience"],
    [{ store: undefined }, "store"],
    [{ algorithm: "none" }, "algorithm"],
    [{ accessTokenTtl: "15 minutes" }, "accessTokenTtl"],
    [{ maxStaleness: 0 }, "maxStaleness"],
    [{ failMode: "sometimes" }, "failMode"],
    [{ algorithms: ["EdDSA", "none"] }, "algorithms"],
  ])("bad option %j fails at createAuth", async (patch, option) => {
    const err = await createAuth({
      issuer: "https://i",
      audience: "api",
      store: memoryStore(),
      ...(patch as object),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "ERR_CONFIG_INVALID", option });
  });

  it("custom claims are carried but may never override reserved ones", async () => {
    const { auth } = await make();
    const t = await auth.login("alice", { claims: { role: "admin", tenant: "t1" }, scope: "read write" });
    await expect(auth.verify(t.accessToken)).resolves.toMatchObject({
      role: "admin",
      tenant: "t1",
      sub: "alice",
      scope: "read write",
    });
    const t2 = await auth.refresh(t.refreshToken);
    await expect(auth.verify(t2.accessToken)).resolves.toMatchObject({ role: "admin" });
    for (const name of ["sub", "iss", "exp", "sid", "jti", "client_id", "aud"]) {
      await expect(auth.login("alice", { claims: { [name]: "x" } })).rejects.toThrow(TypeError);
    }
  });

  it("expired tokens are reported as expired, within the clock tolerance they pass", async () => {
    const { auth, clock } = await make({ accessTokenTtl: "1m", clockTolerance: "5s" });
    const t = await auth.login("alice");
    clock.advance(63_000);
    await expect(auth.verify(t.accessToken)).resolves.toBeTruthy();
    clock.advance(3_000);
    expect(await code(auth.verify(t.accessToken))).toBe("ERR_TOKEN_EXPIRED");
  });

  it("no token or secret appears in error messages", async () => {
    const { auth } = await make();
    const t = await auth.login("alice");
    await auth.logout(t.sessionId);
    for (const p of [
      auth.verify(t.accessToken),
      auth.refresh(t.refreshToken),
      auth.refresh(`${t.refreshToken}x`),
    ]) {
      const e = (await p.catch((x: unknown) => x)) as Error;
      expect(e.message).not.toContain(t.accessToken.slice(0, 16));
      expect(e.message).not.toContain(t.refreshToken.slice(4, 20));
    }
  });
});

describe("a login right after a logout-all, on a node that has not heard of it yet", () => {
  it("is never stale: logout-all returns only once its millisecond has passed", async () => {
    const store = memoryStore();
    const deaf = faultyStore(store);
    const a = await createAuth({ issuer: "https://i", audience: "api", store });
    const b = await createAuth({ issuer: "https://i", audience: "api", store: deaf, maxStaleness: "1m" });
    opened.push(a, b);
    await b.ready();
    // b hears nothing of a's cutoffs (its feed is held), as a node whose feed is a moment behind.
    deaf.feedPaused = true;
    await new Promise((r) => setTimeout(r, 50));
    for (let round = 0; round < 40; round++) {
      const user = `quick-${round}`;
      const old = await a.login(user);
      await a.logoutAll(user);
      const fresh = await b.login(user);
      expect(await code(a.verify(old.accessToken))).toBe("ERR_SESSION_REVOKED");
      await expect(a.verify(fresh.accessToken)).resolves.toMatchObject({ sub: user });
    }
    deaf.feedPaused = false;
  });
});
