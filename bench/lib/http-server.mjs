// One HTTP server process of the bench (Express, Fastify or Hono), with five routes answering the
// same small JSON body:
//   /none          no check at all;
//   /noop          a middleware that does nothing (what the framework charges for any middleware);
//   /jwt-only      requireAuth on an Auth whose revocation index is switched off (always "not revoked"):
//                  the same app, JWT verification and all, with no revocation check;
//   /auth          requireAuth(auth) from revokit (default options: verified-token cache on);
//   /with          withAuth(auth, handler): the same check inside the route's one handler;
//   /auth-nocache  requireAuth on an Auth with the verified-token cache off;
//   /recipe        the common recipe: jose.jwtVerify against the JWKS, then one Redis EXISTS per request.
// Config (argv[2], JSON): { framework, redisUrl, prefix }.
import { Redis } from "ioredis";
import * as jose from "jose";
import { createAuth } from "../../dist/index.js";
import { redisStore } from "../../dist/stores/redis/index.js";
import { AUDIENCE, AUTH_OPTIONS, ISSUER, QUIET, serveParent } from "./common.mjs";

const config = JSON.parse(process.argv[2]);
const storeOptions = { prefix: config.prefix, logger: QUIET };
const auth = await createAuth({ ...AUTH_OPTIONS, store: redisStore({ url: config.redisUrl }, storeOptions) });
const authNoCache = await createAuth({
  ...AUTH_OPTIONS,
  store: redisStore({ url: config.redisUrl }, storeOptions),
  verifyCache: false,
});
/** A revocation index that holds nothing: `has` is always false. */
const noIndex = () => ({ add() {}, has: () => false, sweep: () => 0, size: 0, clear() {} });
const authJwtOnly = await createAuth({
  ...AUTH_OPTIONS,
  store: redisStore({ url: config.redisUrl }, storeOptions),
  createIndex: noIndex,
});

await Promise.all([auth.ready(), authNoCache.ready(), authJwtOnly.ready()]);

// The recipe, as commonly written: a JWKS key set, jwtVerify, and a denylist key per jti in Redis.
const jwks = jose.createLocalJWKSet(auth.jwks());
const redis = new Redis(config.redisUrl);
const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [auth.algorithm], typ: "at+jwt" };
async function recipe(authorization) {
  if (typeof authorization !== "string" || !authorization.startsWith("Bearer ")) return undefined;
  try {
    const { payload } = await jose.jwtVerify(authorization.slice(7), jwks, joseOptions);
    if ((await redis.exists(`denylist:${payload.jti}`)) === 1) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}

const body = (sub) => ({ ok: true, sub });

async function express() {
  const { default: createApp } = await import("express");
  const { authErrorHandler, requireAuth, withAuth } = await import("../../dist/http/express.js");
  const app = createApp();
  app.set("etag", false);
  app.set("x-powered-by", false);
  app.get("/none", (_req, res) => res.json(body("anonymous")));
  app.get(
    "/noop",
    (_req, _res, next) => next(),
    (_req, res) => res.json(body("anonymous")),
  );
  app.get("/jwt-only", requireAuth(authJwtOnly), (req, res) => res.json(body(req.auth.sub)));
  app.get("/auth", requireAuth(auth), (req, res) => res.json(body(req.auth.sub)));
  app.get(
    "/with",
    withAuth(auth, (req, res) => res.json(body(req.auth.sub))),
  );
  app.get("/auth-nocache", requireAuth(authNoCache), (req, res) => res.json(body(req.auth.sub)));
  app.get("/recipe", async (req, res) => {
    const claims = await recipe(req.headers.authorization);
    if (!claims) return res.status(401).json({ error: "invalid_token" });
    res.json(body(claims.sub));
  });
  app.use(authErrorHandler());
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function fastify() {
  const { default: Fastify } = await import("fastify");
  const { revokit, requireAuth, withAuth } = await import("../../dist/http/fastify.js");
  const app = Fastify({ logger: false });
  await app.register(revokit, { auth });
  app.get("/none", async () => body("anonymous"));
  app.get("/noop", { preHandler: async () => undefined }, async () => body("anonymous"));
  app.get("/jwt-only", { preHandler: requireAuth(authJwtOnly) }, async (request) => body(request.auth.sub));
  app.get("/auth", { preHandler: requireAuth(auth) }, async (request) => body(request.auth.sub));
  app.get(
    "/with",
    withAuth(auth, async (request) => body(request.auth.sub)),
  );
  app.get("/auth-nocache", { preHandler: requireAuth(authNoCache) }, async (request) =>
    body(request.auth.sub),
  );
  app.get("/recipe", async (request, reply) => {
    const claims = await recipe(request.headers.authorization);
    if (!claims) return reply.code(401).send({ error: "invalid_token" });
    return body(claims.sub);
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app.server.address().port;
}

async function hono() {
  const { Hono } = await import("hono");
  const { serve } = await import("@hono/node-server");
  const { requireAuth, withAuth } = await import("../../dist/http/hono.js");
  const app = new Hono();
  app.get("/none", (c) => c.json(body("anonymous")));
  app.get(
    "/noop",
    (_c, next) => next(),
    (c) => c.json(body("anonymous")),
  );
  app.get("/jwt-only", requireAuth(authJwtOnly), (c) => c.json(body(c.get("auth").sub)));
  app.get("/auth", requireAuth(auth), (c) => c.json(body(c.get("auth").sub)));
  app.get(
    "/with",
    withAuth(auth, (c) => c.json(body(c.get("auth").sub))),
  );
  app.get("/auth-nocache", requireAuth(authNoCache), (c) => c.json(body(c.get("auth").sub)));
  app.get("/recipe", async (c) => {
    const claims = await recipe(c.req.header("authorization"));
    if (!claims) return c.json({ error: "invalid_token" }, 401);
    return c.json(body(claims.sub));
  });
  return new Promise((resolve) => {
    serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => resolve(info.port));
  });
}

const port = await { express, fastify, hono }[config.framework]();
serveParent({
  port: () => port,
  /** CPU time this process has used, µs (user + system). */
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  /** Verifications the store had to answer (a stale replica or strict routes); the bench expects none. */
  storeChecks: () =>
    auth.metrics.storeChecks + authNoCache.metrics.storeChecks + authJwtOnly.metrics.storeChecks,
});
