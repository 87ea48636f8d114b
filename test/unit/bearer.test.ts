import { describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.js";
import { authenticate, nodeAuthorization, readBearer, resolveAuthOptions } from "../../src/http/bearer.js";
import { memoryStore } from "../../src/stores/memory/index.js";

const TWO = {
  status: 400,
  error: "invalid_request",
  description: "The request must carry exactly one access token",
};
const MALFORMED = {
  status: 400,
  error: "invalid_request",
  description: "The Authorization header is malformed",
};

describe("readBearer", () => {
  const cases: [string, Parameters<typeof readBearer>[0], { token: string } | "missing" | typeof TWO][] = [
    ["a bearer token", { authorization: "Bearer abc.def-ghi_jkl" }, { token: "abc.def-ghi_jkl" }],
    [
      "every b64token character and padding",
      { authorization: "Bearer aZ09-._~+/==" },
      { token: "aZ09-._~+/==" },
    ],
    ["a case-insensitive scheme", { authorization: "BEARER abc" }, { token: "abc" }],
    ["several spaces after the scheme", { authorization: "Bearer   abc" }, { token: "abc" }],
    ["surrounding whitespace", { authorization: "  Bearer abc  " }, { token: "abc" }],
    ["one header line in an array", { authorization: ["Bearer abc"] }, { token: "abc" }],
    ["no header", { authorization: undefined }, "missing"],
    ["an empty header", { authorization: "" }, "missing"],
    ["no header lines", { authorization: [] }, "missing"],
    ["another scheme", { authorization: "Basic dXNlcjpwYXNz" }, "missing"],
    ["a scheme that merely starts with bearer", { authorization: "Bearerx abc" }, "missing"],
    ["a Digest header with commas", { authorization: 'Digest username="a", realm="b"' }, "missing"],
    ["two header lines", { authorization: ["Bearer a", "Bearer b"] }, TWO],
    ["two header lines of other schemes", { authorization: ["Basic a", "Basic b"] }, TWO],
    ["two credentials joined by a comma", { authorization: "Bearer a, Bearer b" }, TWO],
    ["a bearer and a basic credential joined", { authorization: "Basic x, Bearer b" }, TWO],
    ["Bearer alone", { authorization: "Bearer" }, MALFORMED],
    ["Bearer and spaces", { authorization: "Bearer   " }, MALFORMED],
    ["two words", { authorization: "Bearer a b" }, MALFORMED],
    ["a character outside b64token", { authorization: "Bearer a!b" }, MALFORMED],
    ["a comma inside the token", { authorization: "Bearer a,b" }, MALFORMED],
    ["padding in the middle", { authorization: "Bearer a=b" }, MALFORMED],
    ["a tab instead of a space", { authorization: "Bearer\tabc" }, MALFORMED],
    [
      "a cookie, when asked",
      { authorization: undefined, cookieHeader: "x=1; at=tok", cookieName: "at" },
      { token: "tok" },
    ],
    [
      "a quoted cookie",
      { authorization: undefined, cookieHeader: 'at="tok"', cookieName: "at" },
      { token: "tok" },
    ],
    [
      "the same cookie twice",
      { authorization: undefined, cookieHeader: "at=tok; at=tok", cookieName: "at" },
      { token: "tok" },
    ],
    [
      "a cookie whose name only ends like it",
      { authorization: undefined, cookieHeader: "xat=tok", cookieName: "at" },
      "missing",
    ],
    ["an empty cookie", { authorization: undefined, cookieHeader: "at=", cookieName: "at" }, "missing"],
    ["a cookie not asked for", { authorization: undefined, cookieHeader: "at=tok" }, "missing"],
    [
      "two different cookies",
      { authorization: undefined, cookieHeader: "at=a; at=b", cookieName: "at" },
      TWO,
    ],
    ["a header and a cookie", { authorization: "Bearer a", cookieHeader: "at=a", cookieName: "at" }, TWO],
    [
      "another scheme and a cookie",
      { authorization: "Basic x", cookieHeader: "at=a", cookieName: "at" },
      { token: "a" },
    ],
    [
      "a header and other cookies",
      { authorization: "Bearer a", cookieHeader: "x=1", cookieName: "at" },
      { token: "a" },
    ],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    const result = readBearer(input);
    if (expected === "missing") expect(result).toEqual({ missing: true });
    else if ("token" in expected) expect(result).toEqual(expected);
    else {
      expect(result).toEqual({
        error: {
          status: expected.status,
          headers: {
            "www-authenticate": `Bearer error="${expected.error}", error_description="${expected.description}"`,
          },
          body: { error: expected.error, error_description: expected.description },
        },
      });
    }
  });

  it("never puts a token in an answer", () => {
    const secret = "eyJhbGciOiJFZERTQSJ9.c2VjcmV0.c2ln";
    for (const input of [
      { authorization: [`Bearer ${secret}`, `Bearer ${secret}`] },
      { authorization: `Bearer ${secret} x` },
      { authorization: `Bearer ${secret}`, cookieHeader: `at=${secret}`, cookieName: "at" },
    ]) {
      expect(JSON.stringify(readBearer(input))).not.toContain(secret);
    }
  });
});

