/**
 * Type-level tests of the middleware (`revokit/express`, `revokit/fastify`, `revokit/hono`) and the
 * remote verifier (`revokit/verifier`): what a route sees after `requireAuth`, and that a remote
 * verifier is accepted wherever an `Auth` is. Checked by `tsc -p tsconfig.test.json`; the apps are
 * built for real (routes registered, no request sent) so the handlers are typed as in an application.
 */
import express, { type Request, type RequestHandler } from "express";
import Fastify, { type FastifyRequest, type preHandlerAsyncHookHandler } from "fastify";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import * as expressAuth from "../../src/http/express.js";
import * as fastifyAuth from "../../src/http/fastify.js";
import * as honoAuth from "../../src/http/hono.js";
import { type AccessTokenClaims, type Auth, createAuth, memoryStore } from "../../src/index.js";
import { createVerifier, type Verifier, type VerifierOptions } from "../../src/verifier/index.js";

let auth: Auth;
beforeAll(async () => {
  auth = await createAuth({ issuer: "https://auth.example.com", audience: "api", store: memoryStore() });
});
afterAll(() => auth?.close());

describe("Express", () => {
  it("requireAuth(auth) is a RequestHandler; req.auth holds the claims", () => {
    expectTypeOf(expressAuth.requireAuth(auth)).toEqualTypeOf<RequestHandler>();
    const app = express();
    app.get("/me", expressAuth.requireAuth(auth, { scope: "read" }), (req, res) => {
      // Optional on every Request: only routes behind requireAuth have it.
      expectTypeOf(req.auth).toEqualTypeOf<AccessTokenClaims | undefined>();
      res.json({ sub: req.auth?.sub });
    });
    app.use(expressAuth.authErrorHandler());
  });

  it("onRefused sees the AuthHttpError and the Express request", () => {
    expressAuth.requireAuth(auth, {
      onRefused: (refusal, req) => {
        expectTypeOf(refusal).toEqualTypeOf<expressAuth.AuthHttpError>();
        expectTypeOf(refusal.status).toBeNumber();
        expectTypeOf(req).toEqualTypeOf<Request>();
      },
    });
  });
});

describe("withAuth (the check inside the one handler)", () => {
  it("keeps each framework's handler types and what the handler sees", async () => {
    const ex = express();
    ex.get(
      "/me",
      expressAuth.withAuth(auth, (req, res) => {
        expectTypeOf(req.auth).toEqualTypeOf<AccessTokenClaims | undefined>();
        res.json({ sub: req.auth?.sub });
      }),
    );
    expectTypeOf(expressAuth.withAuth(auth, () => undefined)).toEqualTypeOf<RequestHandler>();
    const fa = Fastify();
    await fa.register(fastifyAuth.revokit, { auth });
    fa.get(
      "/me",
      fastifyAuth.withAuth(auth, async (request) => {
        expectTypeOf(request.auth).toEqualTypeOf<AccessTokenClaims | null>();
        return { sub: request.auth?.sub };
      }),
    );
    await fa.close();
    const ho = new Hono();
    ho.get(
      "/me",
      honoAuth.withAuth(auth, (c) => {
        expectTypeOf(c.get("auth")).toEqualTypeOf<AccessTokenClaims>();
        return c.json({ sub: c.get("auth").sub });
      }),
    );
    honoAuth.withAuth(auth, (c) => c.text("ok"), {
      scope: "admin",
      onRefused: (_refusal, c) => expectTypeOf(c).toEqualTypeOf<Context>(),
    });
    const mistakes = () => {
      // @ts-expect-error the handler comes before the options
      honoAuth.withAuth(auth, { scope: "admin" });
    };
    expect(mistakes).toBeTypeOf("function");
  });
});

describe("Fastify", () => {
  it("requireAuth(auth) is a preHandler; request.auth holds the claims", async () => {
    expectTypeOf(fastifyAuth.requireAuth(auth)).toEqualTypeOf<preHandlerAsyncHookHandler>();
    const app = Fastify();
    await app.register(fastifyAuth.revokit, { auth });
    app.get("/me", { preHandler: fastifyAuth.requireAuth(auth) }, async (request) => {
      // Decorated on every request, null until requireAuth has run.
      expectTypeOf(request.auth).toEqualTypeOf<AccessTokenClaims | null>();
      return { sub: request.auth?.sub };
    });
    fastifyAuth.requireAuth(auth, {
      onRefused: (_refusal, request) => expectTypeOf(request).toEqualTypeOf<FastifyRequest>(),
    });
    await app.close();
  });
});

describe("Hono", () => {
  it('requireAuth(auth) is a MiddlewareHandler; c.get("auth") holds the claims', () => {
    expectTypeOf(honoAuth.requireAuth(auth)).toEqualTypeOf<MiddlewareHandler>();
    const app = new Hono();
    app.get("/me", honoAuth.requireAuth(auth), (c) => {
      expectTypeOf(c.get("auth")).toEqualTypeOf<AccessTokenClaims>();
      expectTypeOf(c.var.auth).toEqualTypeOf<AccessTokenClaims>();
      return c.json({ sub: c.get("auth").sub });
    });
    honoAuth.requireAuth(auth, {
      onRefused: (_refusal, c) => expectTypeOf(c).toEqualTypeOf<Context>(),
    });
  });
});

describe("remote verifier (revokit/verifier)", () => {
  it("createVerifier gives a Verifier whose verify() gives the same claims", () => {
    expectTypeOf(createVerifier).parameters.toEqualTypeOf<[options: VerifierOptions]>();
    expectTypeOf(createVerifier).returns.resolves.toEqualTypeOf<Verifier>();
    expectTypeOf<Verifier["verify"]>().returns.resolves.toEqualTypeOf<AccessTokenClaims>();
  });

  it("is accepted by requireAuth in Express, Fastify and Hono, like an Auth", () => {
    expectTypeOf(expressAuth.requireAuth).toBeCallableWith({} as Verifier);
    expectTypeOf(fastifyAuth.requireAuth).toBeCallableWith({} as Verifier, { strict: true });
    expectTypeOf(honoAuth.requireAuth).toBeCallableWith({} as Verifier, { scope: ["a", "b"] });
    expectTypeOf<Verifier>().toExtend<Parameters<typeof expressAuth.requireAuth>[0]>();
    expectTypeOf<Auth>().toExtend<Parameters<typeof honoAuth.requireAuth>[0]>();
  });

  it("requireAuth takes only a verifier, not options or a token", () => {
    const mistakes = () => {
      // @ts-expect-error the verifier comes first
      expressAuth.requireAuth({ scope: "read" });
      // @ts-expect-error an unknown middleware option
      honoAuth.requireAuth(auth, { scopes: ["read"] });
    };
    expectTypeOf(mistakes).toBeFunction();
  });
});
