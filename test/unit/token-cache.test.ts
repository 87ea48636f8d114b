import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { deepFreeze, TokenCache } from "../../src/core/token-cache.js";
import { type Auth, type AuthOptions, createAuth, memoryStore, type Store } from "../../src/index.js";
import { testClock } from "../helpers/clock.js";

describe("TokenCache", () => {
  it("returns an entry until its exp and never at or after it (and then forgets it)", () => {
    const cache = new TokenCache<{ exp: number }>(10);
    cache.set("t1", { exp: 100 });
    expect(cache.get("t1", 99_999)).toEqual({ exp: 100 });
    expect(cache.get("t1", 100_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get("nope", 0)).toBeUndefined();
  });

  it("is keyed by the whole token: a prefix or a longer string is another key", () => {
    const cache = new TokenCache<{ exp: number }>(10);
    cache.set("aaa.bbb.ccc", { exp: 100 });
    expect(cache.get("aaa.bbb.cc", 0)).toBeUndefined();
    expect(cache.get("aaa.bbb.cccd", 0)).toBeUndefined();
    expect(cache.get("aaa.bbb.ccc", 0)).toBeDefined();
  });

  it("two tokens with the same signature part are different keys (the whole token must match)", () => {
    const cache = new TokenCache<{ exp: number }>(10);
    const sig = "s".repeat(43); // the lookup key is the last 43 characters: these two share it
    cache.set(`h1.p1.${sig}`, { exp: 100 });
    expect(cache.get(`h1.p2.${sig}`, 0)).toBeUndefined();
    expect(cache.get(`h1.p1.${sig}`, 0)).toEqual({ exp: 100 });
    cache.set(`h1.p2.${sig}`, { exp: 200 });
    expect(cache.get(`h1.p1.${sig}`, 0)).toBeUndefined();
    expect(cache.get(`h1.p2.${sig}`, 0)).toEqual({ exp: 200 });
    expect(cache.size).toBe(1);
    cache.set("no-dots", { exp: 300 });
    expect(cache.get("no-dots", 0)).toEqual({ exp: 300 });
    cache.set("h1.p1.sig", { exp: 400 }); // short tokens are their own key
    cache.set("h1.p2.sig", { exp: 500 });
    expect(cache.get("h1.p1.sig", 0)).toEqual({ exp: 400 });
    expect(cache.get("h1.p2.sig", 0)).toEqual({ exp: 500 });
  });

  it("holds at most maxEntries, evicting the oldest first", () => {
    const cache = new TokenCache<{ exp: number }>(3);
    for (const t of ["a", "b", "c"]) cache.set(t, { exp: 100 });
    cache.set("b", { exp: 200 }); // an update evicts nothing
    expect(cache.size).toBe(3);
    cache.set("d", { exp: 100 });
    expect(cache.size).toBe(3);
    expect(cache.get("a", 0)).toBeUndefined();
    expect(cache.get("b", 0)).toEqual({ exp: 200 });
    expect(cache.get("d", 0)).toBeDefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("admits every miss while there is room, then about one in eight, and stays bounded", () => {
    const cache = new TokenCache<{ exp: number }>(100);
    for (let i = 0; i < 100; i++) {
      expect(cache.admits()).toBe(true);
      cache.set(`t${i}`, { exp: 100 });
    }
    let admitted = 0;
    let newest = "";
    for (let i = 100; i < 8100; i++) {
      if (!cache.admits()) continue;
      admitted++;
      newest = `t${i}`;
      cache.set(newest, { exp: 100 });
    }
    expect(admitted).toBeGreaterThan(800);
    expect(admitted).toBeLessThan(1200);
    expect(cache.size).toBe(100);
    // A slot freed by an expired entry is refilled at once.
    expect(cache.get(newest, 99_999)).toBeDefined();
    expect(cache.get(newest, 100_000)).toBeUndefined();
    expect(cache.size).toBe(99);
    expect(cache.admits()).toBe(true);
  });

  it("evicts only live entries: one dropped at expiry leaves its ring slot stale", () => {
    const cache = new TokenCache<{ exp: number }>(2);
    cache.set("a", { exp: 1 });
    cache.set("b", { exp: 100 });
    expect(cache.get("a", 5000)).toBeUndefined(); // expired: dropped
    cache.set("c", { exp: 100 }); // takes a's ring slot; nothing live is evicted
    expect(cache.get("b", 0)).toBeDefined();
    expect(cache.get("c", 0)).toBeDefined();
    cache.set("d", { exp: 100 }); // now b, the oldest, goes
    expect(cache.get("b", 0)).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it("answers nothing for a value that is not a string (verify is called with anything)", () => {
    const cache = new TokenCache<{ exp: number }>(10);
    for (const v of [42, null, undefined, { token: "x" }])
      expect(cache.get(v as unknown as string, 0)).toBeUndefined();
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses a size of %s", (n) => {
    expect(() => new TokenCache(n)).toThrow(TypeError);
  });

  it("deepFreeze freezes nested values", () => {
    const v = deepFreeze({ aud: ["a"], x: { y: { z: 1 } } });
    expect(Object.isFrozen(v) && Object.isFrozen(v.aud) && Object.isFrozen(v.x.y)).toBe(true);
  });
});

describe("Auth with the verified-token cache", () => {
  const opened: Auth[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((a) => a.close()));
  });
  async function make(options: Partial<AuthOptions> = {}, store: Store = memoryStore()) {
    const clock = testClock();
    const auth = await createAuth({
      issuer: "https://issuer.test",
      audience: "api",
      store,
      clock,
      purgeInterval: 0,
      maxStaleness: "1h",
      ...options,
    });
    opened.push(auth);
    return { auth, clock, store };
  }

  it("is on by default: a repeated token is served from the cache (same frozen claims)", async () => {
    const { auth } = await make();
    const t = await auth.login("u1");
    const first = await auth.verify(t.accessToken);
    expect(await auth.verify(t.accessToken)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it("can be turned off with false or 0", async () => {
    for (const verifyCache of [false, 0] as const) {
      const { auth } = await make({ verifyCache });
      const t = await auth.login("u1");
      const first = await auth.verify(t.accessToken);
      const second = await auth.verify(t.accessToken);
      expect(second).not.toBe(first);
      expect(second).toEqual(first);
      expect(Object.isFrozen(first)).toBe(false);
    }
  });

  it.each([-1, 1.5, "10", Number.POSITIVE_INFINITY])("refuses verifyCache %j", async (verifyCache) => {
    await expect(make({ verifyCache: verifyCache as number })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      option: "verifyCache",
    });
  });

  it("still checks revocation on every call: session, token and global revocations", async () => {
    const { auth, clock } = await make();
    const a = await auth.login("u1");
    const b = await auth.login("u2");
    const c = await auth.login("u3");
    for (const t of [a, b, c]) await auth.verify(t.accessToken); // now cached
    await auth.logout(a.sessionId);
    await expect(auth.verify(a.accessToken)).rejects.toMatchObject({ code: "ERR_SESSION_REVOKED" });
    await auth.revokeAccessToken(b.accessToken);
    await expect(auth.verify(b.accessToken)).rejects.toMatchObject({ code: "ERR_TOKEN_REVOKED" });
    await auth.verify(c.accessToken);
    clock.advance(2000);
    await auth.revokeIssuedBefore(new Date(clock()));
    await expect(auth.verify(c.accessToken)).rejects.toMatchObject({ code: "ERR_TOKEN_REVOKED" });
  });

  it("never serves a token past its exp, and re-checks the time claims on a hit", async () => {
    const { auth, clock } = await make({ accessTokenTtl: "1m", clockTolerance: "5s" });
    const t = await auth.login("u1");
    await auth.verify(t.accessToken);
    clock.advance(60_000 + 4_000); // past exp, within the tolerance: still accepted, like an uncached token
    await auth.verify(t.accessToken);
    clock.advance(1_000);
    await expect(auth.verify(t.accessToken)).rejects.toMatchObject({ code: "ERR_TOKEN_EXPIRED" });
    // A clock moved back before iat: refused as a fresh verification would.
    const u = await auth.login("u2");
    await auth.verify(u.accessToken);
    clock.advance(-60_000);
    await expect(auth.verify(u.accessToken)).rejects.toMatchObject({
      code: "ERR_TOKEN_INVALID",
      reason: "iat",
    });
  });

  it("is bounded: the oldest token is evicted and verified afresh", async () => {
    const { auth } = await make({ verifyCache: 2 });
    const tokens = await Promise.all(Array.from({ length: 80 }, (_, i) => auth.login(`u${i}`)));
    const first = await auth.verify(tokens[0]!.accessToken);
    expect(await auth.verify(tokens[0]!.accessToken)).toBe(first); // a hit: the same frozen object
    expect(Object.isFrozen(first)).toBe(true);
    // 79 more tokens, one in eight admitted once full: the first is evicted (the draw is seeded).
    for (const t of tokens.slice(1)) await auth.verify(t.accessToken);
    const again = await auth.verify(tokens[0]!.accessToken);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it("is emptied when the key that verified a token is removed", async () => {
    const { auth, store } = await make({ keyRefreshInterval: "1h" });
    const t = await auth.login("u1");
    await auth.verify(t.accessToken);
    const [old] = await store.listKeys();
    await auth.rotateKeys(); // a new key: the old one stays, so does the cache
    expect(await auth.verify(t.accessToken)).toBeDefined();
    await store.deleteKey(old!.kid);
    await auth.rotateKeys(); // reloads the keys: the old one is gone
    await expect(auth.verify(t.accessToken)).rejects.toMatchObject({
      code: "ERR_TOKEN_INVALID",
      reason: "kid",
    });
  });

  it("gives the same answers as an uncached node on random sequences (property)", async () => {
    const store = memoryStore();
    const { auth: cached, clock } = await make({ verifyCache: 2, accessTokenTtl: "2m" }, store);
    const plain = await createAuth({
      issuer: "https://issuer.test",
      audience: "api",
      store,
      clock,
      purgeInterval: 0,
      maxStaleness: "1h",
      accessTokenTtl: "2m",
      verifyCache: false,
    });
    opened.push(plain);
    const sessions = await Promise.all(["u1", "u2", "u3", "u4"].map((u) => cached.login(u)));
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant("verify" as const), i: fc.nat(3) }) },
      {
        weight: 2,
        arbitrary: fc.record({ t: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
      },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("logout" as const), i: fc.nat(3) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant("revokeToken" as const), i: fc.nat(3) }) },
    );
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => "valid",
        (e: { code?: string }) => e.code ?? "error",
      );
    let valid = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 25 }), async (ops) => {
        clock.set(Date.UTC(2026, 0, 1, 12, 0, 0));
        const tokens = await Promise.all(sessions.map((s) => cached.login(s.sessionId.slice(0, 8))));
        for (const o of ops) {
          if (o.t === "tick") clock.advance(o.ms);
          else if (o.t === "logout") await cached.logout(tokens[o.i]!.sessionId);
          else if (o.t === "revokeToken") await cached.revokeAccessToken(tokens[o.i]!.accessToken);
          else {
            // Let the other node's replica follow the feed first.
            await sleep(2);
            const token = tokens[o.i]!.accessToken;
            const a = await outcome(cached.verify(token));
            const b = await outcome(plain.verify(token));
            expect(a).toBe(b);
            if (a === "valid") valid++;
            else refused++;
          }
        }
      }),
      { numRuns: 25 },
    );
    expect(valid).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  });
});