describe("resolveAuthOptions", () => {
  const auth = { verify: async () => ({}) };
  it("has defaults", () => {
    expect(resolveAuthOptions(auth, undefined)).toEqual({
      scopes: [],
      strict: false,
      cookie: undefined,
      realm: "api",
    });
  });
  it("splits a scope string and removes duplicates", () => {
    expect(resolveAuthOptions(auth, { scope: "read  admin read" }).scopes).toEqual(["read", "admin"]);
    expect(resolveAuthOptions(auth, { scope: ["a", "b"], strict: true, cookie: "at", realm: "r" })).toEqual({
      scopes: ["a", "b"],
      strict: true,
      cookie: "at",
      realm: "r",
    });
  });
  it("names the bad option in its TypeError", () => {
    expect(() => resolveAuthOptions(auth, { scope: "" })).toThrow(
      new TypeError("requireAuth: scope must be one or more scope tokens (a string or an array of strings)"),
    );
    expect(() => resolveAuthOptions(auth, { strict: 1 as never })).toThrow(
      new TypeError("requireAuth: strict must be a boolean"),
    );
    expect(() => resolveAuthOptions(auth, { cookie: "a;b" })).toThrow(
      new TypeError("requireAuth: cookie must be a cookie name"),
    );
    expect(() => resolveAuthOptions(auth, { realm: "é" })).toThrow(
      new TypeError("requireAuth: realm must be a non-empty string of printable ASCII"),
    );
    expect(() => resolveAuthOptions(auth, { strcit: true } as never)).toThrow(
      new TypeError('requireAuth: unknown option "strcit"'),
    );
    expect(() => resolveAuthOptions(null, undefined)).toThrow(TypeError);
  });
});

describe("authenticate", () => {
  it("composes reading, verification, the scope check and the mapping; other errors propagate", async () => {
    const auth = await createAuth({ issuer: "https://auth.test", audience: "api", store: memoryStore() });
    try {
      const t = await auth.login("u1", { scope: "read write" });
      const input = { authorization: `Bearer ${t.accessToken}` };
      const ok = await authenticate(auth, input, resolveAuthOptions(auth, { scope: ["write", "read"] }));
      expect(ok).toEqual({ claims: await auth.verify(t.accessToken) });

      const scoped = await authenticate(auth, input, resolveAuthOptions(auth, { scope: "read admin" }));
      expect(scoped).toMatchObject({
        error: {
          status: 403,
          headers: { "www-authenticate": expect.stringContaining('scope="read admin"') },
        },
      });

      const missing = await authenticate(
        auth,
        { authorization: undefined },
        resolveAuthOptions(auth, { realm: "x" }),
      );
      expect(missing).toMatchObject({
        error: { status: 401, headers: { "www-authenticate": 'Bearer realm="x"' } },
      });

      const overlong = await authenticate(
        auth,
        { authorization: `Bearer ${"a".repeat(10_000)}` },
        resolveAuthOptions(auth, {}),
      );
      expect(overlong).toMatchObject({ error: { status: 401, body: { error: "invalid_token" } } });

      await auth.close();
      await expect(authenticate(auth, input, resolveAuthOptions(auth, {}))).rejects.toMatchObject({
        code: "ERR_CLOSED",
      });
    } finally {
      await auth.close();
    }
  });
});

describe("nodeAuthorization", () => {
  it("gives the one header, every line when there are several, nothing when absent", () => {
    const req = (rawHeaders: string[]) => {
      const first = rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === "authorization");
      return { headers: { authorization: first < 0 ? undefined : rawHeaders[first + 1] }, rawHeaders };
    };
    expect(nodeAuthorization(req(["Host", "x", "Authorization", "Bearer a"]))).toBe("Bearer a");
    expect(nodeAuthorization(req(["authorization", "Bearer a", "AUTHORIZATION", "Bearer b"]))).toEqual([
      "Bearer a",
      "Bearer b",
    ]);
    expect(nodeAuthorization(req(["Host", "x"]))).toBeUndefined();
    // A same-length header name that is not Authorization does not count.
    expect(nodeAuthorization(req(["Authorization", "Bearer a", "Authorizatio_", "Bearer b"]))).toBe(
      "Bearer a",
    );
    expect(nodeAuthorization(req(["Cache-Control", "no-cache", "authorization", "Bearer a"]))).toBe(
      "Bearer a",
    );
    expect(
      nodeAuthorization({ headers: { authorization: "Bearer a" }, rawHeaders: undefined as never }),
    ).toBe("Bearer a");
  });

  it("never reads req.headers when rawHeaders are there (Node builds that object on first read)", () => {
    const req = {
      rawHeaders: ["Host", "x", "Authorization", "Bearer a"],
      get headers(): { authorization?: string } {
        throw new Error("req.headers was read");
      },
    };
    expect(nodeAuthorization(req)).toBe("Bearer a");
  });
});
