/**
 * One table of cases, run over real HTTP (each app listening on 127.0.0.1, requests with fetch or
 * node:http) against the Express, Fastify and Hono middleware, each case in a fresh world built
 * from `createAuth({ store, clock })` with a memory store behind a switchable wrapper.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Auth, createAuth } from "../../src/auth.js";
import { StoreUnavailableError } from "../../src/core/errors.js";
import type { ChangeBatch } from "../../src/core/model.js";
import * as expressAuth from "../../src/http/express.js";
import * as fastifyAuth from "../../src/http/fastify.js";
import * as honoAuth from "../../src/http/hono.js";
import type { Store } from "../../src/stores/contract.js";
import { memoryStore } from "../../src/stores/memory/index.js";
import { type TestClock, testClock } from "../helpers/clock.js";

// ---- a store that can go down, and whose change feed can be paused -----------------------------

interface StoreControl {
  /** Every call fails with `ERR_STORE_UNAVAILABLE` (the feed too). */
  down: boolean;
  /** Holds the change feed: no batch reaches the replica until `resume()`. */
  pause(): void;
  resume(): void;
}

/** Delegates to a real memory store; only availability and the feed's timing are controlled. */
function controlledStore(): { store: Store; control: StoreControl } {
  const inner = memoryStore();
  let gate: Promise<void> | undefined;
  let release: (() => void) | undefined;
  const control: StoreControl = {
    down: false,
    pause() {
      gate ??= new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    resume() {
      release?.();
      gate = release = undefined;
    },
  };
  const fail = () => new StoreUnavailableError("the test store is down");
  const changes = async (
    cursor: string,
    options: { waitMs: number; limit: number },
  ): Promise<ChangeBatch> => {
    await gate;
    if (control.down) throw fail();
    const batch = await inner.changes(cursor, options);
    // A batch that was in flight when the feed was paused waits too.
    await gate;
    if (control.down) throw fail();
    return batch;
  };
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === "changes") return changes;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "close") control.resume();
        else if (control.down) return Promise.reject(fail());
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, control };
}

// ---- the three apps ----------------------------------------------------------------------------

interface Running {
  url: string;
  close(): Promise<void>;
}

const ROUTES = {
  "/me": undefined,
  "/admin": { scope: "admin" },
  "/strict": { strict: true },
  "/cookie": { cookie: "access_token" },
  "/realm": { realm: "example" },
} as const;

async function listen(server: http.Server): Promise<Running> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Each framework's app, with the check as a middleware (`requireAuth`) or inside the one handler (`withAuth`). */
type Form = "requireAuth" | "withAuth";

function expressApp(auth: Auth, form: Form): Promise<Running> {
  const app = express();
  for (const [path, options] of Object.entries(ROUTES)) {
    const handler = (req: express.Request, res: express.Response) => {
      res.json(req.auth);
    };
    if (form === "withAuth") app.get(path, expressAuth.withAuth(auth, handler, options));
    else app.get(path, expressAuth.requireAuth(auth, options), handler);
  }
  app.use(expressAuth.authErrorHandler());
  return listen(http.createServer(app));
}

