/**
 * Fastify integration: the {@link revokit} plugin decorates `request.auth` (null until
 * authenticated), and `requireAuth(auth, options)` returns a `preHandler` hook that sets it to the
 * verified claims or answers the request with the status, `WWW-Authenticate` / `Retry-After` headers
 * and the JSON body `{ error, error_description }`.
 * @example
 * import { revokit, requireAuth } from "revokit/fastify";
 * await app.register(revokit, { auth });
 * app.get("/me", { preHandler: requireAuth(auth) }, async (request) => request.auth);
 * app.get("/admin", { preHandler: requireAuth(auth, { scope: "admin", strict: true }) }, adminHandler);
 * // The same inside the handler, with no hook step:
 * app.get("/me", withAuth(auth, async (request) => request.auth));
 */
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from "fastify";
import fp from "fastify-plugin";
import type { AccessTokenClaims } from "../core/access-token.js";
import type { TokenVerifier as Auth } from "../core/token-verifier.js";
import {
  type AuthenticateResult,
  assertAuth,
  authenticateNow,
  nodeAuthorization,
  type RequireAuthOptions,
  type ResolvedAuthOptions,
  refusalError,
  resolveAuthOptions,
} from "./bearer.js";

export { AuthHttpError, type OnRefused, type RequireAuthOptions } from "./bearer.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access-token claims, set by `requireAuth` from `revokit/fastify`; `null` before. */
    auth: AccessTokenClaims | null;
  }
}

/** Options of the {@link revokit} plugin. */
export interface RevokitPluginOptions {
  /** The `Auth` the application verifies tokens with. */
  auth: Auth;
}

const plugin: FastifyPluginAsync<RevokitPluginOptions> = async (fastify, options) => {
  assertAuth(options?.auth, "revokit: options.auth");
  if (!fastify.hasRequestDecorator("auth")) fastify.decorateRequest("auth", null);
};

/**
 * Registers revokit on a Fastify instance (not encapsulated): decorates `request.auth` with `null`.
 * @example
 * await app.register(revokit, { auth });
 */
export const revokit = fp(plugin, { fastify: "4.x || 5.x", name: "revokit" });

/**
 * A `preHandler` hook that lets a request through only with a valid, unrevoked access token (and the
 * required scopes). Options are checked here: a bad one throws a `TypeError` at once. Failures are
 * answered directly (so the body is exactly `{ error, error_description }`); errors that are not
 * authentication outcomes go to Fastify's error handler.
 * @example
 * app.get("/me", { preHandler: requireAuth(auth) }, async (request) => request.auth);
 */
export function requireAuth(
  auth: Auth,
  options?: RequireAuthOptions<FastifyRequest>,
): preHandlerAsyncHookHandler {
  const resolved = resolveAuthOptions(auth, options);
  return function requireAuth(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    let result: AuthenticateResult | Promise<AuthenticateResult>;
    try {
      result = authenticateNow(auth, readInput(request, resolved.cookie), resolved);
    } catch (error) {
      return Promise.reject(error);
    }
    // Usually answered at once (no I/O): an already settled promise, no further asynchronous step.
    if (result instanceof Promise) return result.then((r) => settle(request, reply, r, resolved));
    try {
      const answered = settle(request, reply, result, resolved);
      return answered === undefined ? PASS : Promise.resolve(answered);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

const PASS: Promise<undefined> = Promise.resolve(undefined);

/**
 * {@link requireAuth} as part of the route's handler rather than a `preHandler` hook: the same checks,
 * answers and `request.auth` (register the {@link revokit} plugin), with no hook to run. A refusal is
 * answered here and the handler is not called.
 * @example
 * app.get("/me", withAuth(auth, async (request) => request.auth));
 * app.post("/admin/wipe", withAuth(auth, wipe, { scope: "admin", strict: true }));
 */
export function withAuth<Req extends FastifyRequest, Rep extends FastifyReply, R>(
  auth: Auth,
  handler: (this: FastifyInstance, request: Req, reply: Rep) => R,
  options?: RequireAuthOptions<FastifyRequest>,
): (this: FastifyInstance, request: Req, reply: Rep) => R | Promise<R | undefined> | undefined {
  const resolved = resolveAuthOptions(auth, options);
  if (typeof handler !== "function") throw new TypeError("withAuth: handler must be a function");
  function pass(self: FastifyInstance, request: Req, reply: Rep, result: AuthenticateResult): R | undefined {
    // A refusal is answered here; the handler is not called and nothing more is sent.
    if (settle(request, reply, result, resolved) !== undefined) return undefined;
    return handler.call(self, request, reply);
  }
  return function withAuth(this: FastifyInstance, request: Req, reply: Rep) {
    const result = authenticateNow(auth, readInput(request, resolved.cookie), resolved);
    if (result instanceof Promise) return result.then((r) => pass(this, request, reply, r));
    return pass(this, request, reply, result);
  };
}

function readInput(request: FastifyRequest, cookieName: string | undefined) {
  return {
    authorization: nodeAuthorization(request.raw),
    cookieHeader: cookieName === undefined ? undefined : request.headers.cookie,
    cookieName,
  };
}

/** Lets the request through (`undefined`), or answers the refusal and returns the reply. */
function settle(
  request: FastifyRequest,
  reply: FastifyReply,
  result: AuthenticateResult,
  options: ResolvedAuthOptions<FastifyRequest>,
): FastifyReply | undefined {
  if ("claims" in result) {
    request.auth = result.claims;
    return undefined;
  }
  options.onRefused?.(refusalError(result), request);
  const { status, headers, body } = result.error;
  return reply.code(status).headers(headers).type("application/json; charset=utf-8").send(body);
}
