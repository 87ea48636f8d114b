/**
 * The HTTP API of the standalone server (SPEC §5), in process over real HTTP: every endpoint's
 * success shape and its error cases, browser (cookie) mode and its CSRF defence, client
 * authentication, the RFC 7009/7662 rules, oversized input, store outages, metrics and logs.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryStore } from "../../src/index.js";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import { createLogger } from "../../src/server/logger.js";
import { hashSecret } from "../../src/server/passwords.js";
import { faultyStore } from "../helpers/faulty-store.js";
import { basicAuth, type TokenResponse } from "../helpers/server-client.js";

interface Started {
  server: RevokitServer;
  url: string;
}

const PASSWORD = "correct horse battery";

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<Started> {
  const server = await createServer({
    store: memoryStore(),
    port: 0,
    logger: "silent",
    rateLimits: { ipAttempts: 10_000 },
    // Cheaper hashes keep this file fast; the child-process tests run the default cost.
    scrypt: { N: 2 ** 12, r: 8, p: 1 },
    ...options,
  });
  return { server, url: await server.listen() };
}

function json(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function form(
  url: string,
  path: string,
  params: string | Record<string, string>,
  headers: Record<string, string> = {},
) {
  return fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: typeof params === "string" ? params : new URLSearchParams(params).toString(),
  });
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

async function expectError(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(typeof body.error_description).toBe("string");
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  return body;
}

async function register(url: string, username: string, password = PASSWORD): Promise<string> {
  const res = await json(url, "/auth/register", { username, password });
  expect(res.status).toBe(201);
  return ((await res.json()) as { user_id: string }).user_id;
}

async function login(
  url: string,
  username: string,
  password = PASSWORD,
  extra: Record<string, unknown> = {},
) {
  const res = await json(url, "/auth/login", { username, password, ...extra });
  expect(res.status).toBe(200);
  return (await res.json()) as TokenResponse;
}

async function addClient(s: Started, clientId: string, secret: string): Promise<void> {
  const secretHash = await hashSecret(secret, { N: 2 ** 12, r: 8, p: 1 });
  await s.server.store.addClient({ clientId, secretHash, createdAt: Date.now() });
}

describe("server API", () => {
  let s: Started;
  let url: string;
  beforeAll(async () => {
    s = await start();
    url = s.url;
  });
  afterAll(async () => {
    await s.server.close();
  });

  describe("POST /auth/register", () => {
    it("creates a user, lower-cases the name, and refuses a taken one case-insensitively", async () => {
      const res = await json(url, "/auth/register", { username: "Reg.User@x", password: PASSWORD });
      expect(res.status).toBe(201);
      const body = await res.json();
      expect(Object.keys(body).sort()).toEqual(["user_id", "username"]);
      expect(body.username).toBe("reg.user@x");
      await expectError(
        await json(url, "/auth/register", { username: "REG.USER@X", password: PASSWORD }),
        409,
        "username_taken",
      );
    });

    it.each([
      [{ username: "ab", password: PASSWORD }],
      [{ username: "a".repeat(65), password: PASSWORD }],
      [{ username: "has space", password: PASSWORD }],
      [{ username: "ok_name", password: "short" }],
      [{ username: "ok_name", password: "x".repeat(257) }],
      [{ username: 42, password: PASSWORD }],
      [{ username: "ok_name" }],
      [[1, 2]],
    ])("400 invalid_request for %j", async (body) => {
      await expectError(await json(url, "/auth/register", body), 400, "invalid_request");
    });

    it("accepts a 256-character password and every allowed username character", async () => {
      const res = await json(url, "/auth/register", { username: "a.b_c-d@E9", password: "p".repeat(256) });
      expect(res.status).toBe(201);
    });
  });

  describe("POST /auth/login", () => {
    let userId: string;
    beforeAll(async () => {
      userId = await register(url, "login_user");
    });

    it("answers the token response with no-store headers", async () => {
      const res = await json(url, "/auth/login", { username: "LOGIN_USER", password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("pragma")).toBe("no-cache");
      const body = (await res.json()) as TokenResponse;
      expect(Object.keys(body)).toEqual([
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "session_id",
      ]);
      expect(body.token_type).toBe("Bearer");
      expect(body.expires_in).toBe(900);
      const claims = await s.server.auth.verify(body.access_token);
      expect(claims).toMatchObject({ sub: userId, client_id: "default", sid: body.session_id });
    });

    it("gives the same 401 invalid_credentials for a wrong password and an unknown user", async () => {
      await expectError(
        await json(url, "/auth/login", { username: "login_user", password: "wrong password" }),
        401,
        "invalid_credentials",
      );
      await expectError(
        await json(url, "/auth/login", { username: "nobody_here", password: PASSWORD }),
        401,
        "invalid_credentials",
      );
      await expectError(
        await json(url, "/auth/login", { username: "!", password: PASSWORD }),
        401,
        "invalid_credentials",
      );
    });

    it("400 for a malformed body", async () => {
      await expectError(await json(url, "/auth/login", { username: "login_user" }), 400, "invalid_request");
      await expectError(
        await json(url, "/auth/login", { username: "login_user", password: PASSWORD, cookie: "yes" }),
        400,
        "invalid_request",
      );
      await expectError(await json(url, "/auth/login", "{not json"), 400, "invalid_request");
      await expectError(await json(url, "/auth/login", '"a string"'), 400, "invalid_request");
      await expectError(await fetch(`${url}/auth/login`, { method: "POST" }), 400, "invalid_request");
    });

    it("a disabled user: 403 account_disabled with the right password, 401 with a wrong one", async () => {
      const id = await register(url, "to_disable");
      await s.server.auth.disableUser(id);
      await expectError(
        await json(url, "/auth/login", { username: "to_disable", password: PASSWORD }),
        403,
        "account_disabled",
      );
      await expectError(
        await json(url, "/auth/login", { username: "to_disable", password: "wrong password" }),
        401,
        "invalid_credentials",
      );
      await s.server.auth.enableUser(id);
      await login(url, "to_disable");
    });
  });

  describe("POST /auth/refresh", () => {
    it("rotates, accepts the predecessor within the grace window, and refuses junk with invalid_grant", async () => {
      await register(url, "refresher");
      const t0 = await login(url, "refresher");
      const res = await json(url, "/auth/refresh", { refresh_token: t0.refresh_token });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const t1 = (await res.json()) as TokenResponse;
      expect(Object.keys(t1)).toEqual([
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "session_id",
      ]);
      expect(t1.session_id).toBe(t0.session_id);
      expect(t1.refresh_token).not.toBe(t0.refresh_token);
      await expectError(
        await json(url, "/auth/refresh", { refresh_token: "jrt_nope" }),
        400,
        "invalid_grant",
      );
      await expectError(
        await json(url, "/auth/refresh", { refresh_token: t1.access_token }),
        400,
        "invalid_grant",
      );
      await expectError(await json(url, "/auth/refresh", {}), 400, "invalid_request");
      await expectError(await json(url, "/auth/refresh", { refresh_token: 7 }), 400, "invalid_request");
    });

    it("an access token is not a refresh token and a refresh token is not an access token", async () => {
      await register(url, "confuser");
      const t = await login(url, "confuser");
      const me = await fetch(`${url}/auth/me`, { headers: bearer(t.refresh_token) });
      await expectError(me, 401, "invalid_token");
      expect(me.headers.get("www-authenticate")).toMatch(/^Bearer error="invalid_token"/);
    });
  });

  describe("protected routes", () => {
    it("no token: 401 with a bare Bearer challenge; bad token: 401 invalid_token challenge", async () => {
      for (const [method, path] of [
        ["POST", "/auth/logout"],
        ["POST", "/auth/logout-all"],
        ["GET", "/auth/sessions"],
        ["DELETE", "/auth/sessions/abc"],
        ["POST", "/auth/password"],
        ["GET", "/auth/me"],
      ] as const) {
        const none = await fetch(url + path, { method });
        expect(none.status, `${method} ${path}`).toBe(401);
        expect(none.headers.get("www-authenticate")).toBe('Bearer realm="revokit"');
        const bad = await fetch(url + path, { method, headers: bearer("e30.e30.AAAA") });
        expect(bad.status).toBe(401);
        expect(bad.headers.get("www-authenticate")).toMatch(
          /^Bearer error="invalid_token", error_description="/,
        );
        expect((await bad.json()).error).toBe("invalid_token");
      }
    });

    it("an overlong token is 401 invalid_token", async () => {
      const res = await fetch(`${url}/auth/me`, { headers: bearer(`${"a".repeat(9000)}.b.c`) });
      await expectError(res, 401, "invalid_token");
    });

    it("GET /auth/me and GET /auth/sessions", async () => {
      const id = await register(url, "lister");
      const a = await login(url, "lister");
      const b = await json(
        url,
        "/auth/login",
        { username: "lister", password: PASSWORD },
        { "user-agent": "Device B/1.0" },
      );
      const tb = (await b.json()) as TokenResponse;
      const me = await fetch(`${url}/auth/me`, { headers: bearer(a.access_token) });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ user_id: id, username: "lister", session_id: a.session_id });
      const res = await fetch(`${url}/auth/sessions`, { headers: bearer(a.access_token) });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const { sessions } = (await res.json()) as { sessions: Record<string, unknown>[] };
      expect(sessions).toHaveLength(2);
      for (const session of sessions) {
        expect(Object.keys(session).sort()).toEqual(
          ["created_at", "current", "expires_at", "ip", "last_used_at", "session_id", "user_agent"].sort(),
        );
        for (const key of ["created_at", "last_used_at", "expires_at"]) {
          expect(new Date(session[key] as string).toISOString()).toBe(session[key]);
        }
        expect(session.ip).toBe("127.0.0.1");
      }
      const byId = Object.fromEntries(sessions.map((x) => [x.session_id, x]));
      expect(byId[a.session_id]?.current).toBe(true);
      expect(byId[tb.session_id]).toMatchObject({ current: false, user_agent: "Device B/1.0" });
    });

    it("DELETE /auth/sessions/{id}: 204 for one's own, 404 for another user's or an unknown one", async () => {
      await register(url, "deleter");
      await register(url, "victim");
      const mine = await login(url, "deleter");
      const other = await login(url, "deleter");
      const theirs = await login(url, "victim");
      await expectError(
        await fetch(`${url}/auth/sessions/${theirs.session_id}`, {
          method: "DELETE",
          headers: bearer(mine.access_token),
        }),
        404,
        "not_found",
      );
      await expectError(
        await fetch(`${url}/auth/sessions/unknown-session`, {
          method: "DELETE",
          headers: bearer(mine.access_token),
        }),
        404,
        "not_found",
      );
      const ok = await fetch(`${url}/auth/sessions/${other.session_id}`, {
        method: "DELETE",
        headers: bearer(mine.access_token),
      });
      expect(ok.status).toBe(204);
      await expectError(
        await fetch(`${url}/auth/me`, { headers: bearer(other.access_token) }),
        401,
        "invalid_token",
      );
      expect((await fetch(`${url}/auth/me`, { headers: bearer(theirs.access_token) })).status).toBe(200);
      await expectError(
        await json(url, "/auth/refresh", { refresh_token: other.refresh_token }),
        400,
        "invalid_grant",
      );
    });

    it("POST /auth/password: 403 invalid_credentials for a wrong current password, 400 for a bad new one", async () => {
      await register(url, "changer");
      const a = await login(url, "changer");
      const b = await login(url, "changer");
      const post = (body: unknown) => json(url, "/auth/password", body, bearer(a.access_token));
      await expectError(
        await post({ current_password: "wrong password", new_password: "new password 1" }),
        403,
        "invalid_credentials",
      );
      await expectError(
        await post({ current_password: PASSWORD, new_password: "short" }),
        400,
        "invalid_request",
      );
      await expectError(await post({ new_password: "new password 1" }), 400, "invalid_request");
      expect((await post({ current_password: PASSWORD, new_password: "new password 1" })).status).toBe(204);
      expect((await fetch(`${url}/auth/me`, { headers: bearer(a.access_token) })).status).toBe(200);
      await expectError(
        await fetch(`${url}/auth/me`, { headers: bearer(b.access_token) }),
        401,
        "invalid_token",
      );
      await expectError(
        await json(url, "/auth/login", { username: "changer", password: PASSWORD }),
        401,
        "invalid_credentials",
      );
      await login(url, "changer", "new password 1");
    });

    it("POST /auth/logout-all revokes every session, and a login right after works", async () => {
      await register(url, "leaver");
      const a = await login(url, "leaver");
      const b = await login(url, "leaver");
      expect(
        (await fetch(`${url}/auth/logout-all`, { method: "POST", headers: bearer(a.access_token) })).status,
      ).toBe(204);
      for (const t of [a, b]) {
        await expectError(
          await fetch(`${url}/auth/me`, { headers: bearer(t.access_token) }),
          401,
          "invalid_token",
        );
      }
      const c = await login(url, "leaver");
      expect((await fetch(`${url}/auth/me`, { headers: bearer(c.access_token) })).status).toBe(200);
    });

    it("POST /auth/logout with a refresh token in the body and no Bearer", async () => {
      await register(url, "body_logout");
      const t = await login(url, "body_logout");
      expect((await json(url, "/auth/logout", { refresh_token: t.refresh_token })).status).toBe(204);
      await expectError(
        await fetch(`${url}/auth/me`, { headers: bearer(t.access_token) }),
        401,
        "invalid_token",
      );
    });
  });

  describe("browser mode (refresh cookie)", () => {
    const csrf = { "x-requested-with": "revokit" };
    const cookieOf = (res: Response) =>
      res.headers.getSetCookie().find((c) => c.startsWith("jr_refresh=")) ?? "";

    it("login with cookie:true: the refresh token only in an HttpOnly SameSite=Strict cookie on /auth", async () => {
      await register(url, "browser");
      const res = await json(url, "/auth/login", { username: "browser", password: PASSWORD, cookie: true });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body.refresh_token).toBeUndefined();
      expect(Object.keys(body)).toEqual(["access_token", "token_type", "expires_in", "session_id"]);
      const cookie = cookieOf(res);
      expect(cookie).toMatch(/^jr_refresh=jrt_[A-Za-z0-9_-]{43};/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Strict/);
      expect(cookie).toMatch(/; Path=\/auth/);
      expect(cookie).not.toMatch(/; Secure/);
      const pair = cookie.split(";")[0] as string;

      // The CSRF defence: a request that could be a cross-site form (no JSON body, no header, no
      // same-origin evidence) is refused, and so is a foreign Origin or Sec-Fetch-Site, header or not.
      await expectError(
        await fetch(`${url}/auth/refresh`, { method: "POST", headers: { cookie: pair } }),
        403,
        "invalid_request",
      );
      await expectError(
        await json(url, "/auth/refresh", {}, { cookie: pair, ...csrf, origin: "https://evil.example" }),
        403,
        "invalid_request",
      );
      await expectError(
        await json(url, "/auth/refresh", {}, { cookie: pair, ...csrf, "sec-fetch-site": "cross-site" }),
        403,
        "invalid_request",
      );
      // A JSON body cannot come from a cross-origin page without a preflight: enough on its own.
      const viaJson = await json(url, "/auth/refresh", {}, { cookie: pair });
      expect(viaJson.status).toBe(200);
      const pair2 = cookieOf(viaJson).split(";")[0] as string;
      const refreshed = await json(url, "/auth/refresh", {}, { cookie: pair2, ...csrf, origin: url });
      expect(refreshed.status).toBe(200);
      const r = (await refreshed.json()) as Record<string, unknown>;
      expect(r.refresh_token).toBeUndefined();
      expect(r.session_id).toBe(body.session_id);
      const next = cookieOf(refreshed).split(";")[0] as string;
      expect(next).not.toBe(pair2);

      // Logout through the cookie: CSRF checked, session revoked, cookie cleared.
      await expectError(
        await fetch(`${url}/auth/logout`, { method: "POST", headers: { cookie: next } }),
        403,
        "invalid_request",
      );
      const out = await fetch(`${url}/auth/logout`, { method: "POST", headers: { cookie: next, ...csrf } });
      expect(out.status).toBe(204);
      expect(cookieOf(out)).toMatch(/^jr_refresh=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/);
      await expectError(
        await fetch(`${url}/auth/me`, { headers: bearer(r.access_token as string) }),
        401,
        "invalid_token",
      );
      await expectError(
        await json(url, "/auth/refresh", {}, { cookie: next, ...csrf }),
        400,
        "invalid_grant",
      );
    });

    it("a replayed cookie revokes the session and clears the cookie", async () => {
      await register(url, "browser2");
      const res = await json(url, "/auth/login", { username: "browser2", password: PASSWORD, cookie: true });
      const first = cookieOf(res).split(";")[0] as string;
      const r1 = await json(url, "/auth/refresh", {}, { cookie: first, ...csrf });
      const second = cookieOf(r1).split(";")[0] as string;
      const r2 = await json(url, "/auth/refresh", {}, { cookie: second, ...csrf });
      expect(r2.status).toBe(200);
      const replay = await json(url, "/auth/refresh", {}, { cookie: first, ...csrf });
      await expectError(replay, 400, "invalid_grant");
      expect(cookieOf(replay)).toMatch(/^jr_refresh=;/);
    });

    it("marks the cookie Secure for an https issuer", async () => {
      const secure = await start({ issuer: "https://auth.example.test" });
      try {
        await register(secure.url, "secure_user");
        const res = await json(secure.url, "/auth/login", {
          username: "secure_user",
          password: PASSWORD,
          cookie: true,
        });
        expect(cookieOf(res)).toMatch(/; Secure/);
        expect(res.headers.get("strict-transport-security")).toMatch(/max-age=/);
      } finally {
        await secure.server.close();
      }
    });
  });

  describe("OAuth endpoints", () => {
    const SECRET = "s3cret with spaces & symbols:%";
    let tokens: TokenResponse;
    beforeAll(async () => {
      await addClient(s, "rs:1", SECRET);
      await addClient(s, "rs2", "other-secret");
      await register(url, "oauth_user");
      tokens = await login(url, "oauth_user");
    });

    it("RFC 8414 metadata (no OpenID document), and the JWKS with public keys only", async () => {
      await expectError(await fetch(`${url}/.well-known/openid-configuration`), 404, "not_found");
      for (const path of ["/.well-known/oauth-authorization-server"]) {
        const res = await fetch(url + path);
        expect(res.status).toBe(200);
        const m = await res.json();
        expect(m).toMatchObject({
          issuer: s.server.issuer,
          jwks_uri: `${s.server.issuer}/.well-known/jwks.json`,
          token_endpoint: `${s.server.issuer}/oauth/token`,
          revocation_endpoint: `${s.server.issuer}/oauth/revoke`,
          introspection_endpoint: `${s.server.issuer}/oauth/introspect`,
          grant_types_supported: ["refresh_token"],
          response_types_supported: ["none"],
          token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
          introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
        });
      }
      const jwks = await (await fetch(`${url}/.well-known/jwks.json`)).json();
      expect(jwks.keys.length).toBeGreaterThan(0);
      for (const k of jwks.keys) {
        expect(k.kid).toBeTypeOf("string");
        for (const priv of ["d", "p", "q", "dp", "dq", "qi", "k"]) expect(k[priv]).toBeUndefined();
      }
    });

    it("/oauth/token: the refresh grant for the public client, with every error code", async () => {
      const res = await form(url, "/oauth/token", {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const next = (await res.json()) as TokenResponse;
      expect(Object.keys(next)).toEqual([
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "session_id",
      ]);
      tokens = { ...tokens, ...next };
      const explicit = await form(url, "/oauth/token", {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: "default",
      });
      expect(explicit.status).toBe(200);
      tokens = (await explicit.json()) as TokenResponse;

      await expectError(
        await form(url, "/oauth/token", { refresh_token: tokens.refresh_token }),
        400,
        "invalid_request",
      );
      await expectError(
        await form(url, "/oauth/token", { grant_type: "password" }),
        400,
        "unsupported_grant_type",
      );
      await expectError(
        await form(url, "/oauth/token", { grant_type: "refresh_token" }),
        400,
        "invalid_request",
      );
      await expectError(
        await form(url, "/oauth/token", { grant_type: "refresh_token", refresh_token: "jrt_x" }),
        400,
        "invalid_grant",
      );
      await expectError(
        await form(url, "/oauth/token", "grant_type=refresh_token&refresh_token=a&refresh_token=b"),
        400,
        "invalid_request",
      );
      // JSON is not accepted at a form endpoint.
      await expectError(
        await json(url, "/oauth/token", { grant_type: "refresh_token" }),
        415,
        "invalid_request",
      );
    });

    it("a refresh token is redeemed only by the client it was issued to", async () => {
      await expectError(
        await form(
          url,
          "/oauth/token",
          { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
          basicAuth("rs2", "other-secret"),
        ),
        400,
        "invalid_grant",
      );
      // The failed attempt changed nothing: the owner can still use it.
      const res = await form(url, "/oauth/token", {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
      });
      expect(res.status).toBe(200);
      tokens = (await res.json()) as TokenResponse;
    });

    it("client authentication: basic (form-urlencoded), post, both at once, bad secrets", async () => {
      const introspect = (params: Record<string, string>, headers: Record<string, string> = {}) =>
        form(url, "/oauth/introspect", { token: tokens.access_token, ...params }, headers);
      expect((await introspect({}, basicAuth("rs:1", SECRET))).status).toBe(200);
      expect((await introspect({ client_id: "rs:1", client_secret: SECRET })).status).toBe(200);
      await expectError(
        await introspect({ client_secret: SECRET }, basicAuth("rs:1", SECRET)),
        400,
        "invalid_request",
      );
      await expectError(
        await introspect({ client_id: "rs2" }, basicAuth("rs:1", SECRET)),
        400,
        "invalid_request",
      );
      const wrong = await introspect({}, basicAuth("rs:1", "wrong"));
      await expectError(wrong, 401, "invalid_client");
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic realm="/);
      await expectError(
        await introspect({ client_id: "rs:1", client_secret: "wrong" }),
        401,
        "invalid_client",
      );
      await expectError(await introspect({}, basicAuth("nobody", "x")), 401, "invalid_client");
      await expectError(await introspect({ client_id: "nobody" }), 401, "invalid_client");
      // A raw (not form-encoded) secret with reserved characters does not match.
      const raw = `Basic ${Buffer.from(`rs:1:${SECRET}`).toString("base64")}`;
      await expectError(await introspect({}, { authorization: raw }), 401, "invalid_client");
    });

    it("/oauth/introspect: confidential clients only; exact shapes for active and inactive tokens", async () => {
      const auth = basicAuth("rs:1", SECRET);
      await expectError(
        await form(url, "/oauth/introspect", { token: tokens.access_token }),
        401,
        "invalid_client",
      );
      await expectError(
        await form(url, "/oauth/introspect", { token: tokens.access_token, client_id: "default" }),
        401,
        "invalid_client",
      );
      await expectError(await form(url, "/oauth/introspect", {}, auth), 400, "invalid_request");

      const at = await (await form(url, "/oauth/introspect", { token: tokens.access_token }, auth)).json();
      const claims = await s.server.auth.verify(tokens.access_token);
      expect(at).toEqual({
        active: true,
        token_type: "Bearer",
        client_id: "default",
        username: "oauth_user",
        sub: claims.sub,
        sid: claims.sid,
        jti: claims.jti,
        exp: claims.exp,
        iat: claims.iat,
        iss: claims.iss,
        aud: claims.aud,
      });
      const rt = await (await form(url, "/oauth/introspect", { token: tokens.refresh_token }, auth)).json();
      expect(rt).toEqual({
        active: true,
        client_id: "default",
        username: "oauth_user",
        sub: claims.sub,
        sid: claims.sid,
        exp: expect.any(Number),
      });
      for (const junk of ["nonsense", "jrt_short", "a.b.c", tokens.access_token.slice(0, -2)]) {
        const res = await form(url, "/oauth/introspect", { token: junk }, auth);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('{"active":false}');
      }
    });

    it("/oauth/revoke: 200 for unknown tokens; another client's token is 400 unauthorized_client and left alone; own tokens are revoked", async () => {
      const auth = basicAuth("rs:1", SECRET);
      const active = async (token: string) =>
        ((await (await form(url, "/oauth/introspect", { token }, auth)).json()) as { active: boolean })
          .active;
      for (const token of ["junk", "jrt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a.b.c"]) {
        const res = await form(url, "/oauth/revoke", { token });
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("");
      }
      await expectError(await form(url, "/oauth/revoke", {}), 400, "invalid_request");
      await expectError(
        await form(url, "/oauth/revoke", { token: "x" }, basicAuth("rs:1", "bad")),
        401,
        "invalid_client",
      );

      // rs:1 did not receive these tokens: refused (RFC 7009 §2.1) and nothing changes.
      await expectError(
        await form(url, "/oauth/revoke", { token: tokens.access_token }, auth),
        400,
        "unauthorized_client",
      );
      await expectError(
        await form(
          url,
          "/oauth/revoke",
          { token: tokens.refresh_token, token_type_hint: "refresh_token" },
          auth,
        ),
        400,
        "unauthorized_client",
      );
      expect(await active(tokens.access_token)).toBe(true);
      expect(await active(tokens.refresh_token)).toBe(true);

      // The owner revokes its access token: that token only.
      const second = await login(url, "oauth_user");
      expect(
        (await form(url, "/oauth/revoke", { token: second.access_token, token_type_hint: "access_token" }))
          .status,
      ).toBe(200);
      expect(await active(second.access_token)).toBe(false);
      expect(await active(second.refresh_token)).toBe(true);

      // Revoking a refresh token revokes its whole session, access tokens included.
      expect(
        (await form(url, "/oauth/revoke", { token: tokens.refresh_token, client_id: "default" })).status,
      ).toBe(200);
      expect(await active(tokens.refresh_token)).toBe(false);
      expect(await active(tokens.access_token)).toBe(false);
      await expectError(
        await fetch(`${url}/auth/me`, { headers: bearer(tokens.access_token) }),
        401,
        "invalid_token",
      );
    });
  });

  describe("framework edges: every error in the JSON shape", () => {
    it("unknown routes and methods are 404 not_found", async () => {
      await expectError(await fetch(`${url}/nope`), 404, "not_found");
      await expectError(await fetch(`${url}/auth/login`), 404, "not_found");
      await expectError(
        await fetch(`${url}/nope`, { method: "POST", headers: { "content-type": "text/xml" }, body: "<x/>" }),
        404,
        "not_found",
      );
    });

    it("415 for a wrong content type, 413 for a body over 16 KiB, 431 for huge headers", async () => {
      await expectError(
        await fetch(`${url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "hi",
        }),
        415,
        "invalid_request",
      );
      await expectError(
        await form(url, "/auth/login", { username: "a", password: "b" }),
        415,
        "invalid_request",
      );
      await expectError(
        await json(url, "/auth/login", { username: "x", password: "y".repeat(17 * 1024) }),
        413,
        "invalid_request",
      );
      await expectError(
        await form(url, "/oauth/token", { grant_type: "y".repeat(17 * 1024) }),
        413,
        "invalid_request",
      );
      const big = await fetch(`${url}/auth/me`, { headers: { "x-filler": "z".repeat(20 * 1024) } });
      expect(big.status).toBe(431);
    });

    it("security headers on every response, and the page's strict CSP at /", async () => {
      const res = await fetch(`${url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      await expectError(await fetch(`${url}/assets/../package.json`), 404, "not_found");
      await expectError(await fetch(`${url}/assets/%2e%2e/%2e%2e/package.json`), 404, "not_found");
    });

    it("/healthz and /metrics", async () => {
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: "ok",
        store: "memory",
        checks: { store: "ok", replica: "ok" },
      });
      const metrics = await fetch(`${url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      for (const line of [
        /^# TYPE revokit_verify_total counter$/m,
        /^revokit_verify_total\{result="valid"\} \d+$/m,
        /^revokit_verify_total\{result="invalid"\} \d+$/m,
        /^revokit_revocations_total\{grain="session",reason="logout"\} \d+$/m,
        /^revokit_revocations_total\{grain="user",reason="logout_all"\} \d+$/m,
        /^revokit_refresh_reuse_total [1-9]\d*$/m,
        /^revokit_replica_entries\{kind="session"\} [1-9]\d*$/m,
        /^revokit_replica_lag_seconds \d/m,
        /^revokit_store_errors_total \d+$/m,
        /^revokit_fail_open_total 0$/m,
        /^revokit_login_attempts_total\{result="success"\} [1-9]\d*$/m,
        /^revokit_login_attempts_total\{result="invalid_credentials"\} [1-9]\d*$/m,
        /^revokit_http_requests_total\{method="POST",route="\/auth\/login",status="200"\} [1-9]\d*$/m,
      ]) {
        expect(text).toMatch(line);
      }
    });
  });
});

describe("registration closed", () => {
  it("POST /auth/register is 404 not_found with register: false", async () => {
    const s = await start({ register: false });
    try {
      await expectError(
        await json(s.url, "/auth/register", { username: "someone", password: PASSWORD }),
        404,
        "not_found",
      );
    } finally {
      await s.server.close();
    }
  });
});

describe("login rate limits", () => {
  it("per username: failures count, 429 with Retry-After, and a success clears the count", async () => {
    const s = await start({ rateLimits: { usernameFailures: 3, ipAttempts: 1000 } });
    try {
      await register(s.url, "limited");
      await register(s.url, "bystander");
      for (let i = 0; i < 2; i++) {
        await expectError(
          await json(s.url, "/auth/login", { username: "limited", password: "bad password" }),
          401,
          "invalid_credentials",
        );
      }
      await login(s.url, "limited"); // clears the two failures
      for (let i = 0; i < 3; i++) {
        await expectError(
          await json(s.url, "/auth/login", { username: "LIMITED", password: "bad password" }),
          401,
          "invalid_credentials",
        );
      }
      const limited = await json(s.url, "/auth/login", { username: "limited", password: PASSWORD });
      await expectError(limited, 429, "too_many_requests");
      const retry = Number(limited.headers.get("retry-after"));
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(15 * 60);
      await login(s.url, "bystander");
    } finally {
      await s.server.close();
    }
  });

  it("per IP: attempts beyond the limit are 429 whatever the username", async () => {
    const s = await start({ rateLimits: { ipAttempts: 3, ipWindowMs: 60_000 } });
    try {
      for (let i = 0; i < 3; i++) {
        await expectError(
          await json(s.url, "/auth/login", { username: `u${i}xx`, password: "whatever1" }),
          401,
          "invalid_credentials",
        );
      }
      const res = await json(s.url, "/auth/login", { username: "another", password: "whatever1" });
      await expectError(res, 429, "too_many_requests");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await s.server.close();
    }
  });

  it("the clock decides when the window ends", async () => {
    let now = Date.UTC(2030, 0, 1);
    const s = await start({ clock: () => now, rateLimits: { usernameFailures: 1, ipAttempts: 1000 } });
    try {
      await register(s.url, "clocked");
      await expectError(
        await json(s.url, "/auth/login", { username: "clocked", password: "bad password" }),
        401,
        "invalid_credentials",
      );
      await expectError(
        await json(s.url, "/auth/login", { username: "clocked", password: PASSWORD }),
        429,
        "too_many_requests",
      );
      now += 15 * 60_000 + 1;
      await login(s.url, "clocked");
    } finally {
      await s.server.close();
    }
  });
});

describe("store outage", () => {
  it("503 temporarily_unavailable with Retry-After for login, refresh, register and revocation; /healthz 503", async () => {
    const store = faultyStore(memoryStore());
    const s = await start({ store, maxStaleness: "200ms" });
    try {
      await register(s.url, "outage");
      const t = await login(s.url, "outage");
      store.down = true;
      for (const res of [
        await json(s.url, "/auth/login", { username: "outage", password: PASSWORD }),
        await json(s.url, "/auth/refresh", { refresh_token: t.refresh_token }),
        await json(s.url, "/auth/register", { username: "newcomer", password: PASSWORD }),
        await form(s.url, "/oauth/revoke", { token: t.refresh_token }),
        await form(s.url, "/oauth/token", { grant_type: "refresh_token", refresh_token: t.refresh_token }),
      ]) {
        await expectError(res, 503, "temporarily_unavailable");
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      const health = await fetch(`${s.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: "unavailable", error: "temporarily_unavailable" });
      // Once the replica is stale, verification fails closed.
      await new Promise((r) => setTimeout(r, 600));
      const me = await fetch(`${s.url}/auth/me`, { headers: bearer(t.access_token) });
      await expectError(me, 503, "temporarily_unavailable");
      expect(me.headers.get("retry-after")).not.toBeNull();
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/^revokit_store_errors_total [1-9]\d*$/m);
      store.down = false;
      const deadline = Date.now() + 10_000;
      while ((await fetch(`${s.url}/healthz`)).status !== 200) {
        if (Date.now() > deadline) throw new Error("never recovered");
        await new Promise((r) => setTimeout(r, 50));
      }
      // Never a success that did not happen: the refresh token was not rotated during the outage.
      expect((await json(s.url, "/auth/refresh", { refresh_token: t.refresh_token })).status).toBe(200);
    } finally {
      store.down = false;
      await s.server.close();
    }
  });
});

describe("logs", () => {
  it("never contain a token, a password or a secret", async () => {
    let logged = "";
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const s = await start({ logger: createLogger("trace", sink) });
    try {
      const secret = "client-secret-value-123";
      await addClient(s, "logged", secret);
      await register(s.url, "logged_user");
      const t = await login(s.url, "logged_user");
      await json(s.url, "/auth/login", { username: "logged_user", password: "wrong-password-xyz" });
      await fetch(`${s.url}/auth/me?access_token=${t.access_token}`, {
        headers: { ...bearer(t.access_token), cookie: `jr_refresh=${t.refresh_token}` },
      });
      await json(s.url, "/auth/refresh", { refresh_token: t.refresh_token });
      await form(s.url, "/oauth/introspect", { token: t.access_token }, basicAuth("logged", secret));
      await json(s.url, "/auth/login", `{"username":"x","password":"${PASSWORD}"`);
      expect(logged).toContain("request completed");
      for (const needle of [t.access_token, t.refresh_token, PASSWORD, "wrong-password-xyz", secret]) {
        expect(logged).not.toContain(needle);
      }
      expect(logged).not.toMatch(/authorization|jr_refresh=/i);
    } finally {
      await s.server.close();
    }
  });
});