async function fastifyApp(auth: Auth, form: Form): Promise<Running> {
  const app = Fastify();
  await app.register(fastifyAuth.revokit, { auth });
  for (const [path, options] of Object.entries(ROUTES)) {
    if (form === "withAuth")
      app.get(
        path,
        fastifyAuth.withAuth(auth, async (request) => request.auth, options),
      );
    else
      app.get(path, { preHandler: fastifyAuth.requireAuth(auth, options) }, async (request) => request.auth);
  }
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

function honoApp(auth: Auth, form: Form): Promise<Running> {
  const app = new Hono();
  for (const [path, options] of Object.entries(ROUTES)) {
    if (form === "withAuth")
      app.get(
        path,
        honoAuth.withAuth(auth, (c) => c.json(c.get("auth")), options),
      );
    else app.get(path, honoAuth.requireAuth(auth, options), (c) => c.json(c.get("auth")));
  }
  return listen(createAdaptorServer({ fetch: app.fetch }) as http.Server);
}

// withAuth does the same checks inside the route's one handler: every case must answer alike.
const FRAMEWORKS: { name: string; start(auth: Auth): Promise<Running> }[] = [
  { name: "express", start: (auth) => expressApp(auth, "requireAuth") },
  { name: "fastify", start: (auth) => fastifyApp(auth, "requireAuth") },
  { name: "hono", start: (auth) => honoApp(auth, "requireAuth") },
  { name: "express withAuth", start: (auth) => expressApp(auth, "withAuth") },
  { name: "fastify withAuth", start: (auth) => fastifyApp(auth, "withAuth") },
  { name: "hono withAuth", start: (auth) => honoApp(auth, "withAuth") },
];

// ---- requests ----------------------------------------------------------------------------------

type Headers = Record<string, string | string[]>;

interface Answer {
  status: number;
  header(name: string): string | null;
  body: unknown;
}

/** fetch; node:http when a header has several lines (fetch joins them into one). */
async function send(url: string, headers: Headers = {}): Promise<Answer> {
  if (Object.values(headers).some(Array.isArray)) {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { headers, agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          const get = (name: string) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          };
          resolve({ status: res.statusCode ?? 0, header: get, body: parse(text, get("content-type")) });
        });
      });
      req.on("error", reject);
      req.end();
    });
  }
  const res = await fetch(url, { headers: headers as Record<string, string> });
  const text = await res.text();
  return {
    status: res.status,
    header: (name) => res.headers.get(name),
    body: parse(text, res.headers.get("content-type")),
  };
}

function parse(text: string, type: string | null): unknown {
  return type?.startsWith("application/json") ? JSON.parse(text) : text;
}

// ---- the world of one case ---------------------------------------------------------------------

/** The `maxStaleness` of every world ("1s"), in ms. */
const MAX_STALENESS_MS = 1000;

