/**
 * Type-level tests of the library's public API (the package root): createAuth's options, what
 * verify() and login() give, the store factories and the store contracts. The assertions are checked
 * by `tsc -p tsconfig.test.json`; vitest runs them as no-ops, so a public type cannot drift silently.
 */
import { describe, expectTypeOf, it } from "vitest";
import {
  type AccessTokenClaims,
  type AccountStore,
  type Auth,
  type AuthOptions,
  createAuth,
  memoryStore,
  type RevocationStore,
  type Store,
  storeFromUrl,
  type TokenSet,
  type VerifyOptions,
} from "../../src/index.js";

const store = memoryStore();
const base = { issuer: "https://auth.example.com", audience: "api", store };

describe("createAuth", () => {
  it("takes AuthOptions and gives an Auth", () => {
    expectTypeOf(createAuth).parameters.toEqualTypeOf<[options: AuthOptions]>();
    expectTypeOf(createAuth).returns.resolves.toEqualTypeOf<Auth>();
    expectTypeOf(createAuth).toBeCallableWith(base);
    expectTypeOf(createAuth).toBeCallableWith({
      ...base,
      accessTokenTtl: "15m",
      refreshTokenTtl: 30 * 24 * 3600_000,
      failMode: "open",
      verifyCache: false,
      algorithms: ["ES256", "EdDSA"],
    });
  });

  it("refuses an unknown option or a wrong type at compile time", () => {
    // Compiled, never called (it would start an Auth): each call is a mistake a user could make.
    const mistakes = () => {
      // @ts-expect-error a misspelled option is not silently ignored
      void createAuth({ ...base, accesTokenTtl: "15m" });
      // @ts-expect-error failMode is "closed" or "open"
      void createAuth({ ...base, failMode: "sometimes" });
      // @ts-expect-error a duration is a number or a string
      void createAuth({ ...base, accessTokenTtl: true });
      // @ts-expect-error an algorithm outside ALGORITHMS
      void createAuth({ ...base, algorithm: "none" });
      // @ts-expect-error the store is required
      void createAuth({ issuer: base.issuer, audience: base.audience });
    };
    expectTypeOf(mistakes).toBeFunction();
  });
});

describe("Auth", () => {
  it("verify() gives the access-token claims", () => {
    expectTypeOf<Auth["verify"]>().parameters.toEqualTypeOf<[token: string, options?: VerifyOptions]>();
    expectTypeOf<Auth["verify"]>().returns.resolves.toEqualTypeOf<AccessTokenClaims>();
    // verifySync: the same claims, no promise, no options (strict would mean I/O).
    expectTypeOf<Auth["verifySync"]>().parameters.toEqualTypeOf<[token: string]>();
    expectTypeOf<Auth["verifySync"]>().returns.toEqualTypeOf<AccessTokenClaims>();
    expectTypeOf<AccessTokenClaims>().toHaveProperty("sid").toBeString();
    expectTypeOf<AccessTokenClaims>().toHaveProperty("exp").toBeNumber();
    expectTypeOf<AccessTokenClaims["aud"]>().toEqualTypeOf<string | string[]>();
    expectTypeOf<AccessTokenClaims["scope"]>().toEqualTypeOf<string | undefined>();
    // Custom claims stay reachable, as unknown.
    expectTypeOf<AccessTokenClaims["tenant"]>().toBeUnknown();
  });

  it("login() gives a TokenSet", () => {
    expectTypeOf<Auth["login"]>().parameter(0).toBeString();
    expectTypeOf<Auth["login"]>().returns.resolves.toEqualTypeOf<TokenSet>();
    expectTypeOf<TokenSet>().toEqualTypeOf<{
      accessToken: string;
      refreshToken: string;
      tokenType: "Bearer";
      expiresIn: number;
      sessionId: string;
    }>();
  });

  it("refresh() gives a TokenSet too", () => {
    expectTypeOf<Auth["refresh"]>().returns.resolves.toEqualTypeOf<TokenSet>();
  });
});

describe("stores", () => {
  it("memoryStore() is a Store: both the revocation and the account contract", () => {
    expectTypeOf(memoryStore).returns.toEqualTypeOf<Store>();
    expectTypeOf(store).toExtend<RevocationStore>();
    expectTypeOf(store).toExtend<AccountStore>();
    expectTypeOf<Store>().toExtend<RevocationStore & AccountStore>();
    expectTypeOf(store).toExtend<AuthOptions["store"]>();
  });

  it("storeFromUrl() gives a Store, not yet opened", () => {
    expectTypeOf(storeFromUrl).parameter(0).toBeString();
    expectTypeOf(storeFromUrl).returns.resolves.toEqualTypeOf<Store>();
    expectTypeOf(storeFromUrl).toBeCallableWith("memory:");
    expectTypeOf(storeFromUrl).toBeCallableWith("sqlite:./data/revokit.db", { logger: console });
    const mistake = () => {
      // @ts-expect-error storeFromUrl knows only `logger` (the prefix goes in the URL)
      void storeFromUrl("redis://localhost:6379", { prefix: "x" });
    };
    expectTypeOf(mistake).toBeFunction();
  });
});
