/**
 * The server as other software sees it, over real HTTP: default tokens (RS256) verified by the
 * common resource-server stacks (jsonwebtoken + jwks-rsa, get-jwks + fast-jwt, jose), key rotation
 * that never breaks a resource server caching the JWKS, key withdrawal on every node, the RFC
 * 7009/7662/8414 answers, strict body types, and the error mapping (500 for a fault of ours, 503 for
 * the store, no driver message in the logs, `failOpen` counting only accepted tokens).
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { createVerifier } from "fast-jwt";
import buildGetJwks from "get-jwks";
import * as jose from "jose";
import jwt from "jsonwebtoken";
import jwksClient from "jwks-rsa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireAuth } from "../../src/http/fastify.js";
import { type Auth, createAuth, memoryStore, type Store } from "../../src/index.js";
import { hashClientSecret } from "../../src/server/clients.js";
import { createServer, type RevokitServer } from "../../src/server/index.js";
import { createLogger } from "../../src/server/logger.js";
import { hashSecret } from "../../src/server/passwords.js";
import { faultyStore } from "../helpers/faulty-store.js";
import { basicAuth, type TokenResponse } from "../helpers/server-client.js";

const PASSWORD = "correct horse battery staple";
const CHEAP = { N: 2 ** 12, r: 8, p: 1 };

const post = (url: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
const form = (url: string, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body,
  });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const kidOf = (token: string) => (jose.decodeProtectedHeader(token).kid as string) ?? "";

async function login(url: string, username = "alice"): Promise<TokenResponse> {
  const res = await post(url, "/auth/login", { username, password: PASSWORD });
  expect(res.status).toBe(200);
  return (await res.json()) as TokenResponse;
}

async function expectError(res: Response, status: number, error: string): Promise<void> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
}

describe("one server, default settings (RS256)", () => {
  let server: RevokitServer;
  let url: string;
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    server = await createServer({
      store: memoryStore(),
      port: 0,
      logger: "silent",
      scrypt: CHEAP,
      rateLimits: { ipAttempts: 10_000 },
      authOptions: { keyPublicationLead: "700ms", keyRefreshInterval: "100ms" },
    });
    server.app.get("/boom", async () => {
      throw new TypeError("a bug of ours");
    });
    url = await server.listen();
    for (const id of ["rs1", "rs2"]) {
      secrets[id] = randomBytes(32).toString("base64url");
      await server.store.addClient({
        clientId: id,
        secretHash: hashClientSecret(secrets[id] as string),
        createdAt: Date.now(),
      });
    }
    expect((await post(url, "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("signs with RS256 by default, verified by jsonwebtoken + jwks-rsa", async () => {
    const t = await login(url);
    expect(jose.decodeProtectedHeader(t.access_token)).toMatchObject({ alg: "RS256", typ: "at+jwt" });
    const client = jwksClient({ jwksUri: `${url}/.well-known/jwks.json` });
    const key = await client.getSigningKey(kidOf(t.access_token));
    const claims = jwt.verify(t.access_token, key.getPublicKey(), {
      algorithms: ["RS256"],
      issuer: server.issuer,
      audience: "api",
    }) as jwt.JwtPayload;
    expect(claims.sid).toBe(t.session_id);
  });

  it("verified by get-jwks + fast-jwt (the @fastify/jwt recipe) and by jose", async () => {
    const t = await login(url);
    const getJwks = buildGetJwks({ issuersWhitelist: [server.issuer] });
    const pem = await getJwks.getPublicKey({
      domain: server.issuer,
      alg: "RS256",
      kid: kidOf(t.access_token),
    });
    const verify = createVerifier({
      key: pem,
      algorithms: ["RS256"],
      allowedIss: server.issuer,
      allowedAud: "api",
    });
    expect(verify(t.access_token).sid).toBe(t.session_id);
    const jwks = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`));
    const { payload } = await jose.jwtVerify(t.access_token, jwks, {
      issuer: server.issuer,
      audience: "api",
      typ: "at+jwt",
    });
    expect(payload.sid).toBe(t.session_id);
  });

  it("keys rotate: a resource server holding a JWKS fetched just before keeps accepting new tokens throughout", async () => {
    // Scaled down from jose's defaults (a kid it does not know is refetched at most every 30 s,
    // against a 10 minute lead): here at most every 300 ms, against a 700 ms lead.
    const jwks = jose.createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`), {
      cooldownDuration: 300,
      cacheMaxAge: 10 * 60_000,
    });
    const check = (token: string) =>
      jose.jwtVerify(token, jwks, { issuer: server.issuer, audience: "api", typ: "at+jwt" });
    const first = await login(url);
    await check(first.access_token); // the resource server fetches the JWKS now
    const oldKid = kidOf(first.access_token);
    const rotated = await server.auth.rotateKeys();
    const activateAt = rotated.activateAt.getTime();
    expect(activateAt - Date.now()).toBeGreaterThan(500);
    const published = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(published.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, rotated.kid]));

    const seen: { kid: string; receivedAt: number }[] = [];
    let t = first;
    while (Date.now() < activateAt + 900) {
      const res = await post(url, "/auth/refresh", { refresh_token: t.refresh_token });
      expect(res.status).toBe(200);
      t = (await res.json()) as TokenResponse;
      seen.push({ kid: kidOf(t.access_token), receivedAt: Date.now() });
      await check(t.access_token); // throws JWKSNoMatchingKey if a token came before its key was known
      await new Promise((r) => setTimeout(r, 25));
    }
    const fresh = seen.filter((s) => s.kid === rotated.kid);
    expect(fresh.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s.kid === oldKid).length).toBeGreaterThan(0);
    for (const s of fresh) expect(s.receivedAt).toBeGreaterThanOrEqual(activateAt);
    expect(seen.map((s) => s.kid)).toEqual(
      [...seen.filter((s) => s.kid === oldKid), ...fresh].map((s) => s.kid),
    );
    await check(first.access_token); // the old key stays published
  });

  it("RFC 7009: revoking a token issued to another client is 400 unauthorized_client and changes nothing", async () => {
    const t = await login(url);
    for (const token of [t.access_token, t.refresh_token]) {
      await expectError(
        await form(
          url,
          "/oauth/revoke",
          `token=${encodeURIComponent(token)}`,
          basicAuth("rs1", secrets.rs1 as string),
        ),
        400,
        "unauthorized_client",
      );
    }
    expect((await fetch(`${url}/auth/me`, { headers: bearer(t.access_token) })).status).toBe(200);
    const still = await form(
      url,
      "/oauth/introspect",
      `token=${t.refresh_token}`,
      basicAuth("rs2", secrets.rs2 as string),
    );
    expect(((await still.json()) as { active: boolean }).active).toBe(true);
    // Its own client (the public client "default") may.
    expect((await form(url, "/oauth/revoke", `token=${t.refresh_token}&client_id=default`)).status).toBe(200);
    expect((await fetch(`${url}/auth/me`, { headers: bearer(t.access_token) })).status).toBe(401);
    // Unknown or invalid tokens stay 200 for anyone.
    expect(
      (await form(url, "/oauth/revoke", "token=nonsense", basicAuth("rs1", secrets.rs1 as string))).status,
    ).toBe(200);
  });

  it('RFC 7662: token_type "Bearer" for access tokens, exactly {"active":false} when inactive', async () => {
    const t = await login(url);
    const auth = basicAuth("rs1", secrets.rs1 as string);
    const access = (await (
      await form(url, "/oauth/introspect", `token=${t.access_token}`, auth)
    ).json()) as Record<string, unknown>;
    expect(access).toMatchObject({
      active: true,
      token_type: "Bearer",
      sid: t.session_id,
      client_id: "default",
    });
    const refresh = (await (
      await form(url, "/oauth/introspect", `token=${t.refresh_token}`, auth)
    ).json()) as Record<string, unknown>;
    expect(refresh).toMatchObject({ active: true, sid: t.session_id });
    expect(refresh.token_type).toBeUndefined();
    expect((await post(url, "/auth/logout", {}, bearer(t.access_token))).status).toBe(204);
    for (const token of [t.access_token, t.refresh_token, "garbage"]) {
      const res = await form(url, "/oauth/introspect", `token=${encodeURIComponent(token)}`, auth);
      expect(await res.text()).toBe('{"active":false}');
    }
  });

  it("RFC 8414 metadata is valid for what the server does; no OpenID document", async () => {
    const res = await fetch(`${url}/.well-known/oauth-authorization-server`);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(server.issuer);
    expect(meta.response_types_supported).toEqual(["none"]);
    expect(meta.authorization_endpoint).toBeUndefined();
    expect(meta.grant_types_supported).toEqual(["refresh_token"]);
    for (const name of ["jwks_uri", "token_endpoint", "revocation_endpoint", "introspection_endpoint"]) {
      expect(String(meta[name]).startsWith(server.issuer)).toBe(true);
    }
    // oauth4webapi's discovery accepts it.
    const oauth = await import("oauth4webapi");
    const issuer = new URL(server.issuer);
    const found = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: "oauth2", [oauth.allowInsecureRequests]: true }),
    );
    expect(found.token_endpoint).toBe(meta.token_endpoint);
    await expectError(await fetch(`${url}/.well-known/openid-configuration`), 404, "not_found");
  });

  it("duplicate form parameters are a 400", async () => {
    await expectError(
      await form(url, "/oauth/introspect", "token=a&token=b", basicAuth("rs1", secrets.rs1 as string)),
      400,
      "invalid_request",
    );
    await expectError(
      await form(url, "/oauth/revoke", "token=a&client_id=default&client_id=default"),
      400,
      "invalid_request",
    );
  });

  it("POST /auth/logout with a refresh_token of the wrong type is a 400 and logs nothing out", async () => {
    const t = await login(url);
    for (const value of [null, 42, true, "", ["x"], { a: 1 }]) {
      await expectError(await post(url, "/auth/logout", { refresh_token: value }), 400, "invalid_request");
      await expectError(await post(url, "/auth/refresh", { refresh_token: value }), 400, "invalid_request");
    }
    expect((await fetch(`${url}/auth/me`, { headers: bearer(t.access_token) })).status).toBe(200);
    expect((await post(url, "/auth/refresh", { refresh_token: t.refresh_token })).status).toBe(200);
  });

  it("an unexpected error is a 500 server_error", async () => {
    await expectError(await fetch(`${url}/boom`), 500, "server_error");
  });
});

describe("passwords", () => {
  it("are argon2id (m=19 MiB, t=2, p=1); an old scrypt N=2^15 hash works once and is rewritten at login", async () => {
    const server = await createServer({ store: memoryStore(), port: 0, logger: "silent" });
    try {
      const url = await server.listen();
      expect((await post(url, "/auth/register", { username: "fresh", password: PASSWORD })).status).toBe(201);
      const fresh = await server.store.getUserByName("fresh");
      expect(fresh?.passwordHash).toMatch(
        /^\$argon2id\$v=19\$m=19456,t=2,p=1\$|^\$argon2id\$v=19\$m=19456,p=1,t=2\$/,
      );
      // A user from before: scrypt at N=2^15.
      const old = await hashSecret(PASSWORD, { N: 2 ** 15, r: 8, p: 1 });
      await server.store.createUser({
        id: "old-user",
        username: "olduser",
        passwordHash: old,
        createdAt: Date.now(),
        disabledAt: null,
      });
      expect(
        (await post(url, "/auth/login", { username: "olduser", password: "not the password" })).status,
      ).toBe(401);
      expect((await server.store.getUser("old-user"))?.passwordHash).toBe(old);
      expect((await post(url, "/auth/login", { username: "olduser", password: PASSWORD })).status).toBe(200);
      const upgraded = (await server.store.getUser("old-user"))?.passwordHash ?? "";
      expect(upgraded.startsWith("$argon2id$v=19$")).toBe(true);
      expect((await post(url, "/auth/login", { username: "olduser", password: PASSWORD })).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("key withdrawal on two nodes", () => {
  const servers: RevokitServer[] = [];
  const auths: Auth[] = [];
  const urls: string[] = [];
  let store: Store;

  beforeAll(async () => {
    store = memoryStore();
    for (let i = 0; i < 2; i++) {
      const auth = await createAuth({
        issuer: "http://issuer.keys",
        audience: "api",
        store,
        purgeInterval: 0,
      });
      auths.push(auth);
      const server = await createServer({ auth, store, port: 0, logger: "silent", scrypt: CHEAP });
      servers.push(server);
      urls.push(await server.listen());
    }
    expect(
      (await post(urls[0] as string, "/auth/register", { username: "alice", password: PASSWORD })).status,
    ).toBe(201);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    for (const a of auths) await a.close();
  });

  it("keys revoke: every token the key signed is refused on every node, and the next key signs at once", async () => {
    const [a, b] = urls as [string, string];
    const t = await login(a);
    const kid = kidOf(t.access_token);
    expect((await fetch(`${b}/auth/me`, { headers: bearer(t.access_token) })).status).toBe(200);
    const result = await servers[0]?.auth.revokeKey(kid);
    expect(result?.replacedBy?.kid).toBeTruthy();
    const replacement = result?.replacedBy?.kid as string;
    // This node at once; the other within the propagation bound (the withdrawal is on the feed).
    expect((await fetch(`${a}/auth/me`, { headers: bearer(t.access_token) })).status).toBe(401);
    const started = Date.now();
    for (;;) {
      const res = await fetch(`${b}/auth/me`, { headers: bearer(t.access_token) });
      if (res.status === 401) break;
      expect(Date.now() - started).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const url of [a, b]) {
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((k) => k.kid)).not.toContain(kid);
      // The next key signs at once, on both nodes.
      const started2 = Date.now();
      for (;;) {
        const fresh = await login(url);
        if (kidOf(fresh.access_token) === replacement) {
          expect((await fetch(`${a}/auth/me`, { headers: bearer(fresh.access_token) })).status).toBe(200);
          expect((await fetch(`${b}/auth/me`, { headers: bearer(fresh.access_token) })).status).toBe(200);
          break;
        }
        expect(kidOf(fresh.access_token)).not.toBe(kid);
        expect(Date.now() - started2).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // The refresh token still works (sessions are not keys): it gets a token from the new key.
    const res = await post(b, "/auth/refresh", { refresh_token: t.refresh_token });
    expect(res.status).toBe(200);
    expect(kidOf(((await res.json()) as TokenResponse).access_token)).toBe(replacement);
    expect((await store.listKeys()).map((k) => k.kid)).not.toContain(kid);
    expect(await servers[1]?.auth.revokeKey(kid)).toBeNull();
  });
});

describe("error mapping and logs", () => {
  it("a store failure is a 503 with Retry-After, and the driver's message never reaches the log", async () => {
    const inner = memoryStore();
    const state = { fail: false };
    const MARKER = `value-${randomBytes(6).toString("hex")}`;
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "getUserByName" || typeof value !== "function") {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return async (...args: unknown[]) => {
          if (state.fail) {
            // What pg throws for a value it cannot store: the message quotes the value.
            throw Object.assign(new Error(`invalid byte sequence for encoding "UTF8": ${MARKER}`), {
              name: "DatabaseError",
              code: "22021",
              severity: "ERROR",
            });
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Store;
    let logged = "";
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const server = await createServer({ store, port: 0, logger: createLogger("info", sink), scrypt: CHEAP });
    try {
      const url = await server.listen();
      expect((await post(url, "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
      state.fail = true;
      const res = await post(url, "/auth/login", { username: "alice", password: PASSWORD });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      await expectError(res, 503, "temporarily_unavailable");
      expect(logged).toContain('"code":"22021"');
      expect(logged).not.toContain(MARKER);
    } finally {
      await server.close();
    }
  });

  it("failOpen counts only tokens actually accepted while the store cannot answer", async () => {
    const store = faultyStore(memoryStore());
    const warnings: string[] = [];
    const auth = await createAuth({
      issuer: "http://issuer.open",
      audience: "api",
      store,
      failMode: "open",
      maxStaleness: "100ms",
      logger: { warn: (_o, m) => warnings.push(String(m)), error: (_o, m) => warnings.push(String(m)) },
    });
    await auth.ready();
    const server = await createServer({ auth, store, port: 0, logger: "silent", scrypt: CHEAP });
    server.app.get("/probe", { preHandler: requireAuth(auth) }, async () => ({ ok: true }));
    const url = await server.listen();
    try {
      expect((await post(url, "/auth/register", { username: "alice", password: PASSWORD })).status).toBe(201);
      const kept = await login(url);
      const ended = await login(url);
      expect((await post(url, "/auth/logout", {}, bearer(ended.access_token))).status).toBe(204);
      store.feedPaused = true;
      store.down = true;
      await new Promise((r) => setTimeout(r, 300));
      expect((await fetch(`${url}/probe`, { headers: bearer(ended.access_token) })).status).toBe(401);
      expect(auth.metrics.failOpen).toBe(0);
      expect((await fetch(`${url}/probe`, { headers: bearer(kept.access_token) })).status).toBe(200);
      expect(auth.metrics.failOpen).toBe(1);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^revokit_fail_open_total 1$/m);
    } finally {
      store.down = false;
      store.feedPaused = false;
      await server.close();
      await auth.close();
    }
  });
});