interface World {
  auth: Auth;
  store: Store;
  control: StoreControl;
  clock: TestClock;
  /** Sends a request to the running app. */
  get(path: string, headers?: Headers): Promise<Answer>;
  /** Logs a user in and returns the access token and session id. */
  login(scope?: string): Promise<{ token: string; sid: string }>;
  /** An Auth with other keys (a token it signs is not ours). */
  foreign(): Promise<Auth>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeWorld(framework: (typeof FRAMEWORKS)[number]): Promise<World> {
  const clock = testClock();
  const { store, control } = controlledStore();
  const options = { issuer: "https://auth.test", audience: "api", clock, maxStaleness: "1s" };
  const auth = await createAuth({ ...options, store });
  cleanups.push(() => auth.close());
  const app = await framework.start(auth);
  cleanups.push(() => app.close());
  return {
    auth,
    store,
    control,
    clock,
    get: (path, headers) => send(app.url + path, headers),
    async login(scope) {
      const t = await auth.login("user-1", scope === undefined ? {} : { scope });
      return { token: t.accessToken, sid: t.sessionId };
    },
    async foreign() {
      const other = await createAuth({ ...options, store: memoryStore() });
      cleanups.push(() => other.close());
      return other;
    },
  };
}

// ---- the table ---------------------------------------------------------------------------------

const BARE = 'Bearer realm="api"';
const invalidToken = (description: string) => ({
  status: 401,
  challenge: `Bearer error="invalid_token", error_description="${description}"`,
  body: { error: "invalid_token", error_description: description },
});
const invalidRequest = (description: string) => ({
  status: 400,
  challenge: `Bearer error="invalid_request", error_description="${description}"`,
  body: { error: "invalid_request", error_description: description },
});
const TWO_TOKENS = invalidRequest("The request must carry exactly one access token");
const MALFORMED = invalidRequest("The Authorization header is malformed");
const NO_TOKEN = {
  status: 401,
  challenge: BARE,
  body: { error: "unauthorized", error_description: "Authentication is required" },
};
const INSUFFICIENT_SCOPE = {
  status: 403,
  challenge:
    'Bearer error="insufficient_scope", error_description="The access token lacks the required scope", scope="admin"',
  body: { error: "insufficient_scope", error_description: "The access token lacks the required scope" },
};
const UNAVAILABLE = {
  status: 503,
  challenge: null,
  retryAfter: "1",
  body: {
    error: "temporarily_unavailable",
    error_description: "Revocation state is temporarily unavailable",
  },
};

/** The request a case makes, and the token it carries (for follow-up checks). */
interface Req {
  path: string;
  headers?: Headers;
  token?: string;
}

interface Case {
  name: string;
  /** Prepares the world and returns the request to make. */
  request(w: World): Promise<Req>;
  status: number;
  /** Exact `WWW-Authenticate`; `null`: absent. Unchecked when omitted. */
  challenge?: string | null;
  retryAfter?: string;
  /** Exact JSON body; or a check of it. */
  body?: unknown;
  check?(body: unknown, w: World, req: Req): Promise<void>;
  /** Runs after the main request (follow-up requests). */
  after?(w: World, req: Req): Promise<void>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A 200 whose body is exactly the claims `auth.verify` gives for the token. */
const ok = (
  path: string,
  headers: (token: string) => Headers,
  scope?: string,
): Pick<Case, "request" | "check"> => ({
  async request(w) {
    const { token } = await w.login(scope);
    return { path, headers: headers(token), token };
  },
  async check(body, w, req) {
    expect(body).toEqual({ ...(await w.auth.verify(req.token!)) });
    expect(body).toMatchObject({ sub: "user-1", iss: "https://auth.test", aud: "api" });
    if (scope !== undefined) expect(body).toMatchObject({ scope });
  },
});

const CASES: Case[] = [
  { name: "a valid token gives 200 and the claims", status: 200, challenge: null, ...ok("/me", bearer) },
  {
    name: "the scheme is case-insensitive",
    status: 200,
    ...ok("/me", (t) => ({ authorization: `bEARER ${t}` })),
  },
  {
    name: "a token with the required scopes passes the scope check",
    status: 200,
    ...ok("/admin", bearer, "read admin"),
  },
  {
    name: "a token in the cookie, on a route that reads it",
    status: 200,
    ...ok("/cookie", (t) => ({ cookie: `theme=dark; access_token=${t}` })),
  },
  {
    name: "a header token on a route that also reads a cookie",
    status: 200,
    ...ok("/cookie", (t) => ({ ...bearer(t), cookie: "theme=dark" })),
  },
  { name: "no token: bare challenge", ...NO_TOKEN, request: async () => ({ path: "/me" }) },
  {
    name: "no token: the route's realm",
    ...NO_TOKEN,
    challenge: 'Bearer realm="example"',
    request: async () => ({ path: "/realm" }),
  },
  {
    name: "another scheme counts as no token",
    ...NO_TOKEN,
    request: async () => ({ path: "/me", headers: { authorization: "Basic dXNlcjpwYXNzd29yZA==" } }),
  },
  {
    name: "a cookie is ignored on a route without the cookie option",
    ...NO_TOKEN,
    async request(w) {
      const { token } = await w.login();
      return { path: "/me", headers: { cookie: `access_token=${token}` } };
    },
  },
  {
    name: "garbage token",
    ...invalidToken("The access token is invalid"),
    request: async () => ({ path: "/me", headers: bearer("abc.def.ghi") }),
  },
  {
    name: "bad signature",
    ...invalidToken("The access token is invalid"),
    async request(w) {
      const { token } = await w.login();
      const [h, p, s] = token.split(".") as [string, string, string];
      const i = Math.floor(s.length / 2);
      const flipped = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
      return { path: "/me", headers: bearer(`${h}.${p}.${flipped}`) };
    },
  },
  {
    name: "a token signed by someone else's keys",
    ...invalidToken("The access token is invalid"),
    async request(w) {
      const other = await w.foreign();
      const t = await other.login("user-1");
      return { path: "/me", headers: bearer(t.accessToken) };
    },
  },
  {
    name: "an overlong token is an invalid token",
    ...invalidToken("The access token is invalid"),
    request: async () => ({ path: "/me", headers: bearer("a".repeat(9000)) }),
  },
  {
    name: "expired (the injected clock moved past exp)",
    ...invalidToken("The access token expired"),
    async request(w) {
      const { token } = await w.login();
      w.clock.advance(16 * 60_000);
      return { path: "/me", headers: bearer(token) };
    },
  },
  {
    name: "a revoked access token",
    ...invalidToken("The access token has been revoked"),
    async request(w) {
      const { token } = await w.login();
      await w.auth.revokeAccessToken(token);
      return { path: "/me", headers: bearer(token) };
    },
  },
  {
    name: "auth.logout: accepted, then refused on the next request",
    ...invalidToken("The session has been revoked"),
    async request(w) {
      const { token, sid } = await w.login();
      expect((await w.get("/me", bearer(token))).status).toBe(200);
      await w.auth.logout(sid);
      return { path: "/me", headers: bearer(token) };
    },
  },
  {
    name: "two tokens joined in one header",
    ...TWO_TOKENS,
    async request(w) {
      const a = await w.login();
      const b = await w.login();
      return { path: "/me", headers: { authorization: `Bearer ${a.token}, Bearer ${b.token}` } };
    },
  },
  {
    name: "two Authorization header lines",
    ...TWO_TOKENS,
    async request(w) {
      const a = await w.login();
      const b = await w.login();
      return { path: "/me", headers: { authorization: [`Bearer ${a.token}`, `Bearer ${b.token}`] } };
    },
  },
  {
    name: "a token in both the header and the cookie",
    ...TWO_TOKENS,
    async request(w) {
      const { token } = await w.login();
      return { path: "/cookie", headers: { ...bearer(token), cookie: `access_token=${token}` } };
    },
  },
  {
    name: "two different token cookies",
    ...TWO_TOKENS,
    async request(w) {
      const a = await w.login();
      const b = await w.login();
      return { path: "/cookie", headers: { cookie: `access_token=${a.token}; access_token=${b.token}` } };
    },
  },
  {
    name: "Bearer without a token",
    ...MALFORMED,
    request: async () => ({ path: "/me", headers: { authorization: "Bearer" } }),
  },
  {
    name: "Bearer with two words",
    ...MALFORMED,
    request: async () => ({ path: "/me", headers: { authorization: "Bearer abc def" } }),
  },
  {
    name: "Bearer with characters outside b64token",
    ...MALFORMED,
    request: async () => ({ path: "/me", headers: { authorization: "Bearer abc!def" } }),
  },
  {
    name: "missing scope",
    ...INSUFFICIENT_SCOPE,
    async request(w) {
      const { token } = await w.login("read");
      return { path: "/admin", headers: bearer(token) };
    },
  },
  {
    name: "no scope at all",
    ...INSUFFICIENT_SCOPE,
    async request(w) {
      const { token } = await w.login();
      return { path: "/admin", headers: bearer(token) };
    },
  },
  {
    name: "stale replica and the store down: 503 with Retry-After",
    ...UNAVAILABLE,
    async request(w) {
      const { token } = await w.login();
      expect((await w.get("/me", bearer(token))).status).toBe(200);
      w.control.down = true;
      w.clock.advance(MAX_STALENESS_MS + 1000);
      return { path: "/me", headers: bearer(token) };
    },
  },
  {
    name: "strict route with the store down: 503 even with a fresh replica",
    ...UNAVAILABLE,
    async request(w) {
      const { token } = await w.login();
      w.control.down = true;
      return { path: "/strict", headers: bearer(token) };
    },
    async after(w) {
      expect(w.auth.isFresh()).toBe(true);
    },
  },
  {
    name: "strict mode sees a revocation written straight into the store; the replica has not yet",
    ...invalidToken("The session has been revoked"),
    async request(w) {
      const { token, sid } = await w.login();
      w.control.pause();
      const at = w.clock();
      expect(await w.store.revokeSession(sid, { reason: "test", actor: "test", at, ttl: 20 * 60_000 })).toBe(
        true,
      );
      return { path: "/strict", headers: bearer(token), token };
    },
    async after(w, { token }) {
      const relaxed = await w.get("/me", bearer(token!));
      expect(relaxed.status).toBe(200);
      // Once the feed flows again the replica hears of it, and every route refuses the token.
      w.control.resume();
      const deadline = Date.now() + 10_000;
      let status = 200;
      while (status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        status = (await w.get("/me", bearer(token!))).status;
      }
      expect(status).toBe(401);
    },
  },
];

describe.each(FRAMEWORKS)("requireAuth over HTTP: $name", (framework) => {
  it.each(CASES)("$name", async (c) => {
    const w = await makeWorld(framework);
    const req = await c.request(w);
    const res = await w.get(req.path, req.headers);
    expect(res.status).toBe(c.status);
    if (c.challenge !== undefined) expect(res.header("www-authenticate")).toBe(c.challenge);
    if (c.status !== 200) {
      expect(res.header("content-type")).toMatch(/^application\/json/);
      expect(res.header("retry-after")).toBe(c.retryAfter ?? null);
    }
    if (c.body !== undefined) expect(res.body).toEqual(c.body);
    await c.check?.(res.body, w, req);
    await c.after?.(w, req);
  });

  it("lets errors that are not authentication outcomes through to the framework (500)", async () => {
    const w = await makeWorld(framework);
    const { token } = await w.login();
    await w.auth.close();
    // Hono's default error handler logs the error it did not expect; keep the test output clean.
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const res = await w.get("/me", bearer(token));
      expect(res.status).toBe(500);
      expect(res.header("www-authenticate")).toBeNull();
    } finally {
      log.mockRestore();
    }
  });
});

describe("requireAuth checks its options at once", () => {
  const factories = [expressAuth.requireAuth, fastifyAuth.requireAuth, honoAuth.requireAuth];
  const bad: [string, unknown][] = [
    ["an empty scope", { scope: "" }],
    ["an empty scope list", { scope: [] }],
    ["a scope with a quote", { scope: 'a"b' }],
    ["a non-string scope", { scope: [1] }],
    ["a non-boolean strict", { strict: "yes" }],
    ["a cookie name with a space", { cookie: "a b" }],
    ["an empty realm", { realm: "" }],
    ["a realm with a newline", { realm: "a\nb" }],
    ["an unknown option", { scopes: "admin" }],
    ["options that are not an object", "admin"],
  ];
  it.each(bad)("%s is a TypeError", async (_name, options) => {
    const { store } = controlledStore();
    const auth = await createAuth({ issuer: "https://auth.test", audience: "api", store });
    cleanups.push(() => auth.close());
    for (const requireAuth of factories) {
      expect(() => requireAuth(auth, options as never)).toThrow(TypeError);
    }
  });
  it("an auth that is not an Auth is a TypeError", () => {
    for (const requireAuth of factories) {
      expect(() => requireAuth({} as Auth)).toThrow(
        new TypeError("requireAuth: auth must be an Auth instance from createAuth()"),
      );
    }
  });
});

describe("the Fastify plugin", () => {
  it("decorates request.auth with null, and checks its auth option", async () => {
    const { store } = controlledStore();
    const auth = await createAuth({ issuer: "https://auth.test", audience: "api", store });
    cleanups.push(() => auth.close());
    const app = Fastify();
    cleanups.push(() => app.close());
    await app.register(fastifyAuth.revokit, { auth });
    app.get("/open", async (request) => ({ auth: request.auth }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as AddressInfo;
    const res = await send(`http://127.0.0.1:${port}/open`);
    expect(res.body).toEqual({ auth: null });

    const bad = Fastify();
    cleanups.push(() => bad.close());
    await expect(bad.register(fastifyAuth.revokit, { auth: {} as Auth })).rejects.toThrow(
      new TypeError("revokit: options.auth must be an Auth instance from createAuth()"),
    );
  });
});

describe.each(["express", "fastify", "hono"] as const)("requireAuth onRefused: %s", (name) => {
  interface Seen {
    reason: string;
    status: number;
    code: string;
    causeCode: string | undefined;
    causeReason: unknown;
    text: string;
    isRequest: boolean;
  }

  /** One app with /me, /admin (scope) and /strict routes, each reporting its refusals into `seen`. */
  async function start(auth: Auth, seen: Seen[], throwing = false): Promise<Running> {
    const record = (refusal: expressAuth.AuthHttpError, isRequest: boolean) => {
      const cause = refusal.cause as { code?: string; reason?: unknown } | undefined;
      seen.push({
        reason: refusal.reason,
        status: refusal.status,
        code: refusal.code,
        causeCode: cause?.code,
        causeReason: cause?.reason,
        text: `${refusal.message} ${JSON.stringify(refusal)} ${String(cause?.reason)}`,
        isRequest,
      });
      if (throwing) throw new Error("onRefused failed");
    };
    const routes = { "/me": {}, "/admin": { scope: "admin" }, "/strict": { strict: true } };
    if (name === "express") {
      const app = express();
      for (const [path, options] of Object.entries(routes)) {
        const onRefused = (r: expressAuth.AuthHttpError, req: express.Request) =>
          record(r, req.path === path);
        app.get(path, expressAuth.requireAuth(auth, { ...options, onRefused }), (req, res) => {
          res.json(req.auth);
        });
      }
      app.use(expressAuth.authErrorHandler());
      return listen(http.createServer(app));
    }
    if (name === "fastify") {
      const app = Fastify();
      await app.register(fastifyAuth.revokit, { auth });
      for (const [path, options] of Object.entries(routes)) {
        const onRefused = (r: expressAuth.AuthHttpError, request: { url: string }) =>
          record(r, request.url === path);
        app.get(
          path,
          { preHandler: fastifyAuth.requireAuth(auth, { ...options, onRefused }) },
          async (request) => request.auth,
        );
      }
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
    }
    const app = new Hono();
    for (const [path, options] of Object.entries(routes)) {
      const onRefused = (r: expressAuth.AuthHttpError, c: { req: { path: string } }) =>
        record(r, c.req.path === path);
      app.get(path, honoAuth.requireAuth(auth, { ...options, onRefused }), (c) => c.json(c.get("auth")));
    }
    return listen(createAdaptorServer({ fetch: app.fetch }) as http.Server);
  }

  async function world(throwing = false) {
    const clock = testClock();
    const { store, control } = controlledStore();
    const auth = await createAuth({ issuer: "https://auth.test", audience: "api", store, clock });
    cleanups.push(() => auth.close());
    const seen: Seen[] = [];
    const app = await start(auth, seen, throwing);
    cleanups.push(() => app.close());
    return {
      auth,
      clock,
      control,
      seen,
      get: (path: string, headers?: Headers) => send(app.url + path, headers),
    };
  }

  it("sees every refusal with its reason and the request, never the token; nothing on success", async () => {
    const w = await world();
    const t = await w.auth.login("u1", { scope: "read" });
    const token = t.accessToken;
    const tampered = `${token.slice(0, token.lastIndexOf(".") + 1)}${"A".repeat(86)}`;
    expect((await w.get("/me", bearer(token))).status).toBe(200);
    expect(w.seen).toEqual([]);

    const expect401 = async (path: string, headers: Headers, status: number) =>
      expect((await w.get(path, headers)).status).toBe(status);
    await expect401("/me", {}, 401);
    await expect401("/me", { authorization: "Bearer a b" }, 400);
    await expect401("/me", { authorization: ["Bearer x", "Bearer y"] }, 400);
    await expect401("/admin", bearer(token), 403);
    await expect401("/me", bearer(tampered), 401);
    w.control.down = true;
    await expect401("/strict", bearer(token), 503);
    w.control.down = false;
    await w.auth.logout(t.sessionId);
    await expect401("/me", bearer(token), 401);
    w.clock.advance(3_600_000);
    await expect401("/me", bearer(token), 401);

    expect(w.seen.map((s) => [s.reason, s.status, s.code, s.causeCode])).toEqual([
      ["no_token", 401, "unauthorized", undefined],
      ["invalid_request", 400, "invalid_request", undefined],
      ["invalid_request", 400, "invalid_request", undefined],
      ["insufficient_scope", 403, "insufficient_scope", undefined],
      ["ERR_TOKEN_INVALID", 401, "invalid_token", "ERR_TOKEN_INVALID"],
      [
        expect.stringMatching(/^ERR_(REVOCATION|STORE)_UNAVAILABLE$/),
        503,
        "temporarily_unavailable",
        expect.any(String),
      ],
      ["ERR_SESSION_REVOKED", 401, "invalid_token", "ERR_SESSION_REVOKED"],
      ["ERR_TOKEN_EXPIRED", 401, "invalid_token", "ERR_TOKEN_EXPIRED"],
    ]);
    expect(w.seen[4]!.causeReason).toBe("signature");
    for (const s of w.seen) {
      expect(s.isRequest).toBe(true);
      expect(s.text).not.toContain(token.slice(token.lastIndexOf(".") + 1));
    }
  });

  it("an onRefused that throws goes to the framework's error handling (500), the refusal is not sent", async () => {
    const w = await world(true);
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const res = await w.get("/me");
      expect(res.status).toBe(500);
      expect(res.header("www-authenticate")).toBeNull();
      expect(w.seen.map((s) => s.reason)).toEqual(["no_token"]);
    } finally {
      log.mockRestore();
    }
  });

  it("refuses an onRefused that is not a function", async () => {
    const w = await world();
    const factory = { express: expressAuth, fastify: fastifyAuth, hono: honoAuth }[name].requireAuth;
    expect(() => factory(w.auth, { onRefused: "log" as never })).toThrow(
      new TypeError("requireAuth: onRefused must be a function"),
    );
  });
});
