/**
 * One way to say things: durations are seconds or strings everywhere, a misspelled option is a
 * TypeError at once (createAuth and every store factory), the issuer is an absolute URL used exactly
 * as given, and a store URL means the same in the library as in the CLI.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AuthOptions, createAuth, memoryStore, storeFromUrl } from "../../src/index.js";
import { postgresStore } from "../../src/stores/postgres/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { sqliteStore } from "../../src/stores/sqlite/index.js";

const dir = mkdtempSync(join(tmpdir(), "revokit-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (): AuthOptions => ({
  issuer: "https://auth.example.com",
  audience: "api",
  store: memoryStore(),
});

describe("unknown option names are a TypeError at once", () => {
  it("createAuth names the option and suggests the right one", async () => {
    const options = { ...base(), accesTokenTtl: "1m" } as AuthOptions;
    await expect(createAuth(options)).rejects.toThrow(
      new TypeError('createAuth: unknown option "accesTokenTtl" (did you mean "accessTokenTtl"?)'),
    );
    await expect(createAuth({ ...base(), frobnicate: 1 } as AuthOptions)).rejects.toThrow(
      new TypeError('createAuth: unknown option "frobnicate"'),
    );
  });

  it.each([
    ["memoryStore", () => memoryStore({ durable: true } as never), /memoryStore: unknown option "durable"/],
    [
      "sqliteStore",
      () => sqliteStore({ path: join(dir, "a.db"), pollIntervall: 5 } as never),
      /sqliteStore: unknown option "pollIntervall" \(did you mean "pollInterval"\?\)/,
    ],
    [
      "redisStore target",
      () => redisStore({ uri: "redis://127.0.0.1" } as never),
      /redisStore: unknown option "uri" \(did you mean "url"\?\)/,
    ],
    [
      "redisStore options",
      () => redisStore({ url: "redis://127.0.0.1" }, { prefx: "a:" } as never),
      /redisStore: unknown option "prefx" \(did you mean "prefix"\?\)/,
    ],
    [
      "postgresStore",
      () => postgresStore({ url: "postgres://127.0.0.1/db", connectTimeoutMs: 1000 } as never),
      /postgresStore: unknown option "connectTimeoutMs" \(did you mean "connectTimeout"\?\)/,
    ],
    [
      "storeFromUrl",
      () => storeFromUrl("memory:", { logegr: console } as never),
      /storeFromUrl: unknown option "logegr"/,
    ],
  ])("%s", async (_name, make, message) => {
    await expect((async () => make())()).rejects.toThrow(message);
  });
});

describe("durations: a number is seconds, a string has its unit, in createAuth and every factory", () => {
  it("createAuth: accessTokenTtl 900 is 15 minutes, '15m' too", async () => {
    for (const ttl of [900, "15m"]) {
      const auth = await createAuth({ ...base(), accessTokenTtl: ttl });
      expect(auth.accessTokenTtlMs).toBe(900_000);
      const t = await auth.login("u");
      expect(t.expiresIn).toBe(900);
      await auth.close();
    }
  });

  it("store factories take the same forms and refuse the same nonsense", () => {
    for (const pollInterval of [0.02, "20ms"]) {
      expect(() => sqliteStore({ path: join(dir, "b.db"), pollInterval })).not.toThrow();
    }
    expect(() => sqliteStore({ path: join(dir, "b.db"), pollInterval: "soon" })).toThrow(/pollInterval/);
    expect(() => redisStore({ url: "redis://127.0.0.1" }, { commandTimeout: "2s" })).not.toThrow();
    expect(() => redisStore({ url: "redis://127.0.0.1" }, { feedRetention: 0.5 })).toThrow(/feedRetention/);
    expect(() =>
      postgresStore({
        url: "postgres://127.0.0.1/db",
        connectTimeout: 2,
        queryTimeout: "5s",
        purgeInterval: 0,
      }),
    ).not.toThrow();
    expect(() => postgresStore({ url: "postgres://127.0.0.1/db", queryTimeout: -1 })).toThrow(/queryTimeout/);
  });
});

describe("issuer: an absolute URL, used exactly as given", () => {
  it.each([
    "auth.example.com",
    "/auth",
    "ftp://auth.example.com",
    "https://a.example.com/?x=1",
    "https://a.example.com/#f",
  ])("refuses %s", async (issuer) => {
    await expect(createAuth({ ...base(), issuer })).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      option: "issuer",
    });
  });

  it("keeps a trailing slash and a path in iss, and accepts exactly that", async () => {
    for (const issuer of ["https://auth.example.com/", "https://example.com/tenant/a"]) {
      const auth = await createAuth({ ...base(), issuer });
      const t = await auth.login("u");
      const claims = await auth.verify(t.accessToken);
      expect(claims.iss).toBe(issuer);
      await auth.close();
    }
  });
});

describe("store URLs mean the same in the library and the CLI", () => {
  it("sqliteStore understands the sqlite: form instead of making a folder named sqlite:.", async () => {
    const path = join(dir, "c.db");
    const store = sqliteStore({ path: `sqlite:${path}` });
    await store.open();
    await store.close();
    expect(existsSync(path)).toBe(true);
    expect(existsSync("sqlite:.")).toBe(false);
  });

  it("storeFromUrl gives each kind with its options", async () => {
    expect((await storeFromUrl("memory:")).kind).toBe("memory");
    expect((await storeFromUrl(`sqlite:${join(dir, "d.db")}`)).kind).toBe("sqlite");
    expect((await storeFromUrl("redis://127.0.0.1:1?prefix=tenant-a:")).kind).toBe("redis");
    expect((await storeFromUrl("postgres://127.0.0.1:1/db?schema=tenant_a")).kind).toBe("postgres");
    await expect(storeFromUrl("mysql://db")).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      option: "store",
    });
  });
});

describe("a new memory store has nothing to open without creating it", () => {
  it("open({ create: false }) refuses, then works once created", async () => {
    const store = memoryStore();
    await expect(store.open({ create: false })).rejects.toMatchObject({ code: "ERR_STORE_MISSING" });
    await store.open();
    await store.open({ create: false });
    await store.close();
  });
});
